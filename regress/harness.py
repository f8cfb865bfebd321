#!/usr/bin/python3
"""
The regress harness: runs one case file against the real daemon.

    /usr/bin/python3 regress/harness.py regress/cases/NAME.py

A case file holds a CONFIG string and a function run(t).  The object t (a
Case) writes the configuration, starts `vncrelayd -d -vv -f CONF`, reads
its log, and offers small helpers to look at the process tree, /proc, the
log, and to talk HTTP.  On the case's end the daemon is stopped with
SIGTERM, by pid, and only the processes the case started are ever
signalled.  The last line printed is "PASS name", "FAIL name: why" or
"SKIP name: why"; regress/run collects those lines.

Any "master: lost child" line that the case did not announce with
t.expect_lost_child() fails the case, and so does any report of ASan,
UBSan or LeakSanitizer in the daemon's output (`make regress SANITIZE=1`).
"""

import http.client
import importlib.util
import os
import pwd
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True

REGRESS = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(REGRESS)
# A compact JWS: base64url of '{"' starts its header.
TOKEN_RE = r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
ARTIFACTS = os.environ.get("REGRESS_ARTIFACTS",
    os.path.join(REGRESS, "artifacts"))
PEERS = os.path.join(REGRESS, "peers")
PYTHON = "/usr/bin/python3"
DAEMON_USER = "_vncrelayd"
DEFAULT_TIMEOUT = 120		# seconds a case may run, set TIMEOUT to change

LOST_RE = re.compile(r"\bmaster: lost child (\S+) pid=(\d+) status=(.*)$")
STARTED_RE = re.compile(r"\bmaster: started (\S+) pid=(\d+)")
STARTUP_RE = re.compile(r"\bmaster: startup version=\S+ workers=(\d+)")
SUBST_RE = re.compile(r"\{(port\d*|webroot|tmp|cert|key|conf)\}")
SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|"
    r"runtime error: |SUMMARY: UndefinedBehaviorSanitizer")


class Failure(Exception):
	"""The case found the daemon misbehaving."""


class Skip(Exception):
	"""The case cannot run here (a tool is missing, say)."""


def daemon_binary():
	return os.environ.get("VNCRELAYD",
	    os.path.join(TOP, "build", "debug", "vncrelayd"))


def daemon_sanitized():
	"""Whether the daemon under test is the ASan/UBSan build, whose
	allocator (redzones, quarantine) makes its RSS no measure of ours."""
	return os.path.basename(os.path.dirname(os.path.dirname(
	    daemon_binary()))) == "asan"


def free_port(family=socket.AF_INET):
	"""A TCP port that nothing listened on a moment ago."""
	host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
	with socket.socket(family, socket.SOCK_STREAM) as s:
		s.bind((host, 0))
		return s.getsockname()[1]


def ensure_daemon_user():
	"""Create the unprivileged user as `make deps` does, if missing."""
	try:
		return pwd.getpwnam(DAEMON_USER)
	except KeyError:
		pass
	if os.geteuid() != 0:
		raise Skip(f"user {DAEMON_USER} is missing and we are not root")
	subprocess.run(["useradd", "--system", "--no-create-home",
	    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
	    DAEMON_USER], check=True, timeout=30)
	return pwd.getpwnam(DAEMON_USER)


class Proc:
	"""One process as /proc/PID/stat and cmdline show it."""

	def __init__(self, pid):
		self.pid = pid
		with open(f"/proc/{pid}/stat", "rb") as f:
			stat = f.read().decode("ascii", "replace")
		# The command name may hold spaces and parentheses.
		rest = stat[stat.rindex(")") + 2:].split()
		self.state = rest[0]
		self.ppid = int(rest[1])
		self.starttime = int(rest[19])
		try:
			with open(f"/proc/{pid}/cmdline", "rb") as f:
				raw = f.read()
		except OSError:
			raw = b""
		self.title = raw.replace(b"\0", b" ").decode("utf-8",
		    "replace").strip()

	def __repr__(self):
		return f"<pid {self.pid} ppid {self.ppid} {self.title!r}>"


def proc_or_none(pid):
	try:
		return Proc(pid)
	except (OSError, ValueError, IndexError):
		return None


