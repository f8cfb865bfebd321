# A client over wss:// reaches QEMU's own VNC server (a diskless PC that
# shows its firmware screen) through vncrelayd: the RFB handshake reaches
# ServerInit with QEMU's name for the machine, and the screen, asked for
# again until the firmware has drawn, is not blank. The client follows
# the firmware's mode switches through DesktopSize.

import asyncio
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
target "pc1" { host = "127.0.0.1" port = QEMU_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


async def client(t, uri, ca):
	async with websockets.connect(uri, ssl=lib_relay.client_tls(ca),
	    subprotocols=["binary"], compression=None, max_size=None,
	    open_timeout=20, close_timeout=10) as ws:
		t.expect(ws.subprotocol == "binary",
		    f"subprotocol {ws.subprotocol!r}, want binary")
		s = lib_relay.WSStream(ws)
		si = await lib_relay.rfb_handshake(s)
		# The firmware may not have drawn yet, and it switches video
		# modes while it starts: ask again, a bounded number of times,
		# until a whole screen of the current size shows two colours.
		for _ in range(60):
			rects = await lib_relay.rfb_full_update(s, si,
			    resize=True)
			colours = lib_relay.pixel_counts(si, rects)
			area = sum(w * h for _, _, w, h, _ in rects)
			if (len(colours) >= 2 and
			    area == si["width"] * si["height"]):
				break
			await asyncio.sleep(0.5)
		await ws.close()
		return si, rects, colours, ws.close_code


def run(t):
	certs = lib_relay.make_certs(t)
	q = lib_relay.start_qemu(t, name="regress")
	t.start(CONFIG.replace("QEMU_PORT", str(q.port)))

	mark = t.mark()
	uri = f"wss://127.0.0.1:{t.port}/ws/vnc/pc1"
	si, rects, colours, close = lib_relay.run_async(client(t, uri,
	    certs["ca"]), 90)

	t.note(f"ServerInit {si}")
	t.expect(si["name"] == "QEMU (regress)", f"name {si['name']!r}")
	t.expect(si["width"] >= 320 and si["height"] >= 200,
	    f"ServerInit {si['width']}x{si['height']}")
	area = sum(w * h for _, _, w, h, _ in rects)
	t.expect(area == si["width"] * si["height"],
	    f"the full update covers {area} pixels")
	t.expect(len(colours) >= 2, f"the screen is one colour: {colours}")
	t.expect(close == 1000, f"close code {close}, want 1000")
	t.wait_log(r"\bworker\d+: session end id=\d+ client=127\.0\.0\.1 "
	    r"route=/ws/vnc/\{name\} target=pc1 .* reason=\"client closed\"",
	    since=mark)
