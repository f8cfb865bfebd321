"""
lib_relay.py: what the relay_*, http_* and browser_* cases share beside
regress/harness.py.

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import lib_relay

- helper processes (Xvnc, qemu, xsetroot, node) started with start_child()
  are put on t.peers, so the harness stops them, by pid, when the case
  ends, however it ends (with what they started in their own session);
  so are Tripwire listeners (count who connects);
- make_certs(t): a test CA and a server certificate (regress/mock/mkcerts.sh)
  with the key at mode 0600, as the daemon demands;
- start_xvnc(t) / start_qemu(t): real VNC servers on a free port;
- WSStream and rfb_handshake(): the RFB opening over python3-websockets;
- raw HTTP on a plain socket (http_raw, parse_response) for requests
  http.client will not send;
- client_data(), bulk_echo(), Drain: deterministic bulk data, sent and
  read back with digests (Drain reads a rawws connection in a thread);
- session_worker(t), rss_kib(pid), listening(port), tcp_queues(),
  tcp_sockets(): /proc and the log.
"""

import asyncio
import base64
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers")
MOCK = os.path.join(HERE, "mock")
TOP = os.path.dirname(HERE)
ARTIFACTS = os.environ.get("REGRESS_ARTIFACTS",
    os.path.join(HERE, "artifacts"))
if PEERS not in sys.path:
	sys.path.insert(0, PEERS)

import harness		# noqa: E402  (free_port)
import rawws		# noqa: E402

# A case runs inside harness.py as __main__: its Failure and Skip are the
# ones that count, not those of a second copy imported here.
_main = sys.modules.get("__main__")
Failure = getattr(_main, "Failure", harness.Failure)
Skip = getattr(_main, "Skip", harness.Skip)


# -- helper processes -------------------------------------------------------

class Child:
	"""A process a case started; stop() ends it by pid, and only it."""

	def __init__(self, t, argv, name, env=None, out=None, shown=None):
		self.t = t
		self.name = name
		self.argv = argv
		self.out = out or os.path.join(t.tmp, f"{name}.out")
		self.outf = open(self.out, "wb")
		# shown: argv as the log may tell it (a password left out).
		t.note(f"starting {name}: {shown or argv}")
		self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
		    stdout=self.outf, stderr=subprocess.STDOUT, env=env,
		    cwd=t.tmp, start_new_session=True)
		self.pid = self.popen.pid

	def running(self):
		return self.popen.poll() is None

	def output(self):
		self.outf.flush()
		with open(self.out, "rb") as f:
			return f.read().decode("utf-8", "replace")

	def wait(self, timeout):
		"""The exit status, or None if still running after timeout."""
		try:
			return self.popen.wait(timeout)
		except subprocess.TimeoutExpired:
			return None

	def stop(self):
		if self.popen.poll() is None:
			self.t.note(f"stopping {self.name} pid {self.pid}")
			self.popen.send_signal(signal.SIGTERM)
			if self.wait(10) is None:
				self.popen.kill()
				self.popen.wait(10)
		# What it started (a browser under node) is in its session.
		for pid in session_members(self.pid):
			self.t.note(f"stopping {self.name}'s leftover {pid}")
			try:
				os.kill(pid, signal.SIGKILL)
			except ProcessLookupError:
				pass
		self.outf.close()


def session_members(sid):
	"""Pids of the live processes in session sid (a Child is the leader
	of its own session, so these are what it started)."""
	out = []
	for name in os.listdir("/proc"):
		if not name.isdigit() or int(name) == sid:
			continue
		try:
			with open(f"/proc/{name}/stat") as f:
				stat = f.read()
		except OSError:
			continue
		rest = stat[stat.rindex(")") + 2:].split()
		if int(rest[3]) == sid and rest[0] != "Z":
			out.append(int(name))
	return out


def start_child(t, argv, name, env=None, out=None, shown=None):
	c = Child(t, argv, name, env=env, out=out, shown=shown)
	t.peers.append(c)
	return c