def all_procs():
	procs = []
	for name in os.listdir("/proc"):
		if name.isdigit():
			p = proc_or_none(int(name))
			if p is not None:
				procs.append(p)
	return procs


class Response:
	def __init__(self, status, reason, headers, body):
		self.status = status
		self.reason = reason
		self.headers = headers
		self.body = body

	def __repr__(self):
		return f"<HTTP {self.status} {self.reason} {len(self.body)} bytes>"


class Peer:
	"""A test upstream from regress/peers/vncpeer.py, run as a child."""

	def __init__(self, case, args):
		self.case = case
		self.lines = []
		self.cond = threading.Condition()
		self.popen = subprocess.Popen([PYTHON,
		    os.path.join(PEERS, "vncpeer.py")] + args,
		    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
		    stderr=subprocess.STDOUT)
		self.pid = self.popen.pid
		threading.Thread(target=self._read, daemon=True).start()
		m = self.wait_line(r"^vncpeer: listening on \S+ (\d+)$")
		self.port = int(m.group(1))

	def _read(self):
		for raw in self.popen.stdout:
			line = raw.decode("utf-8", "replace").rstrip("\n")
			self.case.note(f"peer {self.pid}: {line}")
			with self.cond:
				self.lines.append(line)
				self.cond.notify_all()
		with self.cond:
			self.lines.append(None)
			self.cond.notify_all()

	def wait_line(self, regex, timeout=10, since=0):
		rx = re.compile(regex)
		deadline = time.monotonic() + timeout
		with self.cond:
			while True:
				for line in self.lines[since:]:
					if line is None:
						raise Failure("peer exited before "
						    f"printing /{regex}/")
					m = rx.search(line)
					if m:
						return m
				left = deadline - time.monotonic()
				if left <= 0:
					raise Failure(f"peer never printed /{regex}/"
					    f" within {timeout}s")
				self.cond.wait(left)

	def stop(self):
		if self.popen.poll() is None:
			self.popen.terminate()
			try:
				self.popen.wait(10)
			except subprocess.TimeoutExpired:
				self.popen.kill()
				self.popen.wait(10)


