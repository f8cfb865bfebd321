# Backpressure over wss: the worker queues TLS records of its own before
# the socket takes them, and that queue has a bound too.
#
# The upstream floods 128 MiB toward a wss client that reads nothing.
# Once the daemon leaves flood bytes unread in its upstream socket (it
# stopped reading), the worker's VmRSS over some more seconds stays within
# 32 MiB of what it was at the session's start.  Then the client reads:
# the banner and flood arrive complete and in order, and after them the
# close frame (1000) that the console's end of the stream brings.

import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import rawws			# noqa: E402
import vncpeer			# noqa: E402

CONFIG = '''
prefork = 1
buffer-size = 262144
idle-timeout = 600
listen "127.0.0.1:{port}" {
	tls = true
	certificate = "{cert}"
	key = "{key}"
}
target "flood" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

FLOOD = 128 << 20
BOUND_KIB = 32 << 10		# 128 times buffer-size


def read_all(t, ws, hasher):
	"""Reads data frames into hasher until a close frame or EOF;
	returns (bytes, the close frame or None)."""
	got = 0
	deadline = time.monotonic() + 200
	for _ in range(10 ** 7):
		left = deadline - time.monotonic()
		t.expect(left > 0, f"still reading after {got} bytes")
		f = ws.recv_frame(left)
		if f is None or f.opcode == rawws.OP_CLOSE:
			return got, f
		if f.opcode in (rawws.OP_CONT, rawws.OP_BINARY):
			hasher.update(f.payload)
			got += len(f.payload)
	return got, None


def run(t):
	peer = t.peer("--connections", "1", "flood", str(FLOOD))
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	mark = t.mark()
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/flood", tls=True,
	    protocols=["binary"], timeout=60)
	_, pid, _ = lib_relay.session_worker(t, since=mark)
	start = lib_relay.rss_kib(pid)
	lib_relay.wait_upstream_unread(t, peer.port)
	peak = lib_relay.peak_rss_kib(pid)
	t.note(f"worker {pid} VmRSS {start} KiB at the start, {peak} KiB "
	    "at most while the client did not read")
	t.expect(peak - start < BOUND_KIB, f"VmRSS grew by {peak - start} "
	    "KiB with buffer-size 256 KiB")

	got = hashlib.sha256()
	n, close = read_all(t, ws, got)
	t.expect(n == 12 + FLOOD, f"{n} of {12 + FLOOD} bytes (banner and "
	    "flood) arrived")
	want = hashlib.sha256(b"RFB 003.008\n")
	for i in range(FLOOD // vncpeer.CHUNK):
		want.update(vncpeer.flood_chunk("0", i))
	t.expect(got.hexdigest() == want.hexdigest(),
	    "the banner and flood arrived with other bytes than were sent")
	t.expect(close is not None and close.close_code == 1000,
	    f"after the flood: {close!r}, want a close frame with 1000")
	ws.close()
	m = peer.wait_line(r"conn=1 mode=flood out=(\d+) ", timeout=60)
	t.expect(int(m.group(1)) == FLOOD, f"the peer sent {m.group(1)}")
