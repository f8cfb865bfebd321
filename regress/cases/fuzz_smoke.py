# Every libFuzzer harness (regress/fuzz/) builds, replays its seed corpus
# and the crashes found before, and fuzzes for a few seconds with ASan and
# UBSan, without a crash, a leak, a failed check or a timeout: so a bug
# that fuzzing once found and that comes back fails here.  Each harness
# must really have run (its executions are counted), and every harness the
# Makefile knows has a seed corpus.  `make fuzz` is the long run.

import os
import re
import shutil
import subprocess

TIMEOUT = 240
SMOKE_TIME = 3			# seconds of fuzzing per harness

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FUZZ = os.path.join(TOP, "regress", "fuzz")


def harnesses():
	with open(os.path.join(FUZZ, "Makefile")) as f:
		m = re.search(r"(?m)^HARNESSES \?=\s*(.+)$", f.read())
	return m.group(1).split()


def run(t):
	if shutil.which("clang") is None:
		t.skip("clang is not installed (make deps installs it)")
	names = harnesses()
	t.expect(len(names) >= 6, f"only {names} in regress/fuzz/Makefile")
	for h in names:
		seeds = os.path.join(FUZZ, "corpus", h)
		t.expect(os.path.isdir(seeds) and os.listdir(seeds),
		    f"no seed corpus in regress/fuzz/corpus/{h}")
		t.expect(os.path.exists(os.path.join(FUZZ, f"fuzz_{h}.c")),
		    f"no regress/fuzz/fuzz_{h}.c")
	cp = subprocess.run(["make", "-s", "-C", FUZZ, "smoke",
	    f"SMOKE_TIME={SMOKE_TIME}"], stdin=subprocess.DEVNULL,
	    capture_output=True, text=True, timeout=TIMEOUT - 20)
	out = cp.stdout + cp.stderr
	for line in out.splitlines():
		if not line.startswith("#"):	# libFuzzer's progress lines
			t.note(line)
	crash = re.search(r"(?m)^(==\d+==ERROR: .*|.*runtime error: .*|"
	    r"artifact_prefix=.*|Test unit written to .*|.*:\d+: .*)$", out)
	t.expect(cp.returncode == 0, f"make smoke exited {cp.returncode}: "
	    f"{crash.group(0) if crash else out.strip().splitlines()[-1:]}")
	counts = re.findall(r"stat::number_of_executed_units: (\d+)", out)
	t.expect(len(counts) == len(names), f"{len(counts)} harnesses "
	    f"reported their executions, want {len(names)}")
	for h, n in zip(names, counts):
		t.note(f"fuzz_{h}: {n} executions in {SMOKE_TIME}s")
		seeds = len(os.listdir(os.path.join(FUZZ, "corpus", h)))
		t.expect(int(n) > seeds, f"fuzz_{h} ran {n} inputs, not even "
		    f"more than its {seeds} seeds")
	t.expect(not re.search(r"runtime error|ERROR: AddressSanitizer|"
	    r"ERROR: LeakSanitizer", out), "a sanitizer report in the output")
