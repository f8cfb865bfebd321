# authd caches the Prism session.  Ten consoles in a row to one Prism
# Element cause one login, not ten.  After the mock expires every cookie
# (POST /_mock/expire), the next console is refused upstream once with the
# old cookie, authd logs "session rejected (HTTP N): logging in again",
# logs in once more, and the console opens: logins == 2.  The same for
# each way Prism may refuse an expired session on the upgrade (401, 403,
# 302 to /console/login: one mock each) and for Prism Central.  A Prism
# whose cookies are dead on arrival (--cookie-lifetime 0) gets exactly one
# retry: two logins, then UNAUTHORIZED.  No log line holds a password or
# a cookie.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

TIMEOUT = 300

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
max-sessions-per-target = 0
route "/proxy/{uuid}" { backend = prism upstream = "e401" }
route "/e403/proxy/{uuid}" { backend = prism upstream = "e403" }
route "/e302/proxy/{uuid}" { backend = prism upstream = "e302" }
route "/central/proxy/{uuid}" { backend = prism upstream = "central" }
route "/dead/proxy/{uuid}" { backend = prism upstream = "dead" }
'''

# name, route prefix, mock mode, mock arguments, expired status
UPSTREAMS = (
	("e401", "", "element", ["--expired-status", "401"], 401),
	("e403", "/e403", "element", ["--expired-status", "403"], 403),
	("e302", "/e302", "element", ["--expired-status", "302"], 302),
	("central", "/central", "central", [], 401),
	("dead", "/dead", "element", ["--cookie-lifetime", "0"], 401),
)


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	mocks, sections = lu.prism_upstreams(t, sec, UPSTREAMS)
	t.start(CONFIG + k1.conf() + "\n" + sections)

	def console(name, prefix, what):
		tok = keys.mint(k1, keys.claims(target=lu.VM1))
		s = lu.console(t, f"{prefix}/proxy/{lu.VM1}?token={tok}", what,
		    f"mock-{lu.VM1}", total=4096)
		lt.close_and_wait(t, s)
		st = mocks[name].stats()
		lu.record_cookies(sec, st["last_cookie_header"])

	# Ten in a row, one login.
	for i in range(10):
		console("e401", "", f"console {i + 1} of 10")
	st = mocks["e401"].counters("logins", "connections", "rejected")
	t.expect(st["connections"] == 10, f"mock: {st['connections']} "
	    "consoles, want 10")
	t.expect(st["logins"] == 1, f"ten consoles caused {st['logins']} "
	    "logins, want 1")

	for name, prefix, mode, _, status in UPSTREAMS[:4]:
		mock = mocks[name]
		if name != "e401":
			console(name, prefix, f"{name}: first console")
		st = mock.counters("logins", "connections")
		t.expect(st["logins"] == 1, f"{name}: {st['logins']} logins "
		    "before the expiry, want 1")
		mock.post("/_mock/expire")
		mark = t.mark()
		console(name, prefix, f"{name}: console after the expiry")
		t.wait_log(rf"\bauthd: prism {name}: session rejected "
		    rf"\(HTTP {status}\): logging in again", since=mark)
		after = mock.counters("logins", "connections",
		    "rejected_expired_cookie", "vm_lookups")
		t.expect(after["logins"] == 2, f"{name}: {after['logins']} "
		    "logins after the expiry, want 2")
		t.expect(after["connections"] == st["connections"] + 1,
		    f"{name}: connections {st['connections']} -> "
		    f"{after['connections']}")
		if mode == "element":
			t.expect(after["rejected_expired_cookie"] == 1,
			    f"{name}: the old cookie was refused "
			    f"{after['rejected_expired_cookie']} times, want 1")

	# Dead on arrival: one login, refused, one more, refused: no more.
	lu.refused(t, "cookies that never work",
	    f"/dead/proxy/{lu.VM1}?token="
	    f"{keys.mint(k1, keys.claims(target=lu.VM1))}", "UNAUTHORIZED")
	st = mocks["dead"].counters("logins", "connections",
	    "rejected_expired_cookie")
	t.expect(st["logins"] == 2 and st["connections"] == 0,
	    f"dead cookies: logins={st['logins']} connections="
	    f"{st['connections']}, want 2 logins (one retry) and no console")
	t.expect(st["rejected_expired_cookie"] == 2,
	    f"dead cookies: {st['rejected_expired_cookie']} upgrades refused,"
	    " want 2")
	lu.record_cookies(sec, mocks["dead"].stats()["last_cookie_header"])

	lu.check_no_secrets(t, sec, mocks.values())
