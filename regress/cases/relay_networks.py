# /vnc/{ip} connects only to addresses inside the route's networks.  An
# address outside (127.0.1.1, with the network 127.0.0.0/24) gets 403 and
# the JSON error UNAUTHORIZED, and nothing ever connects to a listener
# waiting there, whichever way the address is spelt (hex, decimal, octal,
# IPv4-mapped IPv6, percent-encoded).  An address inside (127.0.0.5) is
# relayed.  An IPv6 list works alike: with the network ::1/128, ::1 is
# relayed, and ::2 and 127.0.0.1 (where a listener waits) get 403.

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
route "/vnc6/{ip}" {
	backend = tcp
	networks = {"::1/128"}
	port = TARGET6_PORT
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


def refused(t, ip, prefix="/vnc"):
	ws = rawws.connect("127.0.0.1", t.port, f"{prefix}/{ip}",
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
	port6 = lib_relay.free_port_on(["::1", "127.0.0.1"])
	wire4 = lib_relay.Tripwire("127.0.0.1", port6)
	t.peers.append(wire4)
	peer6 = t.peer("--host", "::1", "--port", str(port6),
	    "--connections", "1", "echo")
	t.start(CONFIG.replace("TARGET_PORT", str(port))
	    .replace("TARGET6_PORT", str(port6)))

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

	relayed(t, f"/vnc/{INSIDE}", peer, wires)
	ipv6(t, peer6, wire4)


def relayed(t, path, peer, wires):
	"""A session on path reaches the echo peer and closes with 1000;
	still nothing connected to the wires."""
	ws = rawws.connect("127.0.0.1", t.port, path, protocols=["binary"])
	t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", f"{path}: no banner")
	ws.send_binary(b"inside")
	t.expect(ws.recv_bytes(6) == b"inside", f"{path}: no echo")
	ws.send_close(1000)
	close = ws.recv_close()
	t.expect(close is not None and close.close_code == 1000,
	    f"{path}: close {close!r}")
	ws.close()
	peer.wait_line(r"conn=1 mode=echo in=6 ")
	for w in wires:
		t.expect(w.hits() == 0, f"something connected to {w.where}: "
		    f"{w.seen}")


def ipv6(t, peer, wire):
	for ip in ("127.0.0.1", "::2"):
		mark = t.mark()
		status, body = refused(t, ip, "/vnc6")
		t.expect(status == 403, f"/vnc6/{ip}: {status}, want 403")
		t.expect(json.loads(body).get("code") == "UNAUTHORIZED",
		    f"/vnc6/{ip}: {body[:80]!r}")
		t.wait_log(r"\bauthd: decision .* route=/vnc6/\{ip\} "
		    rf"target={ip} .*result=UNAUTHORIZED", since=mark)
	t.expect(wire.hits() == 0, f"something connected to {wire.where}: "
	    f"{wire.seen}")

	relayed(t, "/vnc6/::1", peer, [wire])