# -- sockets and /proc ------------------------------------------------------

def listening(port, host=None):
	"""Whether some socket listens on TCP port (and host, if given),
	from /proc/net/tcp{,6}: it does not connect, so a server that
	counts its clients sees nothing."""
	want = f"{port:04X}"
	for name in ("/proc/net/tcp", "/proc/net/tcp6"):
		try:
			with open(name) as f:
				lines = f.readlines()[1:]
		except OSError:
			continue
		for line in lines:
			fields = line.split()
			addr, lport = fields[1].rsplit(":", 1)
			if lport != want or fields[3] != "0A":
				continue
			if host is None or (len(addr) == 8 and
			    socket.inet_ntoa(bytes.fromhex(addr)[::-1]) ==
			    host):
				return True
	return False


def rss_kib(pid):
	"""VmRSS of pid in KiB."""
	with open(f"/proc/{pid}/status") as f:
		for line in f:
			if line.startswith("VmRSS:"):
				return int(line.split()[1])
	raise Failure(f"no VmRSS for pid {pid}")


def peak_rss_kib(pid, samples=30):
	"""The most VmRSS of pid in KiB over samples taken 0.1 s apart."""
	peak = 0
	for _ in range(samples):
		peak = max(peak, rss_kib(pid))
		time.sleep(0.1)
	return peak


def wait_upstream_unread(t, port):
	"""Waits until the daemon leaves bytes unread in its socket from the
	peer on port: it stopped reading the console."""
	t.wait_for("the daemon leaving the peer's bytes unread upstream",
	    lambda: any(rx > 0 for _, _, _, rx in
	    tcp_sockets(remote_port=port)), timeout=60)


def session_worker(t, since=0, timeout=20):
	"""(worker index, pid, session id) of the next "session start"."""
	m = t.wait_log(r"\bworker(\d+): session start id=(\d+) ",
	    timeout=timeout, since=since)
	k, sid = int(m.group(1)), int(m.group(2))
	pid = t.workers().get(k)
	t.expect(pid is not None, f"no worker {k} among {t.workers()}")
	return k, pid, sid


def free_port_on(hosts):
	"""A TCP port free on every one of hosts at once."""
	for _ in range(50):
		port = harness.free_port()
		socks = []
		try:
			for h in hosts:
				s = socket.socket(socket.AF_INET6 if ":" in h
				    else socket.AF_INET, socket.SOCK_STREAM)
				socks.append(s)
				s.bind((h, port))
			return port
		except OSError:
			continue
		finally:
			for s in socks:
				s.close()
	raise Failure(f"no port free on all of {hosts}")


# -- certificates -----------------------------------------------------------

def make_certs(t):
	"""Run mock/mkcerts.sh into {tmp}/pki; returns {"ca", "cert", "key"}.
	The daemon wants its key file private, so it gets mode 0600."""
	pki = os.path.join(t.tmp, "pki")
	if not os.path.exists(os.path.join(pki, "server.pem")):
		subprocess.run(["sh", os.path.join(MOCK, "mkcerts.sh"), pki],
		    check=True, stdout=subprocess.DEVNULL,
		    stderr=subprocess.DEVNULL, timeout=60)
		os.chmod(os.path.join(pki, "server.key"), 0o600)
	return {"ca": os.path.join(pki, "ca.pem"),
	    "cert": os.path.join(pki, "server.pem"),
	    "key": os.path.join(pki, "server.key")}


def client_tls(ca):
	"""A client context that trusts only the test CA, names checked."""
	ctx = ssl.create_default_context(cafile=ca)
	ctx.check_hostname = True
	ctx.verify_mode = ssl.CERT_REQUIRED
	return ctx


# -- real VNC servers -------------------------------------------------------

def _free_display():
	for n in range(40, 200):
		if not (os.path.exists(f"/tmp/.X{n}-lock") or
		    os.path.exists(f"/tmp/.X11-unix/X{n}")):
			yield n


