"""
lib_ctl.py: what the ctl_* and api_* cases share beside regress/harness.py.

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import lib_ctl

- vncrelayctl: ctl_run() runs build/vncrelayctl (or $VNCRELAYCTL) against
  the case's control socket, optionally as another user through a
  setpriv prefix; ctl_json() wants an answer, ctl_refused() an error;
- secrets: hs256_key() writes a signing key file at mode 0600,
  api_key() makes an API key and the hash the configuration holds; these,
  and every token vncrelayctl prints or check_token() sees, go into the
  case's NAME.secrets (lib_token.case_secrets) for logs_nosecret;
- tokens: check_token() verifies a console token with python3-jwt;
- WebSocket sessions over python3-websockets (Session), and
  run_async() to drive them with a bound on the time;
- log_session_start(): the "session start" line of one user's session.

Every failure goes through t.fail()/t.expect(), so it is the harness's own
Failure that ends the case.
"""

import asyncio
import hashlib
import json
import os
import re
import secrets
import subprocess

import harness
import lib_token

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


# -- vncrelayctl ------------------------------------------------------------

def ctl_binary():
	return os.environ.get("VNCRELAYCTL",
	    os.path.join(TOP, "build", "vncrelayctl"))


def ctl_socket(t):
	"""The control-socket line of the case's configuration file."""
	with open(t.conf) as f:
		m = re.search(r'(?m)^\s*control-socket\s*=\s*"([^"]*)"',
		    f.read())
	t.expect(m is not None, f"no control-socket in {t.conf}")
	return m.group(1)


def ctl_run(t, words, raw=True, sock=None, prefix=(), timeout=30):
	"""Run vncrelayctl [-j] -s SOCKET WORDS... (after prefix, such as a
	setpriv command) to its end; a CompletedProcess with text output."""
	binary = ctl_binary()
	if not os.access(binary, os.X_OK):
		t.fail(f"no vncrelayctl at {binary} (make -C {TOP} debug)")
	argv = list(prefix) + [binary] + (["-j"] if raw else []) + \
	    ["-s", sock or ctl_socket(t)] + list(words)
	try:
		cp = subprocess.run(argv, stdin=subprocess.DEVNULL,
		    capture_output=True, text=True, timeout=timeout)
	except subprocess.TimeoutExpired:
		t.fail(f"vncrelayctl {' '.join(words)}: no end within "
		    f"{timeout}s")
	for tok in re.findall(harness.TOKEN_RE, cp.stdout):
		lib_token.case_secrets(t).add_token("token from vncrelayctl",
		    tok)
	t.note(f"ran {argv}: exit {cp.returncode}")
	for line in (cp.stdout + cp.stderr).splitlines():
		t.note(f"  | {line}")
	return cp


def ctl_json(t, *words, **kw):
	"""vncrelayctl -j WORDS: must exit 0 with one JSON object (no
	"error" in it) on stdout and nothing on stderr; returns the object."""
	what = "vncrelayctl " + " ".join(words)
	cp = ctl_run(t, words, raw=True, **kw)
	t.expect(cp.returncode == 0, f"{what}: exit {cp.returncode}, "
	    f"stderr {cp.stderr.strip()!r}")
	t.expect(cp.stderr == "", f"{what}: stderr {cp.stderr!r}")
	try:
		j = json.loads(cp.stdout)
	except ValueError:
		t.fail(f"{what}: not JSON: {cp.stdout[:200]!r}")
	t.expect(isinstance(j, dict), f"{what}: not an object: {j!r}")
	t.expect("error" not in j, f"{what}: error {j.get('error')!r}")
	return j


def ctl_refused(t, *words, **kw):
	"""vncrelayctl WORDS must fail: exit 1, nothing on stdout, one line
	"vncrelayctl: MESSAGE" on stderr; returns MESSAGE."""
	what = "vncrelayctl " + " ".join(words)
	cp = ctl_run(t, words, raw=kw.pop("raw", False), **kw)
	t.expect(cp.returncode == 1, f"{what}: exit {cp.returncode}, want 1 "
	    f"(stdout {cp.stdout[:120]!r})")
	t.expect(cp.stdout == "", f"{what}: stdout {cp.stdout[:120]!r}")
	m = re.fullmatch(r"vncrelayctl: (.+)\n", cp.stderr)
	t.expect(m is not None, f"{what}: stderr {cp.stderr!r}, want "
	    "one line \"vncrelayctl: ...\"")
	return m.group(1)


def human_fields(text):
	"""The "key: value" lines vncrelayctl prints without -j, as a dict
	(nested keys are indented; only the first occurrence of a key)."""
	out = {}
	for line in text.splitlines():
		m = re.fullmatch(r"\s*([A-Za-z_]+): (.*)", line)
		if m and m.group(1) not in out:
			out[m.group(1)] = m.group(2)
	return out


# -- secrets ----------------------------------------------------------------

def hs256_key(t, name="k1.key"):
	"""A fresh HS256 secret in {tmp}/NAME, mode 0600 and owned by root as
	the daemon demands; returns (path, secret bytes).  The file holds no
	newline, so the secret is the file."""
	secret = secrets.token_hex(32)
	lib_token.case_secrets(t).add_bytes(f"HS256 secret in {name}",
	    secret.encode())
	path = t.write_file(name, secret, mode=0o600)
	return path, secret.encode()


def api_key(t):
	"""(key, lower-case hex SHA-256 of the key) for an api-key section."""
	key = "vrk-" + secrets.token_urlsafe(33)
	lib_token.case_secrets(t).add("API key", key)
	return key, hashlib.sha256(key.encode()).hexdigest()


