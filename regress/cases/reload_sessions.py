# SIGHUP during 100 live sessions (over two workers): the reload goes
# through, none of the 100 drops (each echoes byte-exact after it, and no
# "session end" is logged), and new sessions use the new configuration:
# the route the new file adds opens, the target it removes is gone.

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import rawws			# noqa: E402

TIMEOUT = 180
SESSIONS = 100

CONFIG = '''
prefork = 2
max-sessions = 200
max-sessions-per-target = 0
listen "127.0.0.1:{port}" { tls = no }
target "vm1" { host = "127.0.0.1" port = ECHO_PORT }
target "old" { host = "127.0.0.1" port = ECHO_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

NEW = CONFIG.replace('target "old"', 'target "new"') + \
    'route "/console/{name}" { backend = tcp auth = none }\n'


def session(t, path):
	ws = rawws.connect("127.0.0.1", t.port, path, protocols=["binary"],
	    timeout=20)
	t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", f"{path}: banner")
	return ws


def echo(t, ws, i, what):
	data = hashlib.sha256(f"{i}/{what}".encode()).digest() * 128
	ws.send_binary(data)
	back = ws.recv_bytes(len(data), timeout=30)
	t.expect(back == data, f"session {i} {what} the reload: "
	    f"{len(back)} of {len(data)} bytes back")


def refused(t, path, status):
	ws = rawws.connect("127.0.0.1", t.port, path, expect_status=None)
	ws.close()
	t.expect(ws.status == status, f"{path}: {ws.status}, want {status}")


def run(t):
	echo_peer = t.peer("echo")
	t.start(CONFIG.replace("ECHO_PORT", str(echo_peer.port)))
	held = [session(t, "/ws/vnc/vm1") for _ in range(SESSIONS)]
	workers = {int(m.group(1)) for m in t.log_matches(
	    r"\bworker(\d+): session start id=")}
	t.note(f"sessions on workers {sorted(workers)}")
	for i, ws in enumerate(held):
		echo(t, ws, i, "before")
	refused(t, "/console/vm1", 404)

	mark = t.reload(NEW.replace("ECHO_PORT", str(echo_peer.port)))
	t.wait_log(r"\breload: configuration reloaded", since=mark)
	for i, ws in enumerate(held):
		echo(t, ws, i, "after")
	t.expect(not t.log_matches(r"\bsession end id=", mark),
	    "a session ended during the reload")
	new = session(t, "/console/new")
	echo(t, new, SESSIONS, "in a session opened after")
	refused(t, "/ws/vnc/old", 404)
	for ws in held + [new]:
		ws.close()
