# vncrelayctl against the running daemon, with two live console sessions
# (python3-websockets, tokens from `vncrelayctl token`): show summary names
# authd and the workers with the pids /proc shows and counts both sessions;
# show targets lists the target; token signs a token for the target and a
# console URL that carries it in the fragment and leads to a working
# session; a token for an unknown target, a bad session id and an unknown
# command are refused with exit 1; log brief/verbose and reload are
# answered (and the reload happens, sessions intact); kill session ends
# exactly that session with 1008 "killed by the operator" while the other
# one keeps echoing byte for byte, and answers "killed" only once the
# worker has done it; killing it again, or an id its worker never had,
# gets "no such session".

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402

CONFIG = '''
prefork = 2
token-ttl = 300
control-socket = "{tmp}/ctl.sock"
listen "127.0.0.1:{port}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
target "vm" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { }
'''

TTL = 300


def summary(t):
	return lib_ctl.ctl_json(t, "show", "summary")


def check_socket(t):
	"""Without control-group the socket is root's alone: 0600."""
	st = os.stat(lib_ctl.ctl_socket(t))
	t.expect(oct(st.st_mode) == oct(0o140600),
	    f"control socket mode {oct(st.st_mode)}, want socket 0600")
	t.expect(st.st_uid == 0, f"control socket owner {st.st_uid}")


def check_targets(t, peer_port):
	j = lib_ctl.ctl_json(t, "show", "targets")
	targets = j.get("targets")
	t.expect(isinstance(targets, list), f"show targets: {j}")
	vm = [x for x in targets if x.get("name") == "vm"]
	t.expect(len(targets) == 1 and len(vm) == 1,
	    f"show targets lists {targets}, want vm alone")
	t.expect(vm[0].get("host") == "127.0.0.1" and
	    vm[0].get("port") == peer_port,
	    f"show targets: vm is {vm[0]}, want 127.0.0.1:{peer_port}")
	cp = lib_ctl.ctl_run(t, ["show", "targets"], raw=False)
	t.expect(cp.returncode == 0 and '"name":"vm"' in cp.stdout,
	    f"show targets (for people): exit {cp.returncode}, "
	    f"{cp.stdout[:200]!r}")


def check_url(t, url, token):
	"""The console URL: this listener, the console page, the route's
	path for vm in the query, the token in the fragment alone.
	Returns the WebSocket path the page would open."""
	u = urllib.parse.urlsplit(url)
	t.expect(u.scheme == "http" and u.netloc == f"127.0.0.1:{t.port}",
	    f"url {url!r}: not http://127.0.0.1:{t.port}")
	frag = urllib.parse.parse_qs(u.fragment, strict_parsing=True)
	t.expect(frag == {"token": [token]},
	    f"url fragment {u.fragment[:80]!r} does not hold the token alone")
	t.expect(token not in u.path and token not in u.query,
	    "the token is in the url outside its fragment")
	q = urllib.parse.parse_qs(u.query)
	t.expect(q.get("name") == ["vm"], f"url query {u.query!r}: name")
	t.expect(len(q.get("path", [])) == 1, f"url query {u.query!r}: path")
	r = t.http_get(u.path)
	t.expect(r.status == 200 and
	    r.headers.get("content-type", "").startswith("text/html"),
	    f"GET {u.path} (the url's page): {r.status} "
	    f"{r.headers.get('content-type')}")
	# As console.js does: the path is relative to the site's root.
	return "/" + q["path"][0].lstrip("/")


def token_json(t, user):
	j = lib_ctl.ctl_json(t, "token", "vm", "-u", user)
	t.expect(j.get("target") == "vm", f"token answer target: {j}")
	tok = j.get("token")
	t.expect(isinstance(tok, str) and tok.count(".") == 2,
	    f"token answer: no JWT in {j}")
	claims = lib_ctl.check_token(t, tok, t.secret, "vm", user, TTL)
	t.expect(j.get("expires") == claims["exp"],
	    f"expires {j.get('expires')} but the token's exp is "
	    f"{claims['exp']}")
	t.expect(isinstance(j.get("url"), str), f"token answer: no url: {j}")
	return tok, j["url"]


def token_human(t, user):
	"""`vncrelayctl token` without -j: "token: ..." and "url: ..." lines."""
	cp = lib_ctl.ctl_run(t, ["token", "vm", "-u", user], raw=False)
	t.expect(cp.returncode == 0 and cp.stderr == "",
	    f"token vm: exit {cp.returncode}, stderr {cp.stderr!r}")
	f = lib_ctl.human_fields(cp.stdout)
	t.expect("token" in f and "url" in f,
	    f"token vm printed {cp.stdout[:300]!r}: no token and url lines")
	lib_ctl.check_token(t, f["token"], t.secret, "vm", user, TTL)
	return f["token"], f["url"]


