# Backpressure bounds a worker's memory by buffer-size, both ways.
#
# Downstream: the upstream floods 512 MiB while the client reads nothing.
# Once the daemon leaves upstream bytes unread in its socket (it stopped
# reading), the worker's VmRSS over some more seconds of flooding stays
# within 32 MiB of what it was at the session's start.  Then the client
# reads everything, and the 512 MiB arrive complete and in order.
#
# Upstream: the console never reads (a listener that never accepts) while
# the client sends as fast as it can: the daemon stops reading the client,
# our sends block well before 512 MiB, and the worker's VmRSS again stays
# within the bound.

import hashlib
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import rawws			# noqa: E402
import vncpeer			# noqa: E402

TIMEOUT = 300

CONFIG = '''
prefork = 1
buffer-size = 262144
idle-timeout = 600
listen "127.0.0.1:{port}" { tls = false }
target "flood" { host = "127.0.0.1" port = FLOOD_PORT }
target "stall" { host = "127.0.0.1" port = STALL_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

FLOOD = 512 << 20
BOUND_KIB = 32 << 10		# 128 times buffer-size


def downstream(t, peer):
	mark = t.mark()
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/flood",
	    protocols=["binary"], timeout=60)
	_, pid, _ = lib_relay.session_worker(t, since=mark)
	start = lib_relay.rss_kib(pid)
	lib_relay.wait_upstream_unread(t, peer.port)
	peak = lib_relay.peak_rss_kib(pid)
	t.note(f"downstream: worker {pid} VmRSS {start} KiB at the start, "
	    f"{peak} KiB at most while the client did not read")
	t.expect(peak - start < BOUND_KIB, f"downstream: VmRSS grew by "
	    f"{peak - start} KiB with buffer-size 256 KiB")

	got = hashlib.sha256()
	drain = lib_relay.Drain(ws, 12 + FLOOD, got, timeout=200)
	drain.start()
	t.expect(drain.finish(220), "still reading the flood")
	t.expect(drain.error is None, f"reading the flood: {drain.error}")
	t.expect(drain.got == 12 + FLOOD,
	    f"{drain.got} of {12 + FLOOD} bytes (banner and flood) arrived")
	want = hashlib.sha256(b"RFB 003.008\n")
	for i in range(FLOOD // vncpeer.CHUNK):
		want.update(vncpeer.flood_chunk("0", i))
	t.expect(got.hexdigest() == want.hexdigest(),
	    "the banner and flood arrived with other bytes than were sent")
	drain.ws.close()
	ws.close()


def upstream(t, stall_port):
	mark = t.mark()
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/stall",
	    protocols=["binary"], timeout=5)
	_, pid, _ = lib_relay.session_worker(t, since=mark)
	start = lib_relay.rss_kib(pid)
	me = ws.sock.getsockname()[1]
	frame = rawws.encode_frame(rawws.OP_BINARY, b"u" * 65536)
	sent = 0
	while sent < FLOOD:
		try:
			ws.send_raw(frame)
		except socket.timeout:
			break
		sent += 65536
	t.note(f"upstream: sends blocked after {sent} bytes")
	t.expect(sent < FLOOD, f"upstream: the daemon took all {sent} bytes "
	    "from the client while the console read none")
	t.wait_for("the daemon leaving client bytes unread",
	    lambda: (lib_relay.tcp_queues(t.port, me) or (0, 0))[1] > 0,
	    timeout=30)
	peak = lib_relay.peak_rss_kib(pid)
	t.note(f"upstream: worker {pid} VmRSS {start} KiB at the start, "
	    f"{peak} KiB at most")
	t.expect(peak - start < BOUND_KIB, f"upstream: VmRSS grew by "
	    f"{peak - start} KiB with buffer-size 256 KiB")
	ws.close()


def run(t):
	peer = t.peer("--connections", "1", "flood", str(FLOOD))
	stall = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	stall.bind(("127.0.0.1", 0))
	stall.listen(1)			# and never accept()
	stall_port = stall.getsockname()[1]
	t.start(CONFIG.replace("FLOOD_PORT", str(peer.port))
	    .replace("STALL_PORT", str(stall_port)))

	downstream(t, peer)
	m = peer.wait_line(r"conn=1 mode=flood out=(\d+) ", timeout=60)
	t.expect(int(m.group(1)) == FLOOD, f"the peer sent {m.group(1)}")
	upstream(t, stall_port)
	stall.close()
