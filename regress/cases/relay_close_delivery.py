# The close frame that ends a session on a protocol violation reaches the
# client even when the client is slow and still sending: the upstream
# floods, the client reads nothing for a while (so the daemon has bytes
# queued toward it in the kernel), then sends a frame over max-frame-size
# and only afterwards reads.  It must get the queued data and then the
# close frame with 1009, not a reset that throws both away (a server that
# closes a socket with unread input makes the kernel send RST and drop
# what is still queued; it has to shut down writing and drain first).

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import rawws			# noqa: E402

CONFIG = '''
prefork = 1
max-frame-size = 65536
buffer-size = 262144
listen "127.0.0.1:{port}" { tls = false }
target "flood" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


def run(t):
	peer = t.peer("--linger", "--connections", "1", "flood",
	    str(64 << 20))
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	# A small receive buffer, fixed before connect, so that the flood
	# backs up into the daemon's socket rather than into ours.
	sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
	sock.settimeout(20)
	sock.connect(("127.0.0.1", t.port))
	ws = rawws.RawWS(sock, 20)
	mark = t.mark()
	ws.request("/ws/vnc/flood", host=f"127.0.0.1:{t.port}",
	    protocols=["binary"])
	t.expect(ws.read_response() == 101 and ws.check_accept(),
	    f"upgrade answered {ws.status}")
	t.wait_log(r"\bworker0: session start id=\d+ ", since=mark)

	me = sock.getsockname()[1]
	t.wait_for("bytes queued in the daemon's socket toward us",
	    lambda: (lib_relay.tcp_queues(t.port, me) or (0, 0))[0] >= 65536,
	    timeout=30)

	ws.send_raw(rawws.encode_frame(rawws.OP_BINARY, b"x" * 200000))
	t.wait_log(r"\bworker0: session end id=\d+ .*reason=\"protocol error\"",
	    since=mark, timeout=30)

	got = 0
	close = None
	try:
		for _ in range(1 << 20):
			f = ws.recv_frame(timeout=30)
			if f is None or f.opcode == rawws.OP_CLOSE:
				close = f
				break
			got += len(f.payload)
	except rawws.ProtocolError as e:
		t.fail(f"after {got} bytes: {e} (reset before the close frame)")
	t.note(f"read {got} bytes, then {close!r}")
	t.expect(close is not None, f"EOF after {got} bytes, no close frame")
	t.expect(close.close_code == 1009, f"close {close!r}, want 1009")
	ws.close()
