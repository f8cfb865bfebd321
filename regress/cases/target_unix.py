# A target on a Unix socket outside authd's empty root is reached: the
# master connects it for authd, and only because the configuration names
# it.  A target given by host name is resolved when the file is read.

import asyncio
import os
import socket
import threading

import websockets

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
target "sock" { socket = "{tmp}/vnc.sock" }
target "byname" { host = "localhost" port = {port2} }
route "/ws/vnc/{name}" { auth = none }
'''


def greeter(sock, count):
	for _ in range(count):
		c, _ = sock.accept()
		c.sendall(b"RFB 003.008\n")
		c.recv(64)
		c.close()


async def greeting(url):
	async with websockets.connect(url, subprotocols=["binary"]) as ws:
		return await asyncio.wait_for(ws.recv(), 10)


def run(t):
	path = os.path.join(t.tmp, "vnc.sock")
	us = socket.socket(socket.AF_UNIX)
	us.bind(path)
	us.listen(4)
	ts = socket.socket()
	ts.bind(("127.0.0.1", t.port_for("port2")))
	ts.listen(4)
	for s in (us, ts):
		s.settimeout(20)
		threading.Thread(target=greeter, args=(s, 1), daemon=True).start()
	t.start()
	base = f"ws://127.0.0.1:{t.port}/ws/vnc/"
	t.expect(asyncio.run(greeting(base + "sock")) == b"RFB 003.008\n",
	    "no RFB greeting through the Unix-socket target")
	t.expect(asyncio.run(greeting(base + "byname")) == b"RFB 003.008\n",
	    "no RFB greeting through the target named by host name")
	t.wait_log(r"authd: decision .* target=sock .*result=OK")
	t.wait_log(r"authd: decision .* target=byname .*result=OK")
	us.close()
	ts.close()
