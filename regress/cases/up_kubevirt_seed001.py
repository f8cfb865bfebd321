# The seed 001 (LabOrchestrator) route to KubeVirt: /{token}/{vmi}, with
# and without a one-segment prefix, errors = reason.  The token is a
# lab_instance HS256 JWT; the namespace comes from the token alone (the
# mock has the VMI only in the token's namespace, not in the configured
# default one), as the mock's request path shows, for two tokens with two
# namespaces.  The console reaches ServerInit named mock-<vmi> and echoes
# exactly.  A VMI the token does not allow is closed after the upgrade
# with 1000 "invalid token", a VMI it allows that the cluster lacks with
# 1000 "invalid url" (the upstream's 404); the first never reaches the
# mock.  On a route with {namespace} in the path, a token that names its
# namespace opens nothing in another one.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/{token}/{vmi}" { backend = kubevirt upstream = "kv" errors = reason }
route "/{prefix}/{token}/{vmi}" {
	backend = kubevirt
	upstream = "kv"
	errors = reason
}
route "/k8s/ns/{namespace}/{vmi}" {
	backend = kubevirt
	upstream = "kv"
	errors = reason
}
'''


def closed(t, what, path, reason, result):
	"""Upgraded, then closed with 1000 and reason, nothing before it."""
	mark = t.mark()
	try:
		s = lt.try_session(t, path, what, subprotocols=["binary"])
	except lt.Refused as e:
		t.fail(f"{what}: HTTP {e.status} before the upgrade, want an "
		    "upgrade and a close frame")
	msgs, code, why = s.until_closed()
	t.expect(not msgs, f"{what}: messages {msgs!r} before the close")
	t.expect(code == 1000 and why == reason, f"{what}: closed with "
	    f"{code} {why!r}, want 1000 {reason!r}")
	t.wait_log(rf"\b(?:code|result)={result}\b", since=mark)
	t.expect(not t.log_matches(r"\bsession start\b", since=mark),
	    f"{what}: a session started")


def opens(t, keys, k1, mock, prefix, ns, what):
	"""A token for namespace ns opens vm1 there."""
	tok = keys.mint(k1, keys.lab_claims(vmis=("vm1", "ghost"), ns=ns),
	    what=what)
	s = lu.console(t, f"{prefix}/{tok}/vm1", what, "mock-vm1",
	    total=65536)
	st = mock.counters("last_path", "last_subprotocol", "connections")
	want = lu.KV_PATH.format(ver="v1", ns=ns, name="vm1")
	t.expect(st["last_path"] == want, f"{what}: the mock saw "
	    f"{st['last_path']!r}, want {want!r}")
	t.expect(st["last_subprotocol"] == "plain.kubevirt.io",
	    f"{what}: subprotocol {st['last_subprotocol']!r}")
	lt.close_and_wait(t, s)
	t.wait_for(f"{what}: mock session gone",
	    lambda: mock.stats()["sessions"] == [])


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("lab")
	_, tokfile = lu.bearer_file(t, sec)
	mock = lu.start_kubeapi(t, tokfile,
	    vmis=("lab-7/vm1", "lab-7/vm2", "lab-8/vm1"))
	t.start(CONFIG + k1.conf() + "\n" +
	    lu.kubevirt_conf("kv", mock, tokfile))

	for prefix in ("", "/ws_proxy"):
		label = prefix or "(no prefix)"
		for ns in ("lab-7", "lab-8"):
			opens(t, keys, k1, mock, prefix, ns, f"{label} {ns}/vm1")

		tok = keys.mint(k1, keys.lab_claims(vmis=("vm1", "ghost"),
		    ns="lab-7"), what=f"{label} refusals")
		before = mock.counters("upgrade_requests")
		closed(t, f"{label}: VMI not in allowed_vmi_names",
		    f"{prefix}/{tok}/vm2", "invalid token", "UNAUTHORIZED")
		t.expect(mock.counters("upgrade_requests") == before,
		    f"{label}: a VMI the token does not allow reached the mock")
		closed(t, f"{label}: VMI the cluster lacks",
		    f"{prefix}/{tok}/ghost", "invalid url", "VM_NOT_FOUND")
		st = mock.counters("upgrade_requests", "last_path")
		t.expect(st["upgrade_requests"] ==
		    before["upgrade_requests"] + 1 and st["last_path"] ==
		    lu.KV_PATH.format(ver="v1", ns="lab-7", name="ghost"),
		    f"{label}: the unknown VMI was not asked for upstream")

	# The path may not move a lab-7 token into lab-8, which has a vm1.
	tok = keys.mint(k1, keys.lab_claims(vmis=("vm1",), ns="lab-7"),
	    what="namespace from the path")
	before = mock.counters("upgrade_requests")
	closed(t, "a path namespace other than the token's",
	    f"/k8s/ns/lab-8/vm1?token={tok}", "invalid token", "UNAUTHORIZED")
	t.expect(mock.counters("upgrade_requests") == before,
	    "a token for lab-7 reached the mock for lab-8")

	lu.check_no_secrets(t, sec, [mock])
