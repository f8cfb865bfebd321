# A corpus of more than 200 malformed or adversarial requests, each on its
# own connection, each answered as it must be, and nothing crashes (any
# lost child fails the case); afterwards a good session still relays and
# the echo upstream was never reached by a request that had to be refused.
#
# - request smuggling shapes (duplicate or non-zero Content-Length,
#   Transfer-Encoding on a GET, bare CR or LF, obs-fold, space before the
#   colon, NUL, two Hosts, absolute or asterisk form, odd versions) on a
#   static path, a console route and an address route: 400 (505 for a
#   version we do not speak, 405 for a method we do not serve);
# - header injection through a VM name (CRLF raw, %0d%0a, %00, bare %0a):
#   never a target, 400 or 404;
# - path traversal in many spellings: 404;
# - tokens of absurd length (431 when the head is too long, 401 when the
#   token is), JSON bombs and other junk in signed and unsigned tokens:
#   401 INVALID_TOKEN;
# - non-canonical, IPv4-mapped and out-of-network addresses, and DNS
#   names, in /vnc/{ip}: 403 UNAUTHORIZED;
# - frames: giant, negative (top bit) and non-minimal lengths, control
#   frames over 125 bytes, close frames with an invalid code or a 1-byte
#   payload, reserved opcodes and RSV bits, unmasked frames, continuation
#   misuse: 1002 or 1009; invalid UTF-8, and bad base64 in base64 mode: 1007.

import base64
import hashlib
import hmac
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import lib_token as lt		# noqa: E402
import rawws			# noqa: E402
from rawws import OP_BINARY, OP_CONT, OP_PING, OP_TEXT, OP_CLOSE  # noqa

TIMEOUT = 300

CONFIG = '''
prefork = 2
head-timeout = 3
max-frame-size = 65536
webroot = "{tmp}/www"
listen "127.0.0.1:{port}" { tls = no }
target "vm1" { host = "127.0.0.1" port = ECHO_PORT }
target "vm2" { host = "127.0.0.1" port = TRAP_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
route "/vnc/{ip}" { networks = { "127.0.0.0/24" } port = TRAP_PORT auth = none }
route "/t/{name}" { backend = tcp }
'''

UPGRADE = ["Upgrade: websocket", "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13"]
PATHS = ["/hello.txt", "/ws/vnc/vm2", "/vnc/127.0.0.9", "/t/vm2"]


def head(path, lines, method="GET", version="HTTP/1.1", host=True):
	out = [f"{method} {path} {version}"]
	if host:
		out.append("Host: 127.0.0.1")
	return ("\r\n".join(out + lines) + "\r\n\r\n").encode("latin-1")