def start_xvnc(t, geometry="800x600", desktop="regress-xvnc", tries=5):
	"""Debian's Xvnc on a free display and port, security None,
	loopback only.  Returns the Child with .display and .port."""
	if shutil.which("Xvnc") is None:
		t.skip("Xvnc is missing (apt-get install "
		    "tigervnc-standalone-server)")
	displays = _free_display()
	for attempt in range(tries):
		n = next(displays)
		port = harness.free_port()
		x = start_child(t, ["Xvnc", f":{n}", "-rfbport", str(port),
		    "-SecurityTypes", "None", "-geometry", geometry,
		    "-localhost", "-nolisten", "tcp", "-desktop", desktop,
		    "-AlwaysShared"], f"xvnc{n}")
		x.display, x.port = n, port
		ok = t.wait_for(f"Xvnc :{n} listening on {port}", lambda:
		    listening(port, "127.0.0.1") or not x.running(),
		    timeout=30)
		if ok and x.running():
			return x
		t.note(f"Xvnc :{n} exited: {x.output()[-400:]!r}")
	t.fail(f"Xvnc did not start in {tries} tries")


def paint_root(t, x, colour, pattern_on=None):
	"""Paint the X root window of Xvnc x in one colour (xsetroot), or in
	a 16x16 grid of pattern_on on colour."""
	if shutil.which("xsetroot") is None:
		t.skip("xsetroot is missing (apt-get install x11-xserver-utils)")
	env = dict(os.environ, DISPLAY=f":{x.display}")
	env.pop("XAUTHORITY", None)
	args = ["-solid", colour] if pattern_on is None else \
	    ["-mod", "16", "16", "-fg", pattern_on, "-bg", colour]
	c = start_child(t, ["xsetroot"] + args, "xsetroot", env=env)
	t.expect(c.wait(30) == 0, f"xsetroot failed: {c.output()!r}")


def start_qemu(t, name="regress", tries=5):
	"""qemu-system-x86_64 with only a VGA card and its VNC server on
	127.0.0.1 (it shows the firmware screen).  Skips when missing."""
	qemu = shutil.which("qemu-system-x86_64")
	if qemu is None:
		t.skip("qemu-system-x86_64 is missing")
	for attempt in range(tries):
		port = None
		for n in range(100, 400):
			if not listening(5900 + n):
				try:
					with socket.socket() as s:
						s.bind(("127.0.0.1", 5900 + n))
					port = 5900 + n
					break
				except OSError:
					continue
		t.expect(port is not None, "no free VNC port for qemu")
		q = start_child(t, [qemu, "-display", "none", "-vnc",
		    f"127.0.0.1:{port - 5900}", "-nodefaults", "-vga", "std",
		    "-machine", "pc", "-m", "64", "-name", name,
		    "-monitor", "none", "-serial", "none"], f"qemu{port}")
		q.port = port
		ok = t.wait_for(f"qemu listening on {port}", lambda:
		    listening(port, "127.0.0.1") or not q.running(),
		    timeout=60)
		if ok and q.running():
			return q
		t.note(f"qemu exited: {q.output()[-400:]!r}")
	t.fail(f"qemu did not start in {tries} tries")


# -- the console in headless Chromium (regress/browser) ----------------------

BROWSER_SCRIPT = os.path.join(HERE, "browser", "console-test.mjs")


def browser_tools(t):
	"""Skip unless node, chromium, playwright-core and build/www are
	there."""
	for tool in ("node", "chromium"):
		if shutil.which(tool) is None:
			t.skip(f"{tool} is missing")
	if not os.path.isdir(os.path.join(TOP, "node_modules",
	    "playwright-core")):
		t.skip("node_modules/playwright-core is missing (npm ci)")
	if not os.path.exists(os.path.join(TOP, "build", "www",
	    "console.html")):
		t.skip("build/www is not built (make www)")


