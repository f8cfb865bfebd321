# etc/vncrelayd.service passes `systemd-analyze verify`, and its
# capability bounding set is what the master keeps (master_caps in
# master/main.c) plus CAP_SETPCAP, which the master needs at startup to
# empty the rest of its bounding set.  The sysusers.d and tmpfiles.d
# files are applied to a scratch root when those tools are there.

import os
import re
import shutil
import subprocess

TOP = os.path.abspath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
UNIT = os.path.join(TOP, "etc", "vncrelayd.service")
MAIN = os.path.join(TOP, "master", "main.c")


def master_caps():
	with open(MAIN) as f:
		text = f.read()
	m = re.search(r"master_caps\[\]\s*=\s*\{([^}]*)\}", text)
	return set(re.findall(r"\bCAP_[A-Z_]+\b", m.group(1))) if m else None


def unit_caps(unit):
	m = re.search(r"(?m)^CapabilityBoundingSet=(.*)$", unit)
	return set(m.group(1).split()) if m else None


def sh(t, cmd, **kw):
	cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
	    text=True, timeout=120, **kw)
	t.note(f"ran {cmd}: exit {cp.returncode}")
	for line in (cp.stdout + cp.stderr).splitlines():
		t.note(f"  | {line}")
	return cp


def check_caps(t, unit):
	want = master_caps()
	t.expect(want, f"no master_caps[] in {MAIN}: update this case")
	have = unit_caps(unit)
	t.expect(have is not None, "the unit sets no CapabilityBoundingSet=")
	want.add("CAP_SETPCAP")
	t.expect(have == want, f"CapabilityBoundingSet= has "
	    f"{sorted(have - want)} too many and {sorted(want - have)} "
	    "missing")


def run(t):
	with open(UNIT) as f:
		unit = f.read()
	check_caps(t, unit)

	analyze = shutil.which("systemd-analyze")
	if analyze is None:
		t.skip("systemd-analyze is not installed (Debian package "
		    "systemd): the capability set matches, the unit is not "
		    "verified")

	# The unit as installed, but starting the binary built here, and the
	# manual pages where man(1) finds them for Documentation=.
	binary = os.environ.get("VNCRELAYD_RELEASE",
	    os.path.join(TOP, "build", "vncrelayd"))
	if not os.access(binary, os.X_OK):
		binary = t.bin
	unitdir = os.path.join(t.tmp, "unit")
	os.makedirs(unitdir)
	with open(os.path.join(unitdir, "vncrelayd.service"), "w") as f:
		f.write(unit.replace("/usr/local/sbin/vncrelayd", binary))
	manpath = os.path.join(t.tmp, "man")
	for page, section in (("vncrelayd.8", "8"), ("vncrelayd.conf.5", "5")):
		os.makedirs(os.path.join(manpath, "man" + section), exist_ok=True)
		shutil.copy(os.path.join(TOP, "man", page),
		    os.path.join(manpath, "man" + section, page))
	env = dict(os.environ, MANPATH=manpath)
	man = ["--man=no"] if shutil.which("man") is None else []
	cp = sh(t, [analyze, "verify"] + man + ["./vncrelayd.service"],
	    cwd=unitdir, env=env)
	ours = [l for l in (cp.stdout + cp.stderr).splitlines()
	    if "vncrelayd" in l]
	t.expect(cp.returncode == 0 and not ours, "systemd-analyze verify: "
	    f"exit {cp.returncode}: {ours[:3]}")

	root = os.path.join(t.tmp, "root")
	os.makedirs(os.path.join(root, "etc"))
	tmpfiles = shutil.which("systemd-tmpfiles")
	if tmpfiles:
		cp = sh(t, [tmpfiles, "--create", f"--root={root}",
		    os.path.join(TOP, "etc", "tmpfiles.d", "vncrelayd.conf")])
		empty = os.path.join(root, "var/lib/vncrelayd/empty")
		t.expect(cp.returncode == 0 and os.path.isdir(empty),
		    f"systemd-tmpfiles: exit {cp.returncode}, no {empty}")
	sysusers = shutil.which("systemd-sysusers")
	if sysusers:
		cp = sh(t, [sysusers, f"--root={root}",
		    os.path.join(TOP, "etc", "sysusers.d", "vncrelayd.conf")])
		with open(os.path.join(root, "etc", "passwd")) as f:
			passwd = f.read()
		t.expect(cp.returncode == 0 and
		    re.search(r"(?m)^_vncrelayd:", passwd),
		    f"systemd-sysusers: exit {cp.returncode}, no _vncrelayd")
