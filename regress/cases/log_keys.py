# The session lines are key=value lines that a log tool can split: the
# decision, "session start" and "session end" of a console whose token
# names a user with spaces, quotes, a backslash and "result=OK" in it, on
# a target whose name has a space, hold every key once, and the user and
# the target come back exactly once the quoted values are unescaped.  A
# plain user stays a plain word (user=alice).  A refused request for an
# unknown target with spaces in its name gets a decision line that parses
# the same way, with the real result.

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
target "my vm" { host = "127.0.0.1" port = PEER_PORT }
target "vm1" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp }
'''

ODD_USER = 'Ann O\'Neil "admin" x\\y result=OK'

PAIR_RE = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^\s"]+)(?: |$)')


def fields(t, line, after):
	"""The key=value pairs of line after the text `after': every byte of
	the rest must be a pair, and no key may come twice."""
	rest = line[line.index(after) + len(after):]
	out, pos = {}, 0
	while pos < len(rest):
		m = PAIR_RE.match(rest, pos)
		t.expect(m is not None, f"{after!r} line does not split into "
		    f"key=value pairs at {rest[pos:pos + 40]!r}: {line!r}")
		key, value = m.group(1), m.group(2)
		if value.startswith('"'):
			value = re.sub(r'\\(.)', r'\1', value[1:-1])
		t.expect(key not in out, f"key {key} twice in {line!r}")
		out[key] = value
		pos = m.end()
	return out


def line_since(t, regex, mark):
	return t.wait_log(regex, since=mark).string


def run(t):
	peer = t.peer("echo")
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)) + k1.conf())

	for user, target, path in (
	    (ODD_USER, "my vm", "/ws/vnc/my%20vm"),
	    ("alice", "vm1", "/ws/vnc/vm1")):
		mark = t.mark()
		tok = keys.mint(k1, keys.claims(sub=user, target=target))
		s = lt.rfb_session(t, f"{path}?token={tok}", f"user {user!r}")
		lt.close_and_wait(t, s, since=mark)
		for what, regex in (
		    ("authd: decision ", r"\bauthd: decision worker="),
		    (f"worker{s.worker}: session start ",
		    rf"\bworker{s.worker}: session start id={s.session} "),
		    (f"worker{s.worker}: session end ",
		    rf"\bworker{s.worker}: session end id={s.session} ")):
			line = line_since(t, regex, mark)
			f = fields(t, line, what)
			t.expect(f.get("user") == user and
			    f.get("target") == target, f"{what.strip()}: user "
			    f"{f.get('user')!r} target {f.get('target')!r}, want "
			    f"{user!r} and {target!r}: {line!r}")
			if what.startswith("authd"):
				t.expect(f.get("result") == "OK",
				    f"decision result {f.get('result')!r}")
			if user == "alice":
				t.expect(" user=alice " in line,
				    f"a plain user is not a plain word: {line!r}")

	mark = t.mark()
	tok = keys.mint(k1, keys.claims(sub=ODD_USER, target="no such vm"))
	lt.expect_refused(t, "an unknown target", "/ws/vnc/no%20such%20vm"
	    f"?token={tok}", "VM_NOT_FOUND")
	line = line_since(t, r"\bauthd: decision worker=", mark)
	f = fields(t, line, "authd: decision ")
	t.expect(f.get("target") == "no such vm" and f.get("user") == ODD_USER
	    and f.get("result") == "VM_NOT_FOUND", f"refused: {f}: {line!r}")