def copy_webroot(t):
	"""A private copy of build/www in {tmp}/www, so that a `make www`
	meanwhile (which swaps build/www) cannot pull the files from under
	the daemon."""
	dst = os.path.join(t.tmp, "www")
	shutil.copytree(os.path.join(TOP, "build", "www"), dst)
	subprocess.run(["chmod", "-R", "u=rwX,go=rX", dst], check=True,
	    timeout=30)


def _hide_token(text):
	return re.sub(r"(token=)[^&#\s'\"]+", r"\1<hidden>", text)


def browse(t, what, url, target, route, extra=()):
	"""console-test.mjs on url must end "ok state=connected" with a
	screenshot (regress/artifacts/CASE-what.png), and the daemon must log
	a session start on route (a regex) to target (a regex).  A token in
	the URL is left out of the case's log."""
	shot = os.path.join(ARTIFACTS, f"{t.name}-{what}.png")
	if os.path.exists(shot):
		os.unlink(shot)
	mark = t.mark()
	argv = ["node", BROWSER_SCRIPT, url, shot, "--timeout", "45000"] + \
	    list(extra)
	node = start_child(t, argv, f"node-{what}",
	    shown=[_hide_token(a) for a in argv])
	status = node.wait(90)
	out = _hide_token(node.output())
	node.stop()
	for line in out.splitlines():
		t.note(f"{what}: {line}")
	t.expect(status is not None, f"{what}: console-test still running "
	    "after 90s")
	last = out.strip().splitlines()[-1] if out.strip() else ""
	t.expect(status == 0 and last.startswith("console-test: ok "
	    "state=connected"), f"{what}: {last or f'exit {status}'}")
	t.expect(os.path.exists(shot), f"{what}: no screenshot {shot}")
	t.wait_log(r"\bworker\d+: session start id=\d+ client=127\.0\.0\.1 "
	    rf"route={route} target={target} ", since=mark)


# -- WebSocket clients (python3-websockets) --------------------------------

def run_async(coro, timeout):
	"""Run coro to its end, or fail the case after timeout seconds."""
	async def bounded():
		try:
			return await asyncio.wait_for(coro, timeout)
		except asyncio.TimeoutError:
			raise Failure(f"client did not finish within "
			    f"{timeout}s") from None
	return asyncio.run(bounded())


class WSStream:
	"""The byte stream inside a WebSocket: binary messages as they are,
	text messages base64-decoded when the session is in base64 mode."""

	def __init__(self, ws, b64=False):
		self.ws = ws
		self.b64 = b64
		self.buf = bytearray()
		self.sent = 0
		self.kinds = set()

	async def read(self, n, timeout=20):
		while len(self.buf) < n:
			try:
				msg = await asyncio.wait_for(self.ws.recv(),
				    timeout)
			except asyncio.TimeoutError:
				raise Failure(f"waited {timeout}s for "
				    f"{n - len(self.buf)} more bytes") from None
			self.kinds.add(type(msg).__name__)
			if isinstance(msg, str):
				if not self.b64:
					raise Failure("a text message "
					    f"in binary mode: {msg[:80]!r}")
				msg = base64.b64decode(msg, validate=True)
			self.buf += msg
		out = bytes(self.buf[:n])
		del self.buf[:n]
		return out

	async def write(self, data):
		self.sent += len(data)
		if self.b64:
			await self.ws.send(base64.b64encode(data).decode())
		else:
			await self.ws.send(data)


