#!/usr/bin/python3
"""
vncpeer.py: a TCP test upstream that speaks just enough RFB to be taken
for a VNC server.  On every connection it first sends the banner
"RFB 003.008\\n", then, by mode:

    echo          sends back every byte it receives, until EOF
    sink          reads until EOF, then reports the count and sha256
    flood N       sends N bytes of deterministic pseudo-random data
                  (flood_data(N, seed) below) while it reads and
                  discards what the client sends; then half-closes
                  (with --linger: does not) and waits for the
                  client's EOF

    vncpeer.py [--host 127.0.0.1] [--port 0] [--unix PATH]
               [--connections N] [--lifetime SECONDS] [--seed S]
               [--banner TEXT] [--linger] echo | sink | flood N

With --unix it listens on a UNIX-domain socket at PATH instead, and says
port 0.  It prints, flushed, on standard output:

    vncpeer: listening on HOST PORT
    vncpeer: conn=K accepted from ADDR
    vncpeer: conn=K mode=echo in=N out=N sha256=HEX       (of what it read)
    vncpeer: conn=K mode=sink in=N sha256=HEX
    vncpeer: conn=K mode=flood out=N sha256=HEX in=N
    vncpeer: done

It exits after --connections connections (default: no limit) or after
--lifetime seconds (default 300), whichever comes first; SIGTERM ends it
at once.  The banner is never counted in out= or in the digests.
"""

import argparse
import hashlib
import os
import selectors
import signal
import socket
import sys
import threading
import time

BANNER = "RFB 003.008\n"
CHUNK = 65536


def flood_chunk(seed, index):
	"""The index-th 64 KiB block of the stream for seed."""
	data = f"vncpeer:{seed}:{index}".encode()
	return hashlib.shake_256(data).digest(CHUNK)


