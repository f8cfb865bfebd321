# A reload with a broken file says where it is broken and changes
# nothing: same workers, same pids, still serving.

import re

CONFIG = '''prefork = 2
listen "127.0.0.1:{port}" { tls = no }
'''

BROKEN = '''prefork = 3
listen "127.0.0.1:{port}" { tls = no }
prefork = lots
'''


def run(t):
	t.start()
	before = t.workers()
	authd = t.authd()
	t.expect(len(before) == 2, f"workers {before}")

	mark = t.reload(BROKEN)
	t.wait_log(rf"master: reload failed: {re.escape(t.conf)}:3: ",
	    since=mark)
	t.expect(not t.log_matches(r"configuration reloaded", since=mark),
	    "a broken file was reloaded")

	t.expect(t.workers() == before, f"workers {before} -> {t.workers()}")
	t.expect(t.authd() == authd, f"authd {authd} -> {t.authd()}")
	t.expect_page()
	t.expect(t.workers() == before, f"workers {before} -> {t.workers()}")
