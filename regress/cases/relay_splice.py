# A console's flood reaches a plain ws:// browser in binary mode through
# the worker's pipe (splice(2)), every byte of it in well-formed frames,
# while the browser stalls and resumes and the daemon pings in between.
#
# The client has a small receive buffer, reads the flood in bursts with
# pauses (sending pongs all along, so that the heartbeat keeps the
# session) and parses every frame strictly: FIN set, no RSV bits, unmasked, the
# shortest length encoding, no empty data frame, only binary data frames
# and pings of "vncrelayd", which it answers.  What it read is the banner
# and the peer's flood, byte for byte; pings came before the flood's end;
# the log's out= counts it all; vncrelayd_splice_bytes_total grew.  The
# same holds for a console on a UNIX-domain socket.  A session with the
# base64 subprotocol and one over wss:// arrive complete as well, but take
# the copy path: the counter does not move for them.

import base64
import hashlib
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_metrics		# noqa: E402
import rawws			# noqa: E402
import vncpeer			# noqa: E402

TIMEOUT = 240

CONFIG = '''
prefork = 1
buffer-size = 262144
heartbeat = 1
metrics-listen = "127.0.0.1:{port2}"
listen "127.0.0.1:{port}" { tls = false }
listen "127.0.0.1:{port3}" {
	tls = true
	certificate = "{cert}"
	key = "{key}"
}
target "tcp" { host = "127.0.0.1" port = TCP_PORT }
target "unix" { socket = "{tmp}/flood.sock" }
target "b64" { host = "127.0.0.1" port = B64_PORT }
target "tls" { host = "127.0.0.1" port = TLS_PORT }
route "/ws/vnc/{name}" { auth = none }
'''

BANNER = b"RFB 003.008\n"
FLOOD = 48 << 20		# through the stalling client
SMALL = 8 << 20			# through the others
STALL_EVERY = 6 << 20		# bytes read between pauses
PAUSES = 5			# pongs sent, a tenth of a second apart, per pause
RCVBUF = 65536
OUT = "vncrelayd_session_bytes_total"
SPLICED = "vncrelayd_splice_bytes_total"


class Strict:
	"""Reads a server's frames from a connected RawWS, failing the case
	on any frame that is not well-formed, answering pings."""

	def __init__(self, t, ws, opcode, timeout=120):
		self.t, self.ws, self.opcode = t, ws, opcode
		self.deadline = time.monotonic() + timeout
		self.pings = 0
		self.frames = 0
		self.ponged = time.monotonic()

	def pong(self, payload=b""):
		self.ws.send_frame(rawws.OP_PONG, payload)
		self.ponged = time.monotonic()

	def frame(self):
		t = self.t
		left = self.deadline - time.monotonic()
		t.expect(left > 0, "timed out inside the flood")
		try:
			f = self.ws.recv_frame(timeout=left)
		except socket.timeout:
			t.fail("timed out inside the flood")
		t.expect(f is not None, f"EOF after {self.frames} frames, "
		    "inside the flood")
		n = len(f.payload)
		t.expect(f.fin, f"frame {self.frames}: no FIN")
		t.expect(f.rsv == 0, f"frame {self.frames}: RSV bits")
		t.expect(not f.masked, f"frame {self.frames}: masked")
		t.expect(f.shortest_length, f"frame {self.frames}: a "
		    f"{f.length_bytes}-byte length for {n} bytes")
		self.frames += 1
		return f.opcode, f.payload

	def data(self):
		"""The next data frame's payload; pings on the way answered."""
		for _ in range(1 << 20):
			op, payload = self.frame()
			if op != rawws.OP_PING:
				break
			self.t.expect(payload == b"vncrelayd",
			    f"a ping with {payload[:40]!r}")
			self.pings += 1
			self.pong(payload)
		self.t.expect(op == self.opcode, f"frame {self.frames}: opcode "
		    f"{op:#x}, want {self.opcode:#x}")
		self.t.expect(payload, f"frame {self.frames}: an empty one")
		# A ping may wait behind much of the flood: unasked pongs
		# keep the heartbeat content however slowly this reads.
		if time.monotonic() - self.ponged > 0.2:
			self.pong()
		return payload

	def pause(self):
		"""Read nothing for a while, but keep sending pongs."""
		for _ in range(PAUSES):
			self.pong()
			time.sleep(0.1)