class Case:
	"""What a case file's run(t) receives."""

	def __init__(self, name, module):
		self.name = name
		self.module = module
		self.bin = daemon_binary()
		self.tmp = tempfile.mkdtemp(prefix=f"vncrelayd-{name}-")
		os.chmod(self.tmp, 0o755)
		self.conf = os.path.join(self.tmp, "vncrelayd.conf")
		self.ports = {}
		self.lines = []
		self.cond = threading.Condition()
		self.lost_expected = []
		self.lost_unexpected = []
		self.sanitizer = []
		self.known = {}		# pid -> starttime of our daemon's processes
		self.popen = None
		self.pid = None
		self.peers = []
		self.eof = False
		self.last_index = None
		os.makedirs(ARTIFACTS, exist_ok=True)
		self.logfile = open(os.path.join(ARTIFACTS, name + ".log"), "w",
		    buffering=1)
		self.pidfile = os.path.join(ARTIFACTS, name + ".pids")
		self.webroot = os.path.join(TOP, "build", "www")
		if not os.path.isdir(self.webroot):
			# Not built yet: an empty web root still lets workers
			# chroot, and the cases here do not serve files.
			self.webroot = os.path.join(self.tmp, "www")
			os.makedirs(self.webroot, mode=0o755, exist_ok=True)
		self.verbose = bool(os.environ.get("REGRESS_VERBOSE"))

	# -- notes and checks ------------------------------------------------

	def note(self, text):
		"""A harness line in the case's log, between the daemon's.  A
		token in it (vncrelayctl's output, say) is written as <token>:
		logs_nosecret looks for every token in every line of the log."""
		text = re.sub(TOKEN_RE, "<token>", str(text))
		self.logfile.write(f"## {text}\n")
		if self.verbose:
			print(f"## {text}", file=sys.stderr, flush=True)

	def expect(self, cond, msg):
		"""Fail the case with msg unless cond holds."""
		if not cond:
			raise Failure(msg)

	def fail(self, msg):
		raise Failure(msg)

	def skip(self, why):
		raise Skip(why)

	def wait_for(self, what, func, timeout=10, interval=0.1):
		"""Poll func() until it returns something true; return that."""
		deadline = time.monotonic() + timeout
		for _ in range(int(timeout / interval) + 2):
			value = func()
			if value:
				return value
			if time.monotonic() >= deadline:
				break
			self._check_unexpected()
			time.sleep(interval)
		raise Failure(f"{what}: not within {timeout}s")

	# -- configuration ---------------------------------------------------

	def port_for(self, name="port"):
		if name not in self.ports:
			self.ports[name] = free_port()
		return self.ports[name]

	@property
	def port(self):
		return self.port_for("port")

	def _cert(self):
		cert = os.path.join(self.tmp, "cert.pem")
		key = os.path.join(self.tmp, "key.pem")
		if not os.path.exists(cert):
			subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
			    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
			    "-days", "2", "-subj", "/CN=localhost", "-addext",
			    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
			    "-keyout", key, "-out", cert], check=True,
			    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
			    timeout=60)
		return cert, key

	def subst(self, text):
		"""Replace {port}, {port2}, {webroot}, {tmp}, {cert}, {key},
		{conf}; leave every other brace alone (route patterns)."""
		def one(m):
			word = m.group(1)
			if word.startswith("port"):
				return str(self.port_for(word))
			if word == "webroot":
				return self.webroot
			if word == "tmp":
				return self.tmp
			if word == "conf":
				return self.conf
			cert, key = self._cert()
			return cert if word == "cert" else key
		return SUBST_RE.sub(one, text)

	def config_text(self, text):
		"""The case's configuration, then defaults for the paths that
		would otherwise be system ones.  Appending keeps the case's
		line numbers the file's line numbers."""
		text = self.subst(text).rstrip("\n") + "\n"
		extra = []
		defaults = (("webroot", self.webroot),
		    ("authd-root", os.path.join(self.tmp, "empty")),
		    ("control-socket", os.path.join(self.tmp, "control.sock")))
		for key, value in defaults:
			if not re.search(rf"(?m)^\s*{re.escape(key)}\b", text):
				extra.append(f'{key} = "{value}"')
		if extra:
			text += "# added by regress/harness.py\n"
			text += "\n".join(extra) + "\n"
		return text

	def write_file(self, name, text, mode=0o644):
		"""Write text (substituted) to a file in the case's temp dir."""
		path = os.path.join(self.tmp, name)
		with open(path, "w") as f:
			f.write(self.subst(text))
		os.chmod(path, mode)
		return path

	def write_config(self, text=None):
		"""(Re)write the daemon's configuration file."""
		if text is None:
			text = self.module.CONFIG
		with open(self.conf + ".new", "w") as f:
			f.write(self.config_text(text))
		os.chmod(self.conf + ".new", 0o644)
		os.rename(self.conf + ".new", self.conf)
		self.note(f"wrote {self.conf}")
		return self.conf

	# -- the daemon ------------------------------------------------------

	def run_daemon(self, args, timeout=30):
		"""Run the binary with args to completion (for -n); returns a
		CompletedProcess with text stdout and stderr."""
		self._need_binary()
		ensure_daemon_user()
		# Run alone, unsandboxed: a sanitizer build checks for leaks.
		cp = subprocess.run([self.bin] + list(args),
		    stdin=subprocess.DEVNULL, capture_output=True, text=True,
		    timeout=timeout, env=dict(os.environ,
		    ASAN_OPTIONS="detect_leaks=1"))
		self.note(f"ran {[self.bin] + list(args)}: exit {cp.returncode}")
		for line in (cp.stdout + cp.stderr).splitlines():
			self.note(f"  | {line}")
			if SANITIZER_RE.search(line):
				self.sanitizer.append(line)
		self._check_unexpected()
		return cp

	def _need_binary(self):
		if not os.access(self.bin, os.X_OK):
			raise Failure(f"no daemon binary at {self.bin} "
			    "(make -C /work/main debug)")

	def start(self, config=None, user=None, args=(), wait=True,
	    timeout=20, env=None, wrap=()):
		"""Write the configuration and start the daemon in the
		foreground; unless wait is false, wait for "authd: ready" and
		for every worker's "workerK: ready".  env adds to the
		environment (a sanitizer build checks for leaks only when
		ASAN_OPTIONS asks: see the case leak_sessions); wrap is a
		command that runs the daemon, such as ["prlimit", ...]."""
		self._need_binary()
		ensure_daemon_user()
		self.write_config(config)
		cmd = list(wrap) + [self.bin, "-d", "-vv", "-f", self.conf] + \
		    list(args)
		if user is not None:
			pw = pwd.getpwnam(user)
			os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
			cmd = ["setpriv", f"--reuid={pw.pw_uid}",
			    f"--regid={pw.pw_gid}", "--clear-groups", "--"] + cmd
		self.note(f"starting {cmd}")
		mark = self.mark()
		self.eof = False	# a case may start the daemon again
		self.popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
		    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
		    cwd=self.tmp, env=dict(os.environ, **(env or {})))
		self.pid = self.popen.pid
		self._remember(self.pid)
		threading.Thread(target=self._read, daemon=True).start()
		if wait:
			self.wait_ready(since=mark, timeout=timeout)
		return self.pid

	def wait_ready(self, since=0, timeout=20):
		"""Wait for the startup line, authd and all workers ready."""
		m = self.wait_log(STARTUP_RE.pattern, timeout=timeout,
		    since=since)
		self.nworkers = int(m.group(1))
		self.wait_log(r"\bauthd: ready", timeout=timeout, since=since)
		for k in range(self.nworkers):
			self.wait_log(rf"\bworker{k}: ready", timeout=timeout,
			    since=since)

	def _read(self):
		for raw in self.popen.stdout:
			line = raw.decode("utf-8", "replace").rstrip("\n")
			self.logfile.write(line + "\n")
			if self.verbose:
				print(line, file=sys.stderr, flush=True)
			m = STARTED_RE.search(line)
			if m:
				self._remember(int(m.group(2)))
			m = LOST_RE.search(line)
			if m:
				self._lost(m.group(1), line)
			if SANITIZER_RE.search(line):
				with self.cond:
					self.sanitizer.append(line)
			with self.cond:
				self.lines.append(line)
				self.cond.notify_all()
		with self.cond:
			self.eof = True
			self.cond.notify_all()

	def _lost(self, child, line):
		with self.cond:
			for i, rx in enumerate(self.lost_expected):
				if re.fullmatch(rx, child):
					del self.lost_expected[i]
					return
			self.lost_unexpected.append(line)

	def expect_lost_child(self, child=r"\S+"):
		"""Announce that one child (a regex for its name: "worker0",
		r"worker\\d+", "authd") is about to be lost on purpose."""
		with self.cond:
			self.lost_expected.append(child)

	def _check_unexpected(self):
		if self.sanitizer:
			raise Failure("sanitizer report: " +
			    self.sanitizer[0].strip())
		if self.lost_unexpected:
			raise Failure("unexpected " +
			    self.lost_unexpected[0].strip())

	def _remember(self, pid):
		p = proc_or_none(pid)
		if p is not None:
			self.known[pid] = p.starttime
			with open(self.pidfile, "w") as f:
				for k, v in self.known.items():
					f.write(f"{k} {v}\n")

	# -- the log ---------------------------------------------------------

	def mark(self):
		"""The current end of the log, for since= below."""
		with self.cond:
			return len(self.lines)

	def wait_log(self, regex, timeout=10, since=0):
		"""Wait for a log line (from index since on) in which regex
		matches anywhere; return the match (its line's index is then
		in t.last_index).  Prefixes such as a time stamp before
		"PROC:" do not matter."""
		rx = re.compile(regex)
		deadline = time.monotonic() + timeout
		i = since
		with self.cond:
			while True:
				while i < len(self.lines):
					m = rx.search(self.lines[i])
					i += 1
					if m:
						self.last_index = i - 1
						return m
				self._check_unexpected()
				if self.eof:
					raise Failure(f"daemon exited (status "
					    f"{self.popen.wait()}) before logging "
					    f"/{regex}/")
				left = deadline - time.monotonic()
				if left <= 0:
					raise Failure(f"no log line /{regex}/ "
					    f"within {timeout}s")
				self.cond.wait(min(left, 1.0))

	def log_matches(self, regex, since=0):
		"""Every match of regex in the log so far, from since on."""
		rx = re.compile(regex)
		with self.cond:
			lines = self.lines[since:]
		return [m for m in map(rx.search, lines) if m]

	# -- processes -------------------------------------------------------

	def children(self):
		"""The master's live (non-zombie) children, as Proc objects."""
		self.expect(self.pid is not None, "daemon not started")
		kids = [p for p in all_procs()
		    if p.ppid == self.pid and p.state != "Z"]
		for p in kids:
			self.known.setdefault(p.pid, p.starttime)
		return kids

	def authd(self):
		"""The authd process's pid, or None."""
		found = [p.pid for p in self.children()
		    if p.title.startswith("vncrelayd: authd")]
		self.expect(len(found) <= 1, f"more than one authd: {found}")
		return found[0] if found else None

	def workers(self):
		"""{index: pid} of the workers, by their titles."""
		out = {}
		for p in self.children():
			m = re.match(r"vncrelayd: worker (\d+)", p.title)
			if m:
				k = int(m.group(1))
				self.expect(k not in out,
				    f"two processes titled worker {k}")
				out[k] = p.pid
		return out

	def proc_status(self, pid):
		"""/proc/PID/status as a dict of strings ("Uid" -> "0 0 0 0")."""
		out = {}
		with open(f"/proc/{pid}/status") as f:
			for line in f:
				key, _, value = line.partition(":")
				out[key] = " ".join(value.split())
		return out

	def alive(self, pid):
		"""Whether pid is still one of our processes (not a zombie)."""
		p = proc_or_none(pid)
		return (p is not None and p.state != "Z" and
		    self.known.get(pid, p.starttime) == p.starttime)

	def kill(self, pid, sig):
		"""Signal one of our daemon's processes, never another."""
		p = proc_or_none(pid)
		self.expect(p is not None and (pid == self.pid or
		    p.ppid == self.pid), f"pid {pid} is not ours")
		self.note(f"kill -{int(sig)} {pid} ({p.title})")
		os.kill(pid, sig)

	def signal(self, sig):
		"""Signal the master."""
		self.kill(self.pid, sig)

	def reload(self, text):
		"""Rewrite the configuration and send SIGHUP; returns the log
		mark taken before the signal."""
		self.write_config(text)
		mark = self.mark()
		self.signal(signal.SIGHUP)
		return mark

	def wait_exit(self, timeout):
		"""Wait for the master to exit; return its exit status."""
		try:
			return self.popen.wait(timeout)
		except subprocess.TimeoutExpired:
			raise Failure(f"master still running after {timeout}s")

	# -- peers -----------------------------------------------------------

	def peer(self, *args):
		"""Start regress/peers/vncpeer.py with args ("echo", "sink",
		"flood", "1000"); returns a Peer with .port and .pid."""
		p = Peer(self, list(args))
		self.peers.append(p)
		return p

	# -- HTTP ------------------------------------------------------------

	def expect_page(self, path="/console.html"):
		"""The workers serve a static page: 200 and text/html."""
		r = self.http_get(path)
		ctype = r.headers.get("content-type", "")
		self.expect(r.status == 200 and ctype.startswith("text/html"),
		    f"GET {path}: {r.status} {ctype}, want 200 text/html")
		return r

	def http_get(self, path, port=None, host="127.0.0.1", tls=False,
	    headers=None, timeout=10):
		"""One GET; returns a Response or fails the case."""
		if port is None:
			port = self.port
		try:
			if tls:
				ctx = ssl.create_default_context()
				ctx.check_hostname = False
				ctx.verify_mode = ssl.CERT_NONE
				c = http.client.HTTPSConnection(host, port,
				    timeout=timeout, context=ctx)
			else:
				c = http.client.HTTPConnection(host, port,
				    timeout=timeout)
			try:
				c.request("GET", path, headers=headers or {})
				r = c.getresponse()
				body = r.read()
				resp = Response(r.status, r.reason,
				    {k.lower(): v for k, v in r.getheaders()},
				    body)
			finally:
				c.close()
		except (OSError, http.client.HTTPException) as e:
			raise Failure(f"GET {path} on port {port}: {e!r}")
		self.note(f"GET {path}: {resp.status} {resp.reason}")
		return resp

	def http_poke(self, path, port=None, host="127.0.0.1", timeout=10):
		"""Send a GET and read whatever comes back until EOF; for
		requests that end the worker serving them.  Never fails."""
		if port is None:
			port = self.port
		got = b""
		try:
			with socket.create_connection((host, port),
			    timeout=timeout) as s:
				s.sendall(f"GET {path} HTTP/1.1\r\nHost: "
				    f"{host}\r\nConnection: close\r\n\r\n"
				    .encode())
				for _ in range(1024):
					data = s.recv(65536)
					if not data:
						break
					got += data
		except OSError as e:
			self.note(f"poke {path}: {e!r}")
		self.note(f"poke {path}: got {got[:80]!r}")
		return got

	# -- the end ---------------------------------------------------------

	def stop(self):
		"""Stop the daemon, by pid: SIGTERM, wait, then SIGKILL what
		is left of our own processes."""
		for p in self.peers:
			p.stop()
		if self.popen is None:
			return
		if self.pid is not None and self.popen.poll() is None:
			try:
				self.children()
			except Failure:
				pass
			self.note(f"teardown: SIGTERM {self.pid}")
			os.kill(self.pid, signal.SIGTERM)
			try:
				self.popen.wait(30)
			except subprocess.TimeoutExpired:
				self.note(f"teardown: SIGKILL {self.pid}")
				os.kill(self.pid, signal.SIGKILL)
				self.popen.wait(10)
		for pid in self.known:
			if pid != self.pid and self.alive(pid):
				self.note(f"teardown: SIGKILL leftover {pid}")
				try:
					os.kill(pid, signal.SIGKILL)
				except ProcessLookupError:
					pass
		self.note(f"teardown: master exit status {self.popen.poll()}")
		# Lines read during teardown count as well.
		with self.cond:
			self.cond.wait_for(lambda: self.eof, 10)

	def cleanup(self):
		if os.path.exists(self.pidfile):
			os.unlink(self.pidfile)
		if self.tmp.startswith(tempfile.gettempdir() + "/vncrelayd-"):
			subprocess.run(["rm", "-rf", "--one-file-system",
			    self.tmp], timeout=60)
		self.logfile.close()