async def rfb_handshake(s):
	"""The RFB 3.8 opening with security None up to ServerInit; returns
	a dict with width, height, bpp, depth, big_endian, true_colour,
	max and shift (r, g, b), and name."""
	banner = await s.read(12)
	if banner != b"RFB 003.008\n":
		raise Failure(f"banner {banner!r}")
	await s.write(b"RFB 003.008\n")
	n = (await s.read(1))[0]
	if n == 0:
		size = struct.unpack("!I", await s.read(4))[0]
		why = await s.read(min(size, 4096))
		raise Failure(f"server refused the version: {why!r}")
	types = await s.read(n)
	if 1 not in types:
		raise Failure(f"no security type None in {list(types)}")
	await s.write(b"\x01")
	result = struct.unpack("!I", await s.read(4))[0]
	if result != 0:
		raise Failure(f"SecurityResult {result}")
	await s.write(b"\x01")		# ClientInit: shared
	si = await s.read(24)
	(w, h, bpp, depth, big, tc, rmax, gmax, bmax, rs, gs, bs,
	    namelen) = struct.unpack("!HHBBBBHHHBBB3xI", si)
	name = (await s.read(namelen)).decode("utf-8", "replace")
	return {"width": w, "height": h, "bpp": bpp, "depth": depth,
	    "big_endian": big, "true_colour": tc, "max": (rmax, gmax, bmax),
	    "shift": (rs, gs, bs), "name": name}


async def rfb_full_update(s, si, max_rects=10000, resize=False):
	"""Ask for a non-incremental update of the whole screen in Raw
	encoding and read it; returns a list of (x, y, w, h, pixels).
	With resize, the client also announces DesktopSize (-223), so a
	server whose screen changes size (a PC's firmware switching video
	modes) says so; si then takes the new size, and that rectangle is
	not in the list."""
	encodings = [0, -223] if resize else [0]
	await s.write(struct.pack(f"!BxH{len(encodings)}i", 2,
	    len(encodings), *encodings))		# SetEncodings
	await s.write(struct.pack("!BBHHHH", 3, 0, 0, 0, si["width"],
	    si["height"]))				# FramebufferUpdateRequest
	for _ in range(100):
		kind = (await s.read(1))[0]
		if kind == 0:
			break
		if kind == 2:				# Bell
			continue
		if kind == 1:				# SetColourMapEntries
			_, _, count = struct.unpack("!xHH", await s.read(5))
			await s.read(6 * count)
			continue
		if kind == 3:				# ServerCutText
			size = struct.unpack("!3xI", await s.read(7))[0]
			await s.read(size)
			continue
		raise Failure(f"server message type {kind}")
	count = struct.unpack("!xH", await s.read(3))[0]
	rects = []
	bypp = si["bpp"] // 8
	for _ in range(min(count, max_rects)):
		x, y, w, h, enc = struct.unpack("!HHHHi", await s.read(12))
		if enc == -223 and resize:
			si["width"], si["height"] = w, h
			continue
		if enc != 0:
			raise Failure(f"rectangle encoding {enc}, "
			    f"asked for {encodings} only")
		rects.append((x, y, w, h, await s.read(w * h * bypp, 60)))
	return rects


def pixel_counts(si, rects):
	"""{(r, g, b): count} over the rectangles, colours scaled to 0..255."""
	bypp = si["bpp"] // 8
	order = "big" if si["big_endian"] else "little"
	counts = {}
	for x, y, w, h, data in rects:
		for i in range(0, len(data), bypp):
			v = int.from_bytes(data[i:i + bypp], order)
			counts[v] = counts.get(v, 0) + 1
	out = {}
	for v, k in counts.items():
		rgb = tuple(((v >> s) & m) * 255 // max(m, 1)
		    for s, m in zip(si["shift"], si["max"]))
		out[rgb] = out.get(rgb, 0) + k
	return out


# -- raw HTTP --------------------------------------------------------------

def http_raw(host, port, data, timeout=10, tls=False, ca=None):
	"""Send data, read until the server closes (or timeout); returns
	(bytes, closed_by_server)."""
	sock = socket.create_connection((host, port), timeout=timeout)
	if tls:
		sock = client_tls(ca).wrap_socket(sock,
		    server_hostname="localhost")
	got = bytearray()
	closed = False
	deadline = time.monotonic() + timeout
	try:
		sock.sendall(data)
		for _ in range(100000):
			left = deadline - time.monotonic()
			if left <= 0:
				break
			sock.settimeout(left)
			try:
				chunk = sock.recv(65536)
			except socket.timeout:
				break
			except ConnectionResetError:
				closed = True
				break
			if not chunk:
				closed = True
				break
			got += chunk
	finally:
		sock.close()
	return bytes(got), closed


