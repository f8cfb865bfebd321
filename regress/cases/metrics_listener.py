# The metrics listener answers GET and HEAD of /metrics alone (HEAD with
# the same head and no body): another target is 404, another method 405
# with "Allow: GET, HEAD", HTTP/2.0 505, a malformed head (no Host on 1.1,
# a request line that is not METHOD SP /TARGET SP HTTP/1.x with CRLF) 400,
# a head over max-head-size (8192) 431; the connection closes after each
# answer.
# Static files, console routes and the console API, which the console
# listener serves, are 404 here.  A worker holds 8 metrics connections at
# most: a ninth is closed unanswered while 8 wait, and the 8 are still
# served.  A connection that says nothing is closed (within 20 seconds
# here; head-timeout is 10).  A reload moves it to a new address and the
# old one stops answering; a reload without metrics-listen closes it.

import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402
import lib_metrics		# noqa: E402

CONFIG = '''
prefork = 1
metrics-listen = "127.0.0.1:{port2}"
console-api = "/api/v1/console"
listen "127.0.0.1:{port}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
route "/ws/vnc/{name}" { }
'''

MOVED = CONFIG.replace("{port2}", "{port3}")
WITHOUT = CONFIG.replace('metrics-listen = "127.0.0.1:{port2}"\n', "")

ANSWERS = [
	(b"GET /metrics HTTP/1.0\r\n\r\n", 200),
	(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 200),
	(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404),
	(b"GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n", 404),
	(b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 404),
	(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	    405),
	(b"get /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405),
	(b"GET /metrics HTTP/2.0\r\n\r\n", 505),
	(b"GET /metrics HTTP/1.1\r\n\r\n", 400),
	(b"GET /metrics HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400),
	(b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
	(b"GET metrics HTTP/1.1\r\n\r\n", 400),
	(b"GET /metrics HTTP/1.1 \r\n\r\n", 400),
	(b"GET /met\x00rics HTTP/1.1\r\n\r\n", 400),
	(b"GET /metrics\r\n\r\n", 400),
	(b"\r\n\r\n", 400),
	(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
]

# What the console listener serves (status there), and the metrics
# listener does not.
UPGRADE = (b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
CONSOLE_ONLY = [
	(b"GET /console.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	    b"\r\n", 200),
	(b"GET /api/v1/console/vm HTTP/1.1\r\nHost: x\r\n"
	    b"Authorization: Bearer nope\r\n\r\n", 401),
	(b"GET /ws/vnc/vm HTTP/1.1\r\nHost: x\r\n" + UPGRADE + b"\r\n",
	    401),
]


def status(got):
	m = re.match(rb"HTTP/1\.1 (\d{3}) ", got)
	return int(m.group(1)) if m else None


def answer(t, port, request, want):
	got = lib_metrics.http(t, port, request)
	t.expect(status(got) == want, f"port {port}: {request[:60]!r}: "
	    f"answered {got[:60]!r}, want {want}")
	if want == 405:
		t.expect(b"\r\nAllow: GET, HEAD\r\n" in
		    got.partition(b"\r\n\r\n")[0], f"port {port}: "
		    f"{request[:60]!r}: 405 without Allow: GET, HEAD")
	return got


def answers(t, port):
	for request, want in ANSWERS:
		got = answer(t, port, request, want)
		if want == 200:
			lib_metrics.parse(t, got.partition(b"\r\n\r\n")[2]
			    .decode())
	for request, want in CONSOLE_ONLY:
		answer(t, t.port, request, want)
		answer(t, port, request, 404)


def head(t, port):
	"""HEAD /metrics: GET's status, type and length, and no body."""
	got = answer(t, port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
	    200)
	top, _, body = got.partition(b"\r\n\r\n")
	t.expect(b"\r\nContent-Type: text/plain; version=0.0.4; "
	    b"charset=utf-8\r\n" in top, f"HEAD: {top!r}")
	length = re.search(rb"\r\nContent-Length: (\d+)\r\n", top)
	t.expect(length is not None and int(length.group(1)) > 100,
	    f"HEAD: no length of a page in {top!r}")
	t.expect(body == b"", f"HEAD: a body of {len(body)} bytes")


def dial(port):
	return socket.create_connection(("127.0.0.1", port), timeout=20)


def bounded(t, port):
	"""Once the earlier connections are closed on the worker's side too,
	eight connections wait with half a request; the ninth is closed
	without an answer; the eight are then served."""
	t.wait_for("the worker to let go of earlier metrics connections",
	    lambda: all(state == lib_metrics.TCP_LISTEN for state, _ in
	    lib_metrics.tcp_sockets(port).values()))
	held = [dial(port) for _ in range(8)]
	try:
		for s in held:
			s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
		with dial(port) as s:
			t.expect(s.recv(100) == b"", "a ninth connection was "
			    "not closed at once")
		for s in held:
			s.sendall(b"\r\n")
			got = lib_metrics.recv_all(s)
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
	lib_ctl.hs256_key(t)
	t.start()
	port = t.port_for("port2")
	answers(t, port)
	head(t, port)
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
