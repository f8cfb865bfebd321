# A restarted authd refuses every one-time token used before, however
# many: the master hands them all back, a batch per IPC message, before
# the new authd decides a console request (vncrelayd.8).
#
# COUNT tokens are used (more than the master's channel to authd could
# queue as one message a token, and many batches' worth), authd is killed
# with SIGKILL, and once the new one has taken them back the first,
# middle and last of them, and a sample between, are refused with
# TOKEN_ALREADY_USED.  The tokens are used against a target whose port
# refuses connections (a socket bound and never listening), which costs
# no session: authd records the jti before it connects.

import asyncio
import base64
import os
import random
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

TIMEOUT = 420
COUNT = 70000
PARALLEL = 32
LOAD_SECONDS = 240		# the bound on the load loop
SAMPLE = 20

CONFIG = '''
prefork = 2
max-sessions = 1000
max-sessions-per-target = 0
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { backend = tcp }
target "closed" { host = "127.0.0.1" port = CLOSED_PORT }
'''


async def use_one(port, tok):
	"""One upgrade request; the status of its answer, or None."""
	key = base64.b64encode(os.urandom(16)).decode()
	req = (f"GET /ws/vnc/closed?token={tok} HTTP/1.1\r\n"
	    f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
	    f"Sec-WebSocket-Key: {key}\r\n\r\n").encode()
	try:
		r, w = await asyncio.open_connection("127.0.0.1", port)
	except OSError:
		return None
	try:
		w.write(req)
		head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
		return int(head.split(b" ", 2)[1])
	except (OSError, ValueError, IndexError, asyncio.TimeoutError,
	    asyncio.IncompleteReadError, asyncio.LimitOverrunError):
		return None
	finally:
		w.close()


async def use_all(port, tokens):
	"""Use every token, PARALLEL at a time; {status: count}."""
	todo = iter(tokens)
	got = {}

	async def lane():
		for tok in todo:
			s = await use_one(port, tok)
			got[s] = got.get(s, 0) + 1

	await asyncio.wait_for(asyncio.gather(*(lane() for _ in
	    range(PARALLEL))), LOAD_SECONDS)
	return got


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	closed.bind(("127.0.0.1", 0))
	try:
		t.start(CONFIG.replace("CLOSED_PORT",
		    str(closed.getsockname()[1])) + k1.conf() + "\n")
		tokens = keys.mint_many(k1, COUNT, what="used", target="closed",
		    ttl=3600)
		start = time.monotonic()
		got = asyncio.run(use_all(t.port, tokens))
		t.note(f"{COUNT} tokens used in {time.monotonic() - start:.1f}s: "
		    f"{got}")
		t.expect(got == {502: COUNT}, f"answers {got}, want {COUNT} "
		    "times 502 (CONNECTION_FAILED)")

		old = t.authd()
		t.expect_lost_child("authd")
		mark = t.mark()
		t.kill(old, signal.SIGKILL)
		t.wait_log(rf"\bmaster: lost child authd pid={old} ", since=mark)
		m = t.wait_log(r"\bauthd: took back (\d+) used tokens from the "
		    r"master in (\d+) messages", since=mark, timeout=60)
		t.expect(int(m.group(1)) == COUNT and int(m.group(2)) >= 2,
		    f"authd took back {m.group(1)} tokens in {m.group(2)} "
		    f"messages, want {COUNT} in 2 or more")
		t.wait_log(r"\bauthd: ready", since=mark)
		for k in t.workers():
			t.wait_log(rf"\bworker{k}: authd channel", since=mark)

		picks = sorted({0, COUNT // 2, COUNT - 1} |
		    set(random.sample(range(COUNT), SAMPLE)))
		for i in picks:
			lt.expect_refused(t, f"used token {i} after the restart",
			    f"/ws/vnc/closed?token={tokens[i]}",
			    "TOKEN_ALREADY_USED")
	finally:
		closed.close()
