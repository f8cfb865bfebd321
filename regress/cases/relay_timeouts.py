# idle-timeout closes a session in which nothing moved either way with 1000
# "idle timeout", while a session that keeps sending stays open past it;
# session-timeout (set by a reload) closes even a busy session with 1008
# "session time limit".  Both ends are logged as the session's reason.

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_relay		# noqa: E402
import websockets		# noqa: E402

TIMEOUT = 120

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
idle-timeout = 2
target "vm" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
'''

LIMITED = CONFIG.replace("idle-timeout = 2",
    "idle-timeout = 600\nsession-timeout = 3")


def connect(uri):
	return websockets.connect(uri, subprotocols=["binary"],
	    compression=None, ping_interval=None, open_timeout=20,
	    close_timeout=10)


async def banner(t, ws):
	got = await asyncio.wait_for(ws.recv(), 20)
	t.expect(got == b"RFB 003.008\n", f"first message {got!r}")


async def silent(t, uri):
	"""Read the banner, then send nothing: the server must close."""
	async with connect(uri) as ws:
		await banner(t, ws)
		try:
			extra = await asyncio.wait_for(ws.recv(), 30)
			t.fail(f"a message instead of a close: {extra!r}")
		except websockets.ConnectionClosed:
			pass
		return ws.close_code, ws.close_reason


async def busy(t, uri, rounds):
	"""Send 8 bytes every 0.5 s and read the echo, rounds times; returns
	(whether the connection is still open, rounds done, close code,
	close reason)."""
	async with connect(uri) as ws:
		await banner(t, ws)
		done = 0
		try:
			for i in range(rounds):
				data = b"busy%04d" % i
				await ws.send(data)
				echo = await asyncio.wait_for(ws.recv(), 20)
				t.expect(echo == data,
				    f"echo {echo!r}, sent {data!r}")
				done += 1
				await asyncio.sleep(0.5)
		except websockets.ConnectionClosed:
			pass
		still_open = ws.open
		if still_open:
			await ws.close()
		return still_open, done, ws.close_code, ws.close_reason


def session_id(t, since):
	m = t.wait_log(r"\bworker\d+: session start id=(\d+) ", since=since)
	return m.group(1)


def run(t):
	peer = t.peer("echo")
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))
	uri = f"ws://127.0.0.1:{t.port}/ws/vnc/vm"

	# A silent session: closed by the server, 1000 "idle timeout".
	mark = t.mark()
	code, reason = lib_relay.run_async(silent(t, uri), 60)
	t.expect((code, reason) == (1000, "idle timeout"),
	    f"silent session closed with {code} {reason!r}, "
	    "want 1000 'idle timeout'")
	sid = session_id(t, mark)
	t.wait_log(rf"\bworker\d+: session end id={sid} .*"
	    r'reason="idle timeout"', since=mark)

	# Data every 0.5 s for 5 s (more than twice idle-timeout): open.
	mark = t.mark()
	still_open, done, code, reason = lib_relay.run_async(busy(t, uri, 10),
	    60)
	t.expect(still_open and done == 10, f"busy session: open={still_open}"
	    f" after {done} of 10 echoes, closed {code} {reason!r}")
	sid = session_id(t, mark)
	m = t.wait_log(rf"\bworker\d+: session end id={sid} .*reason=\"([^\"]*)\"",
	    since=mark)
	t.expect(m.group(1) == "client closed",
	    f"busy session ended with reason {m.group(1)!r}")

	# session-timeout = 3: even a busy session ends, 1008.
	mark = t.reload(LIMITED.replace("PEER_PORT", str(peer.port)))
	t.wait_log(r"\breload: configuration reloaded", since=mark)
	mark = t.mark()
	still_open, done, code, reason = lib_relay.run_async(busy(t, uri, 40),
	    60)
	t.expect(not still_open, f"session still open after {done} echoes "
	    "with session-timeout = 3")
	t.expect(done >= 1, "the limited session echoed nothing before "
	    "it ended")
	t.expect((code, reason) == (1008, "session time limit"),
	    f"limited session closed with {code} {reason!r}, "
	    "want 1008 'session time limit'")
	sid = session_id(t, mark)
	t.wait_log(rf"\bworker\d+: session end id={sid} .*"
	    r'reason="session time limit"', since=mark)
