#!/usr/bin/python3
"""
rawws.py: a WebSocket client on plain sockets, for the tests that must
send what no library will: unmasked or oddly masked frames, RSV bits,
unknown opcodes, fragments in any order, lengths in a longer encoding
than needed or lengths that lie.  It parses what the server sends
strictly enough to tell whether the server obeys RFC 6455 (a server
frame must not be masked; a close frame carries a code and a reason).

    import rawws
    ws = rawws.connect("127.0.0.1", port, "/ws/vnc/vm1")
    banner = ws.recv_frame()             # Frame(opcode=2, payload=b"RFB ...")
    ws.send_frame(rawws.OP_BINARY, b"x", mask=False)   # a protocol error
    close = ws.recv_close()              # the server's close frame
    assert close.close_code == 1002

For a handshake that should fail, connect(..., expect_status=None)
returns the connection with .status, .headers and .body set whatever the
server answered; dial() gives a bare connection to send a hand-made
request with send_raw() and read it with read_response().
"""

import base64
import hashlib
import os
import socket
import ssl
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


class HandshakeError(Exception):
	def __init__(self, msg, ws=None):
		super().__init__(msg)
		self.ws = ws


class ProtocolError(Exception):
	"""The server sent something RFC 6455 forbids or we cannot parse."""


def accept_for(key):
	"""The Sec-WebSocket-Accept value the server owes for key."""
	digest = hashlib.sha1((key + GUID).encode()).digest()
	return base64.b64encode(digest).decode()