def parse_response(raw):
	"""(status, {lower-case name: value, ...}, body, [header lines])
	of one response; a repeated header's values are joined by ", "."""
	head, sep, body = raw.partition(b"\r\n\r\n")
	if not sep:
		raise Failure(f"no complete response head: {raw[:200]!r}")
	lines = head.decode("iso-8859-1").split("\r\n")
	parts = lines[0].split(" ", 2)
	if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
		raise Failure(f"bad status line {lines[0]!r}")
	headers = {}
	for line in lines[1:]:
		k, _, v = line.partition(":")
		k, v = k.strip().lower(), v.strip()
		headers[k] = headers[k] + ", " + v if k in headers else v
	return int(parts[1]), headers, body, lines[1:]


def request(path, method="GET", host="127.0.0.1", extra=(), close=True):
	"""A request head as bytes."""
	lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
	lines += list(extra)
	if close:
		lines.append("Connection: close")
	return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- a reader thread for rawws ----------------------------------------------

class Drain(threading.Thread):
	"""Reads a (plain, not TLS) rawws connection's data in the
	background, hashing it, until want bytes arrived, a close frame or
	EOF; with b64, each text message is base64-decoded on its own.  It
	reads through a duplicate of the socket, so that its timeouts and
	the sender's do not meet; afterwards .ws goes on reading."""

	def __init__(self, ws, want, hasher, timeout=120, b64=False):
		super().__init__(daemon=True)
		dup = socket.socket(fileno=os.dup(ws.sock.fileno()))
		self.ws = rawws.RawWS(dup, timeout)
		self.ws.buf, ws.buf = ws.buf, b""
		self.want, self.hasher = want, hasher
		self.timeout = timeout
		self.b64 = b64
		self.got = 0
		self.frames = 0
		self.pongs = 0
		self.close = None
		self.error = None

	def run(self):
		deadline = time.monotonic() + self.timeout
		text = b""
		try:
			for _ in range(10 ** 8):
				if self.got >= self.want:
					return
				left = deadline - time.monotonic()
				if left <= 0:
					self.error = "timed out"
					return
				f = self.ws.recv_frame(left)
				if f is None or f.opcode == rawws.OP_CLOSE:
					self.close = f
					return
				if f.opcode == rawws.OP_PONG:
					self.pongs += 1
				if f.opcode not in (rawws.OP_CONT,
				    rawws.OP_TEXT, rawws.OP_BINARY):
					continue
				self.frames += 1
				data = f.payload
				if self.b64:
					text += data
					if not f.fin:
						continue
					data = base64.b64decode(text,
					    validate=True)
					text = b""
				self.hasher.update(data)
				self.got += len(data)
		except Exception as e:		# reported by the case
			self.error = repr(e)

	def finish(self, timeout):
		"""Wait for the thread; whether it ended."""
		self.join(timeout)
		return not self.is_alive()


# -- bulk data -------------------------------------------------------------

def client_data(total, sizes, seed="client"):
	"""Deterministic pieces adding up to total bytes, cycling through
	sizes (so that message and buffer boundaries fall everywhere)."""
	import vncpeer
	block = vncpeer.CHUNK
	pos, k = 0, 0
	for _ in range(total + 1):
		if pos >= total:
			return
		n = min(sizes[k % len(sizes)], total - pos)
		first, last = pos // block, (pos + n - 1) // block
		data = b"".join(vncpeer.flood_chunk(seed, i)
		    for i in range(first, last + 1))
		off = pos - first * block
		yield data[off:off + n]
		pos += n
		k += 1


