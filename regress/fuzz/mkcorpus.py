#!/usr/bin/python3
"""
mkcorpus.py: write the seed corpora in corpus/NAME/, one file an input,
named by what it shows.  The seeds are committed; this script says how
they were made, and makes them again the same (nothing random).

    /usr/bin/python3 regress/fuzz/mkcorpus.py

Crash inputs that fuzzing found are not made here: they are kept as found,
in corpus/NAME/crash-*, beside the seeds.
"""

import base64
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = b"fuzz-secret-fuzz-secret-fuzz-secret-0123"	# fuzz_token.c, fuzz_ipc.c
API_KEY = b"fuzz-api-key"				# fuzz_ipc.c
NOW = 1700000000					# fuzz_token.c


def write(harness, name, data):
	d = os.path.join(HERE, "corpus", harness)
	os.makedirs(d, exist_ok=True)
	if isinstance(data, str):
		data = data.encode("latin-1")
	with open(os.path.join(d, name), "wb") as f:
		f.write(data)


def request(path, extra=(), method="GET", version="HTTP/1.1"):
	lines = [f"{method} {path} {version}", "Host: 127.0.0.1:8080"]
	lines += list(extra)
	return "\r\n".join(lines) + "\r\n\r\n"


UPGRADE = ["Upgrade: websocket", "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13"]


def http():
	seeds = {
	    "static": request("/console.html"),
	    "head-ims": request("/app/ui.js", ["If-Modified-Since: "
	        "Sun, 06 Nov 1994 08:49:37 GMT"], "HEAD"),
	    "rfc850-date": request("/", ["If-Modified-Since: Sunday, "
	        "06-Nov-94 08:49:37 GMT"]),
	    "asctime-date": request("/", ["If-Modified-Since: "
	        "Sun Nov  6 08:49:37 1994"]),
	    "upgrade-query": request("/ws/vnc/vm1?token=a.b.c&x=1", UPGRADE +
	        ["Origin: http://127.0.0.1:8080",
	        "Sec-WebSocket-Protocol: binary, base64"]),
	    "upgrade-cookie": request("/vnc/127.0.0.1", UPGRADE +
	        ['Cookie: a=b; token="x.y.z"']),
	    "path-token": request("/eyJhbGciOiJIUzI1NiJ9.e30.sig/vmi-1",
	        UPGRADE),
	    "prefix-token": request("/lab/t0k3n/vmi-2", UPGRADE),
	    "namespace": request("/k8s/default/vmi%2d3", UPGRADE),
	    "proxy-uuid": request("/proxy/0f9e8d7c-6b5a-4938-2716-0504f3e2d1c0",
	        UPGRADE + ["X-Forwarded-For: 192.0.2.1, 127.0.0.2"]),
	    "traversal": request("/sub/..%2f..%2fetc/passwd"),
	    "dot-segments": request("/a/./b/../c//d/"),
	    "http10": request("/", version="HTTP/1.0"),
	    "dup-content-length": request("/", ["Content-Length: 0",
	        "Content-Length: 0"]),
	    "transfer-encoding": request("/", ["Transfer-Encoding: chunked"]),
	    "obs-fold": request("/", ["X-A: 1", " folded"]),
	    "bare-cr": "GET / HTTP/1.1\rHost: x\r\n\r\n",
	    "post": request("/", ["Content-Length: 0"], "POST"),
	}
	for name, text in seeds.items():
		write("http", name, bytes([64]) + text.encode("latin-1"))


def frame(op, payload, fin=True, mask=b"\x11\x22\x33\x44", rsv=0):
	b0 = (0x80 if fin else 0) | rsv | op
	n = len(payload)
	m = 0x80 if mask else 0
	if n < 126:
		h = struct.pack("!BB", b0, m | n)
	elif n < 65536:
		h = struct.pack("!BBH", b0, m | 126, n)
	else:
		h = struct.pack("!BBQ", b0, m | 127, n)
	if mask:
		payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
		h += mask
	return h + payload


def ws_settings(client=False, mode=1, maxframe=6):
	"""fuzz_ws.c's first byte: role, text mode, max-frame-size index."""
	return bytes([(1 if client else 0) | mode << 1 | maxframe << 3])


