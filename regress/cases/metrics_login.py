# Logins to an upstream are timed: two consoles through the Prism mock
# (regress/mock/prism.py, Element mode) make one login, and the metrics
# page then has one observation of vncrelayd_upstream_login_seconds with
# kind "prism" (a histogram that passes the strict line check), while the
# connect histogram has one observation for each console.

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_metrics		# noqa: E402
import lib_relay		# noqa: E402
import lib_token		# noqa: E402

UUID = "0badc0de-0000-4000-8000-000000000002"

CONFIG = '''
prefork = 1
metrics-listen = "127.0.0.1:{port2}"
listen "127.0.0.1:{port}" { tls = no }
KEY
prism "pe" {
	host = "127.0.0.1"
	port = PRISM_PORT
	username = "admin"
	password-file = "{tmp}/prism.pw"
	tls-verify = no
}
route "/proxy/{uuid}" { backend = prism upstream = "pe" }
'''


def start_prism(t):
	pki = lib_relay.make_certs(t)
	mock = os.path.join(lib_relay.TOP, "regress", "mock", "prism.py")
	c = lib_relay.start_child(t, ["/usr/bin/python3", mock, "--cert",
	    pki["cert"], "--key", pki["key"], "--mode", "element", "--vm",
	    UUID], "prism")
	m = t.wait_for("the Prism mock's READY line", lambda: re.search(
	    r"READY port=(\d+)", c.output()), timeout=20)
	return int(m.group(1))


def until(t, what, check):
	"""Scrape until check(page) holds, for 20 seconds at most."""
	deadline = time.monotonic() + 20
	for _ in range(200):
		page = lib_metrics.scrape(t, t.port_for("port2"))
		if check(page) or time.monotonic() > deadline:
			break
		time.sleep(0.3)
	t.expect(check(page), f"{what}: not within 20s")
	return page


def run(t):
	port = start_prism(t)
	keys = lib_token.Keys(t)
	k = keys.hs256("k1")
	t.write_file("prism.pw", "secret\n", mode=0o600)
	t.start(CONFIG.replace("KEY", k.conf()).replace("PRISM_PORT",
	    str(port)))
	page = lib_metrics.scrape(t, t.port_for("port2"))
	t.expect(page.series("vncrelayd_upstream_login_seconds_count") == {},
	    "a login observation before any login")

	for n in range(2):
		s = lib_token.session(t, f"/proxy/{UUID}?token=" +
		    keys.mint(k, keys.claims(target=UUID)), f"console {n}")
		s.banner()
		lib_token.close_and_wait(t, s)
	t.expect(len(t.log_matches(r"\bauthd: prism pe: login ok ")) == 1,
	    "two consoles did not make exactly one login")

	page = until(t, "one login, two connects", lambda p: p.get(
	    "vncrelayd_upstream_connect_seconds_count", kind="tcp") == 2)
	t.expect(page.series("vncrelayd_upstream_login_seconds_count") ==
	    {(("kind", "prism"),): 1.0}, "login observations: "
	    f"{page.series('vncrelayd_upstream_login_seconds_count')}")
	t.expect(page.get("vncrelayd_upstream_login_seconds_sum",
	    kind="prism") > 0, "the login took no time at all")
