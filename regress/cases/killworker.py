# A worker killed with SIGKILL is noticed, logged, and replaced; the
# listener keeps being served.

import signal

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
'''


def run(t):
	t.start()
	old = t.workers()[0]

	t.expect_lost_child("worker0")
	mark = t.mark()
	t.kill(old, signal.SIGKILL)

	t.wait_log(rf"master: lost child worker0 pid={old} status=signal 9\b",
	    since=mark)
	t.wait_log(r"\bworker0: ready", since=mark)
	t.wait_for("a new worker 0", lambda: t.workers().get(0, old) != old)
	t.expect(sorted(t.workers()) == [0, 1], f"workers {t.workers()}")

	r = t.http_get("/")
	t.expect(100 <= r.status <= 599, f"odd status {r.status}")
