"""
lib_upstream.py: what the up_* and browser_prism cases share beside
regress/harness.py, lib_relay.py and lib_token.py: the mock upstreams of
regress/mock (Nutanix Prism, the Kubernetes API with KubeVirt's VNC
subresource) and a browser-equivalent client through vncrelayd to them.

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import lib_upstream as lu

- pki(t): the test certificates of regress/mock/mkcerts.sh in {tmp}/pki
  (ca.pem, server.pem, the wrong-CA wserver.pem, the wrong-name
  wrongname.pem);
- start_prism(t, ...), start_kubeapi(t, ...): a mock on a free port, read
  from its "READY port=N"; it is put on t.peers, so the harness stops it
  by pid however the case ends.  Its log (stdout and stderr) is kept as
  regress/artifacts/CASE.LABEL.log, where logs_nosecret looks too.
  .stats() reads GET /_mock/stats, .post() a control route,
  .upgrade_status() sends an upgrade request of our own;
- secret_file(): a password or bearer token file at mode 0600, its
  content recorded as a secret (lib_token.Secrets); rewrite() replaces
  it atomically (a rotation);
- prism_conf(), kubevirt_conf(): their configuration sections;
- console(): a WebSocket through vncrelayd offering "binary", as noVNC
  does, up to RFB ServerInit, then random bytes in random chunks echoed by
  the mock, compared by SHA-256;
- refused(): an upgrade answered with an error code's HTTP status and
  JSON body, and a log line naming the code;
- check_no_secrets(): no recorded secret in the daemon's log or a mock's.

Everything is on loopback.  Nothing here sleeps to let time pass for an
assertion: it waits for what must happen, with a bound.
"""

import base64
import http.client
import json
import os
import random
import re
import secrets
import socket
import ssl
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
	sys.path.insert(0, HERE)

import lib_relay		# noqa: E402
import lib_token as lt		# noqa: E402

PYTHON = "/usr/bin/python3"
READY_RE = re.compile(r"(?m)^READY port=(\d+)$")

VM1 = "11111111-2222-3333-4444-555555555555"
VM2 = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
VM_UNKNOWN = "99999999-9999-9999-9999-999999999999"
CLUSTER1 = "c9c9c9c9-0000-0000-0000-000000000009"
USERNAME = "admin"

KV_PATH = ("/apis/subresources.kubevirt.io/{ver}/namespaces/{ns}/"
    "virtualmachineinstances/{name}/vnc")

# The HTTP status of each error code (errors = http).
STATUS = dict(lt.STATUS, NO_CONSOLE_AVAILABLE=503, BAD_REQUEST=400,
    INTERNAL_ERROR=503)

# What the browser gets when the upstream drops TCP without a close
# frame (the spec of issue 5).
DROP_CODE = 1011
DROP_REASON = "upstream closed without a close frame"


# -- certificates and secret files ------------------------------------------

def pki(t):
	"""The directory of mkcerts.sh's files for this case."""
	return os.path.dirname(lib_relay.make_certs(t)["ca"])


def secret_file(t, name, text, sec, what):
	"""A file in the case's directory at mode 0600 holding text and a
	newline; text is recorded in sec.  Returns the path."""
	path = os.path.join(t.tmp, name)
	rewrite(path, text)
	sec.add(what, text)
	return path


def rewrite(path, text):
	"""Replace the file's content at once (a new file renamed over the
	old one, as an atomic rotation is done)."""
	tmp = path + ".new"
	fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC |
	    os.O_NOFOLLOW, 0o600)
	with os.fdopen(fd, "w") as f:
		f.write(text + "\n")
	os.chmod(tmp, 0o600)
	os.rename(tmp, path)


# -- the mocks ---------------------------------------------------------------

def _unverified():
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	return ctx


