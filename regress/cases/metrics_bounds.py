# The metrics listener's bounds, each with service resuming after it.  A
# worker holds at most 8 metrics connections: with 8 scrapes holding half a
# head each, a 9th connection is closed unanswered and the log says why;
# once they close, a scrape is answered 200 again.  The master renders the
# page: with the master stopped (SIGSTOP), a scrape is answered 503 after
# the worker's deadline and the log says the master did not answer; once
# the master runs again, its late answer for the gone connection is
# dropped, and the next scrape gets a whole page that parses.

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_metrics		# noqa: E402

CONFIG = '''
prefork = 1
metrics-listen = "127.0.0.1:{port2}"
listen "127.0.0.1:{port}" { tls = false }
'''

SCRAPE = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
MAXCONNS = 8


def answer(t, port):
	"""What a scrape gets; b"" when closed unanswered (a reset, as the
	worker closes with the request unread, is that too)."""
	try:
		return lib_metrics.http(t, port, SCRAPE)
	except ConnectionResetError:
		return b""


def refused_when_full(t, port):
	"""Hold MAXCONNS half heads; a further scrape is closed unanswered."""
	held = []
	try:
		for _ in range(MAXCONNS):
			s = socket.create_connection(("127.0.0.1", port),
			    timeout=10)
			held.append(s)
			s.sendall(b"GET /metrics HTTP/1.1\r\n")
		mark = t.mark()
		got = None
		# The held ones are accepted as their bytes arrive: retry a
		# bounded number of times until the worker counts them all.
		for _ in range(50):
			got = answer(t, port)
			if got == b"":
				break
			time.sleep(0.2)
		t.expect(got == b"", f"a scrape beyond {MAXCONNS} connections "
		    f"was answered {got[:60]!r}")
		t.wait_log(r"\bworker0: metrics: too many connections$", 10,
		    mark)
	finally:
		for s in held:
			s.close()


def deadline_503(t, port):
	mark = t.mark()
	t.kill(t.pid, signal.SIGSTOP)
	try:
		got = lib_metrics.http(t, port, SCRAPE, timeout=30)
	finally:
		t.kill(t.pid, signal.SIGCONT)
	t.expect(got.startswith(b"HTTP/1.1 503 "),
	    f"a scrape with the master stopped: {got[:60]!r}, want 503")
	t.wait_log(r"\bworker0: conn \d+ from 127\.0\.0\.1: no metrics "
	    r"page: the master did not answer in time$", 10, mark)


def run(t):
	t.start(CONFIG)
	port = t.port_for("port2")
	lib_metrics.scrape(t, port)
	refused_when_full(t, port)
	t.wait_for("a scrape answered after the held connections closed",
	    lambda: answer(t, port).startswith(
	    b"HTTP/1.1 200 "), 20)
	lib_metrics.scrape(t, port)
	deadline_503(t, port)
	page = lib_metrics.scrape(t, port)
	for proc in ("authd", "worker0"):
		n = page.get("vncrelayd_child_restarts_total", process=proc)
		t.expect(n == 0, f"restarts of {proc} after the master "
		    f"resumed: {n}, want 0")
