# The metrics listener's page, scraped while sessions open and close
# (tokens from `vncrelayctl token`, python3-websockets clients, an echo
# upstream), passes the strict line check of lib_metrics.py every time and
# follows what the test does: live and total sessions of the route and
# target, the exact bytes each way (live sessions' too), handshakes and
# authd decisions by result (OK, INVALID_TOKEN for a forged token,
# CONNECTION_FAILED for a target nobody listens on), one connect latency
# observation per connected session, the restart of a worker killed with
# SIGKILL, and descriptor counts of every process that match what /proc
# shows the test (the worker that serves the scrape has its connection
# open besides).  No counter ever goes back, not even when the worker
# that counted a session is replaced.

import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402
import lib_metrics		# noqa: E402
import lib_token		# noqa: E402

CONFIG = '''
prefork = 2
control-socket = "{tmp}/ctl.sock"
metrics-listen = "127.0.0.1:{port2}"
listen "127.0.0.1:{port}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
target "vm" { host = "127.0.0.1" port = PEER_PORT }
target "down" { host = "127.0.0.1" port = DOWN_PORT }
route "/ws/vnc/{name}" { }
'''

ROUTE = "/ws/vnc/{name}"
BANNER = 12
FAMILIES = {
	"vncrelayd_start_time_seconds": "gauge",
	"vncrelayd_connections": "gauge",
	"vncrelayd_sessions_active": "gauge",
	"vncrelayd_sessions_total": "counter",
	"vncrelayd_session_bytes_total": "counter",
	"vncrelayd_handshakes_total": "counter",
	"vncrelayd_authd_decisions_total": "counter",
	"vncrelayd_upstream_connect_seconds": "histogram",
	"vncrelayd_upstream_login_seconds": "histogram",
	"vncrelayd_child_restarts_total": "counter",
	"vncrelayd_open_fds": "gauge",
}


class Watch:
	"""Scrapes, checks each page against the one before (no counter
	goes back), and waits for a page that shows what must be."""

	def __init__(self, t):
		self.t = t
		self.last = None

	def scrape(self):
		t = self.t
		page = lib_metrics.scrape(t, t.port_for("port2"))
		for fam, kind in FAMILIES.items():
			t.expect(page.types.get(fam) == kind, f"{fam}: TYPE "
			    f"{page.types.get(fam)}, want {kind}")
		if self.last is not None:
			self.monotonic(page)
		self.last = page
		return page

	def monotonic(self, page):
		for (name, labels), old in self.last.samples.items():
			fam = lib_metrics.family_of(name, page.types)
			if page.types.get(fam) not in ("counter", "histogram"):
				continue
			new = page.samples.get((name, labels))
			self.t.expect(new is not None and new >= old,
			    f"{name}{labels} went from {old} to {new}")

	def until(self, what, want):
		"""Scrape until every (name, labels dict, value) in want()
		holds, for 20 seconds at most; returns the page."""
		deadline = time.monotonic() + 20
		for _ in range(200):
			page = self.scrape()
			bad = [(n, lb, v, page.get(n, **lb)) for n, lb, v in
			    want() if page.get(n, **lb) != v]
			if not bad or time.monotonic() > deadline:
				break
			time.sleep(0.3)
		self.t.expect(not bad, f"{what}: not within 20s; (name, "
		    f"labels, want, got): {bad}")
		return page


def sessions(active, total, bytes_in, bytes_out):
	vm = {"route": ROUTE, "target": "vm"}
	return [("vncrelayd_sessions_active", vm, active),
	    ("vncrelayd_sessions_total", vm, total),
	    ("vncrelayd_session_bytes_total", dict(vm, direction="in"),
	    bytes_in),
	    ("vncrelayd_session_bytes_total", dict(vm, direction="out"),
	    bytes_out)]


def results(ok, invalid, failed):
	out = []
	for fam in ("vncrelayd_handshakes_total",
	    "vncrelayd_authd_decisions_total"):
		out += [(fam, {"result": "OK"}, ok),
		    (fam, {"result": "INVALID_TOKEN"}, invalid),
		    (fam, {"result": "CONNECTION_FAILED"}, failed)]
	out.append(("vncrelayd_upstream_connect_seconds_count",
	    {"kind": "tcp"}, ok))
	return out


def fd_count(pid):
	return len(os.listdir(f"/proc/{pid}/fd"))