def ws():
	close = struct.pack("!H", 1000) + b"bye"
	for client in (False, True):
		mask = None if client else b"\x11\x22\x33\x44"
		role = "client" if client else "server"
		f = lambda *a, **k: frame(*a, mask=mask, **k)	# noqa: E731
		streams = {
		    "binary": f(2, b"RFB 003.008\n"),
		    "text": f(1, "héllo".encode()),
		    "fragments": f(1, b"ab", fin=False) + f(9, b"ping") +
		        f(0, b"cd", fin=False) + f(0, b"ef"),
		    "len16": f(2, bytes(300)),
		    # The frame's start: the decoder streams, no need for all.
		    "len64": f(2, bytes(65536))[:200],
		    "close": f(2, b"x") + f(8, close) + f(2, b"after close"),
		    "close-empty": f(8, b""),
		    "close-1byte": f(8, b"\x03"),
		    "close-badcode": f(8, struct.pack("!H", 1005)),
		    "ping-126": f(9, bytes(126)),
		    "rsv1": f(2, b"x", rsv=0x40),
		    "opcode3": f(3, b"x"),
		    "bad-utf8": f(1, b"\xed\xa0\x80"),
		    "cont-first": f(0, b"x"),
		}
		for name, data in streams.items():
			for mode in (1, 0):
				write("ws", f"{role}-{name}-m{mode}",
				    ws_settings(client, mode) + b"\x07\x10" + data)
	huge = bytes([0x82, 0x80 | 127]) + b"\x80" + bytes(7) + b"\1\2\3\4"
	write("ws", "server-len64-topbit", ws_settings() + b"\1\1" + huge)
	big = frame(2, bytes(2000))
	write("ws", "server-over-maxframe", ws_settings(maxframe=4) + b"\1\1" +
	    big)
	b64 = frame(1, base64.b64encode(b"RFB 003.008\n")) + \
	    frame(1, b"QUI=") + frame(1, b"QQ==")
	write("ws", "server-base64", ws_settings(mode=0) + b"\3\40" + b64)


def b64():
	for name, text in {"hello": b"aGVsbG8gd29ybGQ=", "abc": b"QUJD",
	    "pad2": b"QQ==", "empty": b"", "bad-char": b"QU*D",
	    "pad-middle": b"QQ==QUJD", "short": b"QUJ",
	    "nonzero-bits": b"QR=="}.items():
		write("b64", f"text-{name}", b"\0\5" + text)
	write("b64", "roundtrip-plain", b"\1\7" + bytes(range(40)))
	write("b64", "roundtrip-masked", b"\3\x2b" + b"RFB 003.008\n" * 3)


def b64u(data):
	return base64.urlsafe_b64encode(data).rstrip(b"=")


def jws(header, payload, key=SECRET):
	signing = b64u(json.dumps(header).encode()) + b"." + \
	    b64u(json.dumps(payload).encode())
	sig = hmac.new(key, signing, hashlib.sha256).digest()
	return signing + b"." + b64u(sig)


def token():
	hdr = {"alg": "HS256", "typ": "JWT", "kid": "k1"}
	good = {"exp": NOW + 300, "iat": NOW, "sub": "alice", "jti": "j-1",
	    "target": ["vm1", "vm2"]}
	lab = {"exp": NOW + 60, "id": 42, "lab_instance": {
	    "allowed_vmi_names": ["vmi-1"], "namespace_name": "lab-7"}}
	raw = {
	    "good": jws(hdr, good),
	    "lab": jws({"alg": "HS256"}, lab),
	    "expired": jws(hdr, dict(good, exp=NOW - 3600)),
	    "forged": jws(hdr, good, key=b"x" * 32),
	    "alg-none": b64u(b'{"alg":"none"}') + b"." + b64u(b'{"exp":1}') +
	        b".",
	    "eddsa-kid": jws({"alg": "EdDSA", "kid": "k2"}, good),
	    "padded": jws(hdr, good) + b"==",
	    "two-dots": b"a.b",
	}
	for name, tok in raw.items():
		write("token", f"raw-{name}", b"\0" + tok)
	claims = {
	    "good": (hdr, good),
	    "lab": ({"alg": "HS256"}, lab),
	    "nbf-future": (hdr, dict(good, nbf=NOW + 3600)),
	    "lifetime": (hdr, dict(good, iat=NOW - 10, exp=NOW + 10 ** 6)),
	    "crit": (dict(hdr, crit=["exp"]), good),
	    "bool-exp": (hdr, dict(good, exp=True)),
	    "deep": (hdr, dict(good, x=[[[[[[1]]]]]])),
	    "targets-17": (hdr, dict(good, target=[f"t{i}" for i in
	        range(17)])),
	    "ctl-char": (hdr, dict(good, sub="a\nb")),
	}
	for name, (h, p) in claims.items():
		write("token", f"signed-{name}", b"\1" + json.dumps(h).encode() +
		    b"\0" + json.dumps(p).encode())
	write("token", "sign-alice-vm1", b"\2\1alice\0vm1")
	write("token", "sign-notarget", b"\2\xffbob")


def auth_req(route, session, peer=b"127.0.0.1", xff=b"", proto=b"",
    host=b"127.0.0.1:8080", origin=b"", target=b"vm1", ns=b"", tok=b"",
    how=0):
	"""fuzz_ipc.c's typed IMSG_AUTH_REQ (type byte 0)."""
	return bytes([0, how, 1, route + 1, session, 0, 1]) + b"\0".join(
	    [peer, xff, proto, host, origin, target, ns, tok]) + b"\0"


