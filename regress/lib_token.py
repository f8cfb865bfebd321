"""
lib_token.py: what the token_*, limits_*, origin_* and logs_nosecret cases
share beside regress/harness.py.

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import lib_token

- Secrets(t), and case_secrets(t) for the case's one instance: every key,
  secret and token a case makes is written down, one JSON object a line,
  in regress/artifacts/NAME.secrets (mode 0600), so that logs_nosecret can
  look for each of them in every log;
- Keys(t): HS256 secrets and Ed25519 keys in files the daemon accepts
  (mode 0600, owned by us), their `key` sections, and tokens minted with
  python3-jwt only (alg none and the HS256-with-a-PEM confusion too, the
  latter through PyJWT's own API with a permissive HMAC algorithm);
- attempt(): one WebSocket upgrade on a plain socket, for requests that
  must be refused: the status, headers and JSON body of the answer;
- session(): a python3-websockets client run from the case's synchronous
  code (an asyncio loop in a thread), for requests that must be accepted;
  banner() reads the upstream's "RFB 003.008\\n", echo() a round trip;
- decision(): authd's decision line for the request just made.

Everything talks to loopback only.  No function here sleeps to let time
pass for an assertion: they wait for what must happen, with a bound.
"""

import asyncio
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import secrets as rnd
import socket
import ssl
import threading
import time

import jwt
import jwt.algorithms
import jwt.api_jws
import websockets.client
import websockets.exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

HERE = os.path.dirname(os.path.abspath(__file__))
ARTIFACTS = os.environ.get("REGRESS_ARTIFACTS",
    os.path.join(HERE, "artifacts"))

BEARER_PREFIX = "base64url.bearer.authorization.k8s.io."
BANNER = b"RFB 003.008\n"
MAX_HEAD = 64 * 1024
MAX_BODY = 256 * 1024
SHORTEST_SECRET = 12		# shorter variants would match by chance

# A log value: one plain word, or in double quotes with \" and \\ escaped.
LOG_VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^\s"]+)'

DECISION_RE = (r"\bauthd: decision worker=(?P<worker>\d+) "
    r"session=(?P<session>\d+) client=(?P<client>\S+) "
    rf"route=(?P<route>{LOG_VALUE}) target=(?P<target>{LOG_VALUE}) "
    rf"user=(?P<user>{LOG_VALUE}) jti=(?P<jti>\S+) result=(?P<result>\S+) "
    r"time=(?P<time>\S+)")
# The same fields, as the worker logs them when the session ends.
END_RE = (r"\bworker{worker}: session end id={session} "
    rf"client=(?P<client>\S+) route=(?P<route>{LOG_VALUE}) "
    rf"target=(?P<target>{LOG_VALUE}) user=(?P<user>{LOG_VALUE}) "
    r"jti=(?P<jti>\S+) .* time=(?P<time>\S+)$")
RFC3339_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"

STATUS = {
	"INVALID_TOKEN": 401,
	"TOKEN_EXPIRED": 401,
	"TOKEN_ALREADY_USED": 401,
	"UNAUTHORIZED": 403,
	"VM_NOT_FOUND": 404,
	"MAX_CONNECTIONS_REACHED": 429,
	"CONNECTION_FAILED": 502,
	"INTERNAL_ERROR": 503,
}


def now():
	return time.time()


def short_hash(data):
	"""What the daemon logs for a jti or a token: 8 bytes of SHA-256."""
	if isinstance(data, str):
		data = data.encode()
	return hashlib.sha256(data).hexdigest()[:16]


# -- the secrets a case used -------------------------------------------------