def flood_data(n, seed=0):
	"""The first n bytes of the deterministic stream for seed."""
	out = bytearray()
	for i in range((n + CHUNK - 1) // CHUNK):
		out += flood_chunk(seed, i)
	return bytes(out[:n])


def flood_sha256(n, seed=0):
	"""sha256 hex digest of flood_data(n, seed), without holding it."""
	h = hashlib.sha256()
	left, i = n, 0
	while left > 0:
		block = flood_chunk(seed, i)[:left]
		h.update(block)
		left -= len(block)
		i += 1
	return h.hexdigest()


def say(text):
	with OUTPUT_LOCK:
		sys.stdout.write("vncpeer: " + text + "\n")
		sys.stdout.flush()


OUTPUT_LOCK = threading.Lock()


class Conn:
	def __init__(self, sock, num, args, deadline):
		self.sock = sock
		self.num = num
		self.args = args
		self.deadline = deadline
		self.inbytes = 0
		self.outbytes = 0
		self.inhash = hashlib.sha256()
		self.outhash = hashlib.sha256()

	def run(self):
		try:
			self.sock.sendall(self.args.banner.encode())
			getattr(self, "run_" + self.args.mode)()
		except OSError as e:
			say(f"conn={self.num} error {e!r}")
		finally:
			self.sock.close()

	def left(self):
		return max(0.0, self.deadline - time.monotonic())

	def recv(self):
		"""Up to CHUNK bytes; b"" on EOF or when the lifetime ends."""
		self.sock.settimeout(self.left() or 0.001)
		try:
			data = self.sock.recv(CHUNK)
		except socket.timeout:
			return b""
		except ConnectionResetError:
			return b""
		self.inbytes += len(data)
		self.inhash.update(data)
		return data

	def run_echo(self):
		while self.left() > 0:
			data = self.recv()
			if not data:
				break
			self.sock.settimeout(self.left() or 0.001)
			self.sock.sendall(data)
			self.outbytes += len(data)
		say(f"conn={self.num} mode=echo in={self.inbytes} "
		    f"out={self.outbytes} sha256={self.inhash.hexdigest()}")

	def run_sink(self):
		while self.left() > 0:
			if not self.recv():
				break
		say(f"conn={self.num} mode=sink in={self.inbytes} "
		    f"sha256={self.inhash.hexdigest()}")

	def run_flood(self):
		"""Write the stream while draining the client, so that neither
		side blocks the other; then half-close (unless lingering) and
		drain until the client's EOF, so that nothing unread makes the
		close a reset that could cut the stream short."""
		total = self.args.count
		pending = b""
		index = 0
		sel = selectors.DefaultSelector()
		self.sock.setblocking(False)
		sel.register(self.sock, selectors.EVENT_READ)
		reading = True
		shut = False
		while self.left() > 0 and reading:
			want = selectors.EVENT_READ
			if self.outbytes < total:
				want |= selectors.EVENT_WRITE
			elif not shut and not self.args.linger:
				self.sock.shutdown(socket.SHUT_WR)
				shut = True
			sel.modify(self.sock, want)
			for _, ev in sel.select(min(self.left(), 1.0)):
				if ev & selectors.EVENT_READ:
					reading = self._drain()
				if ev & selectors.EVENT_WRITE:
					if not pending:
						pending = flood_chunk(
						    self.args.seed, index)[:total -
						    self.outbytes]
						index += 1
					n = self._send(pending)
					self.outhash.update(pending[:n])
					self.outbytes += n
					pending = pending[n:]
		sel.close()
		say(f"conn={self.num} mode=flood out={self.outbytes} "
		    f"sha256={self.outhash.hexdigest()} in={self.inbytes}")

	def _drain(self):
		try:
			data = self.sock.recv(CHUNK)
		except BlockingIOError:
			return True
		except ConnectionResetError:
			return False
		self.inbytes += len(data)
		self.inhash.update(data)
		return bool(data)

	def _send(self, data):
		try:
			return self.sock.send(data)
		except BlockingIOError:
			return 0


def parse(argv):
	p = argparse.ArgumentParser(prog="vncpeer.py")
	p.add_argument("--host", default="127.0.0.1")
	p.add_argument("--port", type=int, default=0)
	p.add_argument("--unix", default=None)
	p.add_argument("--connections", type=int, default=0,
	    help="exit after this many connections (0: no limit)")
	p.add_argument("--lifetime", type=float, default=300)
	p.add_argument("--seed", default="0")
	p.add_argument("--banner", default=BANNER)
	p.add_argument("--linger", action="store_true")
	p.add_argument("mode", choices=("echo", "sink", "flood"))
	p.add_argument("count", nargs="?", type=int, default=0)
	args = p.parse_args(argv)
	if args.mode == "flood" and args.count <= 0:
		p.error("flood needs a byte count")
	return args


def main(argv):
	args = parse(argv)
	signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
	deadline = time.monotonic() + args.lifetime
	if args.unix:
		ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		ls.bind(args.unix)
		where = f"{args.unix} 0"
	else:
		family = socket.AF_INET6 if ":" in args.host else \
		    socket.AF_INET
		ls = socket.socket(family, socket.SOCK_STREAM)
		ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		ls.bind((args.host, args.port))
		where = f"{args.host} {ls.getsockname()[1]}"
	ls.listen(64)
	say(f"listening on {where}")
	threads = []
	num = 0
	while time.monotonic() < deadline and (args.connections == 0 or
	    num < args.connections):
		ls.settimeout(min(1.0, max(0.001,
		    deadline - time.monotonic())))
		try:
			sock, addr = ls.accept()
		except socket.timeout:
			continue
		num += 1
		say(f"conn={num} accepted from " + (f"{addr[0]} {addr[1]}"
		    if isinstance(addr, tuple) else "unix"))
		c = Conn(sock, num, args, deadline)
		th = threading.Thread(target=c.run, daemon=True)
		th.start()
		threads.append(th)
	ls.close()
	for th in threads:
		th.join(max(0.0, deadline - time.monotonic()))
	say("done")
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
