# Client messages split into fragments of 1, 125, 126, 65535 and 65536
# bytes (the edges of the 7-bit, 16-bit and 64-bit length forms), with
# pings between fragments, are relayed byte for byte to an echo peer; a
# fragmented message larger than max-frame-size is fine, as the limit is
# per frame.  One session carries 64 MiB each way in messages whose
# frames cycle through all five sizes, between messages made of small
# frames only (tens of thousands of 1-byte frames, thousands of 125- and
# 126-byte ones); a session per size uses that size alone.  In base64 mode
# a text message is split inside its base64 quanta and still decodes.
# Each session: the digest of what was sent, what the peer read and what
# came back agree, the log's in= and out= count it, and every ping got a
# pong.

import base64
import collections
import hashlib
import os
import random
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

EDGES = (1, 125, 126, 65535, 65536)
SMALL = (1, 125, 126)
MIXED = 64 << 20
# Sizes of the messages in all five sizes, not multiples of any of them.
BIG = ((4 << 20) + 1, (3 << 20) - 7, (5 << 20) + 12345, (4 << 20) + 65533)
SMALL_FRAMES = 3000		# frames in a message of small frames only


def uniform(size, msg_size, messages):
	"""messages of msg_size bytes, each in size-byte fragments."""
	return [(msg_size, (size,), 0)] * messages


