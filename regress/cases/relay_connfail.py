# A console that cannot be reached is reported, not hung on: a closed
# port (connection refused) and a port that never answers (a listener
# whose accept queue is full, so the kernel drops our SYNs) both give 502
# with the JSON error CONNECTION_FAILED, the second once connect-timeout
# has passed.  With errors = json the upgrade completes instead, a JSON
# text message says CONNECTION_FAILED, and the close code is 1011; an
# unknown target there gives VM_NOT_FOUND and 1008.

import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import rawws			# noqa: E402

CONFIG = '''
prefork = 1
connect-timeout = 2
listen "127.0.0.1:{port}" { tls = false }
target "closed" { host = "127.0.0.1" port = CLOSED_PORT }
target "blackhole" { host = "127.0.0.1" port = HOLE_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
route "/api/x/{name}" { backend = tcp auth = none errors = json }
'''


def refused_http(t, name, why):
	mark = t.mark()
	ws = rawws.connect("127.0.0.1", t.port, f"/ws/vnc/{name}",
	    protocols=["binary"], expect_status=None, timeout=30)
	ws.close()
	t.expect(ws.status == 502, f"{name}: {ws.status}, want 502")
	t.expect(ws.headers.get("content-type", "").startswith(
	    "application/json"), f"{name}: {ws.headers.get('content-type')}")
	err = json.loads(ws.body)
	t.expect(err.get("type") == "error" and
	    err.get("code") == "CONNECTION_FAILED" and err.get("error"),
	    f"{name}: body {err}")
	t.wait_log(rf"\bauthd: connect to {name} failed: {why}", since=mark)
	t.wait_log(rf"\bauthd: decision .* target={name} .*"
	    r"result=CONNECTION_FAILED", since=mark)


def refused_ws(t, name, code, close_code):
	ws = rawws.connect("127.0.0.1", t.port, f"/api/x/{name}",
	    protocols=["binary"], timeout=30)
	op, payload = ws.recv_message(timeout=30)
	t.note(f"{name}: first message {op} {payload!r}")
	t.expect(op == rawws.OP_TEXT, f"{name}: first message {op}, not text")
	err = json.loads(payload)
	t.expect(err.get("type") == "error" and err.get("code") == code and
	    err.get("error"), f"{name}: message {err}")
	close = ws.recv_close(timeout=30)
	t.expect(close is not None and close.close_code == close_code,
	    f"{name}: close {close!r}, want {close_code}")
	t.expect(ws.wait_eof(20), f"{name}: still open after the close")
	ws.close()


def run(t):
	closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	closed.bind(("127.0.0.1", 0))		# held, never listening
	hole = lib_relay.Blackhole(t)
	t.peers.append(hole)
	t.start(CONFIG.replace("CLOSED_PORT", str(closed.getsockname()[1]))
	    .replace("HOLE_PORT", str(hole.port)))

	refused_http(t, "closed", "Connection refused")
	refused_http(t, "blackhole", "timed out")
	refused_ws(t, "closed", "CONNECTION_FAILED", 1011)
	refused_ws(t, "blackhole", "CONNECTION_FAILED", 1011)
	refused_ws(t, "nosuchvm", "VM_NOT_FOUND", 1008)

	status = rawws.connect("127.0.0.1", t.port, "/ws/vnc/nosuchvm",
	    expect_status=None)
	status.close()
	t.expect(status.status == 404 and
	    json.loads(status.body).get("code") == "VM_NOT_FOUND",
	    f"an unknown target: {status.status} {status.body!r}")
	closed.close()
