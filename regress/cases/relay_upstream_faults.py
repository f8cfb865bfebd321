# Upstreams that misbehave end their sessions with the right close code
# and a log line, and leave nothing stuck:
# - one that accepts and never says a word: the session is idle, and
#   idle-timeout ends it, 1000 "idle timeout";
# - one that sends its banner and then resets the connection (RST) in the
#   middle of the stream: 1011 and reason "upstream error";
# - one that sends its banner and closes cleanly: 1000 "upstream closed",
#   after the banner has been delivered.
# A black-holed upstream (connect timeout) is relay_connfail's.  After all
# of them, the worker counts no open connection (vncrelayctl show), and a
# good session still relays.

import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_ctl			# noqa: E402
import rawws			# noqa: E402

TIMEOUT = 120

CONFIG = '''
prefork = 1
idle-timeout = 2
listen "127.0.0.1:{port}" { tls = no }
target "mute" { host = "127.0.0.1" port = MUTE_PORT }
target "reset" { host = "127.0.0.1" port = RESET_PORT }
target "close" { host = "127.0.0.1" port = CLOSE_PORT }
target "echo" { host = "127.0.0.1" port = ECHO_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


class Upstream(threading.Thread):
	"""Accepts connections and does one thing with each: "mute" holds
	it and says nothing, "reset" sends a banner, reads the client's
	first byte and resets, "close" does the same but closes."""

	def __init__(self, how):
		super().__init__(daemon=True)
		self.how = how
		self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(16)
		self.ls.settimeout(60)
		self.port = self.ls.getsockname()[1]
		self.held = []
		self.start()

	def run(self):
		try:
			for _ in range(16):
				c, _ = self.ls.accept()
				self.held.append(c)
				if self.how == "mute":
					continue
				# Mid-stream: after the client's first
				# bytes, so that the session is surely up.
				c.sendall(b"RFB 003.008\n")
				c.settimeout(30)
				c.recv(1)
				if self.how == "reset":
					c.setsockopt(socket.SOL_SOCKET,
					    socket.SO_LINGER,
					    struct.pack("ii", 1, 0))
				c.close()
		except OSError:
			pass

	def stop(self):
		for c in self.held:
			c.close()
		self.ls.close()


def ended(t, name, code, reason, banner):
	mark = t.mark()
	ws = rawws.connect("127.0.0.1", t.port, f"/ws/vnc/{name}",
	    protocols=["binary"], timeout=30)
	with ws:
		got = ws.recv_bytes(12, timeout=30)
		t.expect(got == banner, f"{name}: got {got!r} before the end")
		if banner:
			ws.send_binary(b"x")	# one byte: all it reads
		close = ws.last_close if len(got) < 12 or not banner else \
		    ws.recv_close(timeout=30)
		t.expect(close is not None and close.close_code == code,
		    f"{name}: close {close!r}, want {code}")
		t.expect(ws.wait_eof(10), f"{name}: open after the close")
	t.wait_log(rf"\bworker0: session end id=\d+ .*target={name} .*"
	    rf'reason="{reason}"', since=mark)


def run(t):
	ups = {how: Upstream(how) for how in ("mute", "reset", "close")}
	t.peers.extend(ups.values())
	echo = t.peer("echo")
	config = CONFIG.replace("ECHO_PORT", str(echo.port))
	for how, up in ups.items():
		config = config.replace(f"{how.upper()}_PORT", str(up.port))
	t.start(config)

	ended(t, "mute", 1000, "idle timeout", b"")
	ended(t, "reset", 1011, "upstream error", b"RFB 003.008\n")
	ended(t, "close", 1000, "upstream closed", b"RFB 003.008\n")

	def idle():
		show = lib_ctl.ctl_json(t, "show", "summary")
		return show["connections"] == 0 and \
		    show["sessions_active"] == 0 and show["sessions_total"] == 3
	t.wait_for("three sessions done and no connection left", idle,
	    timeout=20)

	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/echo",
	    protocols=["binary"])
	with ws:
		t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", "echo banner")
		ws.send_binary(b"still here")
		t.expect(ws.recv_bytes(10) == b"still here", "echo after faults")