def mask_bytes(payload, key):
	"""payload XOR the 4-byte key, repeated."""
	if not payload:
		return b""
	n = len(payload)
	k = (key * (n // 4 + 1))[:n]
	return (int.from_bytes(payload, "big") ^
	    int.from_bytes(k, "big")).to_bytes(n, "big")


def encode_frame(opcode, payload=b"", fin=True, rsv=0, mask=True,
    mask_key=None, length=None, length_form=None):
	"""One frame as bytes.

	opcode		any 4-bit value, reserved ones included
	rsv		the three RSV bits as a number 0..7 (RSV1 is 4)
	mask		whether to set the MASK bit and mask the payload
	mask_key	4 bytes; random if None
	length		the length to declare (default: the real one), so a
			frame can lie about its size
	length_form	7, 16 or 64: force that length encoding, minimal
			or not (default: the shortest that fits)
	"""
	if isinstance(payload, str):
		payload = payload.encode()
	if length is None:
		length = len(payload)
	if length_form is None:
		length_form = 7 if length < 126 else 16 if length < 65536 \
		    else 64
	b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
	mbit = 0x80 if mask else 0
	if length_form == 7:
		if length > 125:
			raise ValueError("length does not fit 7 bits")
		head = struct.pack("!BB", b0, mbit | length)
	elif length_form == 16:
		head = struct.pack("!BBH", b0, mbit | 126, length)
	elif length_form == 64:
		head = struct.pack("!BBQ", b0, mbit | 127, length)
	else:
		raise ValueError("length_form is 7, 16 or 64")
	if mask:
		if mask_key is None:
			mask_key = os.urandom(4)
		return head + mask_key + mask_bytes(payload, mask_key)
	return head + payload


def close_payload(code=1000, reason=""):
	"""The body of a close frame; code None gives an empty body."""
	if code is None:
		return b""
	if isinstance(reason, str):
		reason = reason.encode()
	return struct.pack("!H", code) + reason


class Frame:
	"""A frame the server sent."""

	def __init__(self, fin, rsv, opcode, masked, payload, length_bytes=0):
		self.fin = fin
		self.rsv = rsv
		self.opcode = opcode
		self.masked = masked
		self.payload = payload
		# 0, 2 or 8: how the header wrote the payload's length
		self.length_bytes = length_bytes

	@property
	def shortest_length(self):
		"""Whether the header used the shortest length form."""
		n = len(self.payload)
		return {0: n < 126, 2: 126 <= n < 65536,
		    8: 65536 <= n < 1 << 63}[self.length_bytes]

	@property
	def close_code(self):
		if self.opcode != OP_CLOSE or len(self.payload) < 2:
			return None
		return struct.unpack("!H", self.payload[:2])[0]

	@property
	def close_reason(self):
		if self.opcode != OP_CLOSE or len(self.payload) < 2:
			return None
		return self.payload[2:].decode("utf-8", "replace")

	@property
	def text(self):
		return self.payload.decode("utf-8", "replace")

	def __repr__(self):
		extra = ""
		if self.opcode == OP_CLOSE:
			extra = f" code={self.close_code} " \
			    f"reason={self.close_reason!r}"
		return (f"<Frame fin={int(self.fin)} rsv={self.rsv} "
		    f"op={self.opcode:#x} masked={int(self.masked)} "
		    f"len={len(self.payload)}{extra}>")


class RawWS:
	def __init__(self, sock, timeout=10):
		self.sock = sock
		self.timeout = timeout
		self.buf = b""
		self.eof = False
		self.status = None
		self.reason = None
		self.headers = {}
		self.body = b""
		self.key = None

	# -- bytes -----------------------------------------------------------

	def send_raw(self, data):
		self.sock.settimeout(self.timeout)
		self.sock.sendall(data)

	def _fill(self, deadline):
		"""Read once more into buf; False on EOF."""
		if self.eof:
			return False
		left = deadline - time.monotonic()
		if left <= 0:
			raise socket.timeout("timed out")
		self.sock.settimeout(left)
		try:
			data = self.sock.recv(65536)
		except ConnectionResetError:
			data = b""
		if not data:
			self.eof = True
			return False
		self.buf += data
		return True

	def _take(self, n, deadline):
		"""Exactly n bytes, or None on EOF before them."""
		while len(self.buf) < n:
			if not self._fill(deadline):
				return None
		out, self.buf = self.buf[:n], self.buf[n:]
		return out

	# -- handshake -------------------------------------------------------

	def request(self, path="/", host=None, origin=None, protocols=None,
	    headers=None, key=None, version="13"):
		"""Send an upgrade request; headers (a dict or a list of pairs)
		are added last and may repeat a standard one."""
		self.key = key or base64.b64encode(os.urandom(16)).decode()
		lines = [f"GET {path} HTTP/1.1", f"Host: {host or 'localhost'}",
		    "Upgrade: websocket", "Connection: Upgrade",
		    f"Sec-WebSocket-Key: {self.key}",
		    f"Sec-WebSocket-Version: {version}"]
		if origin is not None:
			lines.append(f"Origin: {origin}")
		if protocols:
			lines.append("Sec-WebSocket-Protocol: " +
			    ", ".join(protocols))
		items = headers.items() if isinstance(headers, dict) else \
		    (headers or [])
		for k, v in items:
			lines.append(f"{k}: {v}")
		self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())

	def read_response(self, timeout=None):
		"""Read the response head (and, unless it is a 101, the body
		up to Content-Length or EOF); sets and returns .status."""
		deadline = time.monotonic() + (timeout or self.timeout)
		while b"\r\n\r\n" not in self.buf:
			if len(self.buf) > MAX_HEAD:
				raise ProtocolError("response head too long")
			if not self._fill(deadline):
				raise HandshakeError("EOF before a response "
				    f"head ({self.buf[:200]!r})", self)
		head, self.buf = self.buf.split(b"\r\n\r\n", 1)
		lines = head.decode("iso-8859-1").split("\r\n")
		parts = lines[0].split(" ", 2)
		if len(parts) < 2 or not parts[0].startswith("HTTP/"):
			raise ProtocolError(f"bad status line {lines[0]!r}")
		self.status = int(parts[1])
		self.reason = parts[2] if len(parts) > 2 else ""
		self.headers = {}
		for line in lines[1:]:
			k, sep, v = line.partition(":")
			if not sep:
				raise ProtocolError(f"bad header {line!r}")
			k = k.strip().lower()
			v = v.strip()
			self.headers[k] = self.headers[k] + ", " + v \
			    if k in self.headers else v
		if self.status != 101:
			self._read_body(deadline)
		return self.status

	def _read_body(self, deadline):
		n = self.headers.get("content-length")
		try:
			if n is not None:
				self.body = self._take(min(int(n), MAX_BODY),
				    deadline) or self.buf
				return
			while len(self.buf) < MAX_BODY and \
			    self._fill(deadline):
				pass
		except socket.timeout:
			pass
		self.body, self.buf = self.buf, b""

	def check_accept(self):
		"""Whether the 101 answer is a correct one for our key."""
		return (self.status == 101 and
		    self.headers.get("upgrade", "").lower() == "websocket" and
		    "upgrade" in self.headers.get("connection", "").lower() and
		    self.headers.get("sec-websocket-accept") ==
		    accept_for(self.key))

	# -- frames ----------------------------------------------------------

	def send_frame(self, opcode, payload=b"", **kw):
		"""Encode (see encode_frame for the keywords) and send."""
		self.send_raw(encode_frame(opcode, payload, **kw))

	def send_text(self, text, **kw):
		self.send_frame(OP_TEXT, text.encode(), **kw)

	def send_binary(self, data, **kw):
		self.send_frame(OP_BINARY, data, **kw)

	def ping(self, data=b"", **kw):
		self.send_frame(OP_PING, data, **kw)

	def pong(self, data=b"", **kw):
		self.send_frame(OP_PONG, data, **kw)

	def send_close(self, code=1000, reason="", **kw):
		self.send_frame(OP_CLOSE, close_payload(code, reason), **kw)

	def send_fragments(self, opcode, parts, between=None, mask_keys=None,
	    batch=1 << 20, **kw):
		"""One message in len(parts) frames: the first with opcode,
		the rest continuations, FIN on the last; between(i) may
		return extra raw bytes to send after fragment i (a ping, a
		frame that breaks the rules).  mask_keys, an iterator, gives
		each frame's key (default: random ones).  The frames go out
		in writes of about batch bytes, so that thousands of small
		ones do not cost a system call each."""
		out, size = [], 0
		for i, part in enumerate(parts):
			op = opcode if i == 0 else OP_CONT
			if mask_keys is not None:
				kw["mask_key"] = next(mask_keys)
			out.append(encode_frame(op, part,
			    fin=(i == len(parts) - 1), **kw))
			size += len(out[-1])
			extra = between(i) if between is not None else None
			if extra:
				out.append(extra)
				size += len(extra)
			if size >= batch:
				self.send_raw(b"".join(out))
				out, size = [], 0
		if out:
			self.send_raw(b"".join(out))

	def recv_frame(self, timeout=None, max_payload=64 << 20):
		"""The next frame from the server, or None on EOF.  Raises
		socket.timeout when nothing complete came in time."""
		deadline = time.monotonic() + (timeout or self.timeout)
		head = self._take(2, deadline)
		if head is None:
			return None
		b0, b1 = head
		n, width = b1 & 0x7F, 0
		if n == 126:
			ext, width = self._take(2, deadline), 2
			n = None if ext is None else struct.unpack("!H", ext)[0]
		elif n == 127:
			ext, width = self._take(8, deadline), 8
			n = None if ext is None else struct.unpack("!Q", ext)[0]
		if n is None:
			raise ProtocolError("EOF inside a frame header")
		if n > max_payload:
			raise ProtocolError(f"frame of {n} bytes")
		key = None
		if b1 & 0x80:
			key = self._take(4, deadline)
			if key is None:
				raise ProtocolError("EOF inside a frame header")
		payload = self._take(n, deadline)
		if payload is None:
			raise ProtocolError(f"EOF inside a {n}-byte payload")
		if key is not None:
			payload = mask_bytes(payload, key)
		return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF,
		    key is not None, payload, width)

	def recv_message(self, timeout=None, max_frames=100000):
		"""(opcode, payload) of the next data message, fragments
		joined; control frames in between are skipped, except a
		close, which is returned as (OP_CLOSE, payload).  None on
		EOF."""
		deadline = time.monotonic() + (timeout or self.timeout)
		opcode, data = None, b""
		for _ in range(max_frames):
			f = self.recv_frame(max(0.001,
			    deadline - time.monotonic()))
			if f is None:
				return None
			if f.opcode == OP_CLOSE:
				return OP_CLOSE, f.payload
			if f.opcode in (OP_PING, OP_PONG):
				continue
			if opcode is None:
				if f.opcode == OP_CONT:
					raise ProtocolError("continuation "
					    "without a start")
				opcode = f.opcode
			elif f.opcode != OP_CONT:
				raise ProtocolError("new message inside a "
				    "fragmented one")
			data += f.payload
			if f.fin:
				return opcode, data
		raise ProtocolError(f"no message end in {max_frames} frames")

	def recv_close(self, timeout=None, max_frames=100000):
		"""Read frames until the server's close frame and return it
		(the frames before it are in .skipped); None on EOF first."""
		deadline = time.monotonic() + (timeout or self.timeout)
		self.skipped = []
		for _ in range(max_frames):
			f = self.recv_frame(max(0.001,
			    deadline - time.monotonic()))
			if f is None or f.opcode == OP_CLOSE:
				return f
			self.skipped.append(f)
		raise ProtocolError(f"no close in {max_frames} frames")

	def recv_bytes(self, n, timeout=None, max_frames=100000):
		"""Payload bytes of data frames until n are in; fewer on EOF
		or a close."""
		deadline = time.monotonic() + (timeout or self.timeout)
		out = bytearray()
		for _ in range(max_frames):
			if len(out) >= n:
				break
			f = self.recv_frame(max(0.001,
			    deadline - time.monotonic()))
			if f is None or f.opcode == OP_CLOSE:
				self.last_close = f
				break
			if f.opcode in (OP_BINARY, OP_TEXT, OP_CONT):
				out += f.payload
		return bytes(out)

	def wait_eof(self, timeout=None):
		"""Discard input until the server closes TCP: True, or False
		if it has not within timeout."""
		deadline = time.monotonic() + (timeout or self.timeout)
		self.buf = b""
		try:
			for _ in range(1 << 20):
				if not self._fill(deadline):
					return True
				self.buf = b""
		except socket.timeout:
			return False
		return False

	def shutdown_write(self):
		self.sock.shutdown(socket.SHUT_WR)

	def close(self):
		self.sock.close()

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()


