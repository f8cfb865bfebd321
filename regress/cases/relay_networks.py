# /vnc/{ip} connects only to addresses inside the route's networks.  An
# address outside (127.0.1.1, with the network 127.0.0.0/24) gets 403 and
# the JSON error UNAUTHORIZED, and nothing ever connects to a listener
# waiting there, whichever way the address is spelt (hex, decimal, octal,
# IPv4-mapped IPv6, percent-encoded).  An address inside (127.0.0.5) is
# relayed.

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import rawws			# noqa: E402

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = false }
route "/vnc/{ip}" {
	backend = tcp
	networks = {"127.0.0.0/24"}
	port = TARGET_PORT
	auth = none
}
'''

OUTSIDE = "127.0.1.1"
INSIDE = "127.0.0.5"

# Other spellings of 127.0.1.1 (and ::1, also outside): any refusal
# will do, as long as nothing connects.
SPELLINGS = ["0x7f000101", "2130706689", "0177.0.0401", "0177.0.1.1",
    "127.0.1.1.", "127.0.257", "::ffff:127.0.1.1", "::ffff:7f00:101",
    "%3a%3affff%3a127.0.1.1", "127%2e0%2e1%2e1", "127.0.1.1%00",
    "[::ffff:127.0.1.1]", "::1", "0:0:0:0:0:0:0:1", "localhost"]


def refused(t, ip):
	ws = rawws.connect("127.0.0.1", t.port, f"/vnc/{ip}",
	    protocols=["binary"], expect_status=None)
	ws.close()
	return ws.status, ws.body


def run(t):
	port = lib_relay.free_port_on([OUTSIDE, INSIDE, "::1"])
	wires = [lib_relay.Tripwire(OUTSIDE, port),
	    lib_relay.Tripwire("::1", port)]
	t.peers.extend(wires)
	peer = t.peer("--host", INSIDE, "--port", str(port),
	    "--connections", "1", "echo")
	t.start(CONFIG.replace("TARGET_PORT", str(port)))

	mark = t.mark()
	status, body = refused(t, OUTSIDE)
	t.expect(status == 403, f"/vnc/{OUTSIDE}: {status}, want 403")
	err = json.loads(body)
	t.expect(err.get("type") == "error" and err.get("code") ==
	    "UNAUTHORIZED" and err.get("error"), f"/vnc/{OUTSIDE}: {err}")
	t.wait_log(rf"\bauthd: decision worker=0 session=\d+ client=127\.0\.0\.1 "
	    rf"route=/vnc/\{{ip\}} target={OUTSIDE} .*result=UNAUTHORIZED",
	    since=mark)

	for ip in SPELLINGS:
		status, body = refused(t, ip)
		t.note(f"/vnc/{ip}: {status} {body[:80]!r}")
		t.expect(400 <= status < 500, f"/vnc/{ip}: {status}, want a 4xx")
	for w in wires:
		t.expect(w.hits() == 0, f"something connected to {w.where}: "
		    f"{w.seen}")

	ws = rawws.connect("127.0.0.1", t.port, f"/vnc/{INSIDE}",
	    protocols=["binary"])
	t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", "no banner from inside")
	ws.send_binary(b"inside")
	t.expect(ws.recv_bytes(6) == b"inside", "no echo from inside")
	ws.send_close(1000)
	close = ws.recv_close()
	t.expect(close is not None and close.close_code == 1000,
	    f"close {close!r}")
	ws.close()
	peer.wait_line(r"conn=1 mode=echo in=6 ")
	for w in wires:
		t.expect(w.hits() == 0, f"something connected to {w.where}: "
		    f"{w.seen}")
