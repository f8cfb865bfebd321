# Through vncrelayd to the mock Prism Central: authd logs in with the v3
# Basic login ("login ok (central)"), looks the VM's cluster up with the
# cookies, and the worker upgrades to /vnc/vm/<uuid>/proxy with
# ?proxyClusterUuid=<the VM's cluster> (the mock refuses a wrong one), the
# NTNX_* cookies and subprotocol "binary".  A browser-equivalent client
# reaches ServerInit named mock-<uuid> and 1 MiB of random bytes comes back
# exactly, for two VMs on two clusters.  One login serves both; a second
# console to the first VM uses the cached cluster (no new lookup).  No
# log line holds the password or a cookie.

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
route "/proxy/{uuid}" { backend = prism upstream = "pc" }
'''

TOTAL = 1 << 20
DEFAULT_CLUSTER = "00000000-0000-0000-0000-0000000000c1"


def one(t, keys, k1, sec, mock, vm, cluster, what):
	tok = keys.mint(k1, keys.claims(target=vm))
	s = lu.console(t, f"/proxy/{vm}?token={tok}", what, f"mock-{vm}",
	    total=TOTAL)
	st = mock.stats()
	lu.record_cookies(sec, st["last_cookie_header"])
	lu.record_cookies(sec, st["last_rest_cookie_header"])
	mock.counters("logins", "vm_lookups", "connections", "echoed_bytes",
	    "last_subprotocol", "last_upgrade_path")
	u = urllib.parse.urlsplit(st["last_upgrade_path"])
	q = urllib.parse.parse_qs(u.query)
	t.expect(u.path == f"/vnc/vm/{vm}/proxy",
	    f"{what}: mock saw path {u.path!r}")
	t.expect(q.get("proxyClusterUuid") == [cluster],
	    f"{what}: proxyClusterUuid {q.get('proxyClusterUuid')}, want "
	    f"[{cluster}]")
	t.expect(st["last_subprotocol"] == "binary",
	    f"{what}: subprotocol {st['last_subprotocol']!r}")
	names = set(re.findall(r"(?:^|[;,]\s*)([^=;,\s]+)=",
	    st["last_cookie_header"]))
	t.expect(names == {"NTNX_IGW_SESSION", "NTNX_IAM_SESSION"},
	    f"{what}: upgrade cookies named {sorted(names)}, want both "
	    "NTNX_IGW_SESSION and NTNX_IAM_SESSION")
	lt.close_and_wait(t, s)
	return mock.stats()


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	mock, section = lu.prism_upstream(t, sec, "pc", mode="central",
	    vms=(f"{lu.VM1}={lu.CLUSTER1}", lu.VM2))
	t.start(CONFIG + k1.conf() + "\n" + section)

	mark = t.mark()
	st = one(t, keys, k1, sec, mock, lu.VM1, lu.CLUSTER1, "VM1 console")
	t.wait_log(r"\bauthd: prism pc: login ok \(central\) time=\d+ms",
	    since=mark)
	t.expect(st["logins"] == 1 and st["vm_lookups"] == 1,
	    f"after one console: logins={st['logins']} "
	    f"vm_lookups={st['vm_lookups']}, want 1 and 1")
	t.expect(st["echoed_bytes"] == TOTAL,
	    f"mock echoed {st['echoed_bytes']}, want {TOTAL}")

	st = one(t, keys, k1, sec, mock, lu.VM2, DEFAULT_CLUSTER,
	    "VM2 console (another cluster)")
	t.expect(st["logins"] == 1 and st["vm_lookups"] == 2,
	    f"after the second VM: logins={st['logins']} "
	    f"vm_lookups={st['vm_lookups']}, want 1 and 2")

	st = one(t, keys, k1, sec, mock, lu.VM1, lu.CLUSTER1,
	    "VM1 again (cluster cached)")
	t.expect(st["logins"] == 1 and st["vm_lookups"] == 2,
	    f"VM1 again: logins={st['logins']} vm_lookups="
	    f"{st['vm_lookups']}, want 1 and 2 (session and cluster cached)")
	t.expect(st["connections"] == 3 and st["echoed_bytes"] == 3 * TOTAL,
	    f"mock: connections={st['connections']} echoed="
	    f"{st['echoed_bytes']}, want 3 and {3 * TOTAL}")
	t.expect(not t.log_matches(r"\bprism pc: login failed\b"),
	    "a login failed")
	mock.wait_counter("active", 0)
	lu.check_no_secrets(t, sec, [mock])
