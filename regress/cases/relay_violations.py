# Each WebSocket protocol violation from a client ends its session with the
# close code RFC 6455 asks for: 1002 for broken framing, 1009 for a frame
# over max-frame-size, 1007 for text that is not UTF-8 or, in base64 mode,
# not base64.  The server's close frame is unmasked, the server then closes
# the connection, the session ends with reason "protocol error", and not
# one byte of the offending frame reaches the console.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import rawws			# noqa: E402
from rawws import OP_BINARY, OP_CONT, OP_PING, OP_TEXT, OP_CLOSE  # noqa

CONFIG = '''
prefork = 1
max-frame-size = 65536
listen "127.0.0.1:{port}" { tls = false }
target "sink" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

enc = rawws.encode_frame

# (what, subprotocol, bytes to send, close codes that are right)
VIOLATIONS = [
	("unmasked frame", "binary",
	    enc(OP_BINARY, b"BAD!", mask=False), {1002}),
	("RSV1 set", "binary", enc(OP_BINARY, b"BAD!", rsv=4), {1002}),
	("RSV3 set", "binary", enc(OP_BINARY, b"BAD!", rsv=1), {1002}),
	("unknown data opcode 0x3", "binary", enc(0x3, b"BAD!"), {1002}),
	("unknown control opcode 0xB", "binary", enc(0xB, b"BAD!"), {1002}),
	("frame over max-frame-size", "binary",
	    enc(OP_BINARY, b"", length=65537)[:8] + b"BADBADBAD!", {1009}),
	("64-bit length with the top bit set", "binary",
	    enc(OP_BINARY, b"", length=1 << 63)[:14] + b"BAD!", {1002, 1009}),
	("control frame over 125 bytes", "binary",
	    enc(OP_PING, b"x" * 126, length_form=16), {1002}),
	("fragmented control frame", "binary",
	    enc(OP_PING, b"ping", fin=False) + enc(OP_CONT, b"ping"), {1002}),
	("continuation without a start", "binary", enc(OP_CONT, b"BAD!"),
	    {1002}),
	("close frame with a 1-byte body", "binary", enc(OP_CLOSE, b"\x03"),
	    {1002}),
	("invalid UTF-8 in base64 mode", "base64",
	    enc(OP_TEXT, b"QUJD\xc3\x28QUJD"), {1007}),
	("bad base64", "base64", enc(OP_TEXT, b"!!!!"), {1007}),
	("base64 with a stray character", "base64",
	    enc(OP_TEXT, b"QUJD*QUJD"), {1007}),
]


def violate(t, what, proto, data, codes):
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/sink",
	    protocols=[proto], timeout=20)
	banner = ws.recv_message()
	t.expect(banner is not None and banner[0] in (OP_BINARY, OP_TEXT),
	    f"{what}: no banner ({banner!r})")
	mark = t.mark()
	ws.send_raw(data)
	close = ws.recv_close(timeout=20)
	t.note(f"{what}: {close!r}")
	t.expect(close is not None, f"{what}: EOF without a close frame")
	t.expect(not close.masked, f"{what}: the server's close is masked")
	t.expect(close.close_code in codes, f"{what}: close code "
	    f"{close.close_code} ({close.close_reason!r}), want "
	    f"{sorted(codes)}")
	t.expect(ws.wait_eof(20), f"{what}: connection still open after "
	    "the close frame")
	ws.close()
	t.wait_log(r"\bworker0: session end id=\d+ .* in=0 out=12 .*"
	    r"reason=\"protocol error\"", since=mark)


def run(t):
	peer = t.peer("--connections", str(len(VIOLATIONS)), "sink")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	for n, (what, proto, data, codes) in enumerate(VIOLATIONS, 1):
		t.note(f"violation {n}: {what}")
		violate(t, what, proto, data, codes)
		m = peer.wait_line(rf"conn={n} mode=sink in=(\d+) ", timeout=20)
		t.expect(m.group(1) == "0", f"{what}: {m.group(1)} bytes "
		    "reached the console")
