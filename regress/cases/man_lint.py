# The manual pages are clean mdoc: `mandoc -Tlint -W warning man/*`
# prints nothing and exits 0.

import glob
import os
import shutil
import subprocess

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def run(t):
	mandoc = shutil.which("mandoc")
	if mandoc is None:
		t.skip("mandoc is not installed (make deps installs it)")
	pages = sorted(glob.glob(os.path.join(TOP, "man", "*")))
	t.expect(pages, "no manual pages in man/")
	names = [os.path.basename(p) for p in pages]
	t.expect("vncrelayd.8" in names and "vncrelayd.conf.5" in names,
	    f"man/ holds {names}, not vncrelayd.8 and vncrelayd.conf.5")
	cp = subprocess.run([mandoc, "-Tlint", "-W", "warning"] + pages,
	    stdin=subprocess.DEVNULL, capture_output=True, text=True,
	    timeout=60)
	out = (cp.stdout + cp.stderr).strip()
	for line in out.splitlines():
		t.note(line)
	t.expect(cp.returncode == 0 and out == "",
	    f"mandoc -Tlint -W warning: exit {cp.returncode}: "
	    f"{out.splitlines()[:5]}")
