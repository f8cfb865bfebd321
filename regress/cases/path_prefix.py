# path-prefix = "/console": consoles and the API may sit under the prefix.
# worker/server.c server_dispatch() strips the prefix when the path starts
# with it followed by "/" or its end, and then matches the API and the
# routes on what is left.  It does not demand the prefix: a path without it
# is matched as it is, so /ws/vnc/NAME opens the console as well as
# /console/ws/vnc/NAME (a reverse proxy in front decides what reaches the
# daemon).  A path that merely begins with the same letters, such as
# /consolex/ws/vnc/NAME, is not stripped and matches no route: 404.
# Static files sit under the prefix too, the same way: both
# /console/console.html and /console.html are the web root's console.html,
# so the URL that vncrelayctl token prints (with the prefix) works.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import rawws			# noqa: E402

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
path-prefix = "/console"
target "vm" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


def console(t, path):
	"""Open path, check the banner and an echo; returns the log's
	route and target of the session."""
	mark = t.mark()
	ws = rawws.connect("127.0.0.1", t.port, path, protocols=["binary"],
	    timeout=20, expect_status=None)
	try:
		t.expect(ws.status == 101 and ws.check_accept(),
		    f"{path}: status {ws.status} {ws.body[:120]!r}")
		banner = ws.recv_bytes(12, 20)
		t.expect(banner == b"RFB 003.008\n", f"{path}: banner {banner!r}")
		data = path.encode() + b" echo"
		ws.send_binary(data)
		got = ws.recv_bytes(len(data), 20)
		t.expect(got == data, f"{path}: echo {got!r}")
		ws.send_close(1000)
		ws.recv_close(20)
	finally:
		ws.close()
	m = t.wait_log(r"\bworker\d+: session start id=\d+ \S+ route=(\S+) "
	    r"target=(\S+)", since=mark)
	return m.group(1), m.group(2)


def refused(t, path):
	ws = rawws.connect("127.0.0.1", t.port, path, protocols=["binary"],
	    timeout=20, expect_status=None)
	try:
		return ws.status
	finally:
		ws.close()


def run(t):
	peer = t.peer("echo")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	route, target = console(t, "/console/ws/vnc/vm")
	t.expect((route, target) == ("/ws/vnc/{name}", "vm"),
	    f"/console/ws/vnc/vm: route={route} target={target}")

	# Without the prefix: matched as it is (see above).
	route, target = console(t, "/ws/vnc/vm")
	t.expect((route, target) == ("/ws/vnc/{name}", "vm"),
	    f"/ws/vnc/vm: route={route} target={target}")

	# Not the prefix, only its letters: no route.
	status = refused(t, "/consolex/ws/vnc/vm")
	t.expect(status == 404, f"/consolex/ws/vnc/vm: status {status}, "
	    "want 404")

	# Static files: the prefix is taken off as for routes (see above).
	if not os.path.exists(os.path.join(t.webroot, "console.html")):
		t.skip("no console.html in the web root (make debug)")
	plain = t.http_get("/console.html")
	with open(os.path.join(t.webroot, "console.html"), "rb") as f:
		t.expect(plain.status == 200 and plain.body == f.read(),
		    f"/console.html: {plain.status}, not the web "
		    "root's console.html")
	under = t.http_get("/console/console.html")
	t.expect(under.status == 200 and under.body == plain.body,
	    f"/console/console.html: {under.status}, not the web root's "
	    "console.html")
