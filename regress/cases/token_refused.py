# Bad tokens are refused before the upgrade, each with its own code, and
# authd says why: a forged signature, a retired key, alg none, HS256 signed
# with the EdDSA key's public PEM (algorithm confusion), expired, nbf in
# the future, a lifetime over max-token-lifetime, the wrong target, no
# exp, and a one-time token replayed through the other worker.  A good
# token in the same configuration is accepted, so that the refusals are
# not a daemon that refuses everything.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
clock-skew = 30
max-token-lifetime = 3600
route "/ws/vnc/{name}" { backend = tcp }
'''


def refused(t, keys, what, tok, code, why, target="vm1"):
	mark = t.mark()
	d = lt.expect_refused(t, what, f"/ws/vnc/{target}?token={tok}", code)
	# authd logs its reason just before the decision line.
	m = t.log_matches(r"\bauthd: (token refused: .*|token does not allow"
	    r" .*)$", since=mark)
	t.expect(m, f"{what}: authd gave no reason")
	t.expect(why in m[-1].group(1), f"{what}: reason "
	    f"{m[-1].group(1)!r}, want one with {why!r}")
	t.expect(not t.log_matches(r"\bsession start\b", since=mark),
	    f"{what}: a session started")
	return d


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	ed = keys.ed25519("ed", file="public")
	retired = keys.hs256("k0", configured=False)
	other = keys.hs256("k1", configured=False)
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + ed.conf() + "\n" +
	    lt.targets_conf(peer.port) + "\n")
	held = []
	try:
		cases(t, keys, k1, ed, retired, other, held)
	finally:
		lt.close_all(held)


def cases(t, keys, k1, ed, retired, other, held):
	# The control: both keys work, and a lifetime of exactly
	# max-token-lifetime (3600 s) is not over it.
	t0 = int(lt.now())
	for k, c in ((k1, keys.claims()), (ed, keys.claims()),
	    (k1, keys.claims(iat=t0, exp=t0 + 3600))):
		tok = keys.mint(k, c, what=f"good {k.kid}")
		s = lt.rfb_session(t, f"/ws/vnc/vm1?token={tok}",
		    f"good token ({k.kid}, lifetime {c['exp'] - c['iat']})",
		    held)
		s.close()

	# Signed with another secret under the configured kid.
	refused(t, keys, "forged signature", keys.mint(other, keys.claims(),
	    what="forged"), "INVALID_TOKEN", "bad signature")
	# The right claims and header, with the last signature byte changed.
	good = keys.mint(k1, keys.claims(), what="to be altered")
	sig = good.rsplit(".", 1)[1]
	alt = "A" if sig[0] != "A" else "B"
	refused(t, keys, "altered signature", good.rsplit(".", 1)[0] + "." +
	    alt + sig[1:], "INVALID_TOKEN", "bad signature")

	# A retired key: its kid is no longer configured; without a kid the
	# remaining HS256 keys do not verify it either.
	refused(t, keys, "retired key (kid k0)", keys.mint(retired,
	    keys.claims(), what="retired"), "INVALID_TOKEN", "unknown kid")
	refused(t, keys, "retired key, no kid", keys.mint(retired,
	    keys.claims(), what="retired no kid", kid=False),
	    "INVALID_TOKEN", "bad signature")

	# alg none, with and without a kid that exists.
	refused(t, keys, "alg none", keys.mint_none(keys.claims()),
	    "INVALID_TOKEN", "unsupported alg")
	refused(t, keys, "alg none, kid k1", keys.mint_none(keys.claims(),
	    headers={"kid": "k1"}), "INVALID_TOKEN", "unsupported alg")

	# HS256 keyed with the EdDSA key's public PEM, which an attacker
	# knows; the kid names the EdDSA key, or no kid at all.
	refused(t, keys, "HS256 with the Ed25519 public PEM, kid ed",
	    keys.mint_hs256_with(ed.material, keys.claims(),
	    what="confusion", headers={"kid": "ed"}), "INVALID_TOKEN",
	    "alg differs")
	refused(t, keys, "HS256 with the Ed25519 public PEM, no kid",
	    keys.mint_hs256_with(ed.material, keys.claims(),
	    what="confusion no kid"), "INVALID_TOKEN", "bad signature")

	# Times.  clock-skew is 30 s: these are well outside it.
	t0 = int(lt.now())
	refused(t, keys, "expired", keys.mint(k1, keys.claims(iat=t0 - 600,
	    exp=t0 - 120), what="expired"), "TOKEN_EXPIRED", "expired")
	refused(t, keys, "nbf in the future", keys.mint(k1, keys.claims(
	    nbf=t0 + 600, exp=t0 + 900), what="nbf"), "INVALID_TOKEN", "nbf")
	refused(t, keys, "iat in the future", keys.mint(k1, keys.claims(
	    iat=t0 + 600, exp=t0 + 900), what="iat"), "INVALID_TOKEN", "iat")
	refused(t, keys, "over max-token-lifetime (iat now, exp in 2 days)",
	    keys.mint(k1, keys.claims(iat=t0, exp=t0 + 2 * 86400),
	    what="long"), "INVALID_TOKEN", "maximum lifetime")
	refused(t, keys, "over max-token-lifetime (no iat)",
	    keys.mint(k1, keys.claims(iat=None, exp=t0 + 2 * 86400),
	    what="long no iat"), "INVALID_TOKEN", "maximum lifetime")
	c = keys.claims()
	del c["exp"]
	refused(t, keys, "no exp", keys.mint(k1, c, what="no exp"),
	    "INVALID_TOKEN", "missing exp")

	# A token for vm2 on vm1's route (vm2 exists: this is not a 404).
	d = refused(t, keys, "wrong target", keys.mint(k1,
	    keys.claims(target="vm2"), what="wrong target"), "UNAUTHORIZED",
	    "does not allow target vm1")
	t.expect(d["target"] == "vm1", f"wrong target: target={d['target']}")

	replay(t, keys, k1, held)


def replay(t, keys, k1, held):
	"""Fresh tokens until both workers have served; then a one-time
	token is used once and replayed until a replay lands on the worker
	that did not serve it.  Every replay is TOKEN_ALREADY_USED."""
	seen = set()
	for i in range(60):
		if seen == {0, 1}:
			break
		tok = keys.mint(k1, keys.claims(sub=f"warm{i}"), what="warm-up")
		s = lt.session(t, f"/ws/vnc/vm1?token={tok}", f"warm-up {i}",
		    held)
		seen.add(s.worker)
		s.close()
	t.expect(seen == {0, 1}, f"only workers {sorted(seen)} served "
	    "60 connections")

	c = keys.claims(sub="once")
	tok = keys.mint(k1, c, what="one-time")
	first = lt.rfb_session(t, f"/ws/vnc/vm1?token={tok}", "one-time use",
	    held)
	lt.close_and_wait(t, first)
	jti = lt.short_hash(c["jti"])
	workers = []
	for i in range(60):
		d = lt.expect_refused(t, f"replay {i + 1}",
		    f"/ws/vnc/vm1?token={tok}", "TOKEN_ALREADY_USED")
		t.expect(d["jti"] == jti and d["user"] == "once",
		    f"replay {i + 1}: jti={d['jti']} user={d['user']}")
		workers.append(d["worker"])
		if d["worker"] != first.worker:
			break
	t.expect(workers and workers[-1] != first.worker, "no replay "
	    f"reached the other worker in {len(workers)} tries "
	    f"(first use on worker{first.worker})")
	t.note(f"one-time token used on worker{first.worker}, replays on "
	    f"workers {workers}")

	# The jti is what is used up: the same jti in a token signed anew.
	c2 = keys.claims(sub="again", jti=False)
	c2["jti"] = c["jti"]
	lt.expect_refused(t, "same jti, signed anew", "/ws/vnc/vm1?token=" +
	    keys.mint(k1, c2, what="same jti"), "TOKEN_ALREADY_USED")
