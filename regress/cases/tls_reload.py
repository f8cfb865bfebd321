# SIGHUP reloads the TLS certificate: after the certificate and key files
# are rewritten (cert A, CN regress-cert-A, becomes cert B) and the master
# reloads, a session opened under cert A still relays byte-exact, and every
# new connection is served cert B.  Then a rotation goes wrong: a new
# certificate C arrives with the old key B.  The reload is refused with the
# reason, naming the listen section's line, and new connections are still
# served cert B.

import os
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import rawws			# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" {
	tls = true
	certificate = "{tmp}/server.pem"
	key = "{tmp}/server.key"
}
target "vm" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


def make_cert(t, name):
	"""A self-signed certificate with CN regress-cert-NAME; returns
	(cert PEM text, key PEM text, DER of the certificate)."""
	cert = os.path.join(t.tmp, f"{name}.pem")
	key = os.path.join(t.tmp, f"{name}.key")
	subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days",
	    "2", "-subj", f"/CN=regress-cert-{name}", "-keyout", key,
	    "-out", cert], check=True, stdout=subprocess.DEVNULL,
	    stderr=subprocess.DEVNULL, timeout=60)
	with open(cert) as f:
		pem = f.read()
	with open(key) as f:
		keypem = f.read()
	return pem, keypem, ssl.PEM_cert_to_DER_cert(pem)


def install(t, pem, keypem):
	"""Replace the server's certificate and key files (key mode 0600)."""
	for name, text, mode in (("server.pem", pem, 0o644),
	    ("server.key", keypem, 0o600)):
		path = os.path.join(t.tmp, name)
		with open(path + ".new", "w") as f:
			f.write(text)
		os.chmod(path + ".new", mode)
		os.rename(path + ".new", path)


def subject_cn(t, der):
	"""The subject CN of a DER certificate, by the openssl CLI."""
	pem = ssl.DER_cert_to_PEM_cert(der)
	cp = subprocess.run(["openssl", "x509", "-noout", "-subject",
	    "-nameopt", "multiline"], input=pem, capture_output=True,
	    text=True, timeout=30)
	t.expect(cp.returncode == 0, f"openssl x509: {cp.stderr!r}")
	for line in cp.stdout.splitlines():
		k, _, v = line.strip().partition("=")
		if k.strip() == "commonName":
			return v.strip()
	return None


def open_session(t):
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/vm", tls=True,
	    protocols=["binary"], timeout=20)
	der = ws.sock.getpeercert(binary_form=True)
	banner = ws.recv_bytes(12, 20)
	t.expect(banner == b"RFB 003.008\n", f"banner {banner!r}")
	return ws, der


def echo(t, ws, data, what):
	ws.send_binary(data)
	got = ws.recv_bytes(len(data), 20)
	t.expect(got == data, f"{what}: echo of {len(data)} bytes differs "
	    f"(got {len(got)} bytes)")


def run(t):
	a_pem, a_key, a_der = make_cert(t, "A")
	b_pem, b_key, b_der = make_cert(t, "B")
	t.expect(a_der != b_der, "certificates A and B are the same")
	install(t, a_pem, a_key)
	peer = t.peer("echo")
	config = CONFIG.replace("PEER_PORT", str(peer.port))
	t.start(config)

	old, der = open_session(t)
	try:
		cn = subject_cn(t, der)
		t.expect(der == a_der and cn == "regress-cert-A",
		    f"first session got CN {cn!r}, want regress-cert-A")
		payload = bytes(range(256)) * 64
		echo(t, old, payload, "old session before reload")

		install(t, b_pem, b_key)
		mark = t.reload(config)
		t.wait_log(r"\breload: configuration reloaded", since=mark)

		echo(t, old, payload[::-1] + b"\x00\xff after reload",
		    "old session after reload")
		t.expect(old.sock.getpeercert(binary_form=True) == a_der,
		    "the old session's certificate changed")

		# Several new connections, so that both workers answer.
		for i in range(4):
			ws, der = open_session(t)
			try:
				cn = subject_cn(t, der)
				t.expect(der == b_der and
				    cn == "regress-cert-B",
				    f"new connection {i} got CN {cn!r}, "
				    "want regress-cert-B")
				echo(t, ws, b"new %d" % i, f"new session {i}")
			finally:
				ws.close()

		c_pem, _, c_der = make_cert(t, "C")
		install(t, c_pem, b_key)
		mark = t.reload(config)
		t.wait_log(r"\breload failed: \S+:\d+: listen \"127\.0\.0\.1:"
		    r"\d+\": certificate \".*server\.pem\" and key \".*"
		    r"server\.key\" cannot serve: key: .*key values mismatch",
		    since=mark)
		for i in range(2):
			ws, der = open_session(t)
			try:
				t.expect(der == b_der, f"after the refused "
				    f"reload, connection {i} got "
				    f"{'cert C' if der == c_der else 'another'}"
				    ", want cert B")
				echo(t, ws, b"kept %d" % i, f"kept session {i}")
			finally:
				ws.close()

		echo(t, old, payload, "old session at the end")
	finally:
		old.close()
	t.expect(not t.log_matches(r"session end .*reason=\"(?!client)"),
	    "a session ended other than by its client")