def ipc():
	tok = jws({"alg": "HS256", "kid": "k1"},
	    {"exp": 4102444800, "jti": "once", "target": "vm1"})
	api = bytes([1, 0, 9]) + b"\0".join([b"127.0.0.1", b"", b"vm1",
	    API_KEY]) + b"\0"
	seeds = {
	    "auth-none-tcp": auth_req(0, 1),
	    "auth-network": auth_req(1, 2, target=b"127.0.0.1") +
	        auth_req(1, 3, target=b"::ffff:127.0.0.1"),
	    "auth-unix": auth_req(0, 4, target=b"sock"),
	    "auth-token": auth_req(2, 5, tok=tok) + auth_req(2, 6, tok=tok),
	    "auth-origin": auth_req(0, 7, origin=b"https://console.example"),
	    "auth-proxy": auth_req(0, 8, peer=b"127.0.0.2",
	        xff=b"192.0.2.1, 127.0.0.2", proto=b"https"),
	    "api": api,
	    "api-badkey": bytes([1, 0, 9]) + b"127.0.0.1\0\0vm1\0nope\0",
	    "claim-end": bytes([2, 0, 5]) + b"vm1\0127.0.0.1\0abcdef\0" +
	        bytes([3, 0, 5, 0]),
	    "unterminated": auth_req(0, 1, how=0x80),
	    "short": bytes([0, 2, 10]) + bytes(10),
	    "long": bytes([3, 0x13, 4]) + bytes(4),
	    "with-fd": bytes([3, 4, 1, 0]),
	    "lying-length": bytes([3, 8, 1, 0]),
	    "unknown-type": bytes([0xc0 + 2, 1, 0]),
	}
	for name, data in seeds.items():
		write("ipc", name, data)


def conf():
	sample = open(os.path.join(HERE, "..", "..", "etc",
	    "vncrelayd.conf"), "rb").read()
	write("conf", "sample", sample)
	write("conf", "minimal", 'listen "127.0.0.1:8080" { tls = no }\n')
	write("conf", "routes", '''prefork = 2
head-timeout = 5
max-frame-size = 65536
allowed-origins = { "https://a.example", "b.example" }
trusted-proxies = { "127.0.0.2", "::1/128" }
listen "[::1]:8443" { tls = no }
target "vm1" { host = "127.0.0.1" port = 5901 type = spice }
target "vm2" { socket = "/run/vm2.sock" }
route "/ws/vnc/{name}" { backend = tcp auth = none errors = json }
route "/vnc/{ip}" { networks = { "10.0.0.0/8", "fd00::/8" } port = 5900 }
route "/{token}/{vmi}" { errors = reason }
''')
	write("conf", "api", '''console-api = "/api/v1/console"
signing-key = "k1"
listen "*:8080" { tls = no }
key "k1" { algorithm = HS256 file = "/nonexistent/k1" }
api-key "ops" { sha256 = "%s" }
''' % hashlib.sha256(b"x").hexdigest())
	write("conf", "bad-port", 'listen "127.0.0.1:99999" { tls = no }\n')
	write("conf", "bad-brace", 'listen "127.0.0.1:1" { tls = no \n')


def httpc():
	"""Upstream answers: flag byte (bit 0: the connection ended), then
	the bytes, as Prism, the Kubernetes API and upgrades send them."""
	def w(name, data, eof=0):
		write("httpc", name, bytes([eof]) + data)
	w("login-element", b"HTTP/1.1 200 OK\r\nSet-Cookie: JSESSIONID=abc; "
	    b"Path=/; Secure; HttpOnly\r\nContent-Length: 7\r\n\r\nSuccess")
	w("login-central", b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
	    b"\r\nSet-Cookie: NTNX_IGW_SESSION=x1; Path=/\r\nSet-Cookie: "
	    b"NTNX_IAM_SESSION=y2\r\nTransfer-Encoding: chunked\r\n\r\n"
	    b"2\r\n{}\r\n0\r\n\r\n")
	w("vm", b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n"
	    b'{"status":{"cluster_reference":{"uuid":"00000000-0000-0000-0000-'
	    b'1"}}}')
	w("status-404", b"HTTP/1.1 404 Not Found\r\nContent-Type: "
	    b"application/json\r\n\r\n"
	    b'{"kind":"Status","message":"not found","code":404}', 1)
	w("upgrade", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"
	    b"\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
	    b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: "
	    b"plain.kubevirt.io\r\n\r\n\x82\x0cRFB 003.008\n")
	w("redirect", b"HTTP/1.1 302 Found\r\nLocation: /console/login\r\n"
	    b"Content-Length: 0\r\n\r\n")
	w("chunk-ext", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    b"\r\n5;x=y\r\nhello\r\n0\r\nTrailer: 1\r\n\r\n")
	w("two-lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    b"Content-Length: 4\r\n\r\nabcd")


if __name__ == "__main__":
	httpc()
	http()
	ws()
	b64()
	token()
	ipc()
	conf()
