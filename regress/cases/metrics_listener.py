# The metrics listener answers GET /metrics alone: another path or method
# is 404; a request line that is not METHOD SP /TARGET SP HTTP/1.x with
# CRLF, or a head of 4096 bytes without its end, is 400; the connection
# closes after each answer.  It holds 8 connections at most: a ninth is
# closed unanswered while 8 wait, and the 8 are still served.  A
# connection that says nothing is closed (within 20 seconds here; the
# bound is 5).  A reload moves it to a new address and the old one stops
# answering; a reload without metrics-listen closes it.

import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_metrics		# noqa: E402

CONFIG = '''
prefork = 1
metrics-listen = "127.0.0.1:{port2}"
listen "127.0.0.1:{port}" { tls = false }
'''

MOVED = CONFIG.replace("{port2}", "{port3}")
WITHOUT = CONFIG.replace('metrics-listen = "127.0.0.1:{port2}"\n', "")

ANSWERS = [
	(b"GET /metrics HTTP/1.0\r\n\r\n", 200),
	(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 200),
	(b"GET / HTTP/1.1\r\n\r\n", 404),
	(b"GET /metrics/ HTTP/1.1\r\n\r\n", 404),
	(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n", 404),
	(b"HEAD /metrics HTTP/1.1\r\n\r\n", 404),
	(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 404),
	(b"get /metrics HTTP/1.1\r\n\r\n", 400),
	(b"GET /metrics HTTP/2.0\r\n\r\n", 400),
	(b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
	(b"GET metrics HTTP/1.1\r\n\r\n", 400),
	(b"GET /metrics HTTP/1.1 \r\n\r\n", 400),
	(b"GET /met\x00rics HTTP/1.1\r\n\r\n", 400),
	(b"GET /metrics\r\n\r\n", 400),
	(b"\r\n\r\n", 400),
	(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 5000 + b"\r\n\r\n", 400),
]


def status(got):
	m = re.match(rb"HTTP/1\.1 (\d{3}) ", got)
	return int(m.group(1)) if m else None


def answers(t, port):
	for request, want in ANSWERS:
		got = lib_metrics.http(t, port, request)
		t.expect(status(got) == want, f"{request[:60]!r}: answered "
		    f"{got[:60]!r}, want {want}")
		if want == 200:
			lib_metrics.parse(t, got.partition(b"\r\n\r\n")[2]
			    .decode())


def dial(port):
	return socket.create_connection(("127.0.0.1", port), timeout=20)


def bounded(t, port):
	"""Eight connections wait with half a request; the ninth is closed
	without an answer; the eight are then served."""
	held = [dial(port) for _ in range(8)]
	try:
		for s in held:
			s.sendall(b"GET /metrics HTTP/1.1\r\n")
		with dial(port) as s:
			t.expect(s.recv(100) == b"", "a ninth connection was "
			    "not closed at once")
		for s in held:
			s.sendall(b"\r\n")
			got = b""
			for _ in range(1000):
				data = s.recv(65536)
				if not data:
					break
				got += data
			t.expect(status(got) == 200, f"held connection: "
			    f"{got[:60]!r}")
	finally:
		for s in held:
			s.close()


def refused(port):
	try:
		with socket.create_connection(("127.0.0.1", port), timeout=10):
			return False
	except ConnectionRefusedError:
		return True


def run(t):
	t.start()
	port = t.port_for("port2")
	answers(t, port)
	bounded(t, port)
	with dial(port) as s:
		t.expect(s.recv(100) == b"", "an idle connection got an answer")
	lib_metrics.scrape(t, port)

	mark = t.reload(MOVED)
	t.wait_log(r"\bmaster: reload: configuration reloaded", 15, mark)
	t.wait_log(rf"\bmaster: metrics on 127\.0\.0\.1:{t.port_for('port3')}"
	    r"$", 5, mark)
	lib_metrics.scrape(t, t.port_for("port3"))
	t.expect(refused(port), f"the old metrics port {port} still answers")

	mark = t.reload(WITHOUT)
	t.wait_log(r"\bmaster: reload: configuration reloaded", 15, mark)
	t.wait_for("the metrics listener closed",
	    lambda: refused(t.port_for("port3")))
