# Static files from the web root, as a browser fetches them:
# - each kind of file noVNC's pages load comes with its MIME type, and an
#   unknown one as application/octet-stream (browsers refuse module
#   scripts and style sheets of another type);
# - a directory is never listed: with index.html that file is served,
#   without it 404, and no name inside it appears in the answer;
# - keep-alive: several requests, one after the other and pipelined, are
#   answered on one connection in order, until "Connection: close", after
#   which the server closes; an HTTP/1.0 request without keep-alive gets
#   its answer and the close.

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib_relay import request	# noqa: E402

CONFIG = '''
prefork = 1
webroot = "{tmp}/www"
listen "127.0.0.1:{port}" { tls = no }
'''

FILES = {
	"page.html": ("text/html", b"<!doctype html><p>page</p>\n"),
	"app.js": ("text/javascript", b"export const x = 1;\n"),
	"mod.mjs": ("text/javascript", b"export default 2;\n"),
	"style.css": ("text/css", b"p { color: red }\n"),
	"pic.svg": ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/"
	    b"svg'/>\n"),
	"data.json": ("application/json", b"{}\n"),
	"blob.dat": ("application/octet-stream", b"\x00\x01\x02"),
	"withindex/index.html": ("text/html", b"<p>index</p>\n"),
	"noindex/hidden-name.txt": ("text/plain", b"hidden\n"),
}


def make_webroot(t):
	www = os.path.join(t.tmp, "www")
	for name, (_, data) in FILES.items():
		path = os.path.join(www, name)
		os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
		with open(path, "wb") as f:
			f.write(data)
		os.chmod(path, 0o644)


class Conn:
	"""One client connection that reads responses one at a time."""

	def __init__(self, t):
		self.t = t
		self.sock = socket.create_connection(("127.0.0.1", t.port),
		    timeout=10)
		self.buf = b""

	def send(self, data):
		self.sock.sendall(data)

	def _fill(self):
		data = self.sock.recv(65536)
		if not data:
			return False
		self.buf += data
		return True

	def response(self, what, head_only=False):
		"""(status, headers, body) of the next response."""
		for _ in range(1000):
			if b"\r\n\r\n" in self.buf:
				break
			self.t.expect(self._fill(), f"{what}: connection closed "
			    f"before a response ({self.buf[:80]!r})")
		head, _, self.buf = self.buf.partition(b"\r\n\r\n")
		lines = head.decode("iso-8859-1").split("\r\n")
		status = int(lines[0].split(" ")[1])
		headers = {}
		for line in lines[1:]:
			k, _, v = line.partition(":")
			headers[k.strip().lower()] = v.strip()
		n = 0 if head_only or status == 304 else \
		    int(headers.get("content-length", 0))
		for _ in range(1000):
			if len(self.buf) >= n:
				break
			self.t.expect(self._fill(), f"{what}: short body")
		body, self.buf = self.buf[:n], self.buf[n:]
		return status, headers, body

	def closed(self):
		"""Whether the server closes with nothing more to say."""
		try:
			return self.buf == b"" and not self._fill()
		except ConnectionResetError:
			return True

	def close(self):
		self.sock.close()


def get(t, path, what):
	c = Conn(t)
	c.send(request(path))
	r = c.response(what)
	c.close()
	return r


def mime_types(t):
	for name, (ctype, data) in FILES.items():
		if name.endswith("index.html"):
			continue
		status, h, body = get(t, "/" + name, name)
		t.expect(status == 200 and body == data, f"/{name}: {status} "
		    f"{body[:40]!r}")
		got = h.get("content-type", "")
		t.expect(got.split(";")[0].strip() == ctype,
		    f"/{name}: Content-Type {got!r}, want {ctype}")


def directories(t):
	for path in ("/withindex/", "/withindex"):
		status, h, body = get(t, path, path)
		t.expect(status == 200 and body == FILES["withindex/index.html"][1],
		    f"{path}: {status} {body[:60]!r}, want its index.html")
		t.expect(h.get("content-type", "").startswith("text/html"),
		    f"{path}: Content-Type {h.get('content-type')!r}")
	for path in ("/noindex/", "/noindex", "/noindex/.", "/"):
		status, _, body = get(t, path, path)
		t.expect(b"hidden-name" not in body and b"page.html" not in body,
		    f"{path}: the answer lists the directory: {body[:80]!r}")
		t.expect(status == 404, f"{path}: {status}, want 404")


def keep_alive(t):
	c = Conn(t)
	names = ["page.html", "app.js", "style.css"]
	for name in names:
		c.send(request("/" + name, close=False))
		status, h, body = c.response(f"keep-alive {name}")
		t.expect(status == 200 and body == FILES[name][1],
		    f"keep-alive {name}: {status} {body[:40]!r}")
		t.expect(h.get("connection", "").lower() != "close",
		    f"keep-alive {name}: Connection: close")
	# Pipelined: three heads at once (one HEAD), three answers in order.
	c.send(request("/data.json", close=False) +
	    request("/pic.svg", "HEAD", close=False) +
	    request("/blob.dat", close=False))
	for name, head in (("data.json", False), ("pic.svg", True),
	    ("blob.dat", False)):
		status, h, body = c.response(f"pipelined {name}", head_only=head)
		t.expect(status == 200 and body == (b"" if head else
		    FILES[name][1]), f"pipelined {name}: {status} {body[:40]!r}")
		t.expect(h.get("content-type", "").startswith(FILES[name][0]),
		    f"pipelined {name}: Content-Type {h.get('content-type')!r}")
	c.send(request("/page.html"))
	status, h, body = c.response("last, with Connection: close")
	t.expect(status == 200 and h.get("connection", "").lower() == "close",
	    f"last request: {status} Connection {h.get('connection')!r}")
	t.expect(c.closed(), "the server kept the connection after "
	    "Connection: close")
	c.close()

	c = Conn(t)
	c.send(b"GET /page.html HTTP/1.0\r\n\r\n")
	status, _, body = c.response("HTTP/1.0")
	t.expect(status == 200 and body == FILES["page.html"][1],
	    f"HTTP/1.0: {status}")
	t.expect(c.closed(), "HTTP/1.0 without keep-alive: still open")
	c.close()


def run(t):
	make_webroot(t)
	t.start()
	mime_types(t)
	directories(t)
	keep_alive(t)
