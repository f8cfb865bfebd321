# Every child runs as _vncrelayd, without capabilities, with
# no_new_privs and a seccomp filter, chrooted: workers in the web root,
# authd in its empty directory.

import os
import pwd

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
authd-root = "{tmp}/empty"
'''


def run(t):
	t.start()
	pw = pwd.getpwnam("_vncrelayd")
	uid, gid = str(pw.pw_uid), str(pw.pw_gid)
	roots = {"authd": os.path.realpath(os.path.join(t.tmp, "empty")),
	    "worker": os.path.realpath(t.webroot)}

	kids = t.children()
	t.expect(len(kids) == 3, f"3 children, not {kids}")
	for p in kids:
		st = t.proc_status(p.pid)
		who = f"{p.title} (pid {p.pid})"
		t.expect(st["Uid"].split() == [uid] * 4,
		    f"{who}: Uid {st['Uid']}, want {uid} x4")
		t.expect(st["Gid"].split() == [gid] * 4,
		    f"{who}: Gid {st['Gid']}, want {gid} x4")
		t.expect(set(st["Groups"].split()) <= {gid},
		    f"{who}: supplementary groups {st['Groups']!r}")
		for cap in ("CapEff", "CapPrm", "CapAmb"):
			t.expect(int(st[cap], 16) == 0,
			    f"{who}: {cap} {st[cap]}")
		t.expect(st["NoNewPrivs"] == "1", f"{who}: NoNewPrivs "
		    f"{st['NoNewPrivs']}")
		t.expect(st["Seccomp"] == "2", f"{who}: Seccomp {st['Seccomp']}")

		role = "authd" if "authd" in p.title else "worker"
		root = os.readlink(f"/proc/{p.pid}/root")
		t.expect(root == roots[role],
		    f"{who}: root is {root!r}, want {roots[role]!r}")
