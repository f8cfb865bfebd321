# Deferred accept: a connection reaches a worker once it has sent
# something, so that accepting and reading the head take one wake-up.
# Of ten connections that stay silent the worker holds none (its open
# sockets, from /proc); one that has sent the start of a head it holds.
# When the silent ones speak it holds them too, and each is answered once
# its head is complete.

import os
import socket
import time

SILENT = 10

CONFIG = '''
prefork = 1
head-timeout = 30
listen "127.0.0.1:{port}" { tls = no }
'''

HEAD = b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def sockets(pid):
	n = 0
	for fd in os.listdir(f"/proc/{pid}/fd"):
		try:
			n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith(
			    "socket:")
		except OSError:
			pass
	return n


def run(t):
	t.start()
	pid = t.workers()[0]
	base = sockets(pid)
	silent = [socket.create_connection(("127.0.0.1", t.port), timeout=10)
	    for _ in range(SILENT)]
	spoke = socket.create_connection(("127.0.0.1", t.port), timeout=10)
	spoke.sendall(HEAD[:4])
	t.wait_for("the worker holds the one connection that spoke",
	    lambda: sockets(pid) == base + 1)
	# Nor are the silent ones accepted later: the kernel holds them for
	# head-timeout.
	time.sleep(2)
	t.expect(sockets(pid) == base + 1, f"the worker holds "
	    f"{sockets(pid) - base} connections, want 1 of {SILENT + 1}")
	for s in silent:
		s.sendall(HEAD[:4])
	t.wait_for("the worker holds every connection once each spoke",
	    lambda: sockets(pid) == base + SILENT + 1)
	for s in silent + [spoke]:
		s.sendall(HEAD[4:])
		got = s.recv(4096)
		t.expect(got.startswith(b"HTTP/1.1 404 "), f"answer: {got[:60]!r}")
		s.close()
