# A worker that sends authd a malformed message is ended; authd itself
# keeps running, and the master replaces the worker.

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
debug-triggers = yes
'''


def run(t):
	t.start()
	authd = t.authd()
	old = t.workers()[0]

	t.expect_lost_child("worker0")
	mark = t.mark()
	t.http_poke("/_debug/malformed-ipc")

	t.wait_log(r"\bauthd: .*malformed", since=mark)
	t.wait_log(rf"master: lost child worker0 pid={old} ", since=mark)
	t.wait_log(r"\bworker0: ready", since=mark)

	t.expect(t.authd() == authd, f"authd pid {authd} -> {t.authd()}")
	t.expect(t.alive(authd), "authd is gone")
	st = t.proc_status(authd)
	t.expect(st["State"][0] in "RS", f"authd state {st['State']}")
	t.wait_for("a new worker 0", lambda: t.workers().get(0, old) != old)

	t.expect_page()
