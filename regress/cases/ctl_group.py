# control-group opens the control socket to one group: the socket is mode
# 0660, root and that group's; a user outside the group (nobody, and the
# group's own member with its groups cleared) is refused by the file
# system before the daemon hears a word; a member of the group is served.
# The daemon checks the peer's credentials as well: with the socket's mode
# loosened to 0666 (as a careless chmod would), nobody is still refused,
# by the daemon, which logs "control: refused uid=..." and takes no
# command from it, while a member (by a supplementary group, or by its
# primary group alone) is still served.
# The case creates the group vncctl_test if it is missing (and removes it
# again) and a throwaway system user in it (removed at the end).

import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402

GROUP = "vncctl_test"

CONFIG = '''
prefork = 1
control-socket = "{tmp}/ctl.sock"
control-group = "GROUP"
listen "127.0.0.1:{port}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
target "vm" { host = "127.0.0.1" port = 9 }
route "/ws/vnc/{name}" { }
'''


def admin(t, argv):
	"""groupadd/useradd/userdel/groupdel; fails the case if it fails."""
	cp = subprocess.run(argv, stdin=subprocess.DEVNULL,
	    capture_output=True, text=True, timeout=60)
	t.note(f"ran {argv}: exit {cp.returncode} {cp.stderr.strip()!r}")
	return cp


def as_user(name, gid, groups):
	"""A setpriv prefix: name's uid, gid, and the supplementary groups
	("init": name's from /etc/group, "clear": none)."""
	pw = pwd.getpwnam(name)
	return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={gid}",
	    "--init-groups" if groups == "init" else "--clear-groups", "--"]


def heard_from(t, uid):
	"""The daemon's control lines for commands from uid."""
	return t.log_matches(rf"\bmaster: control: uid={uid} command=")


def loosened(t, sock, nobody, nogroup, user, gid):
	"""The socket open to all: the daemon refuses outsiders itself."""
	os.chmod(sock, 0o666)
	try:
		mark = t.mark()
		msg = lib_ctl.ctl_refused(t, "show", "summary",
		    prefix=as_user("nobody", nogroup, "clear"))
		t.expect("permission denied" in msg and "control-group" in msg,
		    f"nobody, socket 0666: refused with {msg!r}")
		t.wait_log(rf"\bmaster: control: refused uid={nobody.pw_uid} "
		    rf"gid={nogroup} pid=\d+: not root and not in "
		    r"control-group", since=mark)
		t.expect(not heard_from(t, nobody.pw_uid),
		    "socket 0666: the daemon took a command from nobody")
		member = pwd.getpwnam(user).pw_uid
		for who, prefix in (
		    (f"{user} by a supplementary group",
		    as_user(user, nogroup, "init")),
		    (f"{user} by its primary group alone",
		    as_user(user, gid, "clear"))):
			mark = t.mark()
			j = lib_ctl.ctl_json(t, "show", "targets", prefix=prefix)
			t.expect([x.get("name") for x in j.get("targets", [])]
			    == ["vm"], f"{who}, socket 0666: show targets {j}")
			t.wait_log(rf"\bmaster: control: uid={member} "
			    r"command=show targets$", since=mark)
	finally:
		os.chmod(sock, 0o660)


def run(t):
	for tool in ("groupadd", "groupdel", "useradd", "userdel", "setpriv"):
		if shutil.which(tool) is None:
			t.skip(f"{tool} is missing")
	if os.geteuid() != 0:
		t.skip("needs root to add a group and a user")
	nobody = pwd.getpwnam("nobody")
	nogroup = grp.getgrgid(nobody.pw_gid).gr_gid

	created_group = False
	user = f"vncctl_u{os.getpid() % 100000}"
	created_user = False
	try:
		pwd.getpwnam(user)
		t.fail(f"user {user} exists already; not touching it")
	except KeyError:
		pass
	try:
		try:
			grp.getgrnam(GROUP)
		except KeyError:
			cp = admin(t, ["groupadd", "--system", GROUP])
			t.expect(cp.returncode == 0, f"groupadd: {cp.stderr!r}")
			created_group = True
		gid = grp.getgrnam(GROUP).gr_gid
		cp = admin(t, ["useradd", "--system", "--no-create-home",
		    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		    "--no-user-group", "--gid", str(nogroup), "--groups", GROUP,
		    user])
		t.expect(cp.returncode == 0, f"useradd: {cp.stderr!r}")
		created_user = True
		member = pwd.getpwnam(user)
		t.expect(user in grp.getgrnam(GROUP).gr_mem,
		    f"{user} is not listed in group {GROUP}")
		t.expect(nobody.pw_name not in grp.getgrnam(GROUP).gr_mem and
		    nobody.pw_gid != gid, f"nobody is in group {GROUP}")

		lib_ctl.hs256_key(t)
		t.start(CONFIG.replace("GROUP", GROUP))
		sock = lib_ctl.ctl_socket(t)

		st = os.stat(sock)
		t.expect(stat.S_ISSOCK(st.st_mode), f"{sock} is not a socket")
		t.expect(stat.S_IMODE(st.st_mode) == 0o660,
		    f"control socket mode {oct(stat.S_IMODE(st.st_mode))}, "
		    "want 0660")
		t.expect(st.st_uid == 0 and st.st_gid == gid,
		    f"control socket owned by {st.st_uid}:{st.st_gid}, want "
		    f"0:{gid} ({GROUP})")

		# Outside the group: refused, and the daemon never hears it.
		for who, prefix in (
		    ("nobody", as_user("nobody", nogroup, "clear")),
		    (f"{user} without its groups",
		    as_user(user, nogroup, "clear"))):
			cp = lib_ctl.ctl_run(t, ["show", "summary"],
			    prefix=prefix)
			t.expect(cp.returncode != 0,
			    f"{who}: vncrelayctl exited 0 outside the group")
			t.expect("Permission denied" in cp.stderr,
			    f"{who}: stderr {cp.stderr!r}, want "
			    "\"Permission denied\"")
			t.expect(cp.stdout == "", f"{who}: stdout {cp.stdout!r}")
		t.expect(not heard_from(t, nobody.pw_uid),
		    "the daemon took a command from nobody")
		t.expect(not heard_from(t, member.pw_uid),
		    f"the daemon took a command from {user} outside the group")

		# Inside the group (a supplementary group, as an admin would
		# grant it): served, and logged with the member's uid.
		prefix = as_user(user, nogroup, "init")
		mark = t.mark()
		j = lib_ctl.ctl_json(t, "show", "summary", prefix=prefix)
		names = sorted(p.get("name") for p in j.get("processes", []))
		t.expect(names == ["authd", "worker0"],
		    f"{user}: show summary processes {names}")
		t.wait_log(rf"\bmaster: control: uid={member.pw_uid} "
		    r"command=show summary$", since=mark)
		j = lib_ctl.ctl_json(t, "show", "targets", prefix=prefix)
		t.expect([x.get("name") for x in j.get("targets", [])] ==
		    ["vm"], f"{user}: show targets {j}")
		# And root, owner of the socket, still is.
		j = lib_ctl.ctl_json(t, "show", "summary")
		t.expect("processes" in j, f"root: show summary {j}")
		loosened(t, sock, nobody, nogroup, user, gid)
	finally:
		if created_user:
			cp = admin(t, ["userdel", user])
			if cp.returncode != 0:
				t.note(f"userdel {user} failed: {cp.stderr!r}")
		if created_group:
			cp = admin(t, ["groupdel", GROUP])
			if cp.returncode != 0:
				t.note(f"groupdel {GROUP} failed: {cp.stderr!r}")
