# Each session limit in turn (the others off, switched by SIGHUP):
# max-sessions, max-sessions-per-target, max-sessions-per-client and
# max-sessions-per-token (a token without jti used concurrently).  The
# limit admits exactly its number of sessions, the next one is refused
# with MAX_CONNECTIONS_REACHED (429) for that limit's reason, a session
# outside the limit's key still opens; a closed session gives its slot
# back; kill -9 of the worker holding sessions releases exactly those
# ("released N"), and as many new sessions open, and no more.  Then
# handshake-rate: a client over its rate gets 429, another client does
# not, and the first one gets through again later.

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

TIMEOUT = 240

BASE = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
trusted-proxies = {"127.0.0.2/32"}
route "/ws/vnc/{name}" { backend = tcp }
'''

FULL = "MAX_CONNECTIONS_REACHED"


def limits(sessions=0, target=0, client=0, token=0, rate=0):
	return (f"max-sessions = {sessions}\n"
	    f"max-sessions-per-target = {target}\n"
	    f"max-sessions-per-client = {client}\n"
	    f"max-sessions-per-token = {token}\n"
	    f"handshake-rate = {rate}\n")


class Limit:
	"""One limit: the configuration, how the i-th session inside the
	limit is made, and one outside it (None: there is none)."""

	def __init__(self, name, conf, count, reason, inside, outside):
		self.name = name
		self.conf = conf
		self.count = count
		self.reason = reason
		self.inside = inside
		self.outside = outside


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	head = BASE + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n"

	def tok(what):
		return keys.mint(k1, keys.claims(target=["vm1", "vm2"]),
		    what=what)

	shared = keys.mint(k1, keys.claims(target=["vm1", "vm2"], jti=False),
	    what="shared, no jti")

	def vm(i):
		return f"vm{i % 2 + 1}"

	each = (
	    Limit("max-sessions", limits(sessions=2), 2, "max sessions",
		lambda i: {"path": f"/ws/vnc/{vm(i)}?token={tok('total')}",
		    "source": f"127.0.1.{i % 200 + 1}"},
		None),
	    Limit("max-sessions-per-target", limits(target=2), 2,
		"max sessions per target",
		lambda i: {"path": f"/ws/vnc/vm1?token={tok('target')}",
		    "source": f"127.0.2.{i % 200 + 1}"},
		lambda: {"path": f"/ws/vnc/vm2?token={tok('target')}"}),
	    Limit("max-sessions-per-client", limits(client=2), 2,
		"max sessions per client",
		lambda i: {"path": f"/ws/vnc/{vm(i)}?token={tok('client')}",
		    "source": "127.0.0.3"},
		lambda: {"path": f"/ws/vnc/vm1?token={tok('client')}",
		    "source": "127.0.0.4"}),
	    Limit("max-sessions-per-token", limits(token=1), 1,
		"max sessions per token",
		lambda i: {"path": f"/ws/vnc/{vm(i)}?token={shared}",
		    "source": f"127.0.3.{i % 200 + 1}"},
		lambda: {"path": "/ws/vnc/vm1?token=" + keys.mint(k1,
		    keys.claims(target="vm1", jti=False), what="other")}),
	)
	held = []
	try:
		for n, lim in enumerate(each):
			if n == 0:
				t.start(head + lim.conf)
			else:
				reload(t, head + lim.conf)
			exercise(t, lim, held)
			if lim.name == "max-sessions-per-client":
				via_proxy(t, tok)
		reload(t, head + limits(rate=1))
		rate(t, tok)
	finally:
		lt.close_all(held)


def reload(t, text):
	mark = t.reload(text)
	t.wait_log(r"\bmaster: reload: configuration reloaded\b", since=mark)
	t.wait_log(r"\bauthd: configuration \d+ in force", since=mark)


def open_one(t, what, kw, held, tries=40):
	"""A session that must open.  A release travels from the worker to
	authd after the worker logs "session end", so a slot just given back
	may take a moment: a refusal for the limit is retried, within
	bounds; any other refusal fails."""
	for i in range(tries):
		mark = t.mark()
		try:
			s = lt.try_session(t, kw["path"], what,
			    source=kw.get("source"))
		except lt.Refused as e:
			d = lt.decision(t, mark)
			t.expect(d["result"] == FULL, f"{what}: HTTP {e.status} "
			    f"{d['result']}")
			time.sleep(0.25)
			continue
		held.append(s)
		d = lt.decision(t, mark)
		t.expect(d["result"] == "OK", f"{what}: decision {d['result']}")
		s.decision, s.worker, s.session = d, d["worker"], d["session"]
		t.wait_log(rf"\bworker{s.worker}: session start "
		    rf"id={s.session} ", since=mark)
		s.reach_rfb()
		return s
	t.fail(f"{what}: still {FULL} after {tries} tries")


def full(t, lim, what, kw):
	"""The next session inside the limit is refused, for that limit."""
	mark = t.mark()
	lt.expect_refused(t, f"{lim.name}: {what}", kw["path"], FULL,
	    source=kw.get("source"))
	m = t.log_matches(r"\bauthd: limit reached: (.*)$", since=mark)
	t.expect(m and m[-1].group(1) == lim.reason, f"{lim.name}: {what}: "
	    f"authd says {m[-1].group(1) if m else None!r}, want "
	    f"{lim.reason!r}")


def exercise(t, lim, held):
	name = lim.name
	k = 0
	for _ in range(lim.count):
		open_one(t, f"{name}: session {k + 1}", lim.inside(k), held)
		k += 1
	full(t, lim, "one over", lim.inside(k))
	if lim.outside is not None:
		s = open_one(t, f"{name}: outside the limit", lim.outside(), [],
		    tries=1)
		lt.close_and_wait(t, s)

	# A session ends: its slot comes back, and only that one.
	victim = held.pop(0)
	lt.close_and_wait(t, victim)
	open_one(t, f"{name}: after a close", lim.inside(k), held)
	k += 1
	full(t, lim, "full again after a close", lim.inside(k))

	# kill -9 of the worker holding a session releases what it held.
	w = held[0].worker
	gone = [s for s in held if s.worker == w]
	pid = t.workers()[w]
	t.expect_lost_child(f"worker{w}")
	mark = t.mark()
	t.kill(pid, signal.SIGKILL)
	t.wait_log(rf"\bauthd: worker{w} gone: released {len(gone)} session "
	    r"slots\b", since=mark)
	t.wait_log(rf"\bworker{w}: ready", since=mark)
	for s in gone:
		held.remove(s)
		s.close()
	for _ in gone:
		open_one(t, f"{name}: after kill -9 of worker{w}",
		    lim.inside(k), held, tries=1)
		k += 1
	full(t, lim, f"full again after kill -9 of worker{w}", lim.inside(k))

	mark = t.mark()
	for s in held:
		lt.close_and_wait(t, s, since=mark)
	del held[:]


def via_proxy(t, tok):
	"""A trusted proxy's X-Forwarded-For names the client the limit
	counts: two sessions for 127.0.0.3 behind 127.0.0.2, then full."""
	held = []
	try:
		for i in range(2):
			mark = t.mark()
			try:
				s = lt.try_session(t, f"/ws/vnc/vm1?token="
				    f"{tok('xff')}", f"via proxy {i + 1}",
				    source="127.0.0.2",
				    headers={"X-Forwarded-For": "127.0.0.3"})
			except lt.Refused as e:
				t.fail(f"via proxy {i + 1}: HTTP {e.status}")
			held.append(s)
			d = lt.decision(t, mark)
			t.expect(d["result"] == "OK" and d["client"] ==
			    "127.0.0.3", f"via proxy {i + 1}: {d}")
		d = lt.expect_refused(t, "per client, via proxy",
		    f"/ws/vnc/vm2?token={tok('xff')}", FULL, source="127.0.0.2",
		    headers={"X-Forwarded-For": "127.0.0.3"})
		t.expect(d["client"] == "127.0.0.3", f"via proxy: {d}")
	finally:
		mark = t.mark()
		for s in held:
			s.close()
		for _ in held:
			t.wait_log(r"\bsession end .*client=127\.0\.0\.3 ",
			    since=mark)
			mark = t.last_index + 1


def rate(t, tok):
	"""handshake-rate = 1: one handshake a second per client, burst 1."""
	results = []
	for i in range(40):
		mark = t.mark()
		r = lt.attempt(t, "/ws/vnc/vm1", source="127.0.0.5")
		d = lt.decision(t, mark)
		results.append(d["result"])
		if d["result"] == FULL:
			t.expect(r.status == 429 and r.code == FULL,
			    f"rate: HTTP {r.status} {r.code}")
			break
		t.expect(d["result"] == "INVALID_TOKEN",
		    f"rate: attempt {i + 1} without a token: {d['result']}")
	t.note(f"rate: results {results}")
	t.expect(results[0] == "INVALID_TOKEN", "rate: the first handshake "
	    f"of a client was {results[0]}")
	t.expect(results[-1] == FULL, "rate: 40 handshakes in a row from "
	    "one client, none refused")
	# Another client has its own allowance.
	s = open_one(t, "rate: another client", {"path":
	    f"/ws/vnc/vm1?token={tok('rate')}", "source": "127.0.0.6"}, [],
	    tries=1)
	lt.close_and_wait(t, s)
	# The first client's allowance comes back with time (open_one
	# retries a refusal, every 0.25 s, up to 40 times).
	s = open_one(t, "rate: the first client later", {"path":
	    f"/ws/vnc/vm1?token={tok('rate')}", "source": "127.0.0.5"}, [])
	lt.close_and_wait(t, s)
