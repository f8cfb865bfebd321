# A token key that others can read is refused when the file is read, and
# -n says which file and why; the same key with mode 0600 is accepted.

import os

CONFIG = '''
listen "127.0.0.1:{port}" { tls = no }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
route "/ws/vnc/{name}" { }
'''


def run(t):
	key = os.path.join(t.tmp, "k1.key")
	with open(key, "w") as f:
		f.write(os.urandom(32).hex())
	conf = t.write_config()
	for mode in (0o644, 0o640, 0o604):
		os.chmod(key, mode)
		cp = t.run_daemon(["-n", "-f", conf])
		t.expect(cp.returncode == 1, f"mode {mode:o}: exit {cp.returncode}")
		t.expect(f"{key}: must be owned by root and not readable by group "
		    "or others" in cp.stderr, f"mode {mode:o}: {cp.stderr!r}")
	os.chmod(key, 0o600)
	cp = t.run_daemon(["-n", "-f", conf])
	t.expect(cp.returncode == 0 and "configuration OK" in cp.stdout,
	    f"mode 600: exit {cp.returncode} {cp.stdout!r} {cp.stderr!r}")
