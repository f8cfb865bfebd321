# replay-cache-size bounds the used one-time tokens authd remembers, and a
# reload changes it without forgetting them (vncrelayd.conf(5)):
# - with room for 5, five tokens open sessions; a sixth with an unseen jti
#   is refused with 503 INTERNAL_ERROR and the log says the cache is full;
#   a replay of a used one is still TOKEN_ALREADY_USED;
# - a reload to 6 keeps the five: the sixth token is now accepted, the
#   five are still refused, and a seventh is refused as the cache is full;
# - once the tokens' exp (plus clock-skew = 0) has passed, the entries go
#   and a new token is accepted again.

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

TTL = 30		# long enough for the steps before the wait
FULL = r"\bauthd: replay cache full: (\d+) unexpired used tokens"

CONFIG = '''
prefork = 2
clock-skew = 0
replay-cache-size = SIZE
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { backend = tcp }
'''


def use(t, tok, what):
	s = lt.rfb_session(t, f"/ws/vnc/vm1?token={tok}", what)
	lt.close_and_wait(t, s)


def refused_full(t, tok, what, size):
	mark = t.mark()
	lt.expect_refused(t, what, f"/ws/vnc/vm1?token={tok}",
	    "INTERNAL_ERROR")
	m = t.wait_log(FULL, since=mark)
	t.expect(int(m.group(1)) == size, f"{what}: the log says "
	    f"{m.group(1)} used tokens, want {size}")


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	rest = k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n"
	t.start(CONFIG.replace("SIZE", "5") + rest)
	claims = [keys.claims(ttl=TTL) for _ in range(7)]
	toks = [keys.mint(k1, c, what=f"token {i}")
	    for i, c in enumerate(claims)]

	for i in range(5):
		use(t, toks[i], f"token {i}")
	refused_full(t, toks[5], "a sixth jti with room for 5", 5)
	lt.expect_refused(t, "a replay of token 0, cache full",
	    f"/ws/vnc/vm1?token={toks[0]}", "TOKEN_ALREADY_USED")

	mark = t.reload(CONFIG.replace("SIZE", "6") + rest)
	t.wait_log(r"\bauthd: replay cache: room for 6 used tokens, 5 in it",
	    since=mark)
	t.wait_log(r"\bmaster: reload: configuration reloaded", since=mark)
	use(t, toks[5], "the sixth jti after the reload to 6")
	for i in range(6):
		lt.expect_refused(t, f"a replay of token {i} after the reload",
		    f"/ws/vnc/vm1?token={toks[i]}", "TOKEN_ALREADY_USED")
	refused_full(t, toks[6], "a seventh jti with room for 6", 6)

	# The entries last until exp (the skew is 0), in whole seconds.
	until = max(c["exp"] for c in claims[:6]) + 1
	t.note(f"waiting {until - time.time():.1f}s for the tokens to expire")
	t.wait_for("the used tokens' expiry", lambda: time.time() > until,
	    timeout=TTL + 30)
	use(t, keys.mint(k1, keys.claims(), what="after expiry"),
	    "a new jti once the entries expired")
