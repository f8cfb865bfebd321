# Client messages split into fragments of 1, 125, 126, 65535 and 65536
# bytes (the edges of the 7-bit, 16-bit and 64-bit length forms), with
# pings between fragments, are relayed byte for byte to an echo peer; a
# fragmented message larger than max-frame-size is fine, as the limit is
# per frame.  In base64 mode a text message is split inside its base64
# quanta and still decodes.  Each session: the digest of what was sent,
# what the peer read and what came back agree, and every ping got a pong.

import base64
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import rawws			# noqa: E402

TIMEOUT = 300

CONFIG = '''
prefork = 1
max-frame-size = 1048576
listen "127.0.0.1:{port}" { tls = false }
target "echo" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

# (subprotocol, fragment size, message size, messages)
SESSIONS = [
	("binary", 1, 64 << 10, 1),
	("binary", 125, 1 << 20, 2),
	("binary", 126, 1 << 20, 2),
	("binary", 65535, 4 << 20, 2),
	("binary", 65536, 4 << 20, 2),
	("base64", 1, 12 << 10, 1),
	("base64", 125, 768 << 10, 2),
	("base64", 65535, 3 << 20, 1),
]

PING_EVERY = 997


def one_session(t, port, proto, size, msg_size, messages):
	data = b"".join(lib_relay.client_data(msg_size * messages,
	    [msg_size], seed=f"frag{size}"))
	ws = rawws.connect("127.0.0.1", port, "/ws/vnc/echo",
	    protocols=[proto], timeout=30)
	t.expect(ws.headers.get("sec-websocket-protocol") == proto,
	    f"{proto}: subprotocol {ws.headers.get('sec-websocket-protocol')}")
	banner = ws.recv_message()
	want = (rawws.OP_TEXT, base64.b64encode(b"RFB 003.008\n")) \
	    if proto == "base64" else (rawws.OP_BINARY, b"RFB 003.008\n")
	t.expect(banner == want, f"{proto}: banner {banner!r}")

	back = hashlib.sha256()
	drain = lib_relay.Drain(ws, len(data), back, timeout=200,
	    b64=(proto == "base64"))
	drain.start()
	pings = 0
	for k in range(messages):
		msg = data[k * msg_size:(k + 1) * msg_size]
		op = rawws.OP_BINARY
		if proto == "base64":
			msg, op = base64.b64encode(msg), rawws.OP_TEXT
		parts = [msg[i:i + size] for i in range(0, len(msg), size)]

		def between(i):
			nonlocal pings
			if i % PING_EVERY == PING_EVERY - 1 and \
			    i < len(parts) - 1:
				pings += 1
				return rawws.encode_frame(rawws.OP_PING,
				    b"p%d" % i)
			return None
		ws.send_fragments(op, parts, between=between)
	t.expect(drain.finish(200), f"{proto}/{size}: reader still running")
	t.expect(drain.error is None, f"{proto}/{size}: {drain.error}")
	t.expect(drain.got == len(data), f"{proto}/{size}: {drain.got} "
	    f"bytes came back of {len(data)} (close {drain.close!r})")
	t.expect(back.hexdigest() == hashlib.sha256(data).hexdigest(),
	    f"{proto}/{size}: what came back differs from what was sent")
	t.expect(drain.pongs == pings,
	    f"{proto}/{size}: {drain.pongs} pongs for {pings} pings")

	ws.send_close(1000)
	close = drain.ws.recv_close(timeout=30)
	t.expect(close is not None and close.close_code == 1000,
	    f"{proto}/{size}: close {close!r}, want 1000")
	drain.ws.close()
	ws.close()
	return hashlib.sha256(data).hexdigest(), len(data)


def run(t):
	peer = t.peer("--connections", str(len(SESSIONS)), "echo")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	for n, (proto, size, msg_size, messages) in enumerate(SESSIONS, 1):
		t.note(f"session {n}: {proto}, {messages} x {msg_size} "
		    f"bytes in {size}-byte fragments")
		digest, total = one_session(t, t.port, proto, size, msg_size,
		    messages)
		m = peer.wait_line(rf"conn={n} mode=echo in=(\d+) out=\d+ "
		    r"sha256=([0-9a-f]+)", timeout=30)
		t.expect(int(m.group(1)) == total,
		    f"{proto}/{size}: the peer read {m.group(1)} of {total}")
		t.expect(m.group(2) == digest,
		    f"{proto}/{size}: the peer read other bytes than sent")
