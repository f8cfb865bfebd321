# A worker that dies again and again right after it starts does not make
# the master spin: each restart in a row waits twice as long as the one
# before (100, 200, 400, ... ms, as logged), and once a worker has run for
# ten seconds its next death is restarted after 100 ms again.

import time

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
debug-triggers = yes
'''

IN_A_ROW = 6
STABLE = 10		# STABLE_SECONDS in master/child.c


def crash(t):
	"""Makes worker 0 send a malformed report; returns the delay the
	master logged for its restart, once the new worker is ready."""
	old = t.workers()[0]
	t.expect_lost_child("worker0")
	mark = t.mark()
	t.http_poke("/_debug/malformed-stats")
	t.wait_log(rf"\bmaster: lost child worker0 pid={old} ", since=mark)
	m = t.wait_log(r"\bmaster: restarting worker0 in (\d+)ms", since=mark)
	t.wait_log(r"\bworker0: ready", since=mark, timeout=15)
	t.wait_for("a new worker 0", lambda: t.workers().get(0, old) != old)
	return int(m.group(1))


def run(t):
	t.start()
	delays = [crash(t) for _ in range(IN_A_ROW)]
	want = [100 << i for i in range(IN_A_ROW)]
	t.expect(delays == want, f"restart delays in a row {delays}, want "
	    f"{want}")
	t.expect(t.alive(t.pid), "the master is gone")

	# A worker that lived long enough is forgiven its history.
	time.sleep(STABLE + 1)
	again = crash(t)
	t.expect(again == 100, f"after {STABLE + 1}s of life the restart "
	    f"waited {again}ms, want 100")
