# The master binds the metrics listener but never reads from it: with two
# workers running, the server end of a scrape's connection (its inode
# found in /proc/net/tcp, then among /proc/PID/fd of the daemon's
# processes) belongs to a worker, and the master's only socket on that
# port is the listening one.  A worker is killed with SIGKILL while a
# thread scrapes: every scrape that starts once it is gone is answered 200
# (by the other worker); the master restarts it, the page counts the
# restart, and with the other worker stopped (SIGSTOP) the new worker
# serves a scrape on its own.

import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_metrics		# noqa: E402

CONFIG = '''
prefork = 2
metrics-listen = "127.0.0.1:{port2}"
listen "127.0.0.1:{port}" { tls = false }
'''

SCRAPE = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"


def socket_inodes(pid):
	out = set()
	for fd in os.listdir(f"/proc/{pid}/fd"):
		try:
			link = os.readlink(f"/proc/{pid}/fd/{fd}")
		except OSError:
			continue
		m = re.fullmatch(r"socket:\[(\d+)\]", link)
		if m:
			out.add(m.group(1))
	return out


def processes(t):
	procs = {t.pid: "master", t.authd(): "authd"}
	procs.update({pid: f"worker{k}" for k, pid in t.workers().items()})
	return procs


def holders(t, port, client):
	"""{pid: name} of the daemon's processes that hold the server end of
	client's connection to port."""
	mine = client.getsockname()[1]
	ends = {ino for ino, (state, rport) in
	    lib_metrics.tcp_sockets(port).items()
	    if state == lib_metrics.TCP_ESTABLISHED and rport == mine}
	return {pid: name for pid, name in processes(t).items()
	    if ends and socket_inodes(pid) & ends}


def served_by(t, port):
	"""A scrape held after half its head, while the test finds who holds
	its connection, then finished: (pid, name) of that process."""
	with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
		s.sendall(SCRAPE[:23])
		who = t.wait_for("the scrape's connection accepted",
		    lambda: holders(t, port, s))
		s.sendall(SCRAPE[23:])
		got = lib_metrics.recv_all(s)
	t.expect(got.startswith(b"HTTP/1.1 200 OK\r\n"), f"held scrape: "
	    f"{got[:60]!r}")
	t.expect(len(who) == 1, f"the scrape's connection is held by {who}")
	return next(iter(who.items()))


def master_sockets(t, port):
	"""The master holds the listening socket of port, and nothing else
	on it."""
	mine = socket_inodes(t.pid)
	states = [state for ino, (state, _) in
	    lib_metrics.tcp_sockets(port).items() if ino in mine]
	t.expect(states == [lib_metrics.TCP_LISTEN], f"the master's sockets "
	    f"on port {port}: states {states}, want the listening one alone")


class Scraper(threading.Thread):
	"""Scrapes in a loop, for 60 seconds or until stopped, and keeps
	(start time, status or the error) of each; no t.expect here."""

	def __init__(self, port):
		super().__init__(daemon=True)
		self.port = port
		self.results = []
		self.stop = threading.Event()

	def run(self):
		deadline = time.monotonic() + 60
		while not self.stop.is_set() and time.monotonic() < deadline:
			start = time.monotonic()
			try:
				got = lib_metrics.http(None, self.port, SCRAPE)
				m = re.match(rb"HTTP/1\.1 (\d{3}) ", got)
				self.results.append((start, int(m.group(1)) if
				    m else got[:60]))
			except OSError as e:
				self.results.append((start, repr(e)))
			time.sleep(0.05)


def kill_while_scraping(t, port):
	victim = t.workers()[0]
	scraper = Scraper(port)
	scraper.start()
	try:
		time.sleep(0.5)
		t.expect_lost_child("worker0")
		mark = t.mark()
		t.kill(victim, signal.SIGKILL)
		t.wait_for("worker0 gone", lambda: not t.alive(victim))
		gone = time.monotonic()
		time.sleep(1)
		t.wait_log(r"\bworker0: ready", 20, mark)
		time.sleep(0.5)
	finally:
		scraper.stop.set()
		scraper.join(20)
	after = [r for start, r in scraper.results if start >= gone]
	t.note(f"{len(scraper.results)} scrapes, {len(after)} after the kill")
	t.expect(len(after) >= 5, f"only {len(after)} scrapes after the kill")
	t.expect(all(r == 200 for r in after), "scrapes after the kill: "
	    f"{[r for r in after if r != 200]}")
	t.expect(t.workers().get(0) not in (None, victim), "no new worker0")


def run(t):
	t.start()
	port = t.port_for("port2")
	lib_metrics.scrape(t, port)
	master_sockets(t, port)
	pid, name = served_by(t, port)
	t.expect(name.startswith("worker") and pid in t.workers().values(),
	    f"the scrape was served by {name} (pid {pid}), not a worker")
	master_sockets(t, port)

	kill_while_scraping(t, port)
	page = lib_metrics.scrape(t, port)
	t.expect(page.get("vncrelayd_child_restarts_total",
	    process="worker0") == 1, "restarts of worker0: "
	    f"{page.get('vncrelayd_child_restarts_total', process='worker0')}")

	# The other worker cannot accept: the new one serves alone.
	other = t.workers()[1]
	t.kill(other, signal.SIGSTOP)
	try:
		pid, name = served_by(t, port)
	finally:
		t.kill(other, signal.SIGCONT)
	t.expect((pid, name) == (t.workers()[0], "worker0"), f"with worker1 "
	    f"stopped, the scrape was served by {name} (pid {pid})")
	master_sockets(t, port)
