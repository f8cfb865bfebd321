# The sample etc/vncrelayd.conf is accepted by `vncrelayd -n` as it
# stands, and still when every commented setting in it is switched on
# (its file paths and upstream hosts pointed at test files and loopback
# with -D macros).

import os
import re
import secrets
import subprocess

TOP = os.path.abspath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
SAMPLE = os.path.join(TOP, "etc", "vncrelayd.conf")
RELEASE = os.environ.get("VNCRELAYD_RELEASE",
    os.path.join(TOP, "build", "vncrelayd"))

# A commented setting is "#" followed by the setting, or by a tab inside a
# commented section; prose is "# " followed by words.
SETTING_RE = re.compile(r"^#(?=[^\s#]|\t)", re.M)


def binaries(t):
	"""The release build, which `make` installs, and the daemon under
	test; debug-only keywords must not creep into the sample."""
	found = []
	for b in (RELEASE, t.bin):
		if os.access(b, os.X_OK) and b not in found:
			found.append(b)
	t.expect(found, f"neither {RELEASE} nor {t.bin} is built")
	if RELEASE not in found:
		t.note(f"{RELEASE} is not built: checking {t.bin} only")
	return found


def check(t, binary, path, args=()):
	cmd = [binary, "-n"] + list(args) + ["-f", path]
	cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
	    text=True, timeout=30)
	out = (cp.stdout + cp.stderr).strip()
	t.note(f"ran {cmd}: exit {cp.returncode}")
	for line in out.splitlines():
		t.note(f"  | {line}")
	t.expect(cp.returncode == 0 and "configuration OK" in cp.stdout,
	    f"{' '.join(cmd)}: exit {cp.returncode}: {out}")


def run(t):
	with open(SAMPLE) as f:
		text = f.read()
	t.expect("debug-triggers" not in text,
	    "the sample uses debug-triggers, which release builds refuse")

	for binary in binaries(t):
		check(t, binary, SAMPLE)

	# Every commented setting switched on, files from -D macros.
	full = SETTING_RE.sub("", text)
	enabled = len(SETTING_RE.findall(text))
	t.expect(enabled > 20, f"only {enabled} commented settings found: "
	    "is the convention of the sample still '#setting'?")
	path = t.write_file("full.conf", "")
	with open(path, "w") as f:
		f.write(full)
	cert, key = t.subst("{cert}"), t.subst("{key}")
	tokenkey = t.write_file("k1.secret", secrets.token_hex(32) + "\n",
	    mode=0o600)
	pw = t.write_file("prism.pw", "secret\n", mode=0o600)
	bearer = t.write_file("kube.token", "bearer-token\n")
	macros = ["-D", f"cert={cert}", "-D", f"key={key}", "-D",
	    f"tokenkey={tokenkey}", "-D", "prismhost=127.0.0.1", "-D",
	    f"prismpw={pw}", "-D", f"prismca={cert}", "-D",
	    "kubeapi=https://127.0.0.1:6443", "-D", f"kubetoken={bearer}",
	    "-D", f"kubeca={cert}"]
	for binary in binaries(t):
		check(t, binary, path, macros)
