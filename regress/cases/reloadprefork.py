# SIGHUP with a changed prefork grows and shrinks the set of workers.

CONFIG = '''
prefork = 2
drain-timeout = 2
listen "127.0.0.1:{port}" { tls = no }
'''


def run(t):
	t.start()
	t.expect(len(t.workers()) == 2, f"workers {t.workers()}")

	mark = t.reload(CONFIG.replace("prefork = 2", "prefork = 3"))
	t.wait_log(r"master: reload: configuration reloaded workers=3\b",
	    since=mark)
	t.wait_for("3 workers", lambda: sorted(t.workers()) == [0, 1, 2])
	t.wait_log(r"\bworker2: ready", since=mark)

	mark = t.reload(CONFIG.replace("prefork = 2", "prefork = 1"))
	t.wait_log(r"master: reload: configuration reloaded workers=1\b",
	    since=mark)
	t.wait_for("1 worker", lambda: sorted(t.workers()) == [0],
	    timeout=15)
	# A retired worker may still be exiting (slowly, under ASan).
	t.wait_for("authd and one worker to be all the children",
	    lambda: len(t.children()) == 2, timeout=15)

	t.expect_page()
