# Slowloris: 1000 connections that each send a byte of a request head
# every second are closed when head-timeout (2 s) runs out, without an
# answer; meanwhile an ordinary client is served every time it asks.  Every
# one of them is logged as "request head timed out".

import os
import select
import socket
import time

TIMEOUT = 180
SLOW = 1000
HEAD = b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "

CONFIG = '''
prefork = 2
head-timeout = 2
webroot = "{tmp}/www"
listen "127.0.0.1:{port}" { tls = no }
'''


def open_slow(t):
	socks = []
	for i in range(SLOW):
		s = socket.create_connection(("127.0.0.1", t.port), timeout=10)
		s.setblocking(False)
		s.send(HEAD[:1])
		socks.append(s)
	return socks


def run(t):
	www = os.path.join(t.tmp, "www")
	os.makedirs(www)
	with open(os.path.join(www, "hello.txt"), "w") as f:
		f.write("hello\n")
	t.start()
	mark = t.mark()
	socks = open_slow(t)
	sent = {s: 1 for s in socks}
	closed, answered, served = 0, 0, 0
	deadline = time.monotonic() + 60
	while sent and time.monotonic() < deadline:
		r, _, _ = select.select(list(sent), [], [], 1.0)
		for s in r:
			try:
				data = s.recv(4096)
			except (ConnectionResetError, BlockingIOError):
				data = b""
			if data:
				answered += 1
			del sent[s]
			s.close()
			closed += 1
		for s in list(sent):
			i = sent[s]
			try:
				s.send(HEAD[i % len(HEAD):i % len(HEAD) + 1])
				sent[s] = i + 1
			except (BrokenPipeError, ConnectionResetError,
			    BlockingIOError):
				pass
		r = t.http_get("/hello.txt")
		t.expect(r.status == 200 and r.body == b"hello\n",
		    f"an ordinary client during the slowloris: {r.status}")
		served += 1
	t.note(f"{closed} slow connections closed, {answered} answered, "
	    f"{len(sent)} still open; {served} ordinary requests served")
	for s in sent:
		s.close()
	t.expect(not sent, f"{len(sent)} of {SLOW} slow connections still "
	    "open after 60 s (head-timeout = 2)")
	t.expect(answered == 0, f"{answered} slow connections got an answer")
	t.wait_for("every slow connection logged", lambda: len(t.log_matches(
	    r"\bworker\d+: conn \d+ from 127\.0\.0\.1: request head timed "
	    "out", mark)) >= SLOW, timeout=20)
