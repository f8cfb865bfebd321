# errors = reason (seed 001): a refusal comes after the upgrade, as a
# close frame with code 1000 and the reason "invalid token" (bad, expired,
# replayed token, VMI not in the token) or "invalid url" (a VMI the token
# allows but that is not configured), with no message before it; on the
# route with a one-segment prefix as well.  A good token still reaches RFB.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/ws_proxy/{token}/{vmi}" { errors = reason }
route "/{token}/{vmi}" { errors = reason }
'''


def closed(t, keys, what, path, reason, result):
	mark = t.mark()
	try:
		s = lt.try_session(t, path, what)
	except lt.Refused as e:
		d = lt.decision(t, mark)
		t.fail(f"{what}: HTTP {e.status} before the upgrade (result="
		    f"{d['result']}), want an upgrade and a close frame")
	d = lt.decision(t, mark)
	t.expect(d["result"] == result,
	    f"{what}: decision result={d['result']}, want {result}")
	msgs, code, why = s.until_closed()
	t.expect(not msgs, f"{what}: messages {msgs!r} before the close")
	t.expect(code == 1000 and why == reason, f"{what}: closed with "
	    f"{code} {why!r}, want 1000 {reason!r}")
	t.expect(not t.log_matches(r"\bsession start\b", since=mark),
	    f"{what}: a session started")


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("lab")
	other = keys.hs256("lab", configured=False)
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n")

	for prefix in ("", "/ws_proxy"):
		label = prefix or "(no prefix)"
		# The good token first: the route works.
		tok = keys.mint(k1, keys.lab_claims(vmis=("vm1", "ghost")),
		    what=f"good {label}")
		s = lt.rfb_session(t, f"{prefix}/{tok}/vm1",
		    f"good token {prefix}/{{token}}/{{vmi}}")
		s.close()

		closed(t, keys, f"forged token {label}",
		    f"{prefix}/{keys.mint(other, keys.lab_claims(), 'forged')}"
		    "/vm1", "invalid token", "INVALID_TOKEN")
		closed(t, keys, f"not a JWT {label}", f"{prefix}/not-a-jwt/vm1",
		    "invalid token", "INVALID_TOKEN")
		c = keys.lab_claims()
		c["exp"] = lt.now() - 600.5
		closed(t, keys, f"expired {label}",
		    f"{prefix}/{keys.mint(k1, c, 'expired')}/vm1",
		    "invalid token", "TOKEN_EXPIRED")
		closed(t, keys, f"VMI not in allowed_vmi_names {label}",
		    f"{prefix}/{keys.mint(k1, keys.lab_claims(vmis=('vm1',)))}"
		    "/vm2", "invalid token", "UNAUTHORIZED")
		# The good token names "ghost", which is not configured.
		closed(t, keys, f"unknown VMI {label}", f"{prefix}/{tok}/ghost",
		    "invalid url", "VM_NOT_FOUND")
		c = keys.lab_claims()
		c["jti"] = f"once-{prefix}-" + os.urandom(6).hex()
		once = keys.mint(k1, c, what="one-time")
		s = lt.rfb_session(t, f"{prefix}/{once}/vm1",
		    f"one-time token {label}")
		lt.close_and_wait(t, s)
		closed(t, keys, f"replayed {label}", f"{prefix}/{once}/vm1",
		    "invalid token", "TOKEN_ALREADY_USED")
