# SIGTERM ends the daemon cleanly: exit status 0 within the drain time
# (plus a margin), and no child left behind.

import signal

DRAIN = 3

CONFIG = f'''
prefork = 2
drain-timeout = {DRAIN}
listen "127.0.0.1:{{port}}" {{ tls = no }}
'''


def run(t):
	t.start()
	kids = t.children()
	t.expect(len(kids) == 3, f"children {kids}")

	mark = t.mark()
	t.signal(signal.SIGTERM)
	status = t.wait_exit(timeout=DRAIN + 20)
	t.expect(status == 0, f"master exit status {status}")
	t.wait_log(r"master: shutting down", since=mark)
	t.wait_log(r"master: exiting", since=mark)

	left = [p for p in kids if t.alive(p.pid)]
	t.expect(not left, f"children left behind: {left}")
