# max-sessions-per-target counts a console once, however the request
# spells it.  With the limit at 1:
# - a VM UUID on /proxy/{uuid} in upper or mixed case is the VM in lower
#   case: while one session to it is open, the other spellings get
#   MAX_CONNECTIONS_REACHED; once it closes, an upper-case spelling
#   opens, and the log and Prism see the lower-case UUID;
# - an address on /vnc/{ip} in its IPv4-mapped IPv6 spellings is the
#   IPv4 address: the same refusal, then the mapped spelling opens and
#   its session is logged as target=127.0.0.1.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

CONFIG = '''
prefork = 2
max-sessions-per-target = 1
listen "127.0.0.1:{port}" { tls = no }
route "/proxy/{uuid}" { backend = prism upstream = "pc" auth = none }
route "/vnc/{ip}" {
	backend = tcp
	networks = { "127.0.0.0/8" }
	port = PEER_PORT
	auth = none
}
'''

FULL = "MAX_CONNECTIONS_REACHED"
MAPPED = ("::ffff:127.0.0.1", "::FFFF:7f00:1", "0:0:0:0:0:ffff:127.0.0.1")


def run(t):
	keys = lt.Keys(t)
	peer = t.peer("echo")
	mock, section = lu.prism_upstream(t, keys.secrets, "pc",
	    mode="element", vms=(lu.VM2,))
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)) + section)

	upper = lu.VM2.upper()
	mixed = lu.VM2[:9] + lu.VM2[9:].upper()
	s = lu.console(t, f"/proxy/{lu.VM2}", "lower-case UUID",
	    f"mock-{lu.VM2}", total=4096)
	for spelling in (upper, mixed):
		lu.refused(t, f"UUID {spelling} while {lu.VM2} is open",
		    f"/proxy/{spelling}", FULL)
	lt.close_and_wait(t, s)
	mark = t.mark()
	s = lu.console(t, f"/proxy/{upper}", "upper-case UUID after the "
	    "close", f"mock-{lu.VM2}", total=4096)
	t.wait_log(rf"session start id=\d+ .*target={lu.VM2} ", since=mark)
	lt.close_and_wait(t, s)

	held = []
	lt.session(t, "/vnc/127.0.0.1", "127.0.0.1", held=held,
	    subprotocols=["binary"])
	for spelling in MAPPED:
		lu.refused(t, f"{spelling} while 127.0.0.1 is open",
		    f"/vnc/{spelling}", FULL)
	lt.close_and_wait(t, held.pop())
	mark = t.mark()
	lt.session(t, f"/vnc/{MAPPED[0]}", f"{MAPPED[0]} after the close",
	    held=held, subprotocols=["binary"])
	t.wait_log(r"session start id=\d+ .*target=127\.0\.0\.1 ", since=mark)
	lt.close_all(held)