def check_first(t, page):
	"""The idle daemon: no session series yet, every result 0, every
	process's descriptors counted as /proc counts them, but for the one
	worker that served the scrape: it held the scrape's connection too."""
	t.expect(page.series("vncrelayd_sessions_total") == {},
	    "session series before any session")
	for fam in ("vncrelayd_handshakes_total",
	    "vncrelayd_authd_decisions_total"):
		t.expect(set(page.series(fam).values()) == {0.0},
		    f"{fam} before any request: {page.series(fam)}")
	procs = {"authd": t.authd()}
	procs.update({f"worker{k}": pid for k, pid in t.workers().items()})
	over = {}
	for name, pid in procs.items():
		got = page.get("vncrelayd_open_fds", process=name)
		t.expect(got is not None, f"no open_fds of {name}")
		over[name] = got - fd_count(pid)
		t.expect(page.get("vncrelayd_child_restarts_total",
		    process=name) == 0, f"restarts of {name} at the start")
	scrapers = [n for n, d in over.items() if n.startswith("worker") and
	    d == 1]
	t.expect(len(scrapers) == 1 and all(d == 0 for n, d in over.items()
	    if n not in scrapers), "open_fds less what /proc/PID/fd has, "
	    f"by process: {over}; want 0 but 1 for the scraping worker")
	master = page.get("vncrelayd_open_fds", process="master")
	t.expect(master is not None and master >= 3,
	    f"open_fds of the master: {master}")


async def open_session(t, user, target="vm"):
	tok = (await lib_ctl.blocking(lib_ctl.ctl_json, t, "token", target,
	    "-u", user))["token"]
	mark = t.mark()
	s = await lib_ctl.Session(t, f"ws://127.0.0.1:{t.port}/ws/vnc/"
	    f"{target}?token={urllib.parse.quote(tok)}", user).open()
	await s.banner()
	s.worker, s.id = await lib_ctl.blocking(lib_ctl.log_session_start, t,
	    user, mark)
	return s


def refusals(t):
	r = lib_token.attempt(t, "/ws/vnc/vm?token=not.a.token")
	t.expect(r.status == 401, f"forged token: HTTP {r.status}")
	tok = lib_ctl.ctl_json(t, "token", "down", "-u", "carol")["token"]
	r = lib_token.attempt(t, f"/ws/vnc/down?token={tok}")
	t.expect(r.status == 502, f"target down: HTTP {r.status}")


async def scenario(t, w):
	blocking = lib_ctl.blocking

	check_first(t, await blocking(w.scrape))
	a = await open_session(t, "alice")
	await a.echo(lib_ctl.nbytes(1000, "a"))
	# The session is live: its bytes count all the same.
	page = await blocking(w.until, "session A counted",
	    lambda: sessions(1, 1, 1000, BANNER + 1000) + results(1, 0, 0))
	t.expect(page.get("vncrelayd_connections") >= 1,
	    f"connections {page.get('vncrelayd_connections')}")

	await blocking(refusals, t)
	await blocking(w.until, "refusals counted",
	    lambda: sessions(1, 1, 1000, BANNER + 1000) + results(1, 1, 1))

	b = await open_session(t, "bob")
	await b.echo(lib_ctl.nbytes(2000, "b"))
	await a.close()
	await blocking(w.until, "A closed, B live",
	    lambda: sessions(1, 2, 3000, 2 * BANNER + 3000) + results(2, 1, 1))

	# B's worker dies: B is gone, the totals stay, the restart counts.
	victim = t.workers()[b.worker]
	t.expect_lost_child(f"worker{b.worker}")
	mark = t.mark()
	await blocking(t.kill, victim, signal.SIGKILL)
	await blocking(t.wait_log, rf"\bworker{b.worker}: ready", 20, mark)
	await b.closed()
	restarted = [("vncrelayd_child_restarts_total",
	    {"process": f"worker{b.worker}"}, 1)]
	await blocking(w.until, "worker restart counted",
	    lambda: sessions(0, 2, 3000, 2 * BANNER + 3000) +
	    results(2, 1, 1) + restarted)

	# A new session after the restart: the totals go on from there.
	c = await open_session(t, "dave")
	await c.echo(lib_ctl.nbytes(500, "c"))
	await c.close()
	page = await blocking(w.until, "C counted",
	    lambda: sessions(0, 3, 3500, 3 * BANNER + 3500) +
	    results(3, 1, 1) + restarted)
	t.expect(page.get("vncrelayd_upstream_connect_seconds_count",
	    kind="unix") is None, "a unix connect series without one")


def run(t):
	peer = t.peer("echo")
	lib_ctl.hs256_key(t)
	down = t.port_for("down")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port))
	    .replace("DOWN_PORT", str(down)))
	lib_ctl.run_async(t, scenario(t, Watch(t)), 110)
