# A browser-like client (python3-websockets, wss:// checked against a test
# CA) reaches a real Xvnc through vncrelayd: the RFB banner arrives, the
# handshake reaches ServerInit with Xvnc's -geometry and -desktop name, and
# a full-screen Raw update shows the colour the root window was painted.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_relay		# noqa: E402
import websockets		# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" {
	tls = true
	certificate = "{tmp}/pki/server.pem"
	key = "{tmp}/pki/server.key"
}
target "xvnc" { host = "127.0.0.1" port = XVNC_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

STEELBLUE = (0x46, 0x82, 0xb4)


async def client(t, uri, ca):
	async with websockets.connect(uri, ssl=lib_relay.client_tls(ca),
	    subprotocols=["binary"], compression=None, max_size=None,
	    open_timeout=20, close_timeout=10) as ws:
		t.expect(ws.subprotocol == "binary",
		    f"subprotocol {ws.subprotocol!r}, want binary")
		s = lib_relay.WSStream(ws)
		si = await lib_relay.rfb_handshake(s)
		rects = await lib_relay.rfb_full_update(s, si)
		await ws.close()
		return si, rects, s.sent, ws.close_code


def run(t):
	certs = lib_relay.make_certs(t)
	x = lib_relay.start_xvnc(t, geometry="800x600", desktop="regress-xvnc")
	lib_relay.paint_root(t, x, "#4682b4")
	t.start(CONFIG.replace("XVNC_PORT", str(x.port)))

	mark = t.mark()
	uri = f"wss://127.0.0.1:{t.port}/ws/vnc/xvnc"
	si, rects, sent, close = lib_relay.run_async(client(t, uri,
	    certs["ca"]), 60)

	t.expect((si["width"], si["height"]) == (800, 600),
	    f"ServerInit {si['width']}x{si['height']}, want 800x600")
	t.expect(si["name"] == "regress-xvnc", f"desktop name {si['name']!r}")
	area = sum(w * h for _, _, w, h, _ in rects)
	t.expect(area == 800 * 600, f"the full update covers {area} pixels")
	colours = lib_relay.pixel_counts(si, rects)
	top = max(colours, key=colours.get)
	t.expect(top == STEELBLUE and colours[top] >= area * 9 // 10,
	    f"most pixels are {top} ({colours[top]} of {area}), "
	    f"want {STEELBLUE}")
	t.expect(close == 1000, f"close code {close}, want 1000")

	t.wait_log(r"\bworker\d+: session start id=\d+ client=127\.0\.0\.1 "
	    r"route=/ws/vnc/\{name\} target=xvnc user=- jti=-", since=mark)
	m = t.wait_log(r"\bworker\d+: session end id=\d+ client=127\.0\.0\.1 "
	    r"route=/ws/vnc/\{name\} target=xvnc user=- jti=- in=(\d+) "
	    r"out=(\d+) duration=\S+ reason=\"client closed\"", since=mark)
	t.expect(int(m.group(1)) == sent, f"session in={m.group(1)}, "
	    f"the client sent {sent} bytes")
	t.expect(int(m.group(2)) >= 12 + 800 * 600 * si["bpp"] // 8,
	    f"session out={m.group(2)}: less than the update")
