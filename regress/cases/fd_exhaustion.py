# File-descriptor exhaustion: the daemon runs with RLIMIT_NOFILE 64
# (prlimit(1)), and 200 connections arrive, each sends the start of a
# request head (the listener hands over only connections that have sent
# something), and stay.  accept(2) fails with EMFILE; the worker pauses its
# listener ("pausing for 1s") instead of spinning: over 3 seconds of
# exhaustion it uses well under a second of CPU.  When the flood's
# connections close, service resumes: an ordinary request is served.

import os
import select
import socket
import time

TIMEOUT = 120
FLOOD = 200

CONFIG = '''
prefork = 1
head-timeout = 60
webroot = "{tmp}/www"
listen "127.0.0.1:{port}" { tls = no }
'''


def cpu_seconds(pid):
	with open(f"/proc/{pid}/stat") as f:
		rest = f.read().rsplit(")", 1)[1].split()
	return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def run(t):
	www = os.path.join(t.tmp, "www")
	os.makedirs(www)
	with open(os.path.join(www, "hello.txt"), "w") as f:
		f.write("hello\n")
	t.start(wrap=["prlimit", "--nofile=64:64", "--"])
	pid = t.workers()[0]
	with open(f"/proc/{pid}/limits") as f:
		limit = [line.split()[3:5] for line in f
		    if line.startswith("Max open files")]
	t.expect(limit == [["64", "64"]], f"the worker's limit is {limit}")

	mark = t.mark()
	flood = []
	try:
		for _ in range(FLOOD):
			s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			s.setblocking(False)
			s.connect_ex(("127.0.0.1", t.port))
			flood.append(s)
		for s in flood:
			select.select([], [s], [], 5)
			s.send(b"G")
		t.wait_log(r"\bworker0: accept on \S+: Too many open files: "
		    "pausing for 1s", since=mark, timeout=20)
		before = cpu_seconds(pid)
		time.sleep(3)
		used = cpu_seconds(pid) - before
		t.note(f"worker0 used {used:.2f}s of CPU in 3s of exhaustion")
		t.expect(used < 1.0, f"worker0 used {used:.2f}s of CPU in 3s "
		    "with no descriptors left: it spins")
	finally:
		for s in flood:
			s.close()

	def served():
		try:
			s = socket.create_connection(("127.0.0.1", t.port),
			    timeout=2)
			s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n"
			    b"Connection: close\r\n\r\n")
			got = s.recv(4096)
			s.close()
			return got.startswith(b"HTTP/1.1 200")
		except OSError:
			return False
	t.wait_for("service after the flood closed", served, timeout=30,
	    interval=0.5)