def smuggling():
	"""(what, raw request, statuses that are right) on each path."""
	shapes = [
	    ("two Content-Length", ["Content-Length: 0", "Content-Length: 0"]),
	    ("Content-Length 5", ["Content-Length: 5"]),
	    ("Content-Length list", ["Content-Length: 0, 0"]),
	    ("Content-Length +0", ["Content-Length: +0"]),
	    ("empty Content-Length", ["Content-Length:"]),
	    ("Transfer-Encoding chunked", ["Transfer-Encoding: chunked"]),
	    ("Transfer-Encoding identity", ["Transfer-Encoding: identity"]),
	    ("both framings", ["Content-Length: 0",
	        "Transfer-Encoding: chunked"]),
	    ("obs-fold", ["X-A: 1", " folded"]),
	    ("obs-fold tab", ["X-A: 1", "\tfolded"]),
	    ("space before colon", ["X-A : 1"]),
	    ("space in name", ["X A: 1"]),
	    ("no colon", ["X-A"]),
	    ("empty name", [": 1"]),
	    ("bare CR in value", ["X-A: 1\r2"]),
	    ("bare LF in value", ["X-A: 1\n2"]),
	    ("NUL in value", ["X-A: 1\x002"]),
	    ("DEL in name", ["X-\x7fA: 1"]),
	    ("second Host", ["Host: other"]),
	]
	out = []
	for path in PATHS:
		extra = UPGRADE if not path.endswith(".txt") else []
		for what, lines in shapes:
			out.append((f"{what} on {path}", head(path, extra +
			    lines), {400}))
		line_shapes = [
		    ("bare LF endings", head(path, extra).replace(b"\r\n",
		        b"\n"), {400}),
		    ("bare CR in the request line", head(path, extra).replace(
		        b" HTTP/1.1", b"\r HTTP/1.1"), {400}),
		    ("two spaces", head(path, extra).replace(b"GET ",
		        b"GET  "), {400}),
		    ("no Host on 1.1", head(path, extra, host=False), {400}),
		    ("HTTP/2.0", head(path, extra, version="HTTP/2.0"), {505}),
		    ("HTTP/1.2", head(path, extra, version="HTTP/1.2"), {505}),
		    ("HTTP/1.1x", head(path, extra, version="HTTP/1.1x"),
		        {400}),
		    ("method POST", head(path, extra + ["Content-Length: 0"],
		        method="POST"), {405}),
		    ("method CONNECT", head(path, extra, method="CONNECT"),
		        {400, 405}),
		    ("lower-case get", head(path, extra, method="get"), {405}),
		]
		out += [(f"{w} on {path}", r, s) for w, r, s in line_shapes]
	out += [
	    ("absolute form", head("http://127.0.0.1/hello.txt", []), {400}),
	    ("asterisk form", head("*", [], method="OPTIONS"), {400}),
	    ("fragment", head("/hello.txt#x", []), {400}),
	]
	return out


def injection():
	names = ["vm1%0d%0aX-Injected:%20yes", "vm1%0aHost:%20evil",
	    "vm1%0d", "vm1%00", "vm1%00.html", "vm1%2f..%2fvm2",
	    "..%2fvm1", "%2e%2e", "vm1%5c", "vm1%7f"]
	out = [(f"VM name {n}", head(f"/ws/vnc/{n}", UPGRADE), {400, 404})
	    for n in names]
	out.append(("raw CRLF in the name", b"GET /ws/vnc/vm1\r\nX-I: y "
	    b"HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", {400}))
	return out


TRAVERSALS = ["/../canary.txt", "/%2e%2e/canary.txt", "/..%2fcanary.txt",
    "/.%2e/canary.txt", "/%2e%2e%2fcanary.txt", "/sub/../../canary.txt",
    "/sub/%2e%2e/%2e%2e/canary.txt", "/sub/..%2f..%2fcanary.txt",
    "/sub/..%5c..%5ccanary.txt", "/..\\canary.txt", "/hello.txt%00",
    "/%00", "//canary.txt", "//etc/passwd", "/../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd", "/%252e%252e/canary.txt", "/..",
    "/sub/..%00/hello.txt", "/%c0%ae%c0%ae/canary.txt",
    "/%2E%2E/canary.txt", "/./../canary.txt", "/sub/./../../canary.txt",
    "/.%2E/.%2E/canary.txt", "/%5c../canary.txt"]


def b64u(data):
	return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(secret, header, payload):
	signing = b64u(header) + "." + b64u(payload)
	mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
	return signing + "." + b64u(mac)


