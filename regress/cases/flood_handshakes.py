# A flood of WebSocket handshakes from one client, 16 at a time, 400 in
# all, against handshake-rate = 20: every one is answered, 101 or 429 with
# MAX_CONNECTIONS_REACHED; no more are accepted than the rate allows
# (a burst of 20, then 20 a second); another client (127.0.0.2) is
# accepted throughout; nothing crashes.

import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

TIMEOUT = 180
FLOOD = 400
RATE = 20

CONFIG = '''
prefork = 2
handshake-rate = 20
max-sessions = 1000
max-sessions-per-target = 0
listen "127.0.0.1:{port}" { tls = no }
target "vm1" { host = "127.0.0.1" port = ECHO_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


def run(t):
	echo = t.peer("echo")
	t.start(CONFIG.replace("ECHO_PORT", str(echo.port)))
	start = time.monotonic()
	with concurrent.futures.ThreadPoolExecutor(16) as pool:
		futures = [pool.submit(lt.attempt, t, "/ws/vnc/vm1")
		    for _ in range(FLOOD)]
		other = []
		for _ in range(3):
			other.append(lt.attempt(t, "/ws/vnc/vm1",
			    source="127.0.0.2"))
		replies = [f.result(timeout=120) for f in futures]
	elapsed = time.monotonic() - start
	ok = sum(r.status == 101 for r in replies)
	limited = [r for r in replies if r.status == 429]
	t.note(f"{ok} accepted, {len(limited)} refused in {elapsed:.1f}s")
	t.expect(ok + len(limited) == FLOOD, "other answers: "
	    f"{[r for r in replies if r.status not in (101, 429)][:3]}")
	t.expect(all(r.code == "MAX_CONNECTIONS_REACHED" for r in limited),
	    f"a 429 without MAX_CONNECTIONS_REACHED: {limited[:1]}")
	t.expect(ok <= RATE + RATE * (elapsed + 1), f"{ok} accepted in "
	    f"{elapsed:.1f}s with handshake-rate = {RATE}")
	t.expect(limited, "the flood was never limited")
	t.expect(all(r.status == 101 for r in other), "the other client was "
	    f"refused during the flood: {[r.status for r in other]}")