async def bulk_echo(s, total, sizes):
	"""Through an echo peer: send total bytes in pieces of sizes while
	reading the echo back; returns (sha256 sent, sha256 received,
	bytes received)."""
	return await echo_pieces(s, client_data(total, sizes), total)


async def echo_pieces(s, pieces, total):
	"""Through an echo: send the pieces (total bytes in all) while
	reading the echo back; returns (sha256 sent, sha256 received, bytes
	received)."""
	import hashlib
	sent, got = hashlib.sha256(), hashlib.sha256()
	count = 0

	async def sender():
		for piece in pieces:
			sent.update(piece)
			await s.write(piece)

	task = asyncio.ensure_future(sender())
	try:
		while count < total:
			data = await s.read(min(65536, total - count), 60)
			got.update(data)
			count += len(data)
		await task
	finally:
		task.cancel()
	return sent.hexdigest(), got.hexdigest(), count


def tcp_queues(local_port, remote_port):
	"""(tx_queue, rx_queue) in bytes of the IPv4 TCP socket from
	local_port to remote_port, from /proc/net/tcp; None if none."""
	want = (f"{local_port:04X}", f"{remote_port:04X}")
	with open("/proc/net/tcp") as f:
		for line in f.readlines()[1:]:
			fields = line.split()
			if (fields[1].rsplit(":", 1)[1],
			    fields[2].rsplit(":", 1)[1]) == want:
				tx, rx = fields[4].split(":")
				return int(tx, 16), int(rx, 16)
	return None


class Blackhole:
	"""A listener with backlog 0 whose queue we fill ourselves: the
	kernel then drops every further SYN, and connect() just waits (in
	SYN_SENT).  Skips the case where a full queue does not do that."""

	def __init__(self, t):
		self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(0)
		self.port = self.ls.getsockname()[1]
		self.fillers = []
		for _ in range(16):
			s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			s.setblocking(False)
			self.fillers.append(s)
			s.connect_ex(("127.0.0.1", self.port))
			_, w, _ = select.select([], [s], [], 1.0)
			if not w:
				return		# this one hangs: the queue is full
		t.skip("cannot fill a listen queue here: connect() never hangs")

	def syn_sent(self):
		"""Whether some socket is in SYN_SENT to the hole."""
		want = f"0100007F:{self.port:04X}"
		with open("/proc/net/tcp") as f:
			return any(line.split()[2] == want and
			    line.split()[3] == "02" for line in f.readlines()[1:])

	def stop(self):
		for s in self.fillers:
			s.close()
		self.ls.close()


class Tripwire:
	"""A listening socket that only counts who connects to it: for
	showing that the daemon did not connect somewhere.  The kernel
	completes connections before accept(), so none goes unseen."""

	def __init__(self, host, port):
		family = socket.AF_INET6 if ":" in host else socket.AF_INET
		self.sock = socket.socket(family, socket.SOCK_STREAM)
		self.sock.bind((host, port))
		self.sock.listen(64)
		self.sock.setblocking(False)
		self.where = f"{host} port {port}"
		self.seen = []

	def hits(self):
		for _ in range(1000):
			try:
				conn, addr = self.sock.accept()
			except BlockingIOError:
				break
			self.seen.append(addr)
			conn.close()
		return len(self.seen)

	def stop(self):
		self.sock.close()


def tcp_sockets(remote_port=None, local_port=None):
	"""[(local_port, remote_port, tx_queue, rx_queue)] of the IPv4 TCP
	sockets in /proc/net/tcp matching the ports given."""
	out = []
	with open("/proc/net/tcp") as f:
		for line in f.readlines()[1:]:
			fields = line.split()
			lp = int(fields[1].rsplit(":", 1)[1], 16)
			rp = int(fields[2].rsplit(":", 1)[1], 16)
			if remote_port is not None and rp != remote_port:
				continue
			if local_port is not None and lp != local_port:
				continue
			tx, rx = (int(v, 16) for v in fields[4].split(":"))
			out.append((lp, rp, tx, rx))
	return out
