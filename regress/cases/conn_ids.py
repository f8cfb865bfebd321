# Connection ids stay unique when a worker's counter wraps.  A worker numbers
# its connections with a 24-bit counter that wraps after 2^24 of them, while
# a console session may live for days.  A debug trigger rewinds the counter
# so that the next connection would take the id of session A, which is still
# open; session B, opened next, must get an id of its own, receive its own
# verdict (it gets its RFB banner and echoes), and `kill session` of A's id
# must end A alone.  Before the fix B took A's id: its verdict went to A and
# B never came up.

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402

CONFIG = '''
prefork = 1
debug-triggers = yes
token-ttl = 300
control-socket = "{tmp}/ctl.sock"
listen "127.0.0.1:{port}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
target "vm" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { }
'''


async def open_session(t, user, name):
	blocking = lib_ctl.blocking
	j = await blocking(lib_ctl.ctl_json, t, "token", "vm", "-u", user)
	tok = j.get("token", "")
	mark = t.mark()
	s = await lib_ctl.Session(t, f"ws://127.0.0.1:{t.port}/ws/vnc/vm?"
	    f"token={urllib.parse.quote(tok)}", name).open()
	await s.banner()
	_, sid = await blocking(lib_ctl.log_session_start, t, user, mark)
	return s, sid


async def scenario(t):
	blocking = lib_ctl.blocking
	a, ida = await open_session(t, "alice", "session A")
	await a.echo(lib_ctl.nbytes(1000, "a1"))

	mark = t.mark()
	await blocking(t.http_poke, "/_debug/rewind-ids")
	await blocking(t.wait_log, rf"\bdebug: connection ids rewound to "
	    rf"{ida:08x}\b", 10, mark)

	b, idb = await open_session(t, "bob", "session B")
	t.expect(idb != ida, f"session B took session A's id {ida}")
	await a.echo(lib_ctl.nbytes(3000, "a2"))
	await b.echo(lib_ctl.nbytes(3000, "b1"))

	j = await blocking(lib_ctl.ctl_json, t, "kill", "session", str(ida))
	t.expect(j.get("result") == "killed", f"kill session {ida}: {j}")
	code, _ = await a.closed()
	t.expect(code == 1008, f"session A closed with {code}, want 1008")
	t.expect(b.alive(), "session B went down with session A")
	await b.echo(lib_ctl.nbytes(5000, "b2"))
	code = await b.close()
	t.expect(code == 1000, f"session B closed with {code}, want 1000")


def run(t):
	peer = t.peer("echo")
	lib_ctl.hs256_key(t)
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))
	lib_ctl.run_async(t, scenario(t), 60)
