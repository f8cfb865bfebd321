# A wrong Prism password: the browser gets UNAUTHORIZED (403 with the JSON
# body), authd logs "prism NAME: login failed: HTTP <status>", and the
# mock counted a failed login and no good one.  For Prism Element refusing
# with 401 and with a 302 to /console/login, and for Prism Central (Basic
# auth, 401).  Neither the wrong password nor the right one is in any line
# of the daemon's log or the mocks'.  A second console right after a
# refused login does not try the password again, until a reload.  And
# `vncrelayd -n` refuses a
# password file that others may read, without printing the password.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/proxy/{uuid}" { backend = prism upstream = "e401" }
route "/e302/proxy/{uuid}" { backend = prism upstream = "e302" }
route "/central/proxy/{uuid}" { backend = prism upstream = "central" }
'''

# name, route prefix, mock mode, mock arguments, status of the refusal
UPSTREAMS = (
	("e401", "", "element", [], 401),
	("e302", "/e302", "element", ["--login-failure", "302"], 302),
	("central", "/central", "central", [], 401),
)

MODE_RE = r"must be owned by root and not readable by group or others"


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	mocks, sections = lu.prism_upstreams(t, sec, UPSTREAMS, wrong=True)
	t.start(CONFIG + k1.conf() + "\n" + sections)

	for name, prefix, mode, _, status in UPSTREAMS:
		mark = t.mark()
		tok = keys.mint(k1, keys.claims(target=lu.VM1))
		lu.refused(t, f"{name}: wrong password",
		    f"{prefix}/proxy/{lu.VM1}?token={tok}", "UNAUTHORIZED")
		t.wait_log(rf"\bauthd: prism {name}: login failed: HTTP "
		    rf"{status}\b", since=mark)
		st = mocks[name].counters("logins", "failed_logins",
		    "connections")
		t.expect(st["failed_logins"] >= 1 and st["logins"] == 0 and
		    st["connections"] == 0, f"{name}: mock counted "
		    f"failed_logins={st['failed_logins']} logins={st['logins']}"
		    f" connections={st['connections']}, want >= 1, 0, 0")

	# Right after a refused login, another console does not try again:
	# a burst of consoles must not lock the Prism account.
	before = mocks["e401"].counters("failed_logins")["failed_logins"]
	mark = t.mark()
	tok = keys.mint(k1, keys.claims(target=lu.VM1))
	lu.refused(t, "e401: again, at once", f"/proxy/{lu.VM1}?token={tok}",
	    "UNAUTHORIZED")
	t.wait_log(r"\bauthd: prism e401: the last login failed less than "
	    r"\d+s ago", since=mark)
	t.expect(mocks["e401"].counters("failed_logins")["failed_logins"] ==
	    before,
	    "a second console tried the wrong password again at once")
	# A reload ends the hold (the operator may have fixed the file).
	with open(t.conf) as f:
		mark = t.reload(f.read())
	t.wait_log(r"master: reload: configuration reloaded", since=mark)
	tok = keys.mint(k1, keys.claims(target=lu.VM1))
	lu.refused(t, "e401: after a reload", f"/proxy/{lu.VM1}?token={tok}",
	    "UNAUTHORIZED")
	t.expect(mocks["e401"].counters("failed_logins")["failed_logins"] >
	    before,
	    "after a reload the login was not tried again")

	lu.check_no_secrets(t, sec, mocks.values())

	# A password file others may read is refused by -n.
	pwfile = mocks["e401"].password_file
	os.chmod(pwfile, 0o644)
	cp = t.run_daemon(["-n", "-f", t.conf])
	out = cp.stdout + cp.stderr
	t.expect(not lt.scan_text(out, sec.items), "-n printed a secret")
	t.expect(cp.returncode != 0, "-n accepted a password file of mode "
	    "0644")
	t.expect(pwfile in out and MODE_RE in out,
	    f"-n did not name the file and why: {out.strip()[-300:]!r}")