class Secrets:
	"""The list of secrets of one case, kept in memory and, as they come,
	in regress/artifacts/NAME.secrets for logs_nosecret."""

	def __init__(self, t):
		self.t = t
		self.items = []
		os.makedirs(ARTIFACTS, exist_ok=True)
		self.path = os.path.join(ARTIFACTS, t.name + ".secrets")
		fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
		    0o600)
		os.fchmod(fd, 0o600)
		self.f = os.fdopen(fd, "w", buffering=1)

	def add(self, what, value):
		if isinstance(value, bytes):
			value = value.decode("latin-1")
		if len(value) < SHORTEST_SECRET:
			return
		if any(v == value for _, v in self.items):
			return
		self.items.append((what, value))
		self.f.write(json.dumps({"what": what, "value": value}) + "\n")

	def add_bytes(self, what, raw):
		"""A binary secret as it might be printed: raw when it is
		text, in hex, and in (url-safe) base64."""
		try:
			text = raw.decode("ascii")
			if text.isprintable():
				self.add(what, text)
		except UnicodeDecodeError:
			pass
		self.add(what + " (hex)", raw.hex())
		self.add(what + " (base64)",
		    base64.b64encode(raw).decode().rstrip("="))
		self.add(what + " (base64url)",
		    base64.urlsafe_b64encode(raw).decode().rstrip("="))

	def add_token(self, what, token):
		self.add(what, token)
		sig = token.rsplit(".", 1)[-1]
		self.add(what + " (signature)", sig)

	def add_pem(self, what, pem):
		"""Every base64 line of a PEM body (the whole body is then
		found however a log wraps it), and the body joined."""
		if isinstance(pem, bytes):
			pem = pem.decode()
		body = [l for l in pem.splitlines() if l and not
		    l.startswith("-----")]
		for i, line in enumerate(body):
			self.add(f"{what} (PEM line {i + 1})", line)
		self.add(what + " (PEM body)", "".join(body))


def case_secrets(t):
	"""The case's one Secrets, made on first use: lib_ctl and Keys write
	to the same NAME.secrets."""
	s = getattr(t, "case_secrets", None)
	if s is None:
		s = t.case_secrets = Secrets(t)
	return s


def artifacts(suffix):
	"""Every file ending in suffix under regress/artifacts, in its
	subdirectories too (sanitize_subset writes to asan/): {name: path},
	the name relative to regress/artifacts less the suffix."""
	out = {}
	for top, dirs, files in os.walk(ARTIFACTS):
		dirs.sort()
		for f in sorted(files):
			if f.endswith(suffix):
				path = os.path.join(top, f)
				out[os.path.relpath(path, ARTIFACTS)[:-len(
				    suffix)]] = path
	return out


def secrets_files():
	"""Every NAME.secrets under regress/artifacts: {name: [(what,
	value)]}."""
	out = {}
	for name, path in artifacts(".secrets").items():
		items = []
		with open(path) as fh:
			for line in fh:
				line = line.strip()
				if not line:
					continue
				try:
					d = json.loads(line)
				except ValueError:
					continue
				items.append((d.get("what", "?"),
				    d.get("value", "")))
		out[name] = items
	return out


def scan_text(text, items):
	"""[(line number, what)] of every secret found in text."""
	found = []
	for n, line in enumerate(text.splitlines(), 1):
		for what, value in items:
			if value and value in line:
				found.append((n, what))
	return found


# -- keys and tokens ---------------------------------------------------------

class _RawHMAC(jwt.algorithms.HMACAlgorithm):
	"""PyJWT's HMAC without its refusal of PEM text as a secret: the
	algorithm-confusion attack needs exactly that token."""

	def prepare_key(self, key):
		return key.encode() if isinstance(key, str) else bytes(key)


class Key:
	def __init__(self, kid, alg, signing, path=None, material=None):
		self.kid = kid
		self.alg = alg
		self.signing = signing		# what PyJWT signs with
		self.path = path		# the file the daemon reads
		self.material = material	# HS256 secret or public PEM

	def conf(self):
		return (f'key "{self.kid}" {{ algorithm = "{self.alg}" '
		    f'file = "{self.path}" }}')


