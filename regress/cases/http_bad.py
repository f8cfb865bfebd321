# Bad and tricky HTTP before any WebSocket: a route without Upgrade or with
# another WebSocket version gets 426 naming version 13; a head over
# max-head-size or with more than max-headers lines gets 431; a head that
# never ends is cut off by the server after head-timeout, also when it
# drips in; path traversal in every spelling gets 404; methods other than
# GET and HEAD get 405 with "Allow: GET, HEAD", on static paths and
# routes.  Static files: HEAD has the GET's headers and no
# body, ETag and Last-Modified give 304 when they match and 200 when they
# do not, and every answer carries the security headers.

import email.utils
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_relay		# noqa: E402
from lib_relay import request	# noqa: E402

CONFIG = '''
prefork = 1
webroot = "{tmp}/www"
head-timeout = 2
max-head-size = 8192
max-headers = 64
listen "127.0.0.1:{port}" { tls = false }
target "vm1" { host = "127.0.0.1" port = 9 }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

HELLO = b"hello from the web root\n"
MTIME = 1700000000		# Tue, 14 Nov 2023 22:13:20 GMT
SECRET = b"canary: outside the web root\n"

TRAVERSALS = ["/../canary.txt", "/%2e%2e/canary.txt", "/..%2fcanary.txt",
    "/.%2e/canary.txt", "/%2e%2e%2fcanary.txt", "/sub/../../canary.txt",
    "/sub/%2e%2e/%2e%2e/canary.txt", "/sub/..%2f..%2fcanary.txt",
    "/sub/..%5c..%5ccanary.txt", "/..\\canary.txt", "/hello.txt%00",
    "/hello.txt%00.html", "/%00", "//canary.txt", "//etc/passwd",
    "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd",
    "/%252e%252e/canary.txt", "/..", "/sub/..%00/hello.txt"]

SECURITY_HEADERS = {
	"content-security-policy": "default-src 'self'",
	"x-content-type-options": "nosniff",
	"referrer-policy": "",
}


def make_webroot(t):
	www = os.path.join(t.tmp, "www")
	os.makedirs(os.path.join(www, "sub"), mode=0o755)
	for name, data in (("www/hello.txt", HELLO),
	    ("www/sub/page.html", b"<p>sub</p>\n"), ("canary.txt", SECRET)):
		path = os.path.join(t.tmp, name)
		with open(path, "wb") as f:
			f.write(data)
		os.chmod(path, 0o644)
	os.utime(os.path.join(www, "hello.txt"), (MTIME, MTIME))


def ask(t, data, what, timeout=10):
	raw, closed = lib_relay.http_raw("127.0.0.1", t.port, data, timeout)
	status, headers, body, _ = lib_relay.parse_response(raw)
	t.note(f"{what}: {status} {body[:60]!r}")
	return status, headers, body


def check_security_headers(t, headers, what):
	for name, start in SECURITY_HEADERS.items():
		t.expect(name in headers, f"{what}: no {name} header")
		t.expect(headers[name].startswith(start),
		    f"{what}: {name}: {headers[name]!r}")
	t.expect(headers["x-content-type-options"] == "nosniff",
	    f"{what}: x-content-type-options {headers['x-content-type-options']}")


def upgrades(t):
	status, h, _ = ask(t, request("/ws/vnc/vm1"), "route without Upgrade")
	t.expect(status == 426, f"route without Upgrade: {status}, want 426")
	t.expect(h.get("sec-websocket-version") == "13",
	    f"426 without Sec-WebSocket-Version: 13: {h}")
	check_security_headers(t, h, "426")

	status, h, _ = ask(t, request("/ws/vnc/vm1", extra=[
	    "Upgrade: websocket", "Connection: Upgrade",
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	    "Sec-WebSocket-Version: 8"], close=False), "version 8")
	t.expect(status == 426, f"Sec-WebSocket-Version 8: {status}, want 426")
	t.expect(h.get("sec-websocket-version") == "13",
	    f"version 8: no Sec-WebSocket-Version: 13 in {h}")


def limits(t):
	long_head = request("/hello.txt", extra=["X-Filler: " + "a" * 9000])
	status, _, _ = ask(t, long_head, "9 KiB head")
	t.expect(status == 431, f"a 9 KiB head: {status}, want 431")

	endless = b"GET /hello.txt HTTP/1.1\r\nX-Filler: " + b"b" * 9000
	status, _, _ = ask(t, endless, "9 KiB unfinished head")
	t.expect(status == 431, f"an unfinished 9 KiB head: {status}, want 431")

	many = request("/hello.txt", extra=[f"X-H{i}: {i}" for i in range(100)])
	status, _, _ = ask(t, many, "100 headers")
	t.expect(status == 431, f"100 headers: {status}, want 431")

	status, _, body = ask(t, request("/hello.txt", extra=[
	    f"X-H{i}: {i}" for i in range(50)]), "50 headers")
	t.expect(status == 200 and body == HELLO, f"50 headers: {status}")


def slow_heads(t):
	mark = t.mark()
	raw, closed = lib_relay.http_raw("127.0.0.1", t.port,
	    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n", timeout=30)
	t.expect(closed, "a head that never ends: the server did not close "
	    "the connection within 30s (head-timeout = 2)")
	t.expect(not raw.startswith(b"HTTP/1.1 200"),
	    f"an unfinished head was answered: {raw[:40]!r}")
	t.wait_log(r"\bworker0: conn \d+ from 127\.0\.0\.1: request head timed "
	    "out", since=mark)

	# One byte every half second is activity, but not a head: the
	# limit is for the whole head, so the server still closes.
	with socket.create_connection(("127.0.0.1", t.port), timeout=5) as s:
		closed = False
		for i in range(80):
			try:
				s.sendall(b"X-Drip: 1\r\n"[i % 11:i % 11 + 1])
			except (BrokenPipeError, ConnectionResetError):
				closed = True
				break
			s.settimeout(0.5)
			try:
				if s.recv(4096) == b"":
					closed = True
					break
			except socket.timeout:
				continue
			except ConnectionResetError:
				closed = True
				break
		t.expect(closed, "a dripping head: still open after 80 bytes "
		    "in 40s (head-timeout = 2)")


def traversal(t):
	# The same server does serve what is inside the root.
	status, _, body = ask(t, request("/sub/page.html"), "/sub/page.html")
	t.expect(status == 200 and body == b"<p>sub</p>\n",
	    f"/sub/page.html: {status} {body[:40]!r}")
	for path in TRAVERSALS:
		status, _, body = ask(t, request(path), path)
		t.expect(status == 404, f"{path}: {status}, want 404")
		t.expect(SECRET not in body and b"root:" not in body,
		    f"{path}: served a file from outside the web root")


def not_allowed(t, data, what, allow="GET, HEAD"):
	"""405, and the Allow header that RFC 9110 15.5.6 requires."""
	status, h, body = ask(t, data, what)
	t.expect(status == 405, f"{what}: {status}, want 405")
	t.expect(h.get("allow") == allow, f"{what}: Allow {h.get('allow')!r}, "
	    f"want {allow!r}")
	check_security_headers(t, h, what)
	return body


def methods(t):
	for m in ("POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"):
		body = not_allowed(t, request("/hello.txt", m,
		    extra=["Content-Length: 0"]), m)
		t.expect(HELLO not in body, f"{m}: answered with the file")
	upgrade = ["Upgrade: websocket", "Connection: Upgrade",
	    "Sec-WebSocket-Version: 13",
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
	not_allowed(t, request("/ws/vnc/vm1", "POST", extra=upgrade +
	    ["Content-Length: 0"]), "POST to a WebSocket route")


def static(t):
	status, get, body = ask(t, request("/hello.txt"), "GET")
	t.expect(status == 200 and body == HELLO, f"GET: {status} {body!r}")
	check_security_headers(t, get, "GET")
	lm = email.utils.formatdate(MTIME, usegmt=True)
	t.expect(get.get("last-modified") == lm,
	    f"Last-Modified {get.get('last-modified')!r}, want {lm!r}")
	t.expect(int(get.get("content-length", -1)) == len(HELLO),
	    f"Content-Length {get.get('content-length')}")
	etag = get.get("etag")
	t.expect(etag and etag.startswith('"') and etag.endswith('"'),
	    f"ETag {etag!r}")

	raw, closed = lib_relay.http_raw("127.0.0.1", t.port,
	    request("/hello.txt", "HEAD"), timeout=10)
	status, head, body, _ = lib_relay.parse_response(raw)
	t.expect(status == 200, f"HEAD: {status}")
	t.expect(body == b"", f"HEAD came with a body: {body[:60]!r}")
	t.expect(head.get("content-length") == str(len(HELLO)),
	    f"HEAD: Content-Length {head.get('content-length')}")
	for name in ("etag", "last-modified", "content-type"):
		t.expect(head.get(name) == get.get(name),
		    f"HEAD {name} {head.get(name)!r}, GET {get.get(name)!r}")
	check_security_headers(t, head, "HEAD")

	conditionals = [
	    ([f"If-None-Match: {etag}"], 304),
	    ([f'If-None-Match: "0-0", {etag}'], 304),
	    (['If-None-Match: "not-this-one"'], 200),
	    ([f"If-Modified-Since: {lm}"], 304),
	    (["If-Modified-Since: " +
	        email.utils.formatdate(MTIME + 3600, usegmt=True)], 304),
	    (["If-Modified-Since: " +
	        email.utils.formatdate(MTIME - 3600, usegmt=True)], 200),
	    (['If-None-Match: "not-this-one"', f"If-Modified-Since: {lm}"],
	        200),
	]
	for extra, want in conditionals:
		status, h, body = ask(t, request("/hello.txt", extra=extra),
		    " + ".join(extra))
		t.expect(status == want, f"{extra}: {status}, want {want}")
		if want == 304:
			t.expect(body == b"", f"{extra}: 304 with a body")
			t.expect(h.get("etag") == etag,
			    f"{extra}: 304 without the ETag")
		else:
			t.expect(body == HELLO, f"{extra}: body {body[:40]!r}")

	status, h, _ = ask(t, request("/no-such-file"), "missing file")
	t.expect(status == 404, f"a missing file: {status}")
	check_security_headers(t, h, "404")


def run(t):
	make_webroot(t)
	t.start()
	upgrades(t)
	limits(t)
	traversal(t)
	methods(t)
	static(t)
	slow_heads(t)
