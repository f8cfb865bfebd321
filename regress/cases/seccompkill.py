# A worker that calls socket(2) breaks its seccomp filter and dies by
# SIGSYS (31); the master replaces it.  The trigger is in debug builds
# only: the release build refuses debug-triggers and holds no trace of
# the trigger's path.

import os
import subprocess

TOP = os.path.abspath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
RELEASE = os.environ.get("VNCRELAYD_RELEASE",
    os.path.join(TOP, "build", "vncrelayd"))

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
debug-triggers = yes
'''


def run(t):
	t.start()
	old = t.workers()[0]

	t.expect_lost_child("worker0")
	mark = t.mark()
	t.http_poke("/_debug/socket")

	t.wait_log(rf"master: lost child worker0 pid={old} "
	    r"status=signal 31\b", since=mark)
	t.wait_log(r"\bworker0: ready", since=mark)
	t.wait_for("a new worker 0", lambda: t.workers().get(0, old) != old)

	t.expect_page()

	release_has_none(t)


def release_has_none(t):
	with open(t.bin, "rb") as f:
		t.expect(b"/_debug/socket" in f.read(),
		    f"{t.bin}, a debug build, has no /_debug/socket")
	if not os.access(RELEASE, os.X_OK):
		t.skip(f"{RELEASE} is not built")
	with open(RELEASE, "rb") as f:
		t.expect(b"/_debug/" not in f.read(),
		    f"the release build {RELEASE} holds /_debug/ triggers")
	path = t.write_file("release.conf", CONFIG + 'webroot = "{webroot}"\n')
	cp = subprocess.run([RELEASE, "-n", "-f", path],
	    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
	t.expect(cp.returncode == 1 and "debug-triggers" in cp.stderr,
	    f"the release build on debug-triggers: exit {cp.returncode}: "
	    f"{(cp.stdout + cp.stderr).strip()}")