def dial(host, port, tls=False, server_hostname=None, cafile=None,
    timeout=10, alpn=None):
	"""A connected RawWS with no handshake yet.  With tls and no
	cafile the server's certificate is not verified."""
	sock = socket.create_connection((host, port), timeout=timeout)
	if tls:
		ctx = ssl.create_default_context(cafile=cafile)
		if cafile is None:
			ctx.check_hostname = False
			ctx.verify_mode = ssl.CERT_NONE
		if alpn:
			ctx.set_alpn_protocols(alpn)
		sock = ctx.wrap_socket(sock,
		    server_hostname=server_hostname or host)
	return RawWS(sock, timeout)


def connect(host, port, path="/", tls=False, expect_status=101,
    server_hostname=None, cafile=None, timeout=10, **request_kw):
	"""dial(), request(), read_response().  With expect_status 101
	(the default) a refused or wrong handshake raises HandshakeError
	(its .ws has the status, headers and body); with None the
	connection is returned whatever the answer was."""
	ws = dial(host, port, tls=tls, server_hostname=server_hostname,
	    cafile=cafile, timeout=timeout)
	try:
		hostport = f"[{host}]:{port}" if ":" in host else \
		    f"{host}:{port}"
		ws.request(path, host=request_kw.pop("host", None) or
		    hostport, **request_kw)
		ws.read_response()
	except BaseException:
		ws.close()
		raise
	if expect_status is None:
		return ws
	if ws.status != expect_status:
		ws.close()
		raise HandshakeError(f"status {ws.status} {ws.reason}, "
		    f"want {expect_status}: {ws.body[:200]!r}", ws)
	if expect_status == 101 and not ws.check_accept():
		ws.close()
		raise HandshakeError("bad 101 answer: "
		    f"{ws.headers!r}", ws)
	return ws