def load_case(path):
	name = os.path.splitext(os.path.basename(path))[0]
	spec = importlib.util.spec_from_file_location("case_" + name, path)
	module = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(module)
	return name, module


class Timeout(BaseException):
	pass


def on_alarm(signum, frame):
	raise Timeout()


def main(argv):
	if len(argv) != 2:
		print("usage: harness.py cases/NAME.py", file=sys.stderr)
		return 2
	path = argv[1]
	if not path.endswith(".py"):
		path = os.path.join(REGRESS, "cases", path + ".py")
	name, module = load_case(path)
	t = Case(name, module)
	limit = int(getattr(module, "TIMEOUT", DEFAULT_TIMEOUT))
	signal.signal(signal.SIGALRM, on_alarm)
	signal.signal(signal.SIGTERM, on_alarm)
	result = None
	signal.alarm(limit)
	try:
		module.run(t)
		t._check_unexpected()
	except Failure as e:
		result = f"FAIL {name}: {e}"
	except Skip as e:
		result = f"SKIP {name}: {e}"
	except Timeout:
		result = f"FAIL {name}: case did not finish within {limit}s"
	except Exception as e:
		t.note(traceback.format_exc().rstrip())
		result = f"FAIL {name}: {type(e).__name__}: {e}"
	signal.alarm(0)
	# The daemon is already running: a late SIGTERM from regress/run
	# must not cut its teardown short.
	signal.signal(signal.SIGTERM, signal.SIG_IGN)
	try:
		t.stop()
		if result is None:
			t._check_unexpected()
	except Failure as e:
		result = result or f"FAIL {name}: {e}"
	except Exception as e:
		t.note(traceback.format_exc().rstrip())
		result = result or f"FAIL {name}: teardown: {e!r}"
	if result is None:
		result = f"PASS {name}"
	t.note(result)
	t.cleanup()
	print(result, flush=True)
	return 0 if result.startswith(("PASS", "SKIP")) else 1


if __name__ == "__main__":
	sys.exit(main(sys.argv))
