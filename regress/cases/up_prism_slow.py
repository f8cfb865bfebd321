# A Prism that accepts and never answers stalls only its own consoles:
# while authd waits on its login, a console on a plain target is decided
# and relays, and a bad token is refused.  When login-timeout runs out,
# the Prism console gets CONNECTION_FAILED and authd logs why.  A request
# whose worker dies while it waits is answered to nobody: the restarted
# worker reuses session ids, so the verdict must not reach it.

import os
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token		# noqa: E402

UUID = "0badc0de-0000-4000-8000-000000000001"

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
KEY
target "vm" { host = "127.0.0.1" port = PEER_PORT }
prism "slow" {
	host = "127.0.0.1"
	port = SLOW_PORT
	username = "admin"
	password-file = "{tmp}/prism.pw"
	tls-verify = no
	login-timeout = 6
}
route "/proxy/{uuid}" { backend = prism upstream = "slow" }
route "/ws/vnc/{name}" { }
'''


def blackhole():
	"""A listener that accepts and holds every connection, silent."""
	ls = socket.socket()
	ls.bind(("127.0.0.1", 0))
	ls.listen(16)
	held = []

	def loop():
		while True:
			try:
				c, _ = ls.accept()
			except OSError:
				return
			held.append(c)
	threading.Thread(target=loop, daemon=True).start()
	return ls, held


def run(t):
	peer = t.peer("echo")
	ls, held = blackhole()
	keys = lib_token.Keys(t)
	k = keys.hs256("k1")
	t.write_file("prism.pw", "secret\n", mode=0o600)
	t.start(CONFIG.replace("KEY", k.conf()).replace("PEER_PORT",
	    str(peer.port)).replace("SLOW_PORT", str(ls.getsockname()[1])))

	# The Prism console waits for a login that will not come.
	result = {}
	tok = keys.mint(k, keys.claims(target=UUID))

	def slow():
		result["reply"] = lib_token.attempt(t, f"/proxy/{UUID}?token="
		    f"{tok}")
	th = threading.Thread(target=slow, daemon=True)
	mark = t.mark()
	th.start()
	t.wait_for("authd to connect to the silent Prism",
	    lambda: len(held) > 0, timeout=10)

	# Meanwhile other consoles are decided as usual.
	s = lib_token.rfb_session(t, "/ws/vnc/vm?token=" +
	    keys.mint(k, keys.claims(target="vm")), "console on a plain target")
	s.close()
	lib_token.expect_refused(t, "a bad token", "/ws/vnc/vm?token=x.y.z",
	    "INVALID_TOKEN")
	t.expect(th.is_alive() and "reply" not in result,
	    "the Prism console was answered before its login timed out")

	th.join(timeout=30)
	t.expect("reply" in result, "the Prism console got no answer")
	r = result["reply"]
	t.expect(r.status == 502 and r.code == "CONNECTION_FAILED",
	    f"Prism console: HTTP {r.status} {r.code}, want 502 "
	    "CONNECTION_FAILED")
	t.wait_log(r"\bauthd: prism slow: login failed: timed out", since=mark)

	# The worker dies while its request waits for the login.
	tok = keys.mint(k, keys.claims(target=UUID))
	req = (f"GET /proxy/{UUID}?token={tok} HTTP/1.1\r\nHost: x\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	n = len(held)
	orphan = socket.create_connection(("127.0.0.1", t.port), timeout=10)
	orphan.sendall(req.encode())
	t.wait_for("authd to log in again", lambda: len(held) > n,
	    timeout=10)
	mark = t.mark()
	t.expect_lost_child("worker0")
	t.kill(t.workers()[0], signal.SIGKILL)
	t.wait_log(r"\bworker0: ready", since=mark, timeout=20)
	t.wait_log(r"\bauthd: decision for worker0 session \d+ dropped: that "
	    r"worker has gone", since=mark, timeout=30)
	orphan.close()
	ls.close()
	for c in held:
		c.close()
