# 64 MiB each way through vncrelayd in base64 mode (subprotocol "base64":
# text messages carry base64, as old noVNC forks send it) arrive byte for
# byte: the client sends messages of many sizes, padded or not, up to one
# whose base64 text is exactly max-frame-size, to an echo peer while
# reading the echo back, decoding each message on its own; the digests of
# what was sent, what the peer read and what came back agree, and the
# session's log line counts the decoded bytes.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_relay		# noqa: E402
import websockets		# noqa: E402

TIMEOUT = 300

CONFIG = '''
prefork = 1
buffer-size = 262144
listen "127.0.0.1:{port}" { tls = false }
target "echo" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

TOTAL = 64 << 20
# 786432 bytes are 1048576 characters of base64: max-frame-size exactly.
SIZES = [1, 2, 3, 7, 125, 126, 1000, 65535, 65536, 65537, 300000, 786432]


async def client(t, uri):
	async with websockets.connect(uri, subprotocols=["base64"], compression=None, max_size=None,
	    open_timeout=20, close_timeout=20) as ws:
		t.expect(ws.subprotocol == "base64",
		    f"subprotocol {ws.subprotocol!r}, want base64")
		s = lib_relay.WSStream(ws, b64=True)
		banner = await s.read(12)
		t.expect(banner == b"RFB 003.008\n", f"banner {banner!r}")
		result = await lib_relay.bulk_echo(s, TOTAL, SIZES)
		t.expect(s.kinds == {"str"}, f"message kinds {s.kinds}")
		await ws.close()
		return result + (ws.close_code,)


def run(t):
	peer = t.peer("--connections", "1", "echo")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	mark = t.mark()
	sent, got, count, close = lib_relay.run_async(client(t,
	    f"ws://127.0.0.1:{t.port}/ws/vnc/echo"), 240)

	t.expect(count == TOTAL, f"{count} bytes came back, want {TOTAL}")
	t.expect(got == sent, "what came back differs from what was sent")
	t.expect(close == 1000, f"close code {close}, want 1000")
	m = peer.wait_line(r"conn=1 mode=echo in=(\d+) out=\d+ "
	    r"sha256=([0-9a-f]+)", timeout=30)
	t.expect(int(m.group(1)) == TOTAL,
	    f"the peer read {m.group(1)} bytes, want {TOTAL}")
	t.expect(m.group(2) == sent, "the peer read other bytes than sent")
	m = t.wait_log(r"\bworker0: session end id=\d+ .* in=(\d+) out=(\d+) "
	    r"duration=\S+ reason=\"client closed\"", since=mark)
	t.expect(int(m.group(1)) == TOTAL, f"log in={m.group(1)}")
	t.expect(int(m.group(2)) == TOTAL + 12, f"log out={m.group(2)}")
