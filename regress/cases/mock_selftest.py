# The mock upstreams behave as regress/mock/README.md says: their
# self-check (regress/mock/selftest.py) passes every one of its checks,
# among them the ones no daemon case looks at from the mock's side: a
# wrong proxyClusterUuid refused, text frames dropped, the 503 of
# preserveSession, the 32-per-VM limit and the refusal of a wrong CA.
# The up_* cases trust these mocks; this case keeps them honest.

import os
import re
import subprocess

TIMEOUT = 120

SELFTEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
    "mock", "selftest.py")


def run(t):
	cp = subprocess.run(["/usr/bin/python3", SELFTEST],
	    stdin=subprocess.DEVNULL, capture_output=True, text=True,
	    timeout=TIMEOUT - 20)
	out = cp.stdout + cp.stderr
	for line in out.splitlines():
		t.note(f"  | {line}")
	failed = [l for l in out.splitlines() if l.startswith("not ok")]
	t.expect(not failed, f"mock self-check: {failed[:5]}")
	m = re.search(r"^(\d+) passed, (\d+) failed$", cp.stdout, re.M)
	t.expect(m is not None and int(m.group(1)) > 0 and m.group(2) == "0",
	    f"mock self-check ended {cp.stdout.strip()[-200:]!r}")
	t.expect(cp.returncode == 0, f"mock self-check exited {cp.returncode}")
