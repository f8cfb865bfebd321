# kill -9 of one worker while 50 sessions run, spread over two workers
# (max-sessions = 50, so every slot is taken).  The master logs the loss
# and has a new worker ready within 2 s of the kill; the other worker's
# sessions go on byte-exact, before and after; the dead worker's clients
# see their connections end; authd releases exactly the dead worker's
# slots ("released N"), so that as many new sessions open again, one of
# them on the new worker, which like the old one is not root; and the
# listener keeps being served.

import hashlib
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import rawws			# noqa: E402

TIMEOUT = 240
SESSIONS = 50

CONFIG = '''
prefork = 2
max-sessions = 50
max-sessions-per-target = 0
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


class Session:
	def __init__(self, t, i):
		self.i = i
		mark = t.mark()
		# A slot given back reaches authd just after the session's
		# end is logged: a 429 then is a race, tried again.
		for _ in range(50):
			self.ws = rawws.connect("127.0.0.1", t.port,
			    f"/ws/vnc/vm{i}", protocols=["binary"], timeout=20,
			    expect_status=None)
			if self.ws.status != 429:
				break
			self.ws.close()
			time.sleep(0.1)
		t.expect(self.ws.status == 101 and self.ws.check_accept(),
		    f"vm{i}: {self.ws.status} {self.ws.body[:100]!r}")
		m = t.wait_log(rf"\bworker(\d+): session start id=\d+ .*"
		    rf"target=vm{i} ", since=mark)
		self.worker = int(m.group(1))
		banner = self.ws.recv_bytes(12)
		t.expect(banner == b"RFB 003.008\n", f"vm{i}: banner {banner!r}")

	def echo(self, t, size, seed):
		"""size deterministic bytes through the echo peer, in pieces;
		the digests of what went and what came back must agree."""
		data = hashlib.sha256(f"{self.i}/{seed}".encode()).digest() * \
		    (size // 32)
		for off in range(0, len(data), 4096):
			self.ws.send_binary(data[off:off + 4096])
		back = self.ws.recv_bytes(len(data), timeout=30)
		t.expect(hashlib.sha256(back).digest() ==
		    hashlib.sha256(data).digest(), f"vm{self.i} on worker"
		    f"{self.worker}: {len(back)} of {len(data)} bytes came back,"
		    " or other bytes")

	def ended(self, timeout):
		"""Whether the server's end went away (EOF or reset)."""
		self.ws.sock.settimeout(timeout)
		try:
			for _ in range(1000):
				if self.ws.sock.recv(65536) == b"":
					return True
		except (ConnectionResetError, BrokenPipeError):
			return True
		except socket.timeout:
			return False
		return False


def asleep(t, pid):
	"""Whether the worker waits in the kernel (for its next event)."""
	try:
		with open(f"/proc/{pid}/stat") as f:
			return f.read().rsplit(")", 1)[1].split()[0] == "S"
	except OSError:
		return False


def spread(t):
	"""50 sessions, at least 5 on each worker (replacing sessions on a
	busy worker, a bounded number of times, if the kernel was unfair).
	A worker still busy with the session it just ended would take the
	next connection before the other woke (more so under ASan): each
	replacement waits until both workers sleep."""
	sessions = [Session(t, i) for i in range(SESSIONS)]
	pids = t.workers()
	for n in range(SESSIONS, SESSIONS + 100):
		on = [sum(s.worker == k for s in sessions) for k in (0, 1)]
		if min(on) >= 5:
			return sessions
		busy = on.index(max(on))
		s = next(s for s in sessions if s.worker == busy)
		sessions.remove(s)
		s.ws.close()
		t.wait_log(rf"\bworker{busy}: session end id=\d+ .*target="
		    rf"vm{s.i} ")
		for _ in range(200):
			if all(asleep(t, pid) for pid in pids.values()):
				break
			time.sleep(0.01)
		sessions.append(Session(t, n))
	t.fail(f"sessions stayed on one worker: {on}")


def run(t):
	peer = t.peer("echo")
	targets = "".join(f'target "vm{i}" {{ host = "127.0.0.1" '
	    f'port = {peer.port} }}\n' for i in range(SESSIONS + 200))
	t.start(CONFIG + targets)
	old = t.workers()
	sessions = spread(t)
	for s in sessions:
		s.echo(t, 64 * 1024, "before")
	dead = [s for s in sessions if s.worker == 0]
	alive = [s for s in sessions if s.worker == 1]
	t.note(f"{len(dead)} sessions on worker0, {len(alive)} on worker1")

	t.expect_lost_child("worker0")
	mark = t.mark()
	t.kill(old[0], signal.SIGKILL)
	# The bound of the issue: a new worker within 2 s.
	t.wait_log(r"\bworker0: ready", since=mark, timeout=2)
	t.wait_log(rf"master: lost child worker0 pid={old[0]} status=signal 9\b",
	    since=mark)
	m = t.wait_log(r"\bauthd: worker0 gone: released (\d+) session slots",
	    since=mark)
	t.expect(int(m.group(1)) == len(dead), f"authd released "
	    f"{m.group(1)} slots, worker0 held {len(dead)}")

	for s in dead:
		t.expect(s.ended(10), f"vm{s.i}: the dead worker's client still "
		    "has an open connection")
		s.ws.close()
	for s in alive:
		s.echo(t, 64 * 1024, "after")

	# The released slots are free again, and no more: as many sessions
	# as died open, the next is refused; one must be on the new worker.
	new = [Session(t, SESSIONS + 100 + k) for k in range(len(dead))]
	extra = rawws.connect("127.0.0.1", t.port, f"/ws/vnc/vm{SESSIONS + 99}",
	    expect_status=None)
	extra.close()
	t.expect(extra.status == 429, f"session {SESSIONS + 1}: "
	    f"{extra.status}, want 429 (max-sessions = {SESSIONS})")
	for n in range(40):
		if any(s.worker == 0 for s in new):
			break
		s = new.pop()
		s.ws.close()
		t.wait_log(rf"\bworker1: session end id=\d+ .*target=vm{s.i} ")
		new.append(Session(t, SESSIONS + 150 + n))
	t.expect(any(s.worker == 0 for s in new), "no new session landed on "
	    "the new worker0 in 40 tries")
	for s in new:
		s.echo(t, 4096, "new")
	new_pid = t.workers().get(0)
	t.expect(new_pid not in (None, old[0]), f"worker 0 pid {new_pid}")
	uids = t.proc_status(new_pid)["Uid"].split()
	t.expect("0" not in uids, f"the new worker0 runs with uids {uids}")
	t.expect(t.workers()[1] == old[1], "worker1 was replaced too")
	for s in alive + new:
		s.ws.close()
	t.expect_page()