def check_summary(t, want_active):
	"""show summary once both sessions count: the processes are the
	master's real children, the counters add up."""
	j = t.wait_for(f"show summary with sessions_active {want_active}",
	    lambda: (lambda s: s if s.get("sessions_active") == want_active
	    else None)(summary(t)), timeout=15, interval=0.5)
	procs = j.get("processes")
	t.expect(isinstance(procs, list), f"summary: no processes: {j}")
	got = sorted((p.get("name"), p.get("pid")) for p in procs)
	want = sorted([("authd", t.authd())] +
	    [(f"worker{k}", pid) for k, pid in t.workers().items()])
	t.expect(got == want, f"summary processes {got}, but the master's "
	    f"children are {want}")
	t.expect(len(want) == 3, f"want authd and 2 workers, have {want}")
	hs = j.get("handshakes", {})
	t.expect(hs.get("OK", 0) >= 2, f"summary handshakes {hs}: OK < 2")
	t.expect(j.get("sessions_total", 0) >= 2,
	    f"summary sessions_total {j.get('sessions_total')}")
	t.expect(isinstance(j.get("uptime"), int) and j["uptime"] >= 0,
	    f"summary uptime {j.get('uptime')}")
	# The same for people: "key: value" lines.
	cp = lib_ctl.ctl_run(t, ["show", "summary"], raw=False)
	f = lib_ctl.human_fields(cp.stdout)
	t.expect(cp.returncode == 0 and
	    f.get("sessions_active") == str(want_active),
	    f"show summary (for people): exit {cp.returncode}, "
	    f"{cp.stdout[:300]!r}")
	return j


