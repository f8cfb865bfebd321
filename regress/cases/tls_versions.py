# The TLS listener speaks TLS 1.2 and 1.3 only: TLS 1.0 and 1.1 client
# hellos are refused with a protocol-version alert from the server (the
# client is set to security level 0 so that it really offers them), 1.2
# and 1.3 complete and serve HTTP, and ALPN selects http/1.1 when offered,
# and nothing when only h2 is.

import socket
import ssl

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" {
	tls = true
	certificate = "{cert}"
	key = "{key}"
}
'''


def context(version, alpn=None):
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	ctx.minimum_version = version
	ctx.maximum_version = version
	if version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
		ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
	if alpn:
		ctx.set_alpn_protocols(alpn)
	return ctx


def handshake(t, version, alpn=None):
	"""(negotiated version, ALPN protocol, first bytes of an HTTP
	answer) or the SSLError."""
	raw = socket.create_connection(("127.0.0.1", t.port), timeout=10)
	try:
		s = context(version, alpn).wrap_socket(raw,
		    server_hostname="localhost")
	except ssl.SSLError as e:
		raw.close()
		return e
	with s:
		s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
		    b"Connection: close\r\n\r\n")
		answer = s.recv(64)
		return s.version(), s.selected_alpn_protocol(), answer


def run(t):
	t.start()
	for version, name in ((ssl.TLSVersion.TLSv1, "TLSv1"),
	    (ssl.TLSVersion.TLSv1_1, "TLSv1.1")):
		r = handshake(t, version)
		t.note(f"{name}: {r!r}")
		t.expect(isinstance(r, ssl.SSLError),
		    f"{name} handshake accepted: {r!r}")
		# An alert from the server, not a client that would not try.
		t.expect("ALERT_PROTOCOL_VERSION" in str(r.reason) or
		    "alert protocol version" in str(r),
		    f"{name} refused, but not by a version alert: {r!r}")

	for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
	    (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
		r = handshake(t, version)
		t.note(f"{name}: {r!r}")
		t.expect(not isinstance(r, ssl.SSLError),
		    f"{name} handshake refused: {r!r}")
		got, alpn, answer = r
		t.expect(got == name, f"asked for {name}, got {got}")
		t.expect(answer.startswith(b"HTTP/1.1 "),
		    f"{name}: answer {answer!r}")
		t.expect(alpn is None, f"{name} without ALPN: selected {alpn!r}")

		r = handshake(t, version, ["h2", "http/1.1"])
		t.note(f"{name} with ALPN h2, http/1.1: {r!r}")
		t.expect(not isinstance(r, ssl.SSLError),
		    f"{name} with ALPN refused: {r!r}")
		t.expect(r[1] == "http/1.1",
		    f"{name}: ALPN selected {r[1]!r}, want http/1.1")

		r = handshake(t, version, ["h2"])
		t.note(f"{name} with ALPN h2 only: {r!r}")
		t.expect(not isinstance(r, ssl.SSLError) and r[1] is None,
		    f"{name}: ALPN h2 only gave {r!r}, want no protocol")