def expected(total, seed):
	h = hashlib.sha256(BANNER)
	for i in range((total + vncpeer.CHUNK - 1) // vncpeer.CHUNK):
		h.update(vncpeer.flood_chunk(seed, i)[:total - i *
		    vncpeer.CHUNK])
	return h.hexdigest()


def connect(t, target, protocol, tls=False):
	"""A session with a small receive buffer, set before connecting."""
	port = t.port_for("port3") if tls else t.port
	sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
	sock.settimeout(10)
	sock.connect(("127.0.0.1", port))
	if tls:
		ctx = ssl.create_default_context(cafile=os.path.join(t.tmp,
		    "cert.pem"))
		sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
	ws = rawws.RawWS(sock, 10)
	ws.request(f"/ws/vnc/{target}", host=f"127.0.0.1:{port}",
	    protocols=[protocol])
	t.expect(ws.read_response() == 101 and ws.check_accept(),
	    f"{target}: no upgrade: {ws.status} {ws.body[:200]!r}")
	t.expect(ws.headers.get("sec-websocket-protocol") == protocol,
	    f"{target}: subprotocol {ws.headers.get('sec-websocket-protocol')}")
	return ws


def read_flood(t, target, total, protocol="binary", tls=False,
    stall=False):
	"""Reads banner and flood; returns their digest and the reader."""
	ws = connect(t, target, protocol, tls)
	rd = Strict(t, ws, rawws.OP_TEXT if protocol == "base64" else
	    rawws.OP_BINARY)
	got, n, paused = hashlib.sha256(), 0, 0
	while n < len(BANNER) + total:
		data = rd.data()
		if protocol == "base64":
			data = base64.b64decode(data, validate=True)
		got.update(data)
		n += len(data)
		if stall and n // STALL_EVERY > paused:
			paused = n // STALL_EVERY
			rd.pause()
	t.expect(n == len(BANNER) + total, f"{target}: {n} bytes, want "
	    f"{len(BANNER) + total}")
	t.note(f"{target}: {rd.frames} frames, {rd.pings} pings, "
	    f"{paused} pauses")
	ws.send_close(1000)
	ws.close()
	return got.hexdigest(), rd


def settled(t, target, total):
	"""The page once the master has the session's last count."""
	def page():
		p = lib_metrics.scrape(t, t.port_for("port2"))
		v = p.get(OUT, route="/ws/vnc/{name}", target=target,
		    direction="out")
		return p if v == len(BANNER) + total else None
	return t.wait_for(f"{target}'s bytes on the metrics page", page,
	    timeout=20)


def session(t, target, total, seed, spliced, **kw):
	"""One session, checked; returns the splice counter after it."""
	mark = t.mark()
	got, rd = read_flood(t, target, total, **kw)
	t.expect(got == expected(total, seed),
	    f"{target}: the banner and flood arrived with other bytes")
	m = t.wait_log(r"\bworker0: session end id=\d+ .* target=" + target +
	    r" .* out=(\d+) ", since=mark)
	t.expect(int(m.group(1)) == len(BANNER) + total,
	    f"{target}: the log says out={m.group(1)}")
	now = settled(t, target, total).get(SPLICED)
	t.expect(now is not None, f"no {SPLICED} on the metrics page")
	t.note(f"{target}: {SPLICED} {spliced} -> {now}")
	return now, rd


def run(t):
	peers = {}
	for name in ("tcp", "b64", "tls"):
		peers[name] = t.peer("--connections", "1", "--seed", name,
		    "flood", str(FLOOD if name == "tcp" else SMALL))
	peers["unix"] = t.peer("--connections", "1", "--seed", "unix",
	    "--unix", os.path.join(t.tmp, "flood.sock"), "flood", str(SMALL))
	t.start(CONFIG.replace("TCP_PORT", str(peers["tcp"].port))
	    .replace("B64_PORT", str(peers["b64"].port))
	    .replace("TLS_PORT", str(peers["tls"].port)))

	start = lib_metrics.scrape(t, t.port_for("port2")).get(SPLICED)
	t.expect(start == 0, f"{SPLICED} is {start} before any session")

	n, rd = session(t, "tcp", FLOOD, "tcp", start, stall=True)
	t.expect(n > start, f"{SPLICED} did not grow for a plain binary "
	    "session")
	t.expect(rd.pings > 0, "no ping came inside the flood")
	m = peers["tcp"].wait_line(r"conn=1 mode=flood out=(\d+) "
	    r"sha256=([0-9a-f]+)", timeout=30)
	t.expect(int(m.group(1)) == FLOOD, f"the peer sent {m.group(1)}")

	u, _ = session(t, "unix", SMALL, "unix", n)
	t.expect(u > n, f"{SPLICED} did not grow for a UNIX-domain console")

	b, _ = session(t, "b64", SMALL, "b64", u, protocol="base64")
	t.expect(b == u, f"{SPLICED} moved for a base64 session: {u} -> {b}")

	s, _ = session(t, "tls", SMALL, "tls", b, tls=True)
	t.expect(s == b, f"{SPLICED} moved for a wss session: {b} -> {s}")