def check_token(t, token, secret, target, sub, ttl):
	"""Verify a console token: HS256 with secret, target and sub as
	given, exp = iat + ttl, a jti.  Returns the claims."""
	import jwt
	lib_token.case_secrets(t).add_token("token checked", token)
	try:
		header = jwt.get_unverified_header(token)
		claims = jwt.decode(token, secret, algorithms=["HS256"],
		    options={"require": ["exp", "iat", "jti"],
		    "verify_exp": True})
	except jwt.PyJWTError as e:
		t.fail(f"token does not verify with the configured key: {e!r}")
	t.expect(header.get("alg") == "HS256", f"token header {header}")
	t.expect(claims.get("target") in (target, [target]),
	    f"token target {claims.get('target')!r}, want {target!r}")
	t.expect(claims.get("sub") == sub,
	    f"token sub {claims.get('sub')!r}, want {sub!r}")
	t.expect(claims["exp"] - claims["iat"] == ttl,
	    f"token lifetime {claims['exp'] - claims['iat']}, want {ttl}")
	return claims


# -- the log ----------------------------------------------------------------

def log_session_start(t, user, since=0, timeout=20):
	"""(worker index, session id) from the "session start" line of the
	session whose token named user."""
	m = t.wait_log(r"\bworker(\d+): session start id=(\d+) .*"
	    rf"\buser={re.escape(user)} ", timeout=timeout, since=since)
	return int(m.group(1)), int(m.group(2))


# -- WebSocket sessions -----------------------------------------------------

def run_async(t, coro, timeout):
	"""Run coro to its end, or fail the case after timeout seconds."""
	async def bounded():
		try:
			return await asyncio.wait_for(coro, timeout)
		except asyncio.TimeoutError:
			t.fail(f"client did not finish within {timeout}s")
	return asyncio.run(bounded())


class Session:
	"""One WebSocket console session in binary mode (python3-websockets),
	with the bytes of the stream kept apart from the messages."""

	def __init__(self, t, uri, name):
		self.t = t
		self.uri = uri
		self.name = name
		self.ws = None
		self.buf = bytearray()
		self.texts = []

	async def open(self, timeout=20):
		import websockets
		try:
			self.ws = await websockets.connect(self.uri,
			    subprotocols=["binary"], compression=None,
			    max_size=None, open_timeout=timeout,
			    close_timeout=10, ping_interval=None)
		except websockets.exceptions.InvalidStatusCode as e:
			self.t.fail(f"{self.name}: upgrade refused with HTTP "
			    f"{e.status_code}")
		except (OSError, websockets.exceptions.WebSocketException) \
		    as e:
			self.t.fail(f"{self.name}: cannot connect: {e!r}")
		self.t.note(f"{self.name}: open, subprotocol "
		    f"{self.ws.subprotocol!r}")
		return self

	async def _next(self, timeout):
		"""The next message, or None once the connection is closed."""
		import websockets
		try:
			return await asyncio.wait_for(self.ws.recv(), timeout)
		except asyncio.TimeoutError:
			self.t.fail(f"{self.name}: nothing came within "
			    f"{timeout}s")
		except websockets.exceptions.ConnectionClosed:
			return None

	async def read(self, n, timeout=20):
		"""Exactly n bytes of the stream (binary messages only)."""
		for _ in range(100000):
			if len(self.buf) >= n:
				break
			msg = await self._next(timeout)
			if msg is None:
				self.t.fail(f"{self.name}: closed ({self.ws.close_code}"
				    f" {self.ws.close_reason!r}) with "
				    f"{n - len(self.buf)} bytes still to come")
			if isinstance(msg, str):
				self.t.fail(f"{self.name}: a text message "
				    f"{msg[:120]!r} in binary mode")
			self.buf += msg
		out = bytes(self.buf[:n])
		del self.buf[:n]
		return out

	async def banner(self):
		b = await self.read(12)
		self.t.expect(b == b"RFB 003.008\n",
		    f"{self.name}: banner {b!r}")

	async def echo(self, data, timeout=30):
		"""Send data in a few messages and read it back from the echo
		peer; the bytes must come back the same, in order."""
		cuts = [0, 1, len(data) // 3, len(data)]
		for a, b in zip(cuts, cuts[1:]):
			if b > a:
				await self.ws.send(data[a:b])
		back = await self.read(len(data), timeout)
		self.t.expect(back == data, f"{self.name}: the echo of "
		    f"{len(data)} bytes differs from what was sent")

	async def closed(self, timeout=20):
		"""Wait for the server's close; returns (code, reason).  Text
		messages seen on the way are kept in .texts; binary data in
		.buf."""
		for _ in range(100000):
			msg = await self._next(timeout)
			if msg is None:
				break
			if isinstance(msg, str):
				self.texts.append(msg)
			else:
				self.buf += msg
		await asyncio.wait_for(self.ws.wait_closed(), timeout)
		self.t.note(f"{self.name}: closed {self.ws.close_code} "
		    f"{self.ws.close_reason!r}")
		return self.ws.close_code, self.ws.close_reason

	async def close(self):
		"""Close from our side; returns the close code the server sent
		back."""
		await self.ws.close()
		return self.ws.close_code

	def alive(self):
		return self.ws is not None and self.ws.open


def nbytes(n, seed):
	"""n deterministic bytes that differ with seed."""
	out = bytearray()
	for i in range((n + 31) // 32):
		out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
	return bytes(out[:n])


async def blocking(func, *args, **kw):
	"""Run a blocking helper (vncrelayctl, t.wait_log) in a thread, so
	the sessions' event loop keeps answering pings meanwhile."""
	return await asyncio.to_thread(func, *args, **kw)
