# The console in headless Chromium (regress/browser/console-test.mjs, as
# in browser_console) against the mock Prism Element, through the old
# bookmark URL of seed 000:
#
#   /console/vnc_auto.html?path=proxy/{uuid}&name=...&token=...
#                       the token in the page URL, which our page sends
#                       on as ?token= on the WebSocket
#   /console/vnc_auto.html?path=open/proxy/{uuid}&name=...
#                       a route with auth = none, as browser_console's
#
# noVNC reaches "connected" and draws the mock's checkerboard (the mock
# runs with --screen); the daemon logs the session on the Prism route to
# the VM, the mock served a picture to each, and one login served both.
# Screenshots are kept as regress/artifacts/browser_prism-*.png.

import os
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_relay		# noqa: E402
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

TIMEOUT = 300

CONFIG = '''
prefork = 2
webroot = "{tmp}/www"
listen "127.0.0.1:{port}" { tls = false }
route "/proxy/{uuid}" { backend = prism upstream = "pe" }
route "/open/proxy/{uuid}" { backend = prism upstream = "pe" auth = none }
'''


def run(t):
	lib_relay.browser_tools(t)
	lib_relay.copy_webroot(t)
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	mock, section = lu.prism_upstream(t, sec, "pe", args=["--screen"])
	t.start(CONFIG + k1.conf() + "\n" + section)

	page = f"http://127.0.0.1:{t.port}/console/vnc_auto.html"
	tok = keys.mint(k1, keys.claims(target=lu.VM1, ttl=600))
	lib_relay.browse(t, "token",
	    f"{page}?path=proxy/{lu.VM1}&name=prism-vm&token={quote(tok)}",
	    lu.VM1, r"/proxy/\{uuid\}")
	st = mock.counters("logins", "connections", "screens_sent",
	    "last_subprotocol")
	t.expect(st["connections"] == 1 and st["screens_sent"],
	    f"token: the mock saw {st['connections']} consoles and sent "
	    f"{st['screens_sent']} pictures")
	t.expect(st["last_subprotocol"] == "binary",
	    f"token: subprotocol {st['last_subprotocol']!r}")

	lib_relay.browse(t, "auth-none",
	    f"{page}?path=open/proxy/{lu.VM1}&name=prism-vm",
	    lu.VM1, r"/open/proxy/\{uuid\}")
	st = mock.counters("logins", "connections", "screens_sent")
	t.expect(st["connections"] == 2 and st["screens_sent"] >= 2,
	    f"auth none: the mock saw {st['connections']} consoles and sent "
	    f"{st['screens_sent']} pictures")
	t.expect(st["logins"] == 1, f"{st['logins']} logins for two "
	    "consoles, want 1")
	lu.record_cookies(sec, mock.stats()["last_cookie_header"])
	lu.check_no_secrets(t, sec, [mock])
