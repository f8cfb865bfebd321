# Session limits survive authd's death: with max-sessions = 2 and two
# sessions running, authd is killed with SIGKILL and restarted; the two
# sessions still run, so a third is still refused (429), and when one of
# them ends its slot comes back.

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
max-sessions = 2
route "/ws/vnc/{name}" { backend = tcp }
'''


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n")

	def path():
		return "/ws/vnc/vm1?token=" + keys.mint(k1, keys.claims())

	held = []
	try:
		for i in range(2):
			lt.rfb_session(t, path(), f"session {i + 1}", held)
		lt.expect_refused(t, "third, before the restart", path(),
		    "MAX_CONNECTIONS_REACHED")

		old = t.authd()
		t.expect_lost_child("authd")
		mark = t.mark()
		t.kill(old, signal.SIGKILL)
		t.wait_log(rf"\bmaster: lost child authd pid={old} ",
		    since=mark)
		t.wait_log(r"\bauthd: ready", since=mark)
		for k in range(2):
			t.wait_log(rf"\bworker{k}: authd channel", since=mark)
		for s in held:
			s.echo()		# both still relay
		lt.expect_refused(t, "third, after authd's restart", path(),
		    "MAX_CONNECTIONS_REACHED")

		lt.close_and_wait(t, held.pop(0))
		for i in range(40):
			mark = t.mark()
			r = lt.attempt(t, path())
			d = lt.decision(t, mark)
			if r.status == 101:
				break
			t.expect(d["result"] == "MAX_CONNECTIONS_REACHED",
			    f"after a close: {d['result']}")
			time.sleep(0.25)
		t.expect(r.status == 101, "the slot of a closed session did "
		    "not come back")
	finally:
		lt.close_all(held)
