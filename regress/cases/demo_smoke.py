# `make demo` works: `DEMO_ONCE=1 sh etc/demo.sh` starts a QEMU console
# and vncrelayd, reaches the RFB greeting through the URL it prints (its
# page, and its WebSocket with the printed one-time token, not a fresh
# one), stops everything it started and exits 0.

import os
import re
import shutil
import signal
import subprocess
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
