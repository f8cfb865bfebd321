# A worker that calls socket(2) breaks its seccomp filter and dies by
# SIGSYS (31); the master replaces it.

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
debug-triggers = yes
'''


def run(t):
	t.start()
	old = t.workers()[0]

	t.expect_lost_child("worker0")
	mark = t.mark()
	t.http_poke("/_debug/socket")

	t.wait_log(rf"master: lost child worker0 pid={old} "
	    r"status=signal 31\b", since=mark)
	t.wait_log(r"\bworker0: ready", since=mark)
	t.wait_for("a new worker 0", lambda: t.workers().get(0, old) != old)

	t.expect_page()
