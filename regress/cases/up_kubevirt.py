# Through vncrelayd to the mock Kubernetes API (regress/mock/kubeapi.py):
# /k8s/{namespace}/{vmi} with a token; the worker upgrades over TLS
# verified against the test CA to KubeVirt's
# .../namespaces/<ns>/virtualmachineinstances/<vmi>/vnc with the bearer
# token of the token file and subprotocol plain.kubevirt.io.  A browser-
# equivalent client (offering "binary", as noVNC) reaches ServerInit named
# mock-<vmi> and 1 MiB of random bytes comes back exactly, in two
# namespaces (taken from the path), and through a second upstream with
# api-version v1alpha3.  The mock saw the bearer accepted, binary
# messages only (no text frame dropped), no preserveSession; no log line
# holds the bearer token.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/k8s/{namespace}/{vmi}" { backend = kubevirt upstream = "kv" }
route "/old/{namespace}/{vmi}" { backend = kubevirt upstream = "kvold" }
'''

TOTAL = 1 << 20


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	_, tokfile = lu.bearer_file(t, sec)
	mock = lu.start_kubeapi(t, tokfile,
	    vmis=("ns1/vm1", "ns2/vm2"))
	t.start(CONFIG + k1.conf() + "\n" +
	    lu.kubevirt_conf("kv", mock, tokfile) +
	    lu.kubevirt_conf("kvold", mock, tokfile,
	    extra=['api-version = "v1alpha3"']))

	done = 0
	for route, ns, vmi, ver in (("k8s", "ns1", "vm1", "v1"),
	    ("k8s", "ns2", "vm2", "v1"), ("old", "ns1", "vm1", "v1alpha3")):
		what = f"/{route}/{ns}/{vmi}"
		tok = keys.mint(k1, keys.claims(target=vmi))
		s = lu.console(t, f"/{route}/{ns}/{vmi}?token={tok}", what,
		    f"mock-{vmi}", total=TOTAL)
		done += 1
		st = mock.stats()
		mock.counters("connections", "rfb_ready", "echoed_bytes",
		    "last_path", "last_api_version", "last_subprotocol",
		    "last_authorization_ok", "last_preserve_session",
		    "text_frames_dropped", "rejected_401")
		want = lu.KV_PATH.format(ver=ver, ns=ns, name=vmi)
		t.expect(st["last_path"] == want,
		    f"{what}: mock path {st['last_path']!r}, want {want!r}")
		t.expect(st["last_subprotocol"] == "plain.kubevirt.io",
		    f"{what}: subprotocol {st['last_subprotocol']!r}, want "
		    "'plain.kubevirt.io'")
		t.expect(st["last_authorization_ok"] is True,
		    f"{what}: the mock did not accept the bearer token")
		t.expect(st["last_preserve_session"] is False,
		    f"{what}: preserveSession {st['last_preserve_session']!r} "
		    "with preserve-session off")
		t.expect(st["connections"] == done and
		    st["echoed_bytes"] == done * TOTAL,
		    f"{what}: mock connections={st['connections']} echoed="
		    f"{st['echoed_bytes']}, want {done} and {done * TOTAL}")
		t.expect(st["text_frames_dropped"] == 0 and
		    st["rejected_401"] == 0, f"{what}: text frames dropped "
		    f"{st['text_frames_dropped']}, 401s {st['rejected_401']}")
		lt.close_and_wait(t, s)
		t.wait_for(f"{what}: mock session gone",
		    lambda: mock.stats()["sessions"] == [])

	lu.check_no_secrets(t, sec, [mock])