class Mock:
	"""A mock upstream from regress/mock, started by the case."""

	def __init__(self, t, script, label, args, cert="server",
	    hidden=()):
		self.t = t
		self.label = label
		d = pki(t)
		self.ca = os.path.join(d, "ca.pem")
		argv = [PYTHON, os.path.join(lib_relay.MOCK, script),
		    "--cert", os.path.join(d, cert + ".pem"),
		    "--key", os.path.join(d, cert + ".key")] + list(args)
		shown = ["<hidden>" if a in hidden else a for a in argv]
		out = os.path.join(lib_relay.ARTIFACTS, f"{t.name}.{label}.log")
		self.child = lib_relay.start_child(t, argv, label, out=out,
		    shown=shown)
		self.pid = self.child.pid
		m = t.wait_for(f"{label}: READY port=N", lambda:
		    READY_RE.search(self.log()) or not self.child.running(),
		    timeout=30)
		if not isinstance(m, re.Match):
			t.fail(f"{label} exited: {self.log()[-600:]!r}")
		self.port = int(m.group(1))
		t.note(f"{label}: pid {self.pid} port {self.port}")

	def log(self):
		with open(self.child.out, "rb") as f:
			return f.read().decode("utf-8", "replace")

	def request(self, method, path, headers=None, body=None):
		"""(status, body) of one request to the mock itself."""
		c = http.client.HTTPSConnection("127.0.0.1", self.port,
		    timeout=10, context=_unverified())
		try:
			c.request(method, path, body=body,
			    headers=headers or {})
			r = c.getresponse()
			data = r.read() if r.status != 101 else b""
			return r.status, data
		except (OSError, http.client.HTTPException) as e:
			self.t.fail(f"{self.label}: {method} {path}: {e!r}")
		finally:
			c.close()

	def stats(self):
		status, body = self.request("GET", "/_mock/stats")
		self.t.expect(status == 200, f"{self.label}: /_mock/stats "
		    f"answered {status}")
		return json.loads(body)

	def post(self, path):
		status, body = self.request("POST", path)
		self.t.expect(status == 200, f"{self.label}: POST {path} "
		    f"answered {status}: {body[:200]!r}")
		self.t.note(f"{self.label}: POST {path}: {body.strip()!r}")
		return json.loads(body)

	def upgrade_status(self, path, headers=None):
		"""The status of an upgrade request of our own (101 is closed
		at once)."""
		h = {"Connection": "Upgrade", "Upgrade": "websocket",
		    "Sec-WebSocket-Version": "13",
		    "Sec-WebSocket-Key": base64.b64encode(os.urandom(16))
		    .decode()}
		h.update(headers or {})
		return self.request("GET", path, headers=h)[0]

	def counters(self, *names):
		"""Some counters of the stats, noted in the case's log (never
		the cookie or header fields: they hold secrets)."""
		st = self.stats()
		out = {n: st.get(n) for n in names}
		self.t.note(f"{self.label} stats: {out}")
		return out

	def wait_counter(self, name, want, timeout=20):
		"""Wait until stats[name] == want (the mock counts when the
		other side's packets arrive, not when we look)."""
		return self.t.wait_for(f"{self.label}: {name} == {want!r}",
		    lambda: self.stats().get(name) == want, timeout=timeout)

	def stop(self):
		self.child.stop()


def start_prism(t, label="prism", mode="element", vms=(VM1,),
    password=None, args=(), cert="server"):
	"""prism.py; vms are "UUID" or "UUID=CLUSTER"."""
	argv = ["--mode", mode, "--username", USERNAME]
	hidden = ()
	if password is not None:
		argv += ["--password", password]
		hidden = (password,)
	for vm in vms:
		argv += ["--vm", vm]
	return Mock(t, "prism.py", label, argv + list(args), cert, hidden)


def start_kubeapi(t, token_file, label="kubeapi", vmis=(), args=(),
    cert="server", hidden=()):
	"""kubeapi.py; vmis are "NS/NAME[=STATE]"."""
	argv = ["--token-file", token_file]
	for v in vmis:
		argv += ["--vmi", v]
	return Mock(t, "kubeapi.py", label, argv + list(args), cert, hidden)


# -- configuration ------------------------------------------------------------

