# The secrets of the configuration reach authd and no worker.  The daemon
# runs with an HS256 key file, an api-key section (the configuration holds
# the key's SHA-256 in hex; that digest is what authd compares with), a
# Prism section whose password file authd logs in with (the mock in
# regress/mock/prism.py), and a route that no request ever names, whose
# pattern holds a random marker.  After a console API request with the API
# key, a session with the token it returned, and a Prism console (so
# authd has signed, verified and logged in), every readable region of each
# process's memory is read through /proc/PID/mem and searched:
# - in every worker: none of the HS256 secret, the Prism password and the
#   API key's digest, raw, in hex or in base64 (the digest also as its
#   32 raw bytes); the marker is found (the scan reads what the
#   configuration sent to the worker);
# - in authd: the HS256 secret, the password and the hex digest, as the
#   master read them, and the marker (the scan finds what is there);
# - the master's findings are only written to the log: it holds the
#   configuration to send it again to a restarted child.
# The API key itself is sent by the client to a worker, which passes it on
# to authd; where it is found is only logged.

import base64
import json
import os
import re
import secrets as rnd
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

TIMEOUT = 180

CONFIG = '''
prefork = 2
console-api = "/api/v1/console"
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { }
route "/api/v1/console/ws" { errors = json }
route "/proxy/{uuid}" { backend = prism upstream = "pc" }
route "/never-MARKER/{name}" { }
api-key "ops" { sha256 = "API_HASH" }
'''

MAPS_RE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ")
CHUNK = 1 << 20
MAX_BYTES = 4 << 30		# read from one process at most
TOP_OFFSET = 1 << 63		# [vsyscall] and above: no file offset


def encodings(raw):
	"""raw and the ways a program might hold it encoded."""
	return [raw, raw.hex().encode(), base64.b64encode(raw).rstrip(b"="),
	    base64.urlsafe_b64encode(raw).rstrip(b"=")]


def scan(t, pid, needles):
	"""Read every readable mapping of pid through /proc/PID/mem; returns
	(the set of names in needles, {name: [bytes, ...]}, found in it,
	and counts of what was read).  A region that cannot be read
	([vvar], say) is counted and skipped."""
	longest = max(len(v) for vs in needles.values() for v in vs)
	found = set()
	st = {"regions": 0, "unreadable": 0, "bytes": 0}
	with open(f"/proc/{pid}/maps") as f:
		maps = f.read().splitlines()
	try:
		mem = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
	except OSError as e:
		t.fail(f"open /proc/{pid}/mem: {e}")
	try:
		for line in maps:
			m = MAPS_RE.match(line)
			if m is None or m.group(3)[0] != "r":
				continue
			start, end = int(m.group(1), 16), int(m.group(2), 16)
			if start >= TOP_OFFSET:
				st["unreadable"] += 1
				continue
			st["regions"] += 1
			if not scan_region(mem, start, end, needles, longest,
			    found, st):
				st["unreadable"] += 1
			t.expect(st["bytes"] <= MAX_BYTES, f"pid {pid}: more "
			    f"than {MAX_BYTES} bytes of memory")
	finally:
		os.close(mem)
	return found, st


def scan_region(mem, start, end, needles, longest, found, st):
	"""Search one mapping, a chunk at a time; a needle across two
	chunks is found in the tail kept from the first."""
	tail = b""
	addr = start
	while addr < end:
		try:
			data = os.pread(mem, min(CHUNK, end - addr), addr)
		except OSError:
			return addr > start
		if not data:
			break
		buf = tail + data
		for name, forms in needles.items():
			if name not in found and any(v in buf for v in forms):
				found.add(name)
		tail = buf[-(longest - 1):] if longest > 1 else b""
		addr += len(data)
		st["bytes"] += len(data)
	return True


def run(t):
	if os.geteuid() != 0:
		t.skip("reading another user's /proc/PID/mem needs root")
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	api_key, api_hash = lib_ctl.api_key(t)
	marker = "never-" + rnd.token_hex(12)
	peer = t.peer("echo")
	mock, prism = lu.prism_upstream(t, sec, "pc")
	password = open(mock.password_file, "rb").read().rstrip(b"\n")
	t.start(CONFIG.replace("API_HASH", api_hash).replace("never-MARKER",
	    marker) + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n" +
	    prism)
	use(t, keys, k1, api_key)

	# What authd holds, as it holds it; the workers must not have it in
	# any form.
	held = {"HS256 secret": k1.material, "Prism password": password,
	    "API key digest": api_hash.encode()}
	in_workers = {name: encodings(v) for name, v in held.items()}
	in_workers["API key digest"].append(bytes.fromhex(api_hash))
	control = {"marker": [marker.encode()]}
	client = {"API key": [api_key.encode()]}

	workers = t.workers()
	t.expect(len(workers) == 2, f"workers {workers}, want 2")
	for k, pid in sorted(workers.items()):
		found, st = scan(t, pid, dict(in_workers, **control, **client))
		t.note(f"worker{k} pid {pid}: {st}, found {sorted(found)}")
		t.expect(st["bytes"] > 0, f"worker{k}: no memory read")
		t.expect("marker" in found, f"worker{k}: the route marker is "
		    f"not in its memory ({st}): the scan does not see it")
		leaked = sorted(found & set(in_workers))
		t.expect(not leaked, f"worker{k} (pid {pid}) holds: "
		    f"{', '.join(leaked)}")

	pid = t.authd()
	found, st = scan(t, pid, dict({n: [v] for n, v in held.items()},
	    **control, **client))
	t.note(f"authd pid {pid}: {st}, found {sorted(found)}")
	missing = sorted(set(held) - found) + sorted(set(control) - found)
	t.expect(not missing, f"authd (pid {pid}) does not hold: "
	    f"{', '.join(missing)} ({st}): the scan misses what is there")

	found, st = scan(t, t.pid, dict(in_workers, **control, **client))
	t.note(f"master pid {t.pid}: {st}, found {sorted(found)} "
	    "(recorded, not checked)")


def use(t, keys, k1, api_key):
	"""A token from the console API and a session with it; a Prism
	console, which makes authd log in with the password."""
	r = t.http_get("/api/v1/console/vm1",
	    headers={"Authorization": f"Bearer {api_key}"})
	t.expect(r.status == 200, f"console API: {r.status} {r.body[:200]!r}")
	body = json.loads(r.body)
	keys.secrets.add_token("token from the console API", body["token"])
	held = []
	try:
		s = lt.rfb_session(t, f"{body['ws_path']}?token="
		    f"{urllib.parse.quote(body['token'])}", "API token", held)
		lt.close_and_wait(t, s)
		mark = t.mark()
		tok = keys.mint(k1, keys.claims(target=lu.VM1), what="prism")
		s = lu.console(t, f"/proxy/{lu.VM1}?token={tok}",
		    "Prism console", f"mock-{lu.VM1}", total=4096, held=held)
		t.wait_log(r"\bauthd: prism pc: login ok ", since=mark)
		lt.close_and_wait(t, s)
	finally:
		lt.close_all(held)
