# `make demo` works: `DEMO_ONCE=1 sh etc/demo.sh` starts a QEMU console
# and vncrelayd, reaches the RFB greeting through the URL it prints (its
# page, and its WebSocket with the printed one-time token, not a fresh
# one), stops everything it started and exits 0.  Then without DEMO_ONCE,
# as a person runs it: once it has printed the URL, a Ctrl-C (SIGINT to
# its whole process group, as a terminal sends it) stops everything it
# started.

import os
import re
import shutil
import signal
import subprocess
import threading
import time

TIMEOUT = 180

TOP = os.path.abspath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
DEMO = os.path.join(TOP, "etc", "demo.sh")


def gone(pid):
	try:
		with open(f"/proc/{pid}/stat") as f:
			return f.read().rsplit(")", 1)[1].split()[0] == "Z"
	except OSError:
		return True


def run(t):
	if not (shutil.which("qemu-system-x86_64") or shutil.which("Xvnc")):
		t.skip("neither qemu-system-x86_64 nor Xvnc is installed "
		    "(make deps installs them)")
	t.expect(os.access(t.bin, os.X_OK), f"no daemon binary at {t.bin}")
	port = t.port
	env = dict(os.environ, DEMO_ONCE="1", DEMO_PORT=str(port),
	    DEMO_TIMEOUT="90", DEMO_STATE=os.path.join(t.tmp, "demo"),
	    VNCRELAYD=t.bin)
	t.note(f"running DEMO_ONCE=1 DEMO_PORT={port} sh {DEMO}")
	# Its own session, so that whatever it leaves behind can be found.
	p = subprocess.Popen(["sh", DEMO], cwd=TOP, env=env,
	    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
	    stderr=subprocess.STDOUT, start_new_session=True)
	try:
		out, _ = p.communicate(timeout=TIMEOUT - 30)
	finally:
		if p.poll() is None:
			# The script stops what it started on SIGTERM.
			t.note(f"demo still running: SIGTERM {p.pid}")
			p.send_signal(signal.SIGTERM)
			try:
				p.communicate(timeout=30)
			except subprocess.TimeoutExpired:
				os.killpg(p.pid, signal.SIGKILL)
				p.communicate()
	text = out.decode("utf-8", "replace")
	for line in text.splitlines():
		t.note(f"  | {line}")

	url = (f"https://127.0.0.1:{port}/console.html?path=ws/vnc/demo"
	    "&name=demo")
	t.expect(re.search(re.escape(f"demo: console: {url}#token=") +
	    r"[\w-]+\.[\w-]+\.[\w-]+\n", text),
	    f"the demo did not print the console URL {url} with a token")
	t.expect("demo: the console answered RFB 003.008" in text,
	    "the URL's WebSocket never answered")
	t.expect("demo: the console answered RFB 003.008 with the printed "
	    "URL's token\n" in text, "the printed URL's token did not open "
	    "the console (only a fresh one did)")
	t.expect("demo: reached RFB greeting" in text,
	    "no 'demo: reached RFB greeting'")
	t.expect(p.returncode == 0, f"the demo exited {p.returncode}")

	# Everything it started has stopped.
	pids = [int(x) for x in re.findall(r"\(pid (\d+)\)", text)]
	t.expect(len(pids) == 2, f"the demo named {len(pids)} processes it "
	    "stopped, not 2 (vncrelayd and the console)")
	t.wait_for("the demo's processes to be gone",
	    lambda: all(gone(pid) for pid in pids), timeout=10)
	t.expect(re.search(r"\bmaster: exiting\b", text),
	    "vncrelayd did not log its orderly exit")
	lost = re.findall(r"master: lost child .*", text)
	t.expect(not lost, f"the demo's vncrelayd lost children: {lost}")

	interactive(t, env)


def in_session(sid):
	"""Live processes of session sid (the demo was started in its own)."""
	left = []
	for pid in filter(str.isdigit, os.listdir("/proc")):
		try:
			with open(f"/proc/{pid}/stat") as f:
				fields = f.read().rsplit(")", 1)[1].split()
		except OSError:
			continue
		if fields[0] != "Z" and int(fields[3]) == sid:
			left.append(int(pid))
	return left


def interactive(t, env):
	"""make demo without DEMO_ONCE, stopped by a Ctrl-C."""
	env = dict(env)
	del env["DEMO_ONCE"]
	p = subprocess.Popen(["sh", DEMO], cwd=TOP, env=env,
	    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
	    stderr=subprocess.STDOUT, start_new_session=True)
	lines = []
	ready = threading.Event()

	def reader():
		for raw in p.stdout:
			lines.append(raw.decode("utf-8", "replace"))
			if "demo: press Ctrl-C to stop" in lines[-1]:
				ready.set()
	th = threading.Thread(target=reader, daemon=True)
	th.start()
	try:
		t.expect(ready.wait(90), "the interactive demo never said "
		    "'press Ctrl-C to stop'")
		os.killpg(p.pid, signal.SIGINT)
		p.wait(timeout=40)
	finally:
		if p.poll() is None:
			t.note(f"interactive demo still running: SIGKILL {p.pid}")
			os.killpg(p.pid, signal.SIGKILL)
			p.wait()
	th.join(timeout=10)
	text = "".join(lines)
	for line in text.splitlines():
		t.note(f"  ^C| {line}")
	t.expect(p.returncode == 130, f"after Ctrl-C the demo exited "
	    f"{p.returncode}, want 130")
	pids = [int(x) for x in re.findall(r"\(pid (\d+)\)", text)]
	t.expect(len(pids) >= 1, "after Ctrl-C the demo named no process it "
	    "stopped")
	t.wait_for("the interactive demo's processes to be gone",
	    lambda: all(gone(pid) for pid in pids), timeout=10)
	t.wait_for("nothing left in the interactive demo's session",
	    lambda: not in_session(p.pid), timeout=10)
	t.expect(re.search(r"\bmaster: exiting\b", text),
	    "after Ctrl-C vncrelayd did not log its orderly exit")
