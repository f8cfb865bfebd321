# heartbeat = 1: the server pings every session each period.  A
# python-websockets client, which answers pings on its own, gets several
# pings and stays connected; a raw client that never answers gets a ping
# and is then dropped, the log naming reason "heartbeat: no pong".

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_relay		# noqa: E402
import rawws			# noqa: E402
import websockets		# noqa: E402
from websockets.frames import OP_PING		# noqa: E402
from websockets.legacy.client import WebSocketClientProtocol	# noqa: E402

TIMEOUT = 90

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
heartbeat = 1
target "vm" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''


class CountingProtocol(WebSocketClientProtocol):
	"""Counts the pings it reads (websockets still answers them)."""
	pings = 0

	async def read_frame(self, max_size):
		frame = await super().read_frame(max_size)
		if frame.opcode == OP_PING:
			type(self).pings += 1
		return frame


async def answering(t, uri):
	async with websockets.connect(uri, subprotocols=["binary"],
	    compression=None, ping_interval=None, open_timeout=20,
	    close_timeout=10, create_protocol=CountingProtocol) as ws:
		got = await asyncio.wait_for(ws.recv(), 20)
		t.expect(got == b"RFB 003.008\n", f"first message {got!r}")
		# Five periods without data; the protocol's reader answers
		# the pings in the background.
		await asyncio.sleep(5)
		t.expect(ws.open, f"the answering client was disconnected: "
		    f"{ws.close_code} {ws.close_reason!r}")
		await ws.send(b"still here")
		echo = await asyncio.wait_for(ws.recv(), 20)
		t.expect(echo == b"still here", f"echo {echo!r}")
		await ws.close()


def session_id(t, since):
	m = t.wait_log(r"\bworker\d+: session start id=(\d+) ", since=since)
	return m.group(1)


def run(t):
	peer = t.peer("echo")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))

	mark = t.mark()
	lib_relay.run_async(answering(t, f"ws://127.0.0.1:{t.port}/ws/vnc/vm"),
	    60)
	t.expect(CountingProtocol.pings >= 2, f"the answering client read "
	    f"{CountingProtocol.pings} pings in five periods, want >= 2")
	sid = session_id(t, mark)
	m = t.wait_log(rf"\bworker\d+: session end id={sid} .*reason=\"([^\"]*)\"",
	    since=mark)
	t.expect(m.group(1) == "client closed",
	    f"answering client's session ended with {m.group(1)!r}")

	# A client that reads but never answers a ping.
	mark = t.mark()
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/vm",
	    protocols=["binary"], timeout=20)
	pings, data, end = 0, b"", "timeout"
	try:
		for _ in range(1000):
			f = ws.recv_frame(20)
			if f is None:
				end = "eof"
				break
			if f.opcode == rawws.OP_CLOSE:
				end = f"close {f.close_code}"
				break
			if f.opcode == rawws.OP_PING:
				t.expect(f.payload == b"vncrelayd",
				    f"ping payload {f.payload!r}")
				pings += 1
			elif f.opcode == rawws.OP_BINARY:
				data += f.payload
	except (OSError, rawws.ProtocolError) as e:
		end = repr(e)
	finally:
		ws.close()
	t.note(f"silent client: {pings} pings, data {data!r}, end {end}")
	t.expect(data == b"RFB 003.008\n", f"silent client read {data!r}")
	t.expect(pings >= 1, "the silent client was never pinged")
	t.expect(end != "timeout" and "timed out" not in end,
	    "the silent client was not disconnected")
	sid = session_id(t, mark)
	t.wait_log(rf"\bworker\d+: session end id={sid} .*"
	    r'reason="heartbeat: no pong"', since=mark, timeout=20)
