# `make install DESTDIR=... PREFIX=/usr` puts the daemon, the manual
# pages, the web root and the examples where they belong, and the
# installed daemon accepts the installed sample configuration.

import os
import stat
import subprocess

TIMEOUT = 900		# make install builds whatever is not built yet

TOP = os.path.abspath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))

FILES = (
	("usr/sbin/vncrelayd", 0o755),
	("usr/sbin/vncrelayctl", 0o755),
	("usr/share/man/man8/vncrelayd.8", 0o644),
	("usr/share/man/man8/vncrelayctl.8", 0o644),
	("usr/share/man/man5/vncrelayd.conf.5", 0o644),
	("usr/share/vncrelayd/www/console.html", None),
	("usr/share/vncrelayd/www/novnc/core/rfb.js", None),
	("usr/share/vncrelayd/examples/vncrelayd.conf", 0o644),
	("usr/share/vncrelayd/examples/vncrelayd.service", 0o644),
	("usr/share/vncrelayd/examples/rc.d/vncrelayd", 0o755),
	("usr/share/vncrelayd/examples/sysusers.d/vncrelayd.conf", 0o644),
	("usr/share/vncrelayd/examples/tmpfiles.d/vncrelayd.conf", 0o644),
)


def run(t):
	dest = os.path.join(t.tmp, "destdir")
	os.mkdir(dest)
	cmd = ["make", "-C", TOP, "install", f"DESTDIR={dest}", "PREFIX=/usr"]
	t.note(f"running {cmd}")
	cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
	    text=True, timeout=TIMEOUT - 60)
	for line in (cp.stdout + cp.stderr).splitlines():
		t.note(f"  | {line}")
	t.expect(cp.returncode == 0, f"make install exited {cp.returncode}: "
	    f"{(cp.stdout + cp.stderr).strip().splitlines()[-3:]}")

	problems = []
	for rel, mode in FILES:
		path = os.path.join(dest, rel)
		try:
			st = os.stat(path)
		except OSError as e:
			problems.append(f"{rel}: {e.strerror}")
			continue
		if not stat.S_ISREG(st.st_mode):
			problems.append(f"{rel}: not a regular file")
		elif mode is not None and stat.S_IMODE(st.st_mode) != mode:
			problems.append(f"{rel}: mode "
			    f"{stat.S_IMODE(st.st_mode):04o}, not {mode:04o}")
	t.expect(not problems, "; ".join(problems))

	sbin = os.path.join(dest, "usr/sbin/vncrelayd")
	t.expect(os.access(sbin, os.X_OK), f"{sbin} is not executable")
	examples = os.path.join(dest, "usr/share/vncrelayd/examples")

	# The examples name the installed paths.
	with open(os.path.join(examples, "vncrelayd.service")) as f:
		unit = f.read()
	t.expect("ExecStart=/usr/sbin/vncrelayd -d\n" in unit,
	    "the installed unit does not start /usr/sbin/vncrelayd -d")
	t.expect("/usr/local" not in unit, "the installed unit names /usr/local")

	cp = subprocess.run([sbin, "-n", "-f", os.path.join(examples,
	    "vncrelayd.conf")], stdin=subprocess.DEVNULL, capture_output=True,
	    text=True, timeout=30)
	t.note(f"installed -n: exit {cp.returncode}: "
	    f"{(cp.stdout + cp.stderr).strip()}")
	t.expect(cp.returncode == 0 and "configuration OK" in cp.stdout,
	    f"the installed daemon refuses the installed sample: "
	    f"{(cp.stdout + cp.stderr).strip()}")