def _section(kind, name, lines):
	return f'{kind} "{name}" {{\n' + "".join(f"\t{l}\n" for l in lines) \
	    + "}\n"


def prism_conf(name, mock, password_file, central=False, ca=True,
    extra=()):
	lines = ['host = "127.0.0.1"', f"port = {mock.port}",
	    f'username = "{USERNAME}"', f'password-file = "{password_file}"',
	    f"central = {'yes' if central else 'no'}"]
	if ca:
		lines.append(f'ca-file = "{mock.ca}"')
	return _section("prism", name, lines + list(extra))


def kubevirt_conf(name, mock, token_file, ca=True, extra=()):
	lines = [f'api-url = "https://127.0.0.1:{mock.port}"',
	    f'token-file = "{token_file}"', 'namespace = "default"']
	if ca:
		lines.append(f'ca-file = "{mock.ca}"')
	return _section("kubevirt", name, lines + list(extra))


def prism_upstream(t, sec, name, mode="element", vms=(VM1,), args=(),
    cert="server", wrong=False, ca=True, extra=()):
	"""A mock Prism (labelled name) with a fresh password, and a password
	file for the daemon with that password (or, with wrong, another
	one), both recorded in sec.  Returns (mock, its prism section); the
	file is mock.password_file."""
	right = f"{name}-" + secrets.token_urlsafe(18)
	sec.add(f"password of {name}", right)
	mock = start_prism(t, name, mode=mode, vms=vms, password=right,
	    args=args, cert=cert)
	given = f"wrong-{name}-" + secrets.token_urlsafe(18) if wrong \
	    else right
	mock.password_file = secret_file(t, f"{name}.password", given, sec,
	    f"password file of {name}")
	return mock, prism_conf(name, mock, mock.password_file,
	    central=mode == "central", ca=ca, extra=extra)


def prism_upstreams(t, sec, specs, wrong=False):
	"""prism_upstream() for each (name, route prefix, mode, mock
	arguments, ...) of specs: ({name: mock}, the sections)."""
	mocks, conf = {}, ""
	for name, _, mode, args, *_ in specs:
		mocks[name], section = prism_upstream(t, sec, name, mode=mode,
		    args=args, wrong=wrong)
		conf += section
	return mocks, conf


def bearer_file(t, sec, name="kv"):
	"""A fresh bearer token in {tmp}/NAME.token: (token, path)."""
	token = f"{name}-" + secrets.token_urlsafe(32)
	return token, secret_file(t, f"{name}.token", token, sec,
	    f"bearer token {name}")


# -- through vncrelayd --------------------------------------------------------

def random_pieces(total):
	"""total random bytes in pieces of random sizes, small ones often."""
	rnd = random.Random()
	left = total
	for _ in range(total):
		if left <= 0:
			return
		n = min(left, rnd.choice((rnd.randint(1, 16),
		    rnd.randint(1, 2048), rnd.randint(1, 65536))))
		left -= n
		yield os.urandom(n)


async def _rfb_echo(ws, total):
	"""ServerInit, then total random bytes echoed: (ServerInit, sha256
	sent, sha256 got, bytes got)."""
	st = lib_relay.WSStream(ws)
	si = await lib_relay.rfb_handshake(st)
	return (si,) + await lib_relay.echo_pieces(st, random_pieces(total),
	    total)


def console(t, path, what, want_name, total=1 << 20, held=None, **kw):
	"""Open a console through vncrelayd as noVNC does (subprotocol
	"binary"), which must be accepted (decision OK, "session start"),
	reach ServerInit with the name want_name, and echo total random
	bytes exactly.  Returns the open lib_token.Session."""
	s = lt.session(t, path, what, held=held, subprotocols=["binary"],
	    **kw)
	t.expect(s.subprotocol == "binary", f"{what}: subprotocol "
	    f"{s.subprotocol!r}, want 'binary'")
	si, sent, got, n = lt._call(_rfb_echo(s.ws, total), 300)
	t.expect(si["name"] == want_name, f"{what}: ServerInit name "
	    f"{si['name']!r}, want {want_name!r}")
	t.expect((si["width"], si["height"]) == (640, 480),
	    f"{what}: ServerInit {si['width']}x{si['height']}")
	t.expect(n == total and sent == got, f"{what}: {total} bytes sent "
	    f"(sha256 {sent[:16]}), {n} came back (sha256 {got[:16]})")
	t.note(f"{what}: ServerInit {si['name']}, {total} bytes echoed")
	return s


