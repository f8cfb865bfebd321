# The session limits that apply when the configuration names none: the
# seed-004 defaults max-sessions-per-target 5 and max-sessions 100.  The
# other limits are off by default (max-sessions-per-client,
# max-sessions-per-token and handshake-rate are 0), so every request here
# comes from 127.0.0.1 with a token of its own and only the two defaults
# can refuse.
# - Per target: 5 sessions to vm1 relay, the 6th is refused with
#   MAX_CONNECTIONS_REACHED (429) and authd says "max sessions per
#   target"; one closes, a new one opens, and the next is refused again.
# - In all: 5 sessions to each of vm1..vm20 (100) relay; the 101st, to
#   vm21 which has none, is refused and authd says "max sessions" (so the
#   target's limit is not what refused it); one closes, and the session to
#   vm21 opens.
# Every session reaches the echo peer's RFB banner and echoes.

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

TIMEOUT = 300

# No max-sessions* setting: the defaults are what this case checks.
CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { backend = tcp }
'''

FULL = "MAX_CONNECTIONS_REACHED"
PER_TARGET = 5
TOTAL = 100
# Enough targets for TOTAL at PER_TARGET each, and one more left empty.
NAMES = tuple(f"vm{i}" for i in range(1, TOTAL // PER_TARGET + 2))


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + lt.targets_conf(peer.port, NAMES)
	    + "\n")
	held = {name: [] for name in NAMES}

	def path(target):
		tok = keys.mint(k1, keys.claims(target=target), what=target)
		return f"/ws/vnc/{target}?token={tok}"

	try:
		per_target(t, path, held)
		in_all(t, path, held)
	finally:
		for sessions in held.values():
			lt.close_all(sessions)


def open_one(t, path, target, what, held, tries=1):
	"""A session to target that must open and relay.  A slot given back
	travels from the worker to authd after the worker logs "session
	end", so after a close a refusal for a limit is retried, within
	bounds (tries > 1); any other refusal fails."""
	for _ in range(tries):
		mark = t.mark()
		try:
			s = lt.try_session(t, path(target), what)
		except lt.Refused as e:
			d = lt.decision(t, mark)
			t.expect(tries > 1 and d["result"] == FULL,
			    f"{what}: HTTP {e.status} {d['result']}")
			time.sleep(0.25)
			continue
		held[target].append(s)
		d = lt.decision(t, mark)
		t.expect(d["result"] == "OK", f"{what}: decision {d['result']}")
		t.expect(d["target"] == target, f"{what}: target {d['target']}")
		s.worker, s.session = d["worker"], d["session"]
		t.wait_log(rf"\bworker{s.worker}: session start "
		    rf"id={s.session} ", since=mark)
		s.reach_rfb()
		return s
	t.fail(f"{what}: still {FULL} after {tries} tries")


def refused(t, path, target, what, reason):
	"""The next session to target is refused, for reason."""
	mark = t.mark()
	lt.expect_refused(t, what, path(target), FULL)
	m = t.log_matches(r"\bauthd: limit reached: (.*)$", since=mark)
	t.expect(m and m[-1].group(1) == reason, f"{what}: authd says "
	    f"{m[-1].group(1) if m else None!r}, want {reason!r}")


def per_target(t, path, held):
	for i in range(PER_TARGET):
		open_one(t, path, "vm1", f"vm1 session {i + 1}", held)
	refused(t, path, "vm1", f"vm1 session {PER_TARGET + 1}",
	    "max sessions per target")
	lt.close_and_wait(t, held["vm1"].pop(0))
	open_one(t, path, "vm1", "vm1 after a close", held, tries=40)
	refused(t, path, "vm1", "vm1 full again after a close",
	    "max sessions per target")


def in_all(t, path, held):
	for name in NAMES[1:-1]:
		for i in range(PER_TARGET):
			open_one(t, path, name, f"{name} session {i + 1}", held)
	n = sum(len(v) for v in held.values())
	t.expect(n == TOTAL, f"{n} sessions open, want {TOTAL}")
	last = NAMES[-1]
	refused(t, path, last, f"session {TOTAL + 1} ({last}, none open to "
	    "it)", "max sessions")
	lt.close_and_wait(t, held["vm2"].pop(0))
	open_one(t, path, last, f"{last} after a close", held, tries=40)
	refused(t, path, last, f"{last}: full again after a close",
	    "max sessions")
