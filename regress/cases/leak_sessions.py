# A thousand sessions in a row leak nothing, under LeakSanitizer.
#
# The case builds the sanitizer binary (make SANITIZE=1 debug) and starts
# it as nobody, so that nothing is chrooted, with VNCRELAYD_LEAK_CHECK,
# which in that build alone leaves out the seccomp filter: LeakSanitizer
# stops the process with ptrace and reads /proc, which the sandbox (rightly)
# forbids.  First a control run: a debug trigger loses 64 bytes in the
# worker, and the report must name it, so the checker is known to be live.
# Then 1000 connections, one after the other, of every kind a worker sees:
# sessions that echo and close, sessions on a one-time token, refused
# tokens, protocol violations, clients that vanish mid-session, static
# files.  Each is checked, the log must count 1000 ends for the starts
# that happened, and when the daemon stops, no process (master, authd,
# worker) reports a leak.

import os
import pwd
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import lib_token as lt		# noqa: E402
import rawws			# noqa: E402

TIMEOUT = 600
SESSIONS = 1000

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ASAN_BIN = os.path.abspath(os.path.join(TOP, "build", "asan", "debug",
    "vncrelayd"))
LEAK_ENV = {"ASAN_OPTIONS": "detect_leaks=1", "VNCRELAYD_LEAK_CHECK": "1"}

CONFIG = '''
prefork = 1
debug-triggers = yes
listen "127.0.0.1:{port}" { tls = no }
target "vm1" { host = "127.0.0.1" port = PEER_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
route "/t/{name}" { backend = tcp }
'''


def build(t):
	cp = subprocess.run(["make", "-s", "-C", TOP, "SANITIZE=1", "debug"],
	    stdin=subprocess.DEVNULL, capture_output=True, text=True,
	    timeout=300)
	t.expect(cp.returncode == 0, f"make SANITIZE=1 debug: "
	    f"{(cp.stdout + cp.stderr).strip()[-400:]}")
	t.bin = ASAN_BIN


def stop(t):
	"""SIGTERM, and every process's exit (and leak check) logged."""
	t.signal(signal.SIGTERM)
	t.expect(t.wait_exit(120) == 0, "the master did not exit 0")
	with t.cond:
		t.cond.wait_for(lambda: t.eof, 30)


def control(t, config):
	t.start(config, user="nobody", env=LEAK_ENV)
	r = t.http_get("/_debug/leak")
	t.expect(r.status == 202, f"/_debug/leak: {r.status}")
	# LeakSanitizer makes the worker exit 1: the master logs it lost.
	t.expect_lost_child("worker0")
	stop(t)
	reports = list(t.sanitizer)
	t.expect(any("LeakSanitizer" in r for r in reports),
	    "the leak the debug trigger made was not reported: LeakSanitizer "
	    "is not watching, so the run below would prove nothing")
	t.expect(t.log_matches(r"Direct leak of 64 byte"),
	    f"a leak reported, but not the 64 bytes: {reports}")
	t.sanitizer.clear()
	t.note("control: the lost 64 bytes were reported")


def echo_session(t, path, i):
	ws = rawws.connect("127.0.0.1", t.port, path, protocols=["binary"])
	with ws:
		t.expect(ws.recv_bytes(12) == b"RFB 003.008\n", f"#{i}: banner")
		data = b"%05d" % i * 7
		ws.send_binary(data)
		t.expect(ws.recv_bytes(len(data)) == data, f"#{i}: echo")
		ws.send_close(1000)
		close = ws.recv_close()
		t.expect(close is not None and close.close_code == 1000,
		    f"#{i}: close {close!r}")


def refused(t, i):
	ws = rawws.connect("127.0.0.1", t.port, "/t/vm1?token=x.y.z",
	    expect_status=None)
	ws.close()
	t.expect(ws.status == 401, f"#{i}: a bad token got {ws.status}")


def violation(t, i):
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/vm1")
	with ws:
		ws.recv_bytes(12)
		ws.send_binary(b"unmasked", mask=False)
		close = ws.recv_close()
		t.expect(close is not None and close.close_code == 1002,
		    f"#{i}: close {close!r}, want 1002")


def vanish(t, i):
	ws = rawws.connect("127.0.0.1", t.port, "/ws/vnc/vm1")
	ws.recv_bytes(12)
	ws.send_binary(b"half")
	ws.close()


def opens_session(i):
	"""Whether connection i of one() gets as far as a session."""
	return i % 10 != 7 and not (i % 10 == 5 and i % 50 == 5)


def one(t, keys, k1, i):
	kind = i % 10
	if kind == 7:
		refused(t, i)
	elif kind == 8:
		violation(t, i)
	elif kind == 9:
		vanish(t, i)
	elif kind == 6:
		echo_session(t, "/t/vm1?token=" + keys.mint(k1, keys.claims()),
		    i)
	elif kind == 5 and i % 50 == 5:
		t.expect_page()
	else:
		echo_session(t, "/ws/vnc/vm1", i)


def run(t):
	build(t)
	nobody = pwd.getpwnam("nobody")
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	os.chown(k1.path, nobody.pw_uid, nobody.pw_gid)
	peer = t.peer("echo")
	config = CONFIG.replace("PEER_PORT", str(peer.port)) + k1.conf() + "\n"
	control(t, config)

	mark = t.mark()
	t.start(config, user="nobody", env=LEAK_ENV)
	deadline = time.monotonic() + TIMEOUT - 120
	for i in range(SESSIONS):
		t.expect(time.monotonic() < deadline,
		    f"only {i} of {SESSIONS} sessions in the time allowed")
		one(t, keys, k1, i)
	def count(what):
		return len(t.log_matches(rf"\bworker0: session {what} id=",
		    mark))

	want = sum(1 for i in range(SESSIONS) if opens_session(i))
	# The daemon's log is read by a thread that may lag the last
	# connections (a client that vanished sees no answer to wait for).
	t.wait_for(f"{want} session starts in the log",
	    lambda: count("start") >= want, timeout=30)
	starts = count("start")
	t.wait_for("every session's end in the log",
	    lambda: count("end") == starts, timeout=30)
	t.expect(starts == want, f"{starts} sessions started of {SESSIONS} "
	    f"connections, want {want}")
	t.note(f"{starts} sessions started and ended")
	stop(t)
	t.expect(not t.sanitizer, f"sanitizer reports: {t.sanitizer[:3]}")
	# A checker that could not run (no ptrace, no /proc) says so.
	t.expect(not t.log_matches(r"LeakSanitizer has encountered", mark),
	    "LeakSanitizer could not check")