def mixed(total):
	"""total bytes in messages of (size, fragment sizes to cycle, where
	in the cycle to start): messages in all of EDGES, each starting
	elsewhere in the cycle, alternating with messages of 1-, 125- and
	126-byte frames and with messages of 1-byte frames only."""
	out, left = [], total
	for k in range(total):
		if left <= 0:
			break
		if k % 4 == 1:
			cycle = SMALL
			n = SMALL_FRAMES // len(SMALL) * sum(SMALL)
		elif k % 4 == 3:
			cycle, n = (1,), SMALL_FRAMES
		else:
			cycle, n = EDGES, BIG[(k // 2) % len(BIG)]
		n = min(n, left)
		out.append((n, cycle, k % len(cycle)))
		left -= n
	return out


def split(n, cycle, start):
	"""Fragment sizes for n bytes, cycling from cycle[start]; the last
	one is what is left."""
	out = []
	for k in range(start, start + n):
		if n <= 0:
			break
		out.append(min(cycle[k % len(cycle)], n))
		n -= out[-1]
	return out


# (subprotocol, what, messages)
SESSIONS = [
	("binary", "1 to 65536-byte", mixed(MIXED)),
	("binary", "1-byte", uniform(1, 64 << 10, 1)),
	("binary", "125-byte", uniform(125, 1 << 20, 2)),
	("binary", "126-byte", uniform(126, 1 << 20, 2)),
	("binary", "65535-byte", uniform(65535, 4 << 20, 2)),
	("binary", "65536-byte", uniform(65536, 4 << 20, 2)),
	("base64", "1-byte", uniform(1, 12 << 10, 1)),
	("base64", "125-byte", uniform(125, 768 << 10, 2)),
	("base64", "65535-byte", uniform(65535, 3 << 20, 1)),
]

PING_EVERY = 97			# data frames between pings


def one_session(t, port, n, proto, what, messages):
	"""Send the messages, read the echo; returns (sha256 sent, bytes
	sent, {fragment size: frames})."""
	total = sum(m[0] for m in messages)
	pieces = lib_relay.client_data(total, [m[0] for m in messages],
	    seed=f"frag{n}")
	rng = random.Random(f"frag{n}")
	keys = iter(lambda: rng.randbytes(4), None)
	ws = rawws.connect("127.0.0.1", port, "/ws/vnc/echo",
	    protocols=[proto], timeout=30)
	t.expect(ws.headers.get("sec-websocket-protocol") == proto,
	    f"{proto}: subprotocol {ws.headers.get('sec-websocket-protocol')}")
	banner = ws.recv_message()
	want = (rawws.OP_TEXT, base64.b64encode(b"RFB 003.008\n")) \
	    if proto == "base64" else (rawws.OP_BINARY, b"RFB 003.008\n")
	t.expect(banner == want, f"{proto}: banner {banner!r}")

	sent, back = hashlib.sha256(), hashlib.sha256()
	drain = lib_relay.Drain(ws, total, back, timeout=200,
	    b64=(proto == "base64"))
	drain.start()
	frames = collections.Counter()
	pings = 0
	for (size, cycle, start), msg in zip(messages, pieces):
		sent.update(msg)
		op = rawws.OP_BINARY
		if proto == "base64":
			msg, op = base64.b64encode(msg), rawws.OP_TEXT
		sizes = split(len(msg), cycle, start)
		parts, pos = [], 0
		for k in sizes:
			parts.append(msg[pos:pos + k])
			pos += k
		first = sum(frames.values())	# this message's first frame
		frames.update(sizes)

		def between(i):
			nonlocal pings
			if (first + i) % PING_EVERY == PING_EVERY - 1 and \
			    i < len(parts) - 1:
				pings += 1
				return rawws.encode_frame(rawws.OP_PING,
				    b"p%d" % pings, mask_key=next(keys))
			return None
		ws.send_fragments(op, parts, between=between, mask_keys=keys)
	label = f"{proto}/{what}"
	t.expect(drain.finish(200), f"{label}: reader still running")
	t.expect(drain.error is None, f"{label}: {drain.error}")
	t.expect(drain.got == total, f"{label}: {drain.got} "
	    f"bytes came back of {total} (close {drain.close!r})")
	t.expect(back.hexdigest() == sent.hexdigest(),
	    f"{label}: what came back differs from what was sent")
	t.expect(drain.pongs == pings,
	    f"{label}: {drain.pongs} pongs for {pings} pings")

	ws.send_close(1000)
	close = drain.ws.recv_close(timeout=30)
	t.expect(close is not None and close.close_code == 1000,
	    f"{label}: close {close!r}, want 1000")
	drain.ws.close()
	ws.close()
	t.note(f"{label}: {total} bytes each way, "
	    f"{sum(frames.values())} data frames, {pings} pings; frames of "
	    + ", ".join(f"{k}: {frames[k]}" for k in EDGES if frames[k]))
	return sent.hexdigest(), total, frames


def run(t):
	peer = t.peer("--connections", str(len(SESSIONS)), "echo")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	for n, (proto, what, messages) in enumerate(SESSIONS, 1):
		t.note(f"session {n}: {proto}, {len(messages)} message(s) "
		    f"in {what} fragments")
		mark = t.mark()
		digest, total, frames = one_session(t, t.port, n, proto, what,
		    messages)
		label = f"{proto}/{what}"
		m = peer.wait_line(rf"conn={n} mode=echo in=(\d+) out=\d+ "
		    r"sha256=([0-9a-f]+)", timeout=30)
		t.expect(int(m.group(1)) == total,
		    f"{label}: the peer read {m.group(1)} of {total}")
		t.expect(m.group(2) == digest,
		    f"{label}: the peer read other bytes than sent")
		m = t.wait_log(r"\bworker0: session end id=\d+ .* in=(\d+) "
		    r"out=(\d+) duration=\S+ reason=\"client closed\"",
		    since=mark)
		t.expect(int(m.group(1)) == total, f"{label}: log in="
		    f"{m.group(1)}, want {total}")
		t.expect(int(m.group(2)) == total + 12, f"{label}: log out="
		    f"{m.group(2)}, want {total + 12}")
		if what == "1 to 65536-byte":
			t.expect(total == MIXED and all(frames[k] >= 400
			    for k in EDGES) and all(frames[k] >= 1000
			    for k in SMALL), f"{label}: {total} bytes, "
			    f"frames {dict(frames)}: not the mix meant")
