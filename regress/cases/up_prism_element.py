# Through vncrelayd to the mock Prism Element (regress/mock/prism.py): a
# browser-equivalent client (python3-websockets offering "binary", as
# noVNC) opens /proxy/{uuid} with a token; authd logs in with
# j_spring_security_check ("login ok (element)"), the worker upgrades over
# TLS verified against the test CA with the JSESSIONID cookie, RFB reaches
# ServerInit named mock-<uuid>, and 1 MiB of random bytes in random chunks
# comes back exactly (SHA-256), echoed by the mock.  The mock saw one
# login, one console on /vnc/vm/<uuid>/proxy, subprotocol "binary" and the
# cookie; no log line holds the password or the cookie.

import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/proxy/{uuid}" { backend = prism upstream = "pe" }
'''

TOTAL = 1 << 20


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	mock, section = lu.prism_upstream(t, sec, "pe")
	t.start(CONFIG + k1.conf() + "\n" + section)

	mark = t.mark()
	tok = keys.mint(k1, keys.claims(target=lu.VM1))
	s = lu.console(t, f"/proxy/{lu.VM1}?token={tok}", "Element console",
	    f"mock-{lu.VM1}", total=TOTAL)
	t.expect(s.decision["target"] == lu.VM1,
	    f"decision target={s.decision['target']}, want {lu.VM1}")
	t.wait_log(r"\bauthd: prism pe: login ok \(element\) time=\d+ms",
	    since=mark)

	st = mock.stats()
	lu.record_cookies(sec, st["last_cookie_header"])
	mock.counters("logins", "failed_logins", "connections", "rfb_ready",
	    "echoed_bytes", "last_subprotocol", "last_upgrade_path")
	t.expect(st["logins"] == 1 and st["failed_logins"] == 0,
	    f"mock: logins={st['logins']} failed={st['failed_logins']}, "
	    "want one good login")
	t.expect(st["connections"] == 1 and st["rfb_ready"] == 1,
	    f"mock: connections={st['connections']} "
	    f"rfb_ready={st['rfb_ready']}, want 1 and 1")
	t.expect(st["echoed_bytes"] == TOTAL,
	    f"mock echoed {st['echoed_bytes']} bytes, want {TOTAL}")
	t.expect(st["last_subprotocol"] == "binary",
	    f"mock: subprotocol {st['last_subprotocol']!r}, want 'binary'")
	path = urllib.parse.urlsplit(st["last_upgrade_path"]).path
	t.expect(path == f"/vnc/vm/{lu.VM1}/proxy",
	    f"mock: upgrade path {path!r}")
	names = re.findall(r"(?:^|[;,]\s*)([^=;,\s]+)=",
	    st["last_cookie_header"])
	t.expect(names == ["JSESSIONID"],
	    f"mock: cookies named {names}, want ['JSESSIONID']")

	lt.close_and_wait(t, s)
	mock.wait_counter("active", 0)
	lu.check_no_secrets(t, sec, [mock])
