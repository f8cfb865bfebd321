# errors = json (seed 004): the target comes from the token; a refusal
# comes after the upgrade as one JSON text message
# {"type":"error","code":C,"error":...} and then a close frame, 1008 for
# refusals and 1011 for CONNECTION_FAILED.  A good token reaches RFB.

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
max-sessions-per-target = 1
route "/c/ws" { errors = json }
target "dead" { host = "127.0.0.1" port = {port2} }
'''


def refused(t, problems, what, tok, code, close_code):
	"""Hard failures for what makes the rest meaningless (no upgrade,
	a session); the message and the close code are noted in problems,
	so that one run shows every sub-case."""
	mark = t.mark()
	try:
		s = lt.try_session(t, f"/c/ws?token={tok}", what)
	except lt.Refused as e:
		d = lt.decision(t, mark)
		t.fail(f"{what}: HTTP {e.status} before the upgrade (result="
		    f"{d['result']}), want an upgrade and a JSON message")
	d = lt.decision(t, mark)
	t.expect(d["result"] == code,
	    f"{what}: decision result={d['result']}, want {code}")
	msgs, cc, reason = s.until_closed()
	t.expect(not t.log_matches(r"\bsession start\b", since=mark),
	    f"{what}: a session started")
	t.note(f"{what}: messages {msgs!r}, close {cc} {reason!r}")
	if cc != close_code:
		problems.append(f"{what}: close code {cc} {reason!r}, want "
		    f"{close_code}")
	if len(msgs) != 1 or not isinstance(msgs[0], str):
		problems.append(f"{what}: messages {msgs!r}, want one JSON "
		    "text message")
		return d
	try:
		j = json.loads(msgs[0])
	except ValueError:
		j = None
	if not (isinstance(j, dict) and j.get("type") == "error" and
	    j.get("code") == code and isinstance(j.get("error"), str) and
	    j.get("error")):
		problems.append(f"{what}: message {msgs[0]!r}, want "
		    f'{{"type":"error","code":"{code}","error":...}}')
	return d


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("api")
	other = keys.hs256("api", configured=False)
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n")
	held = []
	try:
		cases(t, keys, k1, other, held)
	finally:
		lt.close_all(held)


def cases(t, keys, k1, other, held):
	problems = []
	c = keys.claims(sub="api-user", target="vm1")
	once = keys.mint(k1, c, what="good")
	s = lt.rfb_session(t, f"/c/ws?token={once}", "good token", held)
	t.expect(s.decision["target"] == "vm1" and
	    s.decision["user"] == "api-user",
	    f"good token: decision {s.decision}")

	# vm1 now has its one session (max-sessions-per-target = 1).
	refused(t, problems, "second session on vm1", keys.mint(k1,
	    keys.claims(target="vm1"), what="limit"),
	    "MAX_CONNECTIONS_REACHED", 1008)
	lt.close_and_wait(t, s)

	refused(t, problems, "replayed", once, "TOKEN_ALREADY_USED", 1008)
	refused(t, problems, "forged", keys.mint(other, keys.claims(),
	    what="forged"), "INVALID_TOKEN", 1008)
	refused(t, problems, "no token", "", "INVALID_TOKEN", 1008)
	t0 = int(lt.now())
	refused(t, problems, "expired", keys.mint(k1, keys.claims(iat=t0 - 900,
	    exp=t0 - 300), what="expired"), "TOKEN_EXPIRED", 1008)
	refused(t, problems, "no target in the token", keys.mint(k1,
	    keys.claims(target=None), what="no target"), "UNAUTHORIZED", 1008)
	refused(t, problems, "unknown target", keys.mint(k1,
	    keys.claims(target="nosuchvm"), what="unknown"), "VM_NOT_FOUND",
	    1008)
	refused(t, problems, "nothing listens at the target", keys.mint(k1,
	    keys.claims(target="dead"), what="dead"), "CONNECTION_FAILED",
	    1011)

	# The slot came back: vm1 opens again.
	s = lt.rfb_session(t, "/c/ws?token=" + keys.mint(k1,
	    keys.claims(target="vm1"), what="good again"), "good token again",
	    held)
	s.close()
	for p in problems:
		t.note(f"problem: {p}")
	t.expect(not problems, f"{len(problems)} problems: " +
	    "; ".join(problems[:2]) + ("; ..." if len(problems) > 2 else ""))
