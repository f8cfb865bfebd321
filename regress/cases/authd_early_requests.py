# Requests that reach a new authd before its configuration is in force
# (a token from the control socket, a console request from a worker) wait
# for it instead of crashing it.  authd is killed several times while two
# threads keep asking; every restart must end in "authd: ready" with no
# other child lost, and a token must be issued after each one.

import json
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402

CONFIG = '''
prefork = 2
control-socket = "{tmp}/ctl.sock"
listen "127.0.0.1:{port}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
target "vm" { host = "127.0.0.1" port = 9 }
route "/ws/vnc/{name}" { }
'''

ROUNDS = 6
UPGRADE = (b"GET /ws/vnc/vm?token=a.b.c HTTP/1.1\r\nHost: x\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")


def ctl_token(path):
	"""One token request on the control socket: the parsed answer, or
	None when the socket did not answer."""
	try:
		with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
			s.settimeout(5)
			s.connect(path)
			s.sendall(b"token vm\n")
			buf = b""
			while True:
				d = s.recv(4096)
				if not d:
					break
				buf += d
		return json.loads(buf)
	except (OSError, ValueError):
		return None


def upgrade(port):
	try:
		with socket.create_connection(("127.0.0.1", port),
		    timeout=5) as s:
			s.sendall(UPGRADE)
			s.recv(4096)
	except OSError:
		pass


def run(t):
	lib_ctl.hs256_key(t)
	t.start()
	path = lib_ctl.ctl_socket(t)
	stop = threading.Event()
	issued = []

	def asker():
		while not stop.is_set():
			a = ctl_token(path)
			if a and "token" in a:
				issued.append(time.monotonic())

	def knocker():
		while not stop.is_set():
			upgrade(t.port)

	threads = [threading.Thread(target=asker, daemon=True),
	    threading.Thread(target=knocker, daemon=True)]
	for th in threads:
		th.start()
	try:
		for i in range(ROUNDS):
			old = t.authd()
			t.expect(old is not None, "no authd")
			mark = t.mark()
			t.expect_lost_child("authd")
			t.kill(old, signal.SIGKILL)
			t.wait_log(rf"master: lost child authd pid={old} "
			    r"status=signal 9\b", since=mark)
			t.wait_log(r"\bauthd: ready", since=mark, timeout=20)
			since = time.monotonic()
			t.wait_for(f"a token after restart {i + 1}",
			    lambda: any(x > since for x in issued), timeout=20)
	finally:
		stop.set()
		for th in threads:
			th.join(timeout=10)
	t.expect(not t.log_matches(r"lost child (worker|authd).*signal 11"),
	    "a child crashed")
	t.note(f"{len(issued)} tokens issued over {ROUNDS} restarts")
