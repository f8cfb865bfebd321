# Metrics are served while the daemon drains.  A console session is open
# when the master gets SIGTERM: console connections are no longer accepted,
# but a scrape is answered 200 and counts the one session still active, so
# that an operator can watch the drain end.  The session keeps echoing byte
# for byte; when it closes, the daemon exits with status 0.

import os
import signal
import socket
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402
import lib_metrics		# noqa: E402

CONFIG = '''
prefork = 1
drain-timeout = 60
token-ttl = 300
control-socket = "{tmp}/ctl.sock"
metrics-listen = "127.0.0.1:{port2}"
listen "127.0.0.1:{port}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
target "vm" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { }
'''


def active(page):
	return sum(page.series("vncrelayd_sessions_active").values())


def console_answer(t):
	"""What a console request without a token gets; b"" if unserved."""
	try:
		with socket.create_connection(("127.0.0.1", t.port),
		    timeout=10) as s:
			s.sendall(b"GET /ws/vnc/vm HTTP/1.1\r\nHost: x\r\n\r\n")
			got = lib_metrics.recv_all(s)
	except OSError:
		got = b""
	return got


async def scenario(t, mport):
	blocking = lib_ctl.blocking
	j = await blocking(lib_ctl.ctl_json, t, "token", "vm", "-u", "alice")
	a = await lib_ctl.Session(t, f"ws://127.0.0.1:{t.port}/ws/vnc/vm?"
	    f"token={urllib.parse.quote(j.get('token', ''))}", "session A"
	    ).open()
	await a.banner()
	await a.echo(lib_ctl.nbytes(1000, "a1"))
	# Workers report their counters in batches: wait for the one.
	await blocking(t.wait_for, "a scrape that counts the session",
	    lambda: active(lib_metrics.scrape(t, mport)) == 1, 20)

	mark = t.mark()
	t.signal(signal.SIGTERM)
	await blocking(t.wait_log, r"\bmaster: shutting down$", 10, mark)
	# The worker hears of the drain after the master: a request may
	# still be answered (401) until it has.
	await blocking(t.wait_for, "console requests left unserved",
	    lambda: console_answer(t) == b"", 20)
	page = await blocking(lib_metrics.scrape, t, mport)
	t.expect(active(page) == 1, f"during the drain: sessions active "
	    f"{active(page)}, want 1")
	await a.echo(lib_ctl.nbytes(20000, "a2"))
	code = await a.close()
	t.expect(code == 1000, f"session A closed with {code}, want 1000")


def run(t):
	peer = t.peer("echo")
	lib_ctl.hs256_key(t)
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)))
	lib_ctl.run_async(t, scenario(t, t.port_for("port2")), 60)
	status = t.wait_exit(timeout=30)
	t.expect(status == 0, f"master exit status {status}, want 0")
