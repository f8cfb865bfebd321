# The KubeVirt bearer token file is rotated while the daemon runs, the way
# a kubelet does it (a new file renamed over the old one).  The daemon and
# the mock read the same file, so from the rotation on the mock accepts
# only the new token.  The master logs "kubevirt kv: token file changed";
# the next console opens with the new token (the mock refused nothing
# meanwhile), and the mock refuses the old token (401) while it takes the
# new one.  A second rotation works the same.  A token file caught empty
# keeps the old token.  No log holds either token.

import os
import secrets
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/k8s/{namespace}/{vmi}" { backend = kubevirt upstream = "kv" }
'''


def bearer_status(mock, token):
	"""What the mock answers an upgrade of our own with that token."""
	return mock.upgrade_status(lu.KV_PATH.format(ver="v1", ns="ns",
	    name="gone"), {"Authorization": f"Bearer {token}"})


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	tokens = ["kv-" + secrets.token_urlsafe(32) for _ in range(3)]
	for i, b in enumerate(tokens):
		sec.add(f"bearer token {i + 1}", b)
	tokfile = lu.secret_file(t, "kv.token", tokens[0], sec,
	    "bearer token 1")
	mock = lu.start_kubeapi(t, tokfile, vmis=("ns/vm1",))
	t.start(CONFIG + k1.conf() + "\n" +
	    lu.kubevirt_conf("kv", mock, tokfile))

	def console(what):
		tok = keys.mint(k1, keys.claims(target="vm1"))
		s = lu.console(t, f"/k8s/ns/vm1?token={tok}", what, "mock-vm1",
		    total=65536)
		lt.close_and_wait(t, s)
		t.wait_for(f"{what}: mock session gone",
		    lambda: mock.stats()["sessions"] == [])

	console("with token 1")
	for i in (1, 2):
		old, new = tokens[i - 1], tokens[i]
		mark = t.mark()
		lu.rewrite(tokfile, new)
		t.wait_log(r"\bmaster: kubevirt kv: token file changed\b",
		    since=mark, timeout=20)
		before = mock.counters("rejected_401", "connections")
		console(f"after rotation {i}")
		after = mock.counters("rejected_401", "connections",
		    "last_authorization_ok")
		t.expect(after["last_authorization_ok"] is True and
		    after["connections"] == before["connections"] + 1,
		    f"rotation {i}: the console did not open with the new "
		    "token")
		t.expect(after["rejected_401"] == before["rejected_401"],
		    f"rotation {i}: the mock refused "
		    f"{after['rejected_401'] - before['rejected_401']} "
		    "requests: the daemon sent the old token after it logged "
		    "the change")
		# The mock itself: the old token is refused, the new one not
		# (the VMI "gone" does not exist: 404 past the bearer check).
		st = bearer_status(mock, old)
		t.expect(st == 401, f"rotation {i}: the old token got {st} "
		    "from the mock, want 401")
		st = bearer_status(mock, new)
		t.expect(st == 404, f"rotation {i}: the new token got {st} "
		    "from the mock, want 404 (unknown VMI)")

	# Caught between truncate and write, the file is empty: the master
	# keeps the token it has, so the same token written back is no
	# change, and the console opens.
	mark = t.mark()
	lu.rewrite(tokfile, "")
	t.wait_log(r"\bmaster: kubevirt kv: \S+ holds no token: keeping the "
	    r"old one", since=mark, timeout=20)
	lu.rewrite(tokfile, tokens[2])
	console("after an empty token file")
	t.expect(not t.log_matches(r"\bkubevirt kv: token file changed",
	    since=mark), "an empty token file replaced the token")

	lu.check_no_secrets(t, sec, [mock])
