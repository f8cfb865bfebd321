# One-time use survives authd's death: a token with a jti, used once, is
# still refused with TOKEN_ALREADY_USED after authd is killed with
# SIGKILL and restarted (the token has not expired), whichever worker the
# replay reaches.

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { backend = tcp }
'''


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n")
	c = keys.claims(sub="once", ttl=600)
	tok = keys.mint(k1, c, what="one-time")
	s = lt.rfb_session(t, f"/ws/vnc/vm1?token={tok}", "first use")
	lt.close_and_wait(t, s)
	lt.expect_refused(t, "replay before the restart",
	    f"/ws/vnc/vm1?token={tok}", "TOKEN_ALREADY_USED")

	old = t.authd()
	t.expect_lost_child("authd")
	mark = t.mark()
	t.kill(old, signal.SIGKILL)
	t.wait_log(rf"\bmaster: lost child authd pid={old} ", since=mark)
	t.wait_log(r"\bauthd: ready", since=mark)
	for k in range(2):
		t.wait_log(rf"\bworker{k}: authd channel", since=mark)

	# A fresh token works: authd is back.
	s = lt.rfb_session(t, "/ws/vnc/vm1?token=" + keys.mint(k1,
	    keys.claims(), what="after restart"), "fresh token after restart")
	lt.close_and_wait(t, s)
	for i in range(2):
		lt.expect_refused(t, f"replay {i + 1} after authd's restart",
		    f"/ws/vnc/vm1?token={tok}", "TOKEN_ALREADY_USED")
