# Each KubeVirt error maps to its code, answered before the upgrade
# (errors = http) and logged, and the mock counted the status it sent:
#   401 (a token the API server does not know)   UNAUTHORIZED
#   403 (a token RBAC refuses)                   UNAUTHORIZED
#   404 (no such VMI)                            VM_NOT_FOUND
#   400 "VMI is not running"                     NO_CONSOLE_AVAILABLE
#   400 "No graphics devices are present."       NO_CONSOLE_AVAILABLE
#   503 (preserve-session = yes, and someone
#        else holds the VMI's console)           MAX_CONNECTIONS_REACHED
# An upstream that drops TCP without a close frame (POST /_mock/drop)
# ends the browser's session with 1011 "upstream closed without a close
# frame"; the worker logs the session's end and gives its slot back: with
# max-sessions-per-target = 1 a new session to the same VMI opens, and
# after another drop once more.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

TIMEOUT = 180

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
max-sessions-per-target = 1
route "/k8s/{namespace}/{vmi}" { backend = kubevirt upstream = "kv" }
route "/k401/{namespace}/{vmi}" { backend = kubevirt upstream = "kvbad" }
route "/k403/{namespace}/{vmi}" { backend = kubevirt upstream = "kvrbac" }
route "/keep/{namespace}/{vmi}" { backend = kubevirt upstream = "kvkeep" }
'''

VMIS = ("ns/vm1", "ns/stopped=stopped", "ns/nographics=nographics",
    "ns/busy", "ns/drop")


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	good, goodf = lu.bearer_file(t, sec, "good")
	_, badf = lu.bearer_file(t, sec, "unknown")
	rbac, rbacf = lu.bearer_file(t, sec, "rbac")
	mock = lu.start_kubeapi(t, goodf, vmis=VMIS,
	    args=["--forbidden-token", rbac], hidden=(rbac,))
	t.start(CONFIG + k1.conf() + "\n" +
	    lu.kubevirt_conf("kv", mock, goodf) +
	    lu.kubevirt_conf("kvbad", mock, badf) +
	    lu.kubevirt_conf("kvrbac", mock, rbacf) +
	    lu.kubevirt_conf("kvkeep", mock, goodf,
	    extra=["preserve-session = yes"]))

	def path(route, vmi):
		tok = keys.mint(k1, keys.claims(target=vmi))
		return f"/{route}/ns/{vmi}?token={tok}"

	def refused(what, route, vmi, code, status):
		key = f"rejected_{status}"
		before = mock.stats()[key]
		lu.refused(t, what, path(route, vmi), code)
		after = mock.counters(key, "upgrade_requests", "last_path")
		t.expect(after[key] > before, f"{what}: the mock did not "
		    f"answer {status} ({key} {before} -> {after[key]})")

	refused("unknown bearer token", "k401", "vm1", "UNAUTHORIZED", 401)
	refused("bearer token refused by RBAC", "k403", "vm1",
	    "UNAUTHORIZED", 403)
	refused("no such VMI", "k8s", "ghost", "VM_NOT_FOUND", 404)
	refused("VMI not running", "k8s", "stopped", "NO_CONSOLE_AVAILABLE",
	    400)
	refused("VMI without graphics", "k8s", "nographics",
	    "NO_CONSOLE_AVAILABLE", 400)

	# Someone else holds busy's console; preserveSession=true gets 503.
	lu.Held(mock, lu.KV_PATH.format(ver="v1", ns="ns", name="busy"),
	    {"Authorization": f"Bearer {good}",
	    "Sec-WebSocket-Protocol": "plain.kubevirt.io"})
	t.expect(mock.stats()["sessions"] == ["ns/busy"],
	    "the mock holds no session for ns/busy")
	refused("preserveSession while busy", "keep", "busy",
	    "MAX_CONNECTIONS_REACHED", 503)
	t.expect(mock.stats()["last_preserve_session"] is True,
	    "preserve-session = yes did not send preserveSession=true")
	t.expect(mock.stats()["sessions"] == ["ns/busy"],
	    "the other session on ns/busy was kicked")

	# Dropped without a close frame: 1011, and the slot comes back.
	for i in (1, 2):
		what = f"drop {i}"
		s = lu.console(t, path("k8s", "drop"), what, "mock-drop",
		    total=65536)
		lu.drop_ends(t, s, mock, what)
	s = lu.console(t, path("k8s", "drop"), "after the drops", "mock-drop",
	    total=65536)
	lt.close_and_wait(t, s)
	lu.check_no_secrets(t, sec, [mock])
