# /proxy/{uuid} validates the UUID strictly (8-4-4-4-12 hex) before any
# upstream traffic: malformed ones get HTTP 400 (BAD_REQUEST) even with a
# valid token naming them, and the mock Prism saw no login, no VM lookup
# and no upgrade request meanwhile.  A well-formed UUID on the same route
# then reaches the mock (so the counters do count), and a well-formed
# unknown one is the upstream's 404: VM_NOT_FOUND.

import os
import sys
from urllib.parse import unquote

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/proxy/{uuid}" { backend = prism upstream = "pc" }
'''

BAD = (
	"not-a-uuid",
	"11111111-2222-3333-4444-55555555555",		# one digit short
	"11111111-2222-3333-4444-5555555555555",	# one digit long
	"g1111111-2222-3333-4444-555555555555",		# not hex
	"11111111222233334444555555555555",		# no dashes
	"111111112-222-3333-4444-555555555555",		# dash misplaced
	"11111111-2222-3333-4444-555555555555%20",	# a space after it
	"%2011111111-2222-3333-4444-555555555555",
)

COUNTERS = ("logins", "failed_logins", "vm_lookups", "upgrade_requests",
    "connections")


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	mock, section = lu.prism_upstream(t, sec, "pc", mode="central",
	    vms=(f"{lu.VM1}={lu.CLUSTER1}",))
	t.start(CONFIG + k1.conf() + "\n" + section)

	before = mock.counters(*COUNTERS)
	for bad in BAD:
		tok = keys.mint(k1, keys.claims(target=unquote(bad)))
		# The worker answers this itself; no log line is promised.
		lu.refused(t, f"uuid {bad!r}", f"/proxy/{bad}?token={tok}",
		    "BAD_REQUEST", logged=False)
	after = mock.counters(*COUNTERS)
	t.expect(after == before, f"malformed UUIDs reached the mock: "
	    f"{before} -> {after}")

	tok = keys.mint(k1, keys.claims(target=lu.VM1))
	s = lu.console(t, f"/proxy/{lu.VM1}?token={tok}", "a good UUID",
	    f"mock-{lu.VM1}", total=4096)
	lt.close_and_wait(t, s)
	st = mock.counters(*COUNTERS)
	t.expect(st["upgrade_requests"] == before["upgrade_requests"] + 1,
	    f"a good UUID: upgrade_requests {before['upgrade_requests']} -> "
	    f"{st['upgrade_requests']}")

	tok = keys.mint(k1, keys.claims(target=lu.VM_UNKNOWN))
	lu.refused(t, "an unknown VM", f"/proxy/{lu.VM_UNKNOWN}?token={tok}",
	    "VM_NOT_FOUND")
	lu.record_cookies(sec, mock.stats()["last_cookie_header"])
	lu.record_cookies(sec, mock.stats()["last_rest_cookie_header"])
	lu.check_no_secrets(t, sec, [mock])
