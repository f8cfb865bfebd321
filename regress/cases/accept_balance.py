# Connections that come one after another spread over the workers.  The
# workers share one listening socket and the kernel wakes them all; without
# the load page the worker that happens to be awake takes nearly all of
# them.  With it, a worker holding two more connections than another steps
# aside, so the counts never drift far apart:
#  - 40 sessions opened one by one: at no point do the two workers differ
#    by more than 4, and each holds at least 16 in the end;
#  - a worker that hangs (SIGSTOP) while it holds fewer strands nothing:
#    the other leaves each new connection to it, and takes it a moment
#    later when it is still waiting;
#  - a worker killed with -9 leaves no connection waiting: sessions opened
#    right after the kill are all served, by the worker still alive;
#  - its replacement starts empty and so takes most of the next ten.

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import rawws			# noqa: E402

TIMEOUT = 180
SESSIONS = 40

CONFIG = '''
prefork = 2
max-sessions = 0
max-sessions-per-target = 0
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


def open_session(t, i):
	"""One session to console vm{i}; returns (socket, worker index)."""
	mark = t.mark()
	ws = rawws.connect("127.0.0.1", t.port, f"/ws/vnc/vm{i}",
	    protocols=["binary"], timeout=20, expect_status=None)
	t.expect(ws.status == 101 and ws.check_accept(),
	    f"vm{i}: {ws.status} {ws.body[:100]!r}")
	m = t.wait_log(rf"\bworker(\d+): session start id=\d+ .*target=vm{i} ",
	    since=mark)
	banner = ws.recv_bytes(12)
	t.expect(banner == b"RFB 003.008\n", f"vm{i}: banner {banner!r}")
	return ws, int(m.group(1))


def run(t):
	peer = t.peer("echo")
	t.start(CONFIG + "".join(f'target "vm{i}" {{ host = "127.0.0.1" '
	    f'port = {peer.port} }}\n' for i in range(SESSIONS + 30)))
	held, on = [], [0, 0]
	for i in range(SESSIONS):
		ws, w = open_session(t, i)
		held.append((ws, w, i))
		on[w] += 1
		t.expect(abs(on[0] - on[1]) <= 4, f"after {i + 1} sessions "
		    f"the workers hold {on}")
	t.note(f"{SESSIONS} sessions one by one: workers hold {on}")
	t.expect(min(on) >= 16, f"workers hold {on} of {SESSIONS}")

	# worker1 holds fewer, then hangs: worker0 must still serve.
	mark = t.mark()
	for h in [h for h in held if h[1] == 1][:4]:
		h[0].close()
		held.remove(h)
		t.wait_log(rf"\bworker1: session end id=\d+ .*target=vm{h[2]} ",
		    since=mark)
	old = t.workers()
	t.kill(old[1], signal.SIGSTOP)
	try:
		hung = [open_session(t, SESSIONS + 20 + k) for k in range(4)]
	finally:
		t.kill(old[1], signal.SIGCONT)
	t.expect(all(w == 0 for _, w in hung), "a session went to the hung "
	    f"worker: {[w for _, w in hung]}")
	held = [(ws, w) for ws, w, _ in held] + hung

	t.expect_lost_child("worker1")
	mark = t.mark()
	t.kill(old[1], signal.SIGKILL)
	after = [open_session(t, SESSIONS + k) for k in range(5)]
	t.expect(all(w == 0 for _, w in after), "a session went to the dead "
	    f"worker: {[w for _, w in after]}")
	t.wait_log(r"\bworker1: ready", since=mark)

	# worker0 holds about 25 now, the new worker1 none.
	new = [open_session(t, SESSIONS + 5 + k) for k in range(10)]
	ones = sum(w == 1 for _, w in new)
	t.note(f"after the restart, {ones} of 10 new sessions on worker1")
	t.expect(ones >= 7, f"only {ones} of 10 new sessions went to the new "
	    "worker, which held none")
	for ws, _ in held + after + new:
		ws.close()
