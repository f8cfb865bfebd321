# vncrelayctl show sessions against two live sessions (on whichever of
# two workers accept them; tokens from `vncrelayctl token` for users alice
# and bob, python3-websockets clients, an echo upstream): each session is
# listed once with the id and worker of its "session start" line, the
# client address, the client's own address:port as the test sees its
# socket, the route, the target and the token's user, a start time
# between the test's clocks around the upgrade, and exactly the bytes that
# moved (what the test sent, and the 12-byte RFB banner plus the echo
# back); the counts follow when more bytes move; the table for people
# names both; a session that ends leaves the list, and an idle daemon
# lists none.

import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402

CONFIG = '''
prefork = 2
control-socket = "{tmp}/ctl.sock"
listen "127.0.0.1:{port}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
target "vm" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { }
'''

BANNER = 12


def sessions(t):
	j = lib_ctl.ctl_json(t, "show", "sessions")
	t.expect(isinstance(j.get("sessions"), list),
	    f"show sessions: no list: {j}")
	t.expect(j.get("count") == len(j["sessions"]),
	    f"show sessions: count {j.get('count')} for "
	    f"{len(j['sessions'])} sessions")
	t.expect(j.get("truncated") is False and j.get("missing") == [],
	    f"show sessions: truncated {j.get('truncated')}, missing "
	    f"{j.get('missing')}")
	return {s.get("id"): s for s in j["sessions"]}


async def open_session(t, user):
	tok = (await lib_ctl.blocking(lib_ctl.ctl_json, t, "token", "vm", "-u",
	    user))["token"]
	mark = t.mark()
	before = int(time.time())
	s = await lib_ctl.Session(t, f"ws://127.0.0.1:{t.port}/ws/vnc/vm?"
	    f"token={urllib.parse.quote(tok)}", user).open()
	await s.banner()
	after = int(time.time()) + 1
	s.worker, s.id = await lib_ctl.blocking(lib_ctl.log_session_start, t,
	    user, mark)
	s.user = user
	s.local = "%s:%d" % s.ws.local_address[:2]
	s.clocks = (before, after)
	s.sent = 0
	return s


async def echo(s, n, seed):
	await s.echo(lib_ctl.nbytes(n, seed))
	s.sent += n


def check_one(t, listed, s):
	e = listed.get(s.id)
	t.expect(e is not None, f"session {s.id} ({s.user}) is not listed: "
	    f"{sorted(listed)}")
	want = {"id": s.id, "worker": f"worker{s.worker}",
	    "client": "127.0.0.1", "peer": s.local, "route": "/ws/vnc/{name}",
	    "target": "vm", "user": s.user, "bytes_in": s.sent,
	    "bytes_out": BANNER + s.sent}
	got = {k: e.get(k) for k in want}
	t.expect(got == want, f"session {s.id}: listed as {got}, want {want}")
	since = e.get("since")
	t.expect(isinstance(since, int) and
	    s.clocks[0] - 1 <= since <= s.clocks[1],
	    f"session {s.id}: since {since}, opened between {s.clocks}")


async def scenario(t):
	blocking = lib_ctl.blocking

	t.expect(await blocking(sessions, t) == {}, "sessions before any")
	a = await open_session(t, "alice")
	b = await open_session(t, "bob")
	t.expect(a.id != b.id, f"two sessions with id {a.id}")
	await echo(a, 1000, "a1")
	await echo(b, 3000, "b1")
	listed = await blocking(sessions, t)
	t.expect(len(listed) == 2, f"listed {sorted(listed)}, want 2")
	check_one(t, listed, a)
	check_one(t, listed, b)

	# More bytes on one session: its counts follow, the other's stay.
	await echo(a, 70000, "a2")
	listed = await blocking(sessions, t)
	check_one(t, listed, a)
	check_one(t, listed, b)

	# For people: a header and one line a session.
	cp = await blocking(lib_ctl.ctl_run, t, ["show", "sessions"],
	    raw=False)
	lines = cp.stdout.splitlines()
	t.expect(cp.returncode == 0 and lines and lines[0].split()[:2] ==
	    ["ID", "WORKER"], f"show sessions (for people): exit "
	    f"{cp.returncode}, {cp.stdout[:200]!r}")
	for s in (a, b):
		row = [ln.split() for ln in lines if ln.split()[:1] ==
		    [str(s.id)]]
		t.expect(len(row) == 1 and s.user in row[0] and
		    str(BANNER + s.sent) in row[0],
		    f"show sessions (for people): row of {s.id}: {row}")

	# A session that ends leaves the list.
	mark = t.mark()
	await a.close()
	await blocking(t.wait_log, rf"\bsession end id={a.id} ", 10, mark)
	listed = await blocking(sessions, t)
	t.expect(sorted(listed) == [b.id], f"after A closed: {sorted(listed)}")
	check_one(t, listed, b)
	mark = t.mark()
	await b.close()
	await blocking(t.wait_log, rf"\bsession end id={b.id} ", 10, mark)
	t.expect(await blocking(sessions, t) == {}, "sessions after both ended")


def run(t):
	peer = t.peer("echo")
	lib_ctl.hs256_key(t)
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))
	lib_ctl.run_async(t, scenario(t), 100)