def tokens(secret):
	hdr = json.dumps({"alg": "HS256", "kid": "k1"}).encode()
	ok = {"exp": lt.now() + 300, "target": "vm2"}
	bomb = b'{"exp":%d,"target":"vm2","x":' % (lt.now() + 300) + \
	    b"[" * 1000 + b"]" * 1000 + b"}"
	cases = [
	    ("5000-byte token", "a" * 5000, {401}),
	    ("4097-byte token", "b.c." + "d" * 4093, {401}),
	    ("100 KiB token", "e" * 100000, {431}),
	    ("unsigned JSON bomb", b64u(b"[" * 1000 + b"]" * 1000) + ".e30.x",
	        {401}),
	    ("signed JSON bomb", signed(secret, hdr, bomb), {401}),
	    ("signed duplicate keys", signed(secret, hdr,
	        b'{"exp":1,"exp":%d,"target":"vm2"}' % (lt.now() + 300)),
	        {401}),
	    ("signed huge number", signed(secret, hdr,
	        b'{"exp":1e999999,"target":"vm2"}'), {401}),
	    ("signed exp as string", signed(secret, hdr, json.dumps(dict(ok,
	        exp="tomorrow")).encode()), {401}),
	    ("signed 10000 targets", signed(secret, hdr, json.dumps(dict(ok,
	        target=["vm2"] * 10000)).encode()), {401, 431}),
	    ("header bomb", b64u(b'{"alg":"HS256","x":' + b"{\"a\":" * 500 +
	        b"1" + b"}" * 501) + ".e30." + "A" * 43, {401}),
	    ("alg none", b64u(b'{"alg":"none"}') + "." +
	        b64u(json.dumps(ok).encode()) + ".", {401}),
	    ("padding", signed(secret, hdr, json.dumps(ok).encode()) + "==",
	        {401}),
	]
	return [(f"token: {w}", head(f"/t/vm2?token={tok}", UPGRADE), s)
	    for w, tok, s in cases]


ADDRESSES = ["127.1", "0x7f.0.0.1", "2130706433", "0177.0.0.1",
    "127.000.000.001", "127.0.0.01", "::ffff:127.0.1.1", "::ffff:7f00:101",
    "::ffff:10.0.0.1", "[::1]", "::1", "127.0.1.1", "10.0.0.1",
    "localhost", "example.com", "vm1", "127.0.0.1.", "127.0.0.1%2500",
    "127.0.0.1%20", "0.0.0.0", "255.255.255.255", "::", "fe80::1%25lo"]


def addresses():
	return [(f"address {a}", head(f"/vnc/{a}", UPGRADE), {400, 403, 404})
	    for a in ADDRESSES]


enc = rawws.encode_frame
CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000,
    65535]


def frames():
	"""(what, subprotocol, bytes after the banner, right close codes)."""
	out = [
	    ("giant length", "binary", enc(OP_BINARY, b"",
	        length=(1 << 62))[:14] + b"x", {1009}),
	    ("top bit length", "binary", enc(OP_BINARY, b"",
	        length=(1 << 63) + 5)[:14] + b"x", {1002, 1009}),
	    ("all ones length", "binary", enc(OP_BINARY, b"",
	        length=(1 << 64) - 1)[:14] + b"x", {1002, 1009}),
	    ("just over max-frame-size", "binary", enc(OP_BINARY, b"",
	        length=65537)[:14] + b"x", {1009}),
	    ("length 5 in 16 bits", "binary", enc(OP_BINARY, b"hello",
	        length_form=16), {1002}),
	    ("length 125 in 64 bits", "binary", enc(OP_BINARY, b"h" * 125,
	        length_form=64), {1002}),
	    ("length 65535 in 64 bits", "binary", enc(OP_BINARY, b"h" * 65535,
	        length_form=64), {1002}),
	    ("ping of 126", "binary", enc(OP_PING, b"p" * 126,
	        length_form=16), {1002}),
	    ("ping of 65535", "binary", enc(OP_PING, b"", length=65535,
	        length_form=16), {1002}),
	    ("close of 126", "binary", enc(OP_CLOSE, b"\x03\xe8" + b"r" * 124,
	        length_form=16), {1002}),
	    ("fragmented ping", "binary", enc(OP_PING, b"p", fin=False),
	        {1002}),
	    ("close with 1 byte", "binary", enc(OP_CLOSE, b"\x03"), {1002}),
	    ("close reason not UTF-8", "binary", enc(OP_CLOSE,
	        rawws.close_payload(1000, b"\xff\xfe")), {1002}),
	    ("unmasked", "binary", enc(OP_BINARY, b"x", mask=False), {1002}),
	    ("continuation first", "binary", enc(OP_CONT, b"x"), {1002}),
	    ("text inside a fragmented binary", "binary",
	        enc(OP_BINARY, b"a", fin=False) + enc(OP_TEXT, b"b"), {1002}),
	    ("invalid UTF-8", "binary", enc(OP_TEXT, b"\xc3\x28"), {1007}),
	    ("overlong UTF-8", "binary", enc(OP_TEXT, b"\xc0\xaf"), {1007}),
	    ("surrogate", "binary", enc(OP_TEXT, b"\xed\xa0\x80"), {1007}),
	    ("over U+10FFFF", "binary", enc(OP_TEXT, b"\xf4\x90\x80\x80"),
	        {1007}),
	    ("UTF-8 cut at the end", "binary", enc(OP_TEXT, b"ok\xe2\x82"),
	        {1007}),
	    ("base64 bad char", "base64", enc(OP_TEXT, b"QU*D"), {1007}),
	    ("base64 padding inside", "base64", enc(OP_TEXT, b"QQ==QUJD"),
	        {1007}),
	    ("base64 incomplete", "base64", enc(OP_TEXT, b"QUJDR"), {1007}),
	    ("base64 not UTF-8 either", "base64", enc(OP_TEXT, b"\xff\xfe"),
	        {1007}),
	]
	out += [(f"close code {c}", "binary", enc(OP_CLOSE,
	    rawws.close_payload(c)), {1002}) for c in CLOSE_CODES]
	out += [(f"opcode {op:#x}", "binary", enc(op, b"x"), {1002})
	    for op in (3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf)]
	out += [(f"RSV {r}", "binary", enc(OP_BINARY, b"x", rsv=r), {1002})
	    for r in range(1, 8)]
	return out