class Keys:
	"""Keys in files in the case's temporary directory, and tokens."""

	def __init__(self, t, secrets=None):
		self.t = t
		self.secrets = secrets or case_secrets(t)
		self.count = 0

	def _write(self, name, data):
		path = os.path.join(self.t.tmp, name)
		fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC |
		    os.O_NOFOLLOW, 0o600)
		with os.fdopen(fd, "wb") as f:
			f.write(data)
		os.chmod(path, 0o600)
		return path

	def hs256(self, kid, configured=True):
		"""A random 48-character HS256 secret; its file ends in a
		newline, which the daemon strips."""
		secret = rnd.token_urlsafe(36).encode()
		self.secrets.add_bytes(f"HS256 secret of {kid}", secret)
		path = self._write(f"{kid}.key", secret + b"\n") \
		    if configured else None
		return Key(kid, "HS256", secret, path, secret)

	def ed25519(self, kid, file="public"):
		"""An Ed25519 key; the daemon's file holds the public or the
		private PEM."""
		priv = ed25519.Ed25519PrivateKey.generate()
		priv_pem = priv.private_bytes(serialization.Encoding.PEM,
		    serialization.PrivateFormat.PKCS8,
		    serialization.NoEncryption())
		pub_pem = priv.public_key().public_bytes(
		    serialization.Encoding.PEM,
		    serialization.PublicFormat.SubjectPublicKeyInfo)
		raw = priv.private_bytes(serialization.Encoding.Raw,
		    serialization.PrivateFormat.Raw,
		    serialization.NoEncryption())
		self.secrets.add_pem(f"Ed25519 private key of {kid}", priv_pem)
		self.secrets.add_bytes(f"Ed25519 private key of {kid} (raw)",
		    raw)
		path = self._write(f"{kid}.pem",
		    pub_pem if file == "public" else priv_pem)
		return Key(kid, "EdDSA", priv_pem, path, pub_pem)

	def claims(self, sub="alice", target="vm1", ttl=300, jti=True,
	    **extra):
		"""Ordinary claims: iat now, exp iat + ttl, a fresh jti."""
		t0 = int(now())
		c = {"sub": sub, "iat": t0, "exp": t0 + ttl}
		if target is not None:
			c["target"] = target
		if jti:
			c["jti"] = rnd.token_hex(12)
		c.update(extra)
		return {k: v for k, v in c.items() if v is not None}

	def lab_claims(self, user_id=42, vmis=("vm1",), ns="lab-7",
	    ttl=300.0):
		"""A seed-001 (LabOrchestrator) token's claims."""
		return {"id": user_id, "exp": now() + ttl,
		    "lab_instance": {"lab_id": 3, "lab_instance_id": 11,
		    "namespace_name": ns, "allowed_vmi_names": list(vmis)}}

	def _note(self, token, what):
		self.count += 1
		self.secrets.add_token(f"token {self.count} ({what})", token)
		return token

	def mint(self, key, claims, what="token", kid=True, headers=None):
		h = dict(headers or {})
		if kid:
			h.setdefault("kid", key.kid)
		tok = jwt.encode(claims, key.signing, algorithm=key.alg,
		    headers=h)
		return self._note(tok, what)

	def mint_many(self, key, n, what="load", sample=100, **kw):
		"""n tokens signed by key, each with claims(**kw) and so a
		jti of its own.  Only about `sample' of them go into the
		secrets file: logs_nosecret compares every log line with
		every secret, and the others are minted the same way."""
		step = max(1, n // sample)
		out = []
		for i in range(n):
			tok = jwt.encode(self.claims(**kw), key.signing,
			    algorithm=key.alg, headers={"kid": key.kid})
			if i % step == 0 or i == n - 1:
				self._note(tok, f"{what} {i}")
			out.append(tok)
		return out

	def mint_none(self, claims, what="alg none", headers=None):
		tok = jwt.encode(claims, None, algorithm="none",
		    headers=dict(headers or {}))
		return self._note(tok, what)

	def mint_hs256_with(self, material, claims, what="HS256 raw",
	    headers=None):
		"""HS256 with any bytes as the secret, a PEM text included."""
		jws = jwt.api_jws.PyJWS()
		jws.unregister_algorithm("HS256")
		jws.register_algorithm("HS256",
		    _RawHMAC(_RawHMAC.SHA256))
		payload = json.dumps(claims, separators=(",", ":")).encode()
		tok = jws.encode(payload, material, algorithm="HS256",
		    headers=dict(headers or {}))
		return self._note(tok, what)


# -- refused requests: a WebSocket upgrade on a plain socket -----------------

class Reply:
	def __init__(self, status, reason, headers, body):
		self.status = status
		self.reason = reason
		self.headers = headers
		self.body = body
		try:
			self.json = json.loads(body.decode("utf-8"))
		except (UnicodeDecodeError, ValueError):
			self.json = None

	@property
	def code(self):
		if isinstance(self.json, dict):
			return self.json.get("code")
		return None

	def __repr__(self):
		return f"<HTTP {self.status} {self.body[:200]!r}>"


def _dial(port, source=None, tls=False, timeout=10):
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.settimeout(timeout)
	try:
		if source:
			s.bind((source, 0))
		s.connect(("127.0.0.1", port))
	except OSError:
		s.close()
		raise
	if tls:
		ctx = ssl.create_default_context()
		ctx.check_hostname = False
		ctx.verify_mode = ssl.CERT_NONE
		s = ctx.wrap_socket(s, server_hostname="localhost")
	return s


def read_reply(s):
	"""The Reply read from s: its head, and its body up to its
	Content-Length (for a 101, what came after the head)."""
	buf = b""
	for _ in range(4096):
		if b"\r\n\r\n" in buf or len(buf) > MAX_HEAD:
			break
		data = s.recv(4096)
		if not data:
			break
		buf += data
	head, sep, rest = buf.partition(b"\r\n\r\n")
	if not sep:
		return None
	lines = head.decode("latin-1").split("\r\n")
	parts = lines[0].split(" ", 2)
	if len(parts) < 2 or not parts[1].isdigit():
		return None
	headers = {}
	for line in lines[1:]:
		k, _, v = line.partition(":")
		headers[k.strip().lower()] = v.strip()
	status = int(parts[1])
	if status == 101:
		return Reply(101, parts[2] if len(parts) > 2 else "", headers,
		    rest)
	want = int(headers.get("content-length", "-1") or "-1")
	body = rest
	for _ in range(4096):
		if 0 <= want <= len(body) or len(body) > MAX_BODY:
			break
		try:
			data = s.recv(65536)
		except OSError:
			break
		if not data:
			break
		body += data
	if want >= 0:
		body = body[:want]
	return Reply(status, parts[2] if len(parts) > 2 else "", headers, body)


def attempt(t, path, headers=None, source=None, port=None, tls=False,
    host=None, protocols=None):
	"""One upgrade request; returns the Reply (status 101 included: the
	connection is then closed at once).  Fails the case when there is
	no answer at all."""
	port = port or t.port
	key = base64.b64encode(os.urandom(16)).decode()
	h = {"Host": host or f"127.0.0.1:{port}", "Upgrade": "websocket",
	    "Connection": "Upgrade", "Sec-WebSocket-Key": key,
	    "Sec-WebSocket-Version": "13"}
	if protocols:
		h["Sec-WebSocket-Protocol"] = ", ".join(protocols)
	h.update(headers or {})
	req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n"
	    for k, v in h.items()) + "\r\n"
	try:
		s = _dial(port, source, tls)
	except OSError as e:
		t.fail(f"connect to port {port}: {e!r}")
	try:
		s.sendall(req.encode("latin-1"))
		r = read_reply(s)
	except OSError as e:
		t.fail(f"upgrade request on port {port}: {e!r}")
	finally:
		s.close()
	if r is None:
		t.fail(f"no HTTP answer to an upgrade request on port {port}")
	return r


