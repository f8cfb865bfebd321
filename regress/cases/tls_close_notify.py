# The worker ends the TLS connections it closes with a close_notify alert
# (RFC 8446 6.1), so that a client can tell our close from a truncation.
# A Python ssl client that reads until EOF, with ragged EOFs reported
# (suppress_ragged_eofs and OP_IGNORE_UNEXPECTED_EOF off), gets b"" after
# the alert, never SSLEOFError
# ("EOF occurred in violation of protocol"), and its own unwrap() (its
# close_notify) completes, when:
# - a wss session is ended by `vncrelayctl kill session`, after the close
#   frame (1008);
# - an https answer with Connection: close has been sent;
# - a keep-alive connection idles past head-timeout after its answer.

import base64
import os
import socket
import ssl
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 1
head-timeout = 3
listen "127.0.0.1:{port}" {
	tls = true
	certificate = "{cert}"
	key = "{key}"
}
target "vm1" { host = "127.0.0.1" port = ECHO_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


def connect(t):
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	# Python sets this by default: an EOF without close_notify would
	# read as a clean end.
	ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
	raw = socket.create_connection(("127.0.0.1", t.port), timeout=15)
	return ctx.wrap_socket(raw, server_hostname="localhost",
	    suppress_ragged_eofs=False)


def read_to_eof(t, s, what, got=b""):
	"""Reads until the server's close_notify; returns what came.  A
	ragged EOF, or no EOF, fails the case."""
	try:
		for _ in range(10000):
			data = s.recv(65536)
			if not data:
				break
			got += data
		else:
			t.fail(f"{what}: no end after 10000 reads")
	except ssl.SSLEOFError as e:
		t.fail(f"{what}: EOF without close_notify: {e!r}")
	except (OSError, ssl.SSLError) as e:
		t.fail(f"{what}: {e!r} while reading to the end")
	try:
		s.unwrap().close()
	except (OSError, ssl.SSLError) as e:
		t.fail(f"{what}: unwrap after the server's close_notify: {e!r}")
	t.note(f"{what}: clean close_notify after {len(got)} bytes")
	return got


def frames(data):
	"""(opcode, payload) of each unmasked frame in data."""
	out = []
	while len(data) >= 2:
		op, n = data[0] & 0x0f, data[1] & 0x7f
		i = 2
		if n == 126:
			n, i = struct.unpack("!H", data[2:4])[0], 4
		elif n == 127:
			n, i = struct.unpack("!Q", data[2:10])[0], 10
		out.append((op, data[i:i + n]))
		data = data[i + n:]
	return out


def killed_session(t):
	s = connect(t)
	key = base64.b64encode(os.urandom(16)).decode()
	mark = t.mark()
	s.sendall((f"GET /ws/vnc/vm1 HTTP/1.1\r\nHost: 127.0.0.1:{t.port}\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
	    .encode())
	r = lt.read_reply(s)
	t.expect(r is not None and r.status == 101, f"wss upgrade: {r!r}")
	m = t.wait_log(r"\bworker0: session start id=(\d+) ", since=mark)
	mark = t.mark()
	j = lib_ctl.ctl_json(t, "kill", "session", m.group(1))
	t.expect(j.get("result") == "killed", f"kill session: {j}")
	got = frames(read_to_eof(t, s, "wss session killed", r.body))
	t.expect(got and got[-1][0] == 8 and got[-1][1][:2] ==
	    struct.pack("!H", 1008), f"wss session killed: last frame "
	    f"{got[-1:]!r}, want close 1008")
	t.wait_log(r"\bworker0: session end id=" + m.group(1) + " ",
	    since=mark)


def page(t, s, what, close):
	"""GET /console.html: 200, the whole body, and the connection
	closing (Connection: close) or kept."""
	s.sendall(b"GET /console.html HTTP/1.1\r\nHost: localhost\r\n" +
	    (b"Connection: close\r\n" if close else b"") + b"\r\n")
	r = lt.read_reply(s)
	t.expect(r is not None and r.status == 200 and len(r.body) ==
	    int(r.headers.get("content-length", -1)) and
	    (r.headers.get("connection") == "close") == close,
	    f"{what}: {r!r} {r and r.headers}")


def run(t):
	echo = t.peer("echo")
	t.start(CONFIG.replace("ECHO_PORT", str(echo.port)))
	killed_session(t)
	s = connect(t)
	page(t, s, "https Connection: close", True)
	got = read_to_eof(t, s, "https Connection: close")
	t.expect(got == b"", f"https Connection: close: {got[:60]!r} after "
	    "the body")
	s = connect(t)
	page(t, s, "https keep-alive", False)
	got = read_to_eof(t, s, "keep-alive past head-timeout")
	t.expect(got == b"", f"keep-alive: {got[:60]!r} after the body")
