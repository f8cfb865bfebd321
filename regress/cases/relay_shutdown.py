# SIGTERM while sessions relay: the worker stops accepting, the sessions
# go on relaying byte for byte during drain-timeout, and when it runs out
# each gets a close frame with 1001 (going away), over ws:// and over
# wss://; each session's end is logged with reason "server shutdown", the
# master exits 0 and no child is left behind.  A third session has stopped
# reading while its console echoes a flood back: its 1001 close waits
# behind the bytes queued for it, and arrives after them once it reads
# again, when the drain time is over.

import os
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import rawws			# noqa: E402

DRAIN = 3
FLOOD = 64 << 20

CONFIG = f'''
prefork = 1
drain-timeout = {DRAIN}
listen "127.0.0.1:{{port}}" {{ tls = no }}
listen "127.0.0.1:{{port2}}" {{
	tls = yes
	certificate = "{{cert}}"
	key = "{{key}}"
}}
target "echo" {{ host = "127.0.0.1" port = PEER_PORT }}
route "/ws/vnc/{{name}}" {{ backend = tcp auth = none }}
'''


def session(t, port, tls):
	ws = rawws.connect("127.0.0.1", port, "/ws/vnc/echo", tls=tls,
	    protocols=["binary"], timeout=20)
	t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", f"tls={tls}: banner")
	return ws


def slow_session(t, port):
	"""A session whose browser reads nothing for now: a small receive
	buffer, and a thread that floods the echoing console until the
	relay stops taking more."""
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
	s.connect(("127.0.0.1", port))
	ws = rawws.RawWS(s, timeout=20)
	ws.request("/ws/vnc/echo", protocols=["binary"])
	ws.read_response()
	ws.check_accept()
	t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", "slow: banner")
	sent = bytearray()
	chunk = os.urandom(65536)

	def flood():
		try:
			for _ in range(FLOOD // len(chunk)):
				ws.send_binary(chunk)
				sent.extend(chunk)
		except OSError:
			pass
	th = threading.Thread(target=flood, daemon=True)
	th.start()
	return ws, sent, th


def echo(t, ws, what):
	data = os.urandom(4096)
	ws.send_binary(data)
	back = ws.recv_bytes(len(data), timeout=20)
	t.expect(back == data, f"{what}: {len(back)} bytes came back, or "
	    "other bytes")


def run(t):
	peer = t.peer("--connections", "3", "echo")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))
	kids = t.children()
	plain = session(t, t.port, False)
	secure = session(t, t.port_for("port2"), True)
	slow, sent, flooder = slow_session(t, t.port)

	mark = t.mark()
	t.signal(signal.SIGTERM)
	t.wait_log(r"master: shutting down", since=mark)
	# Draining: the sessions still relay, new connections are refused
	# or left unanswered, never served.
	echo(t, plain, "ws:// while draining")
	echo(t, secure, "wss:// while draining")
	try:
		with socket.create_connection(("127.0.0.1", t.port),
		    timeout=2) as s:
			s.sendall(b"GET /console.html HTTP/1.1\r\nHost: x\r\n\r\n")
			got = s.recv(64)
	except (OSError, socket.timeout):
		got = b""
	t.expect(not got.startswith(b"HTTP/1.1 200"),
	    f"a new request was served while draining: {got!r}")

	for ws, what in ((plain, "ws://"), (secure, "wss://")):
		close = ws.recv_close(timeout=DRAIN + 20)
		t.note(f"{what}: {close!r}")
		t.expect(close is not None, f"{what}: EOF without a close frame")
		t.expect(close.close_code == 1001, f"{what}: close code "
		    f"{close.close_code} ({close.close_reason!r}), want 1001")
		ws.close()
	# The slow browser reads only now: everything echoed, then 1001.
	t.wait_log(r"drain time is over", since=mark, timeout=DRAIN + 10)
	close = slow.recv_close(timeout=10)
	got = b"".join(f.payload for f in slow.skipped)
	t.note(f"slow: {len(got)} bytes echoed of {len(sent)} sent, then "
	    f"{close!r}")
	t.expect(close is not None, "slow: EOF without a close frame, after "
	    f"{len(got)} bytes")
	t.expect(close is None or close.close_code == 1001, "slow: close code "
	    f"{close and close.close_code}, want 1001")
	t.expect(len(got) > 0 and got == bytes(sent[:len(got)]),
	    f"slow: the {len(got)} bytes before the close are not what was "
	    "sent")
	slow.close()
	flooder.join(timeout=30)
	status = t.wait_exit(timeout=DRAIN + 20)
	t.expect(status == 0, f"master exit status {status}")
	t.wait_log(r"master: exiting", since=mark)
	ends = t.log_matches(r"\bworker0: session end id=\d+ .*target=echo "
	    r".*reason=\"server shutdown\"", since=mark)
	t.expect(len(ends) == 3, f"{len(ends)} session ends with reason "
	    "\"server shutdown\", want 3")
	left = [p for p in kids if t.alive(p.pid)]
	t.expect(not left, f"children left behind: {left}")
