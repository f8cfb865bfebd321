# What a client sends before its close frame reaches the console: the
# client sends 16 MiB and closes at once, without waiting; the daemon
# answers the close, and the console (a sink peer) still reads every byte,
# the same bytes, before its connection ends.  The same the other way is
# in relay_backpressure: a console that sends and closes has every byte
# delivered before the close.

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import rawws			# noqa: E402

CONFIG = '''
prefork = 1
buffer-size = 262144
listen "127.0.0.1:{port}" { tls = false }
target "sink" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

TOTAL = 16 << 20


def run(t):
	peer = t.peer("--connections", "1", "sink")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	data = b"".join(lib_relay.client_data(TOTAL, [65536], seed="flush"))
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/sink",
	    protocols=["binary"], timeout=60)
	t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", "no banner")
	for i in range(0, TOTAL, 65536):
		ws.send_binary(data[i:i + 65536])
	ws.send_close(1000)
	close = ws.recv_close(timeout=60)
	t.expect(close is not None and close.close_code == 1000,
	    f"close {close!r}, want 1000")
	ws.close()

	m = peer.wait_line(r"conn=1 mode=sink in=(\d+) sha256=([0-9a-f]+)",
	    timeout=60)
	t.expect(int(m.group(1)) == TOTAL, f"the console read {m.group(1)} "
	    f"of the {TOTAL} bytes sent before the close")
	t.expect(m.group(2) == hashlib.sha256(data).hexdigest(),
	    "the console read other bytes than were sent")
