# A pass of cases that covers every process against the ASan and UBSan
# build (make SANITIZE=1, in build/asan/), so that `make regress`, and so
# CI, catches memory errors and undefined behaviour in each of them even
# when the whole suite is not run that way (`make regress SANITIZE=1`).
# The master: reloads and the control socket; authd: tokens good and bad,
# a malformed worker message, the console API, its own death; the
# workers: HTTP, WebSocket violations and fragments, bulk relay over TLS,
# their death.  Any sanitizer report in any of them fails its case, and
# so this one; their logs are in regress/artifacts/asan/.

import os
import re
import subprocess

TIMEOUT = 1500

TOP = os.path.abspath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
ASAN = os.path.join(TOP, "build", "asan")
CASES = ["reloadprefork", "ctl_commands", "token_accepted", "token_refused",
    "malformedipc", "api_console", "killauthd", "http_bad",
    "relay_violations", "relay_fragments", "relay_bulk_binary",
    "killworker"]


def run(t):
	cp = subprocess.run(["make", "-s", "-C", TOP, "SANITIZE=1", "all",
	    "debug"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
	    timeout=600)
	t.expect(cp.returncode == 0, "make SANITIZE=1 all debug: "
	    f"{(cp.stdout + cp.stderr).strip()[-400:]}")
	env = dict(os.environ, VNCRELAYD=os.path.join(ASAN, "debug",
	    "vncrelayd"), VNCRELAYD_RELEASE=os.path.join(ASAN, "vncrelayd"),
	    VNCRELAYCTL=os.path.join(ASAN, "vncrelayctl"),
	    REGRESS_ARTIFACTS=os.path.join(TOP, "regress", "artifacts", "asan"))
	cp = subprocess.run(["/usr/bin/python3", os.path.join(TOP, "regress",
	    "run")] + CASES, stdin=subprocess.DEVNULL, capture_output=True,
	    text=True, timeout=TIMEOUT - 660, env=env)
	for line in cp.stdout.splitlines():
		t.note(line)
	results = re.findall(r"(?m)^(PASS|FAIL|SKIP) (\S+?):?(?: (.*))?$",
	    cp.stdout)
	failed = [f"{name}: {why}" for what, name, why in results
	    if what == "FAIL"]
	t.expect(not failed, f"under ASan and UBSan: {failed[0] if failed else ''}")
	passed = {name for what, name, _ in results if what == "PASS"}
	t.expect(passed == set(CASES), "not every case passed under the "
	    f"sanitizers: missing {sorted(set(CASES) - passed)}")
