# make bench's load client and test upstream (build/bench/wsload and
# benchup) still work against vncrelayd, in modes too small to measure
# anything: a download and an upload of a few MB, through frames of odd
# sizes, arrive byte for byte (the client and the upstream check every
# byte against the pattern), the echo answers, a handful of sessions are
# held and served, and the daemon's session lines count exactly the bytes
# each side sent.  Correctness only: no figure is looked at.

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness			# noqa: E402
import lib_token as lt		# noqa: E402

TIMEOUT = 180

BENCH = os.path.join(harness.TOP, "build", "bench")
WSLOAD = os.path.join(BENCH, "wsload")
BENCHUP = os.path.join(BENCH, "benchup")

CONFIG = '''
prefork = 1
max-sessions-per-target = 0
listen "127.0.0.1:{port}" { tls = no }
listen "127.0.0.1:{port2}" {
	tls = yes
	certificate = "{cert}"
	key = "{key}"
}
target "bench" { host = "127.0.0.1" port = UP_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = token }
'''

DOWN = 3 * 1000 * 1000 + 7		# not a multiple of any buffer size
UP = 2 * 1000 * 1000 + 3
REQ = 16				# the upstream's request
GREETING = 12


def wsload(t, args, key=None):
	argv = [WSLOAD, "-w", "60"] + args
	if key is not None:
		argv += ["-k", key.path, "-K", key.kid, "-T", "bench"]
	t.note(f"running {argv}")
	cp = subprocess.run(argv, stdin=subprocess.DEVNULL,
	    capture_output=True, text=True, timeout=90)
	for line in (cp.stdout + cp.stderr).splitlines():
		t.note(f"  | {line}")
	t.expect(cp.returncode == 0, f"wsload {' '.join(args)}: exit "
	    f"{cp.returncode}: {cp.stderr.strip()[-300:]}")
	m = re.search(r"^wsload: (mode=.*)$", cp.stdout, re.M)
	t.expect(m is not None, f"wsload {' '.join(args)}: no result line")
	return dict(kv.partition("=")[::2] for kv in m.group(1).split())


def session_ends(t, since, count=1):
	"""(in, out) summed over the next count session end lines."""
	total_in = total_out = 0
	for _ in range(count):
		m = t.wait_log(r"\bworker0: session end id=\d+ .* in=(\d+) "
		    r"out=(\d+) ", since=since, timeout=20)
		since = t.last_index + 1
		total_in += int(m.group(1))
		total_out += int(m.group(2))
	return total_in, total_out


def run(t):
	for f in (WSLOAD, BENCHUP):
		t.expect(os.access(f, os.X_OK), f"{f} is missing (make debug)")
	up = subprocess.Popen([BENCHUP], stdin=subprocess.DEVNULL,
	    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
	try:
		line = up.stdout.readline().decode()
		m = re.match(r"benchup: listening on (\d+)", line)
		t.expect(m is not None, f"benchup said {line!r}")
		cases(t, int(m.group(1)))
	finally:
		up.terminate()
		up.wait(10)


def cases(t, up_port):
	key = lt.Keys(t).hs256("bench")
	t.start(CONFIG.replace("UP_PORT", str(up_port)) + key.conf() + "\n")
	ws = f"ws://127.0.0.1:{t.port}/ws/vnc/bench"
	wss = f"wss://127.0.0.1:{t.port_for('port2')}/ws/vnc/bench"

	# Straight to the upstream, raw TCP: the client's own check.
	r = wsload(t, ["-m", "down", "-r", f"127.0.0.1:{up_port}",
	    "-b", str(DOWN), "-V"])
	t.expect(r["verified"] == "yes", f"raw download: {r}")

	mark = t.mark()
	r = wsload(t, ["-m", "down", "-u", ws, "-b", str(DOWN), "-V"], key)
	t.expect(r["verified"] == "yes" and int(r["bytes"]) == DOWN,
	    f"ws download: {r}")
	got_in, got_out = session_ends(t, mark)
	t.expect(got_in == REQ and got_out == GREETING + DOWN,
	    f"download: the log counts in={got_in} out={got_out}, want "
	    f"in={REQ} out={GREETING + DOWN}")

	# Frames of 1000 bytes: every frame boundary falls mid-buffer.
	mark = t.mark()
	wsload(t, ["-m", "up", "-u", ws, "-b", str(UP), "-f", "1000"], key)
	got_in, got_out = session_ends(t, mark)
	t.expect(got_in == REQ + UP and got_out == GREETING + 1,
	    f"upload: the log counts in={got_in} out={got_out}, want "
	    f"in={REQ + UP} out={GREETING + 1}")

	mark = t.mark()
	r = wsload(t, ["-m", "down", "-u", wss, "-n", "3", "-b", str(DOWN),
	    "-V"], key)
	t.expect(r["verified"] == "yes" and r.get("cipher"),
	    f"wss download: {r}")
	got_in, got_out = session_ends(t, mark, 3)
	t.expect(got_in == 3 * REQ and got_out == 3 * GREETING + DOWN,
	    f"wss download: the log counts in={got_in} out={got_out} over "
	    f"3 sessions, want in={3 * REQ} out={3 * GREETING + DOWN}")

	r = wsload(t, ["-m", "echo", "-u", ws, "-c", "50"], key)
	t.expect(int(r["count"]) == 50, f"echo: {r}")

	r = wsload(t, ["-m", "hold", "-u", wss, "-n", "20", "-p",
	    str(t.pid)], key)
	t.expect(r["opened"] == "20" and r["served"] == "20",
	    f"hold: {r}")
	t.expect(int(r["procs"]) == 3, f"hold counted {r['procs']} "
	    "processes of the daemon, want the master, authd and a worker")

	r = wsload(t, ["-m", "handshake", "-u", ws, "-j", "2", "-c", "20",
	    "-t", "30"], key)
	t.expect(r["sessions"] == "20" and r["failed"] == "0",
	    f"handshake: {r}")
	n = len(t.log_matches(r"\bauthd: decision .* result=OK"))
	t.expect(n >= 20, f"authd decided on {n} upgrades, want 20 or more")