def refused(t, what, path, code, logged=True, **kw):
	"""An upgrade through vncrelayd answered with code's HTTP status and
	{"type":"error","code":code,...}; unless logged is false, a log line
	since says code= or result= code.  Returns the lib_token.Reply."""
	mark = t.mark()
	r = lt.attempt(t, path, protocols=["binary"], **kw)
	t.expect(r.status != 101, f"{what}: accepted (101), want {code}")
	t.expect(r.status == STATUS[code] and r.code == code,
	    f"{what}: HTTP {r.status} {r.body[:200]!r}, want "
	    f"{STATUS[code]} with code {code}")
	if logged:
		t.wait_log(rf"\b(?:code|result)={code}\b", since=mark)
	t.expect(not t.log_matches(r"\bsession start\b", since=mark),
	    f"{what}: a session started")
	return r


def drop_ends(t, s, mock, what):
	"""The mock drops every session by TCP (no close frame): the
	browser gets DROP_CODE, the worker logs the session's end."""
	mark = t.mark()
	mock.post("/_mock/drop")
	msgs, code, reason = s.until_closed(timeout=20)
	t.expect(not [m for m in msgs if isinstance(m, str)],
	    f"{what}: text messages {msgs!r} before the close")
	t.expect(code == DROP_CODE and reason == DROP_REASON,
	    f"{what}: closed with {code} {reason!r}, want {DROP_CODE} "
	    f"{DROP_REASON!r}")
	t.wait_log(rf"\bworker{s.worker}: session end id={s.session} ",
	    since=mark)


def record_cookies(sec, header):
	"""The values in a Cookie header, as secrets."""
	for part in re.split(r"[;,]", header or ""):
		name, _, value = part.strip().partition("=")
		if value:
			sec.add(f"Prism cookie {name}", value)


def check_no_secrets(t, sec, mocks=()):
	"""No recorded secret (password, bearer token, cookie, console
	token) in a line of the daemon's log or of a mock's."""
	daemon = "\n".join(m.string for m in t.log_matches(r"^"))
	texts = [("daemon log", daemon)]
	texts += [(f"{m.label} log", m.log()) for m in mocks]
	for where, text in texts:
		found = lt.scan_text(text, sec.items)
		if found:
			t.fail(f"{where}: line {found[0][0]} holds the "
			    f"{found[0][1]}")


class Held:
	"""An upgrade of our own to a mock, answered 101 and kept open
	(nothing read after the head): a session someone else holds.  It is
	on t.peers, so it is closed when the case ends."""

	def __init__(self, mock, path, headers):
		raw = socket.create_connection(("127.0.0.1", mock.port),
		    timeout=10)
		self.sock = _unverified().wrap_socket(raw,
		    server_hostname="localhost")
		mock.t.peers.append(self)
		h = {"Host": f"localhost:{mock.port}", "Connection": "Upgrade",
		    "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		    "Sec-WebSocket-Key": base64.b64encode(os.urandom(16))
		    .decode()}
		h.update(headers)
		self.sock.sendall((f"GET {path} HTTP/1.1\r\n" + "".join(
		    f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode())
		head = b""
		for _ in range(1000):
			if b"\r\n\r\n" in head:
				break
			data = self.sock.recv(4096)
			if not data:
				break
			head += data
		self.status = head.split(b" ", 2)[1] if b" " in head else b""
		mock.t.expect(self.status == b"101", f"{mock.label}: upgrade "
		    f"of our own answered {head[:60]!r}")

	def stop(self):
		self.sock.close()
