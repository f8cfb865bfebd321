# Good tokens open the console, from every source the daemon reads them
# from: a float exp, times within clock-skew, a rotated key picked by kid,
# EdDSA (public and private PEM in the key file), a target list, and the
# query, cookie, path (seed 001, with and without a prefix) and
# subprotocol bearer forms.  Each session reaches
# the upstream's "RFB 003.008" and echoes; the decision line names the
# user, the target and the jti's hash, and the session's end line the
# same client, route, target, user and jti hash, both with their time.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
clock-skew = 30
max-token-lifetime = 86400
route "/ws/vnc/{name}" { backend = tcp }
route "/ws_proxy/{token}/{vmi}" { errors = reason }
route "/{token}/{vmi}" { errors = reason }
'''


def check_decision(t, s, user, jti_hash, target="vm1"):
	d = s.decision
	t.expect(d["user"] == user, f"{s.what}: user={d['user']}, want {user}")
	t.expect(d["target"] == target,
	    f"{s.what}: target={d['target']}, want {target}")
	t.expect(d["jti"] == jti_hash,
	    f"{s.what}: jti={d['jti']}, want {jti_hash}")


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	k2 = keys.hs256("k2")
	ed = keys.ed25519("ed", file="public")
	edp = keys.ed25519("edp", file="private")
	peer = t.peer("echo")
	t.start(CONFIG + "\n".join(k.conf() for k in (k1, k2, ed, edp)) +
	    "\n" + lt.targets_conf(peer.port) + "\n")
	held = []
	try:
		cases(t, keys, k1, k2, ed, edp, held)
	finally:
		lt.close_all(held)


def one(t, keys, key, what, claims, held, **kw):
	tok = keys.mint(key, claims, what=what)
	s = lt.rfb_session(t, f"/ws/vnc/vm1?token={tok}", what, held, **kw)
	check_decision(t, s, claims["sub"], lt.short_hash(claims["jti"]))
	lt.close_and_audit(t, s)
	return s


def cases(t, keys, k1, k2, ed, edp, held):
	# A float exp (seed 001 writes time.time() + ttl).
	c = keys.claims(sub="float-user")
	c["exp"] = lt.now() + 300.25
	one(t, keys, k1, "float exp", c, held)

	# Clocks that disagree by less than clock-skew (30 s): exp 10 s ago,
	# nbf and iat 10 s ahead.
	t0 = int(lt.now())
	one(t, keys, k1, "exp 10 s ago", keys.claims(sub="late", iat=t0 - 60,
	    exp=t0 - 10), held)
	one(t, keys, k1, "nbf and iat 10 s ahead", keys.claims(sub="early",
	    iat=t0 + 10, nbf=t0 + 10, exp=t0 + 300), held)

	# Two HS256 keys: the second, picked by its kid.
	one(t, keys, k2, "rotated key k2 by kid", keys.claims(sub="rot"),
	    held)

	# EdDSA, the daemon holding the public PEM, then the private PEM.
	one(t, keys, ed, "EdDSA (public PEM)", keys.claims(sub="ed-user"),
	    held)
	one(t, keys, edp, "EdDSA (private PEM)", keys.claims(sub="edp-user"),
	    held)

	# A target list naming vm1 among others.
	one(t, keys, k1, "target list", keys.claims(sub="lister",
	    target=["vm9", "vm1"]), held)

	# Token sources.  The cookie is one of several.
	c = keys.claims(sub="cookie-user")
	tok = keys.mint(k1, c, what="cookie")
	s = lt.rfb_session(t, "/ws/vnc/vm1", "cookie", held,
	    headers={"Cookie": f"theme=dark; token={tok}; lang=en"})
	check_decision(t, s, "cookie-user", lt.short_hash(c["jti"]))
	lt.close_and_audit(t, s)

	c = keys.claims(sub="bearer-user")
	tok = keys.mint(k1, c, what="subprotocol bearer")
	s = lt.rfb_session(t, "/ws/vnc/vm1", "subprotocol bearer", held,
	    subprotocols=["binary", lt.BEARER_PREFIX + tok])
	t.expect(s.subprotocol == "binary", "subprotocol bearer: server "
	    f"chose {s.subprotocol!r}, want 'binary'")
	check_decision(t, s, "bearer-user", lt.short_hash(c["jti"]))
	s.close()

	# Seed 001: the token in the path, lab_instance claims, id as user,
	# a float exp; without jti the log names the token by its hash.
	c = keys.lab_claims(user_id=42, vmis=("vm2", "vm1"))
	tok = keys.mint(k1, c, what="seed-001 path")
	s = lt.rfb_session(t, f"/{tok}/vm1", "path /{token}/{vmi}", held)
	check_decision(t, s, "42", lt.short_hash(tok))
	t.expect(s.decision["route"] == "/{token}/{vmi}",
	    f"path: route={s.decision['route']}")
	s.close()

	c = keys.lab_claims(user_id=43, vmis=("vm1",))
	tok = keys.mint(k1, c, what="seed-001 path with prefix")
	s = lt.rfb_session(t, f"/ws_proxy/{tok}/vm1",
	    "path /ws_proxy/{token}/{vmi}", held)
	check_decision(t, s, "43", lt.short_hash(tok))
	t.expect(s.decision["route"] == "/ws_proxy/{token}/{vmi}",
	    f"prefixed path: route={s.decision['route']}")
	lt.close_and_audit(t, s)

	# The same seed-001 token opens its other allowed VMI too (no jti:
	# not one-time).
	s = lt.rfb_session(t, f"/ws_proxy/{tok}/vm1",
	    "path token used again (no jti)", held)
	s.close()
