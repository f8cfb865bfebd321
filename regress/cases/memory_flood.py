# Memory under a flood: a thousand sessions on one worker whose browsers
# stop reading while their consoles send as fast as they can.
#
# Every session's upstream floods a known stream (a random block of
# prime length, repeated, after the RFB banner); no client reads.  Once
# every console is blocked (its sends make no progress) and the daemon
# leaves upstream bytes unread in every upstream socket (it stopped
# reading because the browser's queue is full), the worker's VmRSS must
# have grown by no more than the bound vncrelayd.conf(5) documents under
# buffer-size: three times buffer-size for each such session (not in the
# ASan build, whose allocator pads and quarantines).  The
# kernel's TCP memory in all is noted: on loopback (64 KiB segments) the
# send buffers toward the stalled browsers autotune to megabytes each.  Then some
# of the sessions read again, and their first megabytes arrive complete
# and in order: backpressure lost nothing.

import os
import random
import resource
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import harness			# noqa: E402
import lib_relay		# noqa: E402
import rawws			# noqa: E402

TIMEOUT = 300

SESSIONS = 1000
BUFFER = 65536
PER_SESSION = 3 * BUFFER		# documented
PATTERN = 65521			# prime, so a lost or repeated block shows
LIMIT = 256 << 20		# most bytes one console sends
CHECKED = 20			# sessions read afterwards
CHECK_BYTES = 8 << 20		# of each of them
BANNER = b"RFB 003.008\n"

CONFIG = f'''
prefork = 1
buffer-size = {BUFFER}
max-sessions = 0
max-sessions-per-target = 0
heartbeat = 0
idle-timeout = 600
listen "127.0.0.1:{{port}}" {{ tls = false }}
target "flood" {{ host = "127.0.0.1" port = FLOOD_PORT }}
route "/ws/vnc/{{name}}" {{ backend = tcp auth = none }}
'''


class Flood(threading.Thread):
	"""A console per connection, all in one thread: the banner, then
	the pattern, as fast as each socket takes it, up to LIMIT bytes."""

	def __init__(self, pattern):
		super().__init__(daemon=True)
		self.data = memoryview(pattern * 4)
		self.lsock = socket.create_server(("127.0.0.1", 0), backlog=1024)
		self.port = self.lsock.getsockname()[1]
		self.sent = {}			# fd: bytes of pattern sent
		self.stop = threading.Event()
		self.error = None

	def run(self):
		try:
			self.serve()
		except Exception as e:		# the case reports it
			self.error = repr(e)

	def serve(self):
		sel = selectors.DefaultSelector()
		self.lsock.setblocking(False)
		sel.register(self.lsock, selectors.EVENT_READ)
		deadline = time.monotonic() + TIMEOUT
		while not self.stop.is_set() and time.monotonic() < deadline:
			for key, _ in sel.select(0.5):
				if key.fileobj is self.lsock:
					self.accept(sel)
				else:
					self.send(sel, key.fileobj)
		for key in list(sel.get_map().values()):
			key.fileobj.close()
		sel.close()

	def accept(self, sel):
		try:
			s, _ = self.lsock.accept()
		except BlockingIOError:
			return
		# What the kernel holds on the console's side is not what
		# this case measures: keep it small, and the case from
		# pushing loopback TCP into memory pressure.
		s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
		s.sendall(BANNER)
		s.setblocking(False)
		self.sent[s.fileno()] = 0
		sel.register(s, selectors.EVENT_WRITE)

	def send(self, sel, s):
		done = self.sent[s.fileno()]
		at = done % PATTERN
		want = min(2 * PATTERN, LIMIT - done)
		try:
			n = s.send(self.data[at:at + want])
		except BlockingIOError:
			return
		except OSError:
			n = 0
		self.sent[s.fileno()] = done + n
		if n == 0 or done + n >= LIMIT:
			sel.unregister(s)

	def progress(self):
		return dict(self.sent)


def tcp_mem():
	"""The kernel's TCP memory in use, from /proc/net/sockstat."""
	with open("/proc/net/sockstat") as f:
		for line in f:
			if line.startswith("TCP:"):
				pages = int(line.split("mem")[1].split()[0])
				return f"TCP memory {pages * 4 >> 10} MiB"
	return "TCP memory unknown"


def run(t):
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	want = 4 * SESSIONS + 256
	if soft < want:
		resource.setrlimit(resource.RLIMIT_NOFILE,
		    (want, max(hard, want)))
	rnd = random.Random(os.urandom(8))
	pattern = bytes(rnd.getrandbits(8) for _ in range(PATTERN))
	flood = Flood(pattern)
	flood.start()
	t.start(CONFIG.replace("FLOOD_PORT", str(flood.port)))
	(pid,) = t.workers().values()
	start = lib_relay.rss_kib(pid)

	sessions = []
	try:
		for _ in range(SESSIONS):
			sessions.append(rawws.connect("127.0.0.1", t.port,
			    "/ws/vnc/flood", protocols=["binary"],
			    timeout=30))
		t.note(f"{len(sessions)} sessions open; worker {pid} VmRSS "
		    f"{start} KiB before the first")

		def stalled():
			if flood.error:
				raise lib_relay.Failure(f"flood: {flood.error}")
			before = flood.progress()
			time.sleep(1)
			after = flood.progress()
			unread = sum(1 for _, _, _, rx in
			    lib_relay.tcp_sockets(remote_port=flood.port)
			    if rx > 0)
			return (len(after) == SESSIONS and before == after
			    and unread == SESSIONS)
		t.wait_for("every console blocked and every upstream socket "
		    "left unread by the daemon", stalled, timeout=120,
		    interval=0.01)

		peak = max(lib_relay.rss_kib(pid) for _ in range(10)
		    if time.sleep(0.2) is None)
		sent = flood.progress().values()
		grown = peak - start
		bound = SESSIONS * PER_SESSION // 1024
		t.note(f"stalled: consoles sent {min(sent)}..{max(sent)} bytes "
		    f"each, {sum(sent) >> 20} MiB in all; {tcp_mem()}; "
		    f"worker VmRSS {peak} "
		    f"KiB, grown by {grown} KiB, {grown * 1024 // SESSIONS} "
		    f"bytes per session; bound {bound} KiB")
		t.expect(min(sent) > BUFFER,
		    f"a console sent only {min(sent)} bytes: not a flood")
		if harness.daemon_sanitized():
			t.note("ASan build: its allocator keeps freed memory in "
			    "quarantine and pads every block, so the bound is "
			    "not checked; the flood and the bytes still are")
		else:
			t.expect(grown <= bound, f"worker VmRSS grew by {grown} "
			    f"KiB for {SESSIONS} sessions, over the bound of "
			    f"{bound} KiB")

		want = (pattern * (CHECK_BYTES // PATTERN + 1))[:CHECK_BYTES]
		for i, ws in enumerate(sessions[:CHECKED]):
			got = ws.recv_bytes(len(BANNER) + CHECK_BYTES,
			    timeout=60)
			t.expect(got[:len(BANNER)] == BANNER and
			    got[len(BANNER):len(BANNER) + CHECK_BYTES] == want,
			    f"session {i}: the first {CHECK_BYTES} bytes "
			    "of the flood did not arrive as sent")
		t.expect(pid in t.workers().values(),
		    f"worker {pid} is gone: {t.workers()}")
	finally:
		for ws in sessions:
			ws.close()
		flood.stop.set()
		flood.join(10)
