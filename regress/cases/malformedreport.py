# A worker whose report to the master is malformed is ended and replaced;
# the master keeps running and its metrics page keeps being served:
# counters that claim a series they do not carry, a session list naming a
# session of another worker, a metrics page asked for another worker's
# connection, and one asked for with a payload.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_metrics		# noqa: E402

CONFIG = '''
prefork = 1
metrics-listen = "127.0.0.1:{port2}"
listen "127.0.0.1:{port}" { tls = no }
debug-triggers = yes
'''


def one(t, trigger, restarts):
	old = t.workers()[0]
	t.expect_lost_child("worker0")
	mark = t.mark()
	t.http_poke(f"/_debug/{trigger}")
	t.wait_log(r"\bmaster: worker0: malformed message type \d+ length "
	    r"\d+$", since=mark)
	t.wait_log(rf"\bmaster: lost child worker0 pid={old} ", since=mark)
	t.wait_log(r"\bworker0: ready", since=mark)
	t.wait_for("a new worker 0", lambda: t.workers().get(0, old) != old)
	t.expect(t.alive(t.pid), "the master is gone")
	page = lib_metrics.scrape(t, t.port_for("port2"))
	t.expect(page.get("vncrelayd_child_restarts_total",
	    process="worker0") == restarts, "restarts of worker0: "
	    f"{page.get('vncrelayd_child_restarts_total', process='worker0')}")


def run(t):
	t.start()
	one(t, "malformed-stats", 1)
	one(t, "foreign-session", 2)
	one(t, "foreign-scrape", 3)
	one(t, "long-scrape", 4)