def decision(t, since, timeout=10):
	"""authd's first decision line since the mark, as a dict; the index
	of its line is in ["index"]."""
	m = t.wait_log(DECISION_RE, since=since, timeout=timeout)
	d = m.groupdict()
	d["worker"] = int(d["worker"])
	d["session"] = int(d["session"])
	d["index"] = t.last_index
	return d


def expect_refused(t, what, path, code, **kw):
	"""The upgrade is answered with code's status and JSON body, and the
	decision line says code.  Returns the decision."""
	mark = t.mark()
	r = attempt(t, path, **kw)
	t.expect(r.status != 101, f"{what}: accepted (101), want {code}")
	d = decision(t, mark)
	t.expect(d["result"] == code, f"{what}: decision result="
	    f"{d['result']}, want {code}")
	t.expect(r.status == STATUS[code], f"{what}: HTTP {r.status}, "
	    f"want {STATUS[code]}")
	t.expect(isinstance(r.json, dict) and r.json.get("type") == "error"
	    and r.code == code and isinstance(r.json.get("error"), str) and
	    r.json.get("error"), f"{what}: body {r.body[:200]!r}, want "
	    f'{{"type":"error","code":"{code}","error":...}}')
	t.expect(r.headers.get("content-type", "").startswith(
	    "application/json"), f"{what}: content-type "
	    f"{r.headers.get('content-type')!r}")
	return d