async def scenario(t, peer_port):
	blocking = lib_ctl.blocking

	check_socket(t)
	await blocking(check_targets, t, peer_port)

	# Two tokens: one as JSON, one as people read it.
	tok_a, url_a = await blocking(token_json, t, "alice")
	tok_b, url_b = await blocking(token_human, t, "bob")
	t.expect(tok_a != tok_b, "two token requests gave the same token")
	ws_path_a = await blocking(check_url, t, url_a, tok_a)
	ws_path_b = await blocking(check_url, t, url_b, tok_b)
	t.expect(ws_path_a == ws_path_b == "/ws/vnc/vm",
	    f"console paths {ws_path_a!r} {ws_path_b!r}, want /ws/vnc/vm")

	# -t sets the lifetime, within max-token-lifetime (86400).
	j = await blocking(lib_ctl.ctl_json, t, "token", "vm", "-t", "60")
	lib_ctl.check_token(t, j.get("token", ""), t.secret, "vm",
	    "vncrelayctl", 60)
	msg = await blocking(lib_ctl.ctl_refused, t, "token", "vm", "-t",
	    "100000")
	t.expect(msg == "BAD_REQUEST", f"token vm -t 100000: {msg!r}")
	msg = await blocking(lib_ctl.ctl_refused, t, "token", "nosuchvm")
	t.expect("VM_NOT_FOUND" in msg, f"token nosuchvm: {msg!r}")
	msg = await blocking(lib_ctl.ctl_refused, t, "token")
	t.expect("usage" in msg, f"token without target: {msg!r}")
	# Words that make no sense are refused, not guessed at.
	for words in (("-t", "abc"), ("-t", "0"), ("-t", "-5"),
	    ("-x", "1"), ("-u", "u" * 200)):
		msg = await blocking(lib_ctl.ctl_refused, t, "token", "vm",
		    *words)
		t.expect("usage" in msg, f"token vm {' '.join(words)[:40]}: "
		    f"{msg!r}")
	msg = await blocking(lib_ctl.ctl_refused, t, "token", "v" * 300)
	t.expect("too long" in msg, f"token with a 300-byte target: {msg!r}")

	# Session A through the url's path, session B through the route.
	mark = t.mark()
	a = await lib_ctl.Session(t, f"ws://127.0.0.1:{t.port}{ws_path_a}?"
	    f"token={urllib.parse.quote(tok_a)}", "session A").open()
	await a.banner()
	wa, ida = await blocking(lib_ctl.log_session_start, t, "alice", mark)
	b = await lib_ctl.Session(t, f"ws://127.0.0.1:{t.port}/ws/vnc/vm?"
	    f"token={urllib.parse.quote(tok_b)}", "session B").open()
	await b.banner()
	wb, idb = await blocking(lib_ctl.log_session_start, t, "bob", mark)
	t.expect(ida != idb, f"two sessions with one id {ida}")
	t.expect(ida >> 24 == wa and idb >> 24 == wb,
	    f"session ids {ida} (worker{wa}) {idb} (worker{wb}) do not "
	    "carry their worker's index")
	await a.echo(lib_ctl.nbytes(1000, "a1"))
	await b.echo(lib_ctl.nbytes(1000, "b1"))

	await blocking(check_summary, t, 2)

	# Log levels and reload: answered, and the reload happens.
	mark = t.mark()
	j = await blocking(lib_ctl.ctl_json, t, "log", "brief")
	t.expect(j == {"log": "brief"}, f"log brief answered {j}")
	j = await blocking(lib_ctl.ctl_json, t, "log", "verbose")
	t.expect(j == {"log": "verbose"}, f"log verbose answered {j}")
	await blocking(t.wait_log, r"\bmaster: control: uid=0 command=log "
	    r"brief$", 10, mark)
	mark = t.mark()
	j = await blocking(lib_ctl.ctl_json, t, "reload")
	t.expect(j.get("result") == "reload requested", f"reload: {j}")
	await blocking(t.wait_log, r"\bmaster: reload: configuration "
	    r"reloaded workers=2\b", 15, mark)
	t.expect(not t.log_matches(r"\bsession end id=", since=0),
	    "a session ended during reload")
	await a.echo(lib_ctl.nbytes(5000, "a2"))
	await b.echo(lib_ctl.nbytes(5000, "b2"))

	# Bad kill requests are refused; the sessions stay.
	for bad in ("xyz", "", "99999999999", str((63 << 24) | 1), "+1",
	    str(ida + 1000)):
		words = ["kill", "session", bad] if bad else ["kill",
		    "session"]
		msg = await blocking(lib_ctl.ctl_refused, t, *words)
		t.expect(msg in ("no such session", "unknown command"),
		    f"kill session {bad!r}: {msg!r}")

	# Kill session A: A alone gets 1008 and the reason.
	mark = t.mark()
	j = await blocking(lib_ctl.ctl_json, t, "kill", "session", str(ida))
	t.expect(j.get("session") == ida and
	    j.get("result") == "killed", f"kill session {ida}: {j}")
	code, reason = await a.closed()
	t.expect(code == 1008 and reason == "killed by the operator",
	    f"session A closed with {code} {reason!r}, want 1008 "
	    "\"killed by the operator\"")
	t.expect(a.texts == [], f"session A got text messages {a.texts}")
	await blocking(t.wait_log, rf"\bworker{wa}: session end id={ida} .*"
	    r"reason=\"killed by the operator\"", 10, mark)
	t.expect(b.alive(), "session B went down with session A")
	await b.echo(lib_ctl.nbytes(65536 + 7, "b3"))
	t.expect(not t.log_matches(rf"\bsession end id={idb} ", since=0),
	    "session B was ended as well")
	await blocking(check_summary, t, 1)
	# The session just ended is no more: its worker says so.
	msg = await blocking(lib_ctl.ctl_refused, t, "kill", "session",
	    str(ida))
	t.expect(msg == "no such session",
	    f"kill of the ended session {ida}: {msg!r}")

	# Commands that do not exist.
	for words in (["frobnicate"], ["show", "nothing"], ["reload", "now"],
	    ["log", "loud"]):
		msg = await blocking(lib_ctl.ctl_refused, t, *words)
		t.expect(msg == "unknown command",
		    f"{' '.join(words)}: {msg!r}, want \"unknown command\"")

	await b.echo(lib_ctl.nbytes(300, "b4"))
	code = await b.close()
	t.expect(code == 1000, f"session B closed with {code}, want 1000")
	return tok_a, tok_b


def run(t):
	peer = t.peer("echo")
	path, t.secret = lib_ctl.hs256_key(t)
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))
	tokens = lib_ctl.run_async(t, scenario(t, peer.port), 100)
	peer.wait_line(r"conn=2 mode=echo ")
	# The URL keeps the token in its fragment to keep it out of logs;
	# the daemon's own log must not hold it either.
	with t.cond:
		log = "\n".join(t.lines)
	for tok in tokens:
		t.expect(tok.split(".")[2] not in log,
		    "a console token is in the daemon's log")
