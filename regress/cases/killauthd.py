# When authd dies the master starts a new one and hands every worker a
# channel to it; requests are still served afterwards.

import signal

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
'''


def run(t):
	t.start()
	old = t.authd()
	workers = t.workers()

	t.expect_lost_child("authd")
	mark = t.mark()
	t.kill(old, signal.SIGKILL)

	t.wait_log(rf"master: lost child authd pid={old} status=signal 9\b",
	    since=mark)
	t.wait_log(r"\bauthd: ready", since=mark)
	for k in sorted(workers):
		t.wait_log(rf"\bworker{k}: authd channel", since=mark)

	new = t.authd()
	t.expect(new is not None and new != old, f"authd pid {old} -> {new}")
	t.expect(t.workers() == workers,
	    f"workers changed: {workers} -> {t.workers()}")

	r = t.http_get("/")
	t.expect(100 <= r.status <= 599, f"odd status {r.status}")