def ask_http(t, what, raw, statuses):
	got, _ = lib_relay.http_raw("127.0.0.1", t.port, raw, timeout=20)
	status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") \
	    else None
	t.expect(status in statuses, f"{what}: {got[:60]!r}, want one of "
	    f"{sorted(statuses)}")
	t.expect(b"canary" not in got.split(b"\r\n\r\n", 1)[-1],
	    f"{what}: served the canary")


def ask_frame(t, what, proto, data, codes):
	t.note(what)
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/vm1",
	    protocols=[proto], timeout=20)
	with ws:
		t.expect(ws.recv_bytes(1, timeout=20) != b"", f"{what}: banner")
		ws.send_raw(data)
		close = ws.recv_close(timeout=20)
		t.expect(close is not None and close.close_code in codes,
		    f"{what}: close {close!r}, want one of {sorted(codes)}")


def run(t):
	www = os.path.join(t.tmp, "www")
	os.makedirs(os.path.join(www, "sub"))
	with open(os.path.join(www, "hello.txt"), "w") as f:
		f.write("hello\n")
	with open(os.path.join(t.tmp, "canary.txt"), "w") as f:
		f.write("canary\n")
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	echo = t.peer("echo")
	trap = lib_relay.Tripwire("127.0.0.1", lib_relay.harness.free_port())
	t.peers.append(trap)
	t.start(CONFIG.replace("ECHO_PORT", str(echo.port)).replace(
	    "TRAP_PORT", str(trap.sock.getsockname()[1])) + k1.conf() + "\n")

	requests = smuggling() + injection() + tokens(k1.material) + \
	    addresses() + [(f"traversal {p}", head(p, []), {404})
	    for p in TRAVERSALS]
	for what, raw, statuses in requests:
		ask_http(t, what, raw, statuses)
	for what, proto, data, codes in frames():
		ask_frame(t, what, proto, data, codes)
	total = len(requests) + len(frames())
	t.note(f"{total} hostile requests answered")
	t.expect(total >= 200, f"only {total} requests in the corpus")
	t.expect(trap.hits() == 0, f"{trap.hits()} connections reached the "
	    "upstream that every request above had to be refused")

	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/vm1",
	    protocols=["binary"])
	with ws:
		t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", "banner")
		ws.send_binary(b"still fine")
		t.expect(ws.recv_bytes(10) == b"still fine", "echo at the end")