# -- accepted requests: python3-websockets, driven synchronously -------------

_LOOP = None
_LOOP_LOCK = threading.Lock()


def _loop():
	global _LOOP
	with _LOOP_LOCK:
		if _LOOP is None:
			loop = asyncio.new_event_loop()
			threading.Thread(target=loop.run_forever, daemon=True,
			    name="lib_token asyncio").start()
			_LOOP = loop
	return _LOOP


def _call(coro, timeout):
	fut = asyncio.run_coroutine_threadsafe(coro, _loop())
	try:
		return fut.result(timeout)
	except concurrent.futures.TimeoutError:
		fut.cancel()
		raise TimeoutError(f"no result within {timeout}s")


class Refused(Exception):
	def __init__(self, status, message):
		super().__init__(message)
		self.status = status


async def _connect(uri, origin, headers, subprotocols, sock, tls):
	kw = {}
	if sock is not None:
		kw["sock"] = sock
	if tls:
		ctx = ssl.create_default_context()
		ctx.check_hostname = False
		ctx.verify_mode = ssl.CERT_NONE
		kw["ssl"] = ctx
		if sock is not None:
			kw["server_hostname"] = "localhost"
	return await websockets.client.connect(uri, origin=origin,
	    extra_headers=headers or {}, subprotocols=subprotocols,
	    compression=None, ping_interval=None, open_timeout=10,
	    close_timeout=5, max_size=1 << 22, **kw)


class Session:
	"""An open WebSocket (python3-websockets) and what the log said
	about it: .worker, .session, .decision."""

	def __init__(self, t, ws, what):
		self.t = t
		self.ws = ws
		self.what = what
		self.decision = None
		self.worker = None
		self.session = None
		self.closed = False

	@property
	def subprotocol(self):
		return self.ws.subprotocol

	def recv(self, timeout=10):
		try:
			return _call(asyncio.wait_for(self.ws.recv(), timeout),
			    timeout + 5)
		except (asyncio.TimeoutError, TimeoutError):
			self.t.fail(f"{self.what}: nothing received within "
			    f"{timeout}s")

	def send(self, data):
		_call(self.ws.send(data), 10)

	def banner(self):
		"""The upstream's first 12 bytes, from binary messages."""
		got = b""
		for _ in range(12):
			if len(got) >= len(BANNER):
				break
			m = self.recv()
			self.t.expect(isinstance(m, bytes), f"{self.what}: a "
			    f"text message {m!r} where RFB bytes were due")
			got += m
		self.t.expect(got[:len(BANNER)] == BANNER,
		    f"{self.what}: got {got[:40]!r}, want {BANNER!r}")
		return got[len(BANNER):]

	def echo(self, extra=b""):
		"""Bytes sent come back through the echo peer."""
		data = b"echo " + rnd.token_hex(8).encode()
		self.send(data)
		got = extra
		for _ in range(16):
			if len(got) >= len(data):
				break
			m = self.recv()
			self.t.expect(isinstance(m, bytes), f"{self.what}: text "
			    f"message {m!r} in the relay")
			got += m
		self.t.expect(got == data, f"{self.what}: echo gave {got!r}, "
		    f"want {data!r}")

	def reach_rfb(self):
		self.echo(self.banner())

	def until_closed(self, timeout=10, limit=8):
		"""Messages until the server's close: (messages, code, reason)."""
		msgs = []
		for _ in range(limit):
			try:
				msgs.append(_call(asyncio.wait_for(
				    self.ws.recv(), timeout), timeout + 5))
			except websockets.exceptions.ConnectionClosed as e:
				self.closed = True
				if e.rcvd is None:
					return msgs, None, None
				return msgs, e.rcvd.code, e.rcvd.reason
			except (asyncio.TimeoutError, TimeoutError):
				self.t.fail(f"{self.what}: not closed within "
				    f"{timeout}s")
		self.t.fail(f"{self.what}: more than {limit} messages and no "
		    "close")

	def close(self):
		if self.closed:
			return
		self.closed = True
		try:
			_call(self.ws.close(), 15)
		except Exception:
			pass


