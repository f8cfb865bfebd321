# kill -9 of authd while sessions run.  The master starts a new authd and
# hands every worker a channel to it, and:
# - the sessions already relaying go on, byte-exact (echo round trips);
# - a request authd was deciding when it died (its upstream connect hung
#   in SYN_SENT to a black hole) is answered at once, 503 with the JSON
#   error INTERNAL_ERROR, not left to its timeout (connect-timeout = 60);
#   so is any request that comes while no authd runs: requests do not
#   wait for the restarted authd, they fail cleanly (vncrelayd(8));
# - the one-time tokens of the live sessions, already used, are still
#   refused with TOKEN_ALREADY_USED by the new authd;
# - the new authd, like the old, does not run as root;
# - a fresh token opens a new session, and static files are served.

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_relay		# noqa: E402
import lib_token as lt		# noqa: E402

TIMEOUT = 180

CONFIG = '''
prefork = 2
connect-timeout = 60
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { backend = tcp }
target "hole" { host = "127.0.0.1" port = HOLE_PORT }
'''


def pending_request(t, keys, k1):
	"""Send a request for the black hole; return its socket once authd
	is connecting upstream for it."""
	tok = keys.mint(k1, keys.claims(target="hole"))
	s = socket.create_connection(("127.0.0.1", t.port), timeout=30)
	s.sendall((f"GET /ws/vnc/hole?token={tok} HTTP/1.1\r\n"
	    f"Host: 127.0.0.1:{t.port}\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
	return s


def answer(t, s, timeout):
	"""The status and body a pending request got within timeout."""
	s.settimeout(timeout)
	got = b""
	start = time.monotonic()
	try:
		for _ in range(1000):
			data = s.recv(4096)
			if not data:
				break
			got += data
	except socket.timeout:
		pass
	s.close()
	t.note(f"pending request: {got[:200]!r} after "
	    f"{time.monotonic() - start:.1f}s")
	return got


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	hole = lib_relay.Blackhole(t)
	t.peers.append(hole)
	t.start(CONFIG.replace("HOLE_PORT", str(hole.port)) + k1.conf() +
	    "\n" + lt.targets_conf(peer.port) + "\n")
	workers = t.workers()

	held, used = [], []
	try:
		for i in range(4):
			tok = keys.mint(k1, keys.claims(target=f"vm{i % 2 + 1}"))
			used.append((f"vm{i % 2 + 1}", tok))
			lt.rfb_session(t, f"/ws/vnc/vm{i % 2 + 1}?token={tok}",
			    f"session {i}", held)
		pending = pending_request(t, keys, k1)
		t.wait_for("authd connecting to the black hole", hole.syn_sent)

		old = t.authd()
		t.expect_lost_child("authd")
		mark = t.mark()
		t.kill(old, signal.SIGKILL)
		# The bound of the issue: a new authd within 2 s.
		t.wait_log(r"\bauthd: ready", since=mark, timeout=2)
		got = answer(t, pending, 30)
		t.expect(got.startswith(b"HTTP/1.1 503 ") and
		    b'"code":"INTERNAL_ERROR"' in got, "the request authd was "
		    f"deciding got {got[:120]!r}, want 503 INTERNAL_ERROR")
		t.wait_log(rf"\bworker\d+: conn \d+: authd went away while "
		    "deciding", since=mark)
		t.wait_log(rf"master: lost child authd pid={old} "
		    r"status=signal 9\b", since=mark)
		t.wait_log(r"\bauthd: ready", since=mark)
		for k in sorted(workers):
			t.wait_log(rf"\bworker{k}: authd channel", since=mark)
		new = t.authd()
		t.expect(new is not None and new != old,
		    f"authd pid {old} -> {new}")
		uids = t.proc_status(new)["Uid"].split()
		t.expect("0" not in uids, f"the new authd runs with uids {uids}")
		t.expect(t.workers() == workers,
		    f"workers changed: {workers} -> {t.workers()}")

		for s in held:
			s.echo()
		for name, tok in used:
			lt.expect_refused(t, f"used token for {name} after the "
			    "restart", f"/ws/vnc/{name}?token={tok}",
			    "TOKEN_ALREADY_USED")
		tok = keys.mint(k1, keys.claims(target="vm1"))
		lt.rfb_session(t, f"/ws/vnc/vm1?token={tok}", "new session",
		    held)
		for s in held:
			s.echo()
		t.expect_page()
	finally:
		lt.close_all(held)
