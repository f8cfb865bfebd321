# Started by an ordinary user the daemon warns that it cannot chroot or
# change ids, yet still builds its whole process tree and still puts
# every child under no_new_privs and seccomp.

import os
import stat

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
'''

USER = "nobody"


def world_reachable(path):
	"""Whether an ordinary user can reach and execute path."""
	path = os.path.realpath(path)
	parts = path.split("/")
	for i in range(2, len(parts)):
		if not os.stat("/".join(parts[:i])).st_mode & stat.S_IXOTH:
			return False
	return bool(os.stat(path).st_mode & stat.S_IXOTH)


def run(t):
	if not world_reachable(t.bin):
		t.skip(f"{t.bin} is not executable by {USER}")
	t.start(user=USER)
	t.wait_log(r"master: WARNING: running without root: "
	    r"chroot and setuid are skipped")
	# One warning, from the master, not one per child.
	said = t.log_matches(r"running without root")
	t.expect(len(said) == 1, f"the warning came {len(said)} times")

	kids = t.children()
	t.expect(t.authd() is not None, f"no authd among {kids}")
	t.expect(sorted(t.workers()) == [0, 1], f"workers in {kids}")
	t.expect(len(kids) == 3, f"children {kids}")
	for p in kids:
		st = t.proc_status(p.pid)
		t.expect(st["NoNewPrivs"] == "1",
		    f"{p.title}: NoNewPrivs {st['NoNewPrivs']}")
		t.expect(st["Seccomp"] == "2",
		    f"{p.title}: Seccomp {st['Seccomp']}")
		t.expect(st["Uid"].split()[0] != "0", f"{p.title} runs as root")