def try_session(t, path, what, origin=None, headers=None, subprotocols=None,
    source=None, port=None, tls=False):
	"""Open a WebSocket; a Session, or raise Refused with the status."""
	port = port or t.port
	scheme = "wss" if tls else "ws"
	uri = f"{scheme}://127.0.0.1:{port}{path}"
	sock = None
	if source is not None:
		try:
			sock = _dial(port, source)
		except OSError as e:
			t.fail(f"{what}: connect from {source}: {e!r}")
		sock.setblocking(False)
	try:
		ws = _call(_connect(uri, origin, headers, subprotocols, sock,
		    tls), 20)
	except websockets.exceptions.InvalidStatusCode as e:
		raise Refused(e.status_code, f"{what}: refused with HTTP "
		    f"{e.status_code}")
	except (websockets.exceptions.InvalidHandshake, OSError,
	    TimeoutError, asyncio.TimeoutError) as e:
		if sock is not None:
			sock.close()
		t.fail(f"{what}: handshake failed: {e!r}")
	return Session(t, ws, what)


def session(t, path, what, held=None, **kw):
	"""Open a WebSocket that must be accepted, and find its decision
	line (result OK) and its "session start".  held, a list, gets it."""
	mark = t.mark()
	try:
		s = try_session(t, path, what, **kw)
	except Refused as e:
		d = decision(t, mark)
		t.fail(f"{what}: refused with HTTP {e.status} "
		    f"(decision result={d['result']})")
	if held is not None:
		held.append(s)
	d = decision(t, mark)
	t.expect(d["result"] == "OK", f"{what}: upgraded, yet decision "
	    f"result={d['result']}")
	s.decision = d
	s.worker = d["worker"]
	s.session = d["session"]
	t.wait_log(rf"\bworker{s.worker}: session start id={s.session} ",
	    since=mark)
	return s


def close_all(held):
	for s in held:
		s.close()
	del held[:]


def rfb_session(t, path, what, held=None, **kw):
	"""session() and then the RFB banner and an echo round trip."""
	s = session(t, path, what, held=held, **kw)
	s.reach_rfb()
	return s


def close_and_audit(t, s):
	"""Close a session; its "session end" line names the client, route,
	target, user and jti hash that its decision line did, and both say
	when, in RFC 3339 UTC."""
	mark = t.mark()
	s.close()
	m = t.wait_log(END_RE.format(worker=s.worker, session=s.session),
	    since=mark)
	d = s.decision
	for f in ("client", "route", "target", "user", "jti"):
		t.expect(m.group(f) == d[f], f"{s.what}: session end {f}="
		    f"{m.group(f)}, decision {f}={d[f]}")
	for line, when in (("decision", d["time"]), ("session end",
	    m.group("time"))):
		t.expect(re.fullmatch(RFC3339_UTC, when), f"{s.what}: {line} "
		    f"time={when}, not RFC 3339 UTC")


def close_and_wait(t, s, since=None):
	"""Close a session from the client and wait for its "session end"."""
	mark = t.mark() if since is None else since
	s.close()
	t.wait_log(rf"\bworker{s.worker}: session end id={s.session} ",
	    since=mark)


# -- configuration -----------------------------------------------------------

def targets_conf(peer_port, names=("vm1", "vm2")):
	return "\n".join(f'target "{n}" {{ host = "127.0.0.1" '
	    f'port = {peer_port} }}' for n in names)
