# The console API: GET /api/v1/console/TARGET with a good API key answers
# a signed one-time token and the WebSocket path to use it on; the token
# opens a session once, and a second use is refused after the upgrade
# with a TOKEN_ALREADY_USED message and close 1008, without reaching the
# console.  A target with asks-password = yes gets "password":"********"
# in the answer, and one without gets no password field.  Another method
# than GET is 405 with "Allow: GET".  A wrong or
# missing key is 401, an unknown target 404; after api-failures bad keys
# one client gets 429 (another client does not, and X-Forwarded-For from an
# untrusted peer changes nothing).  No API key, good or bad, ever shows up
# in the daemon's log.

import calendar
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_ctl			# noqa: E402
import lib_relay		# noqa: E402

CONFIG = '''
prefork = 2
console-api = "/api/v1/console"
api-failures = 3
token-ttl = 300
listen "127.0.0.1:{port}" { tls = false }
listen "[::1]:{port2}" { tls = false }
key "k1" { algorithm = "HS256" file = "{tmp}/k1.key" }
api-key "ops" { sha256 = "API_HASH" }
target "vm" { host = "127.0.0.1" port = PEER_PORT }
target "vmpw" { host = "127.0.0.1" port = PEER_PORT asks-password = yes }
route "/ws/vnc/{name}" { }
route "/api/v1/console/ws" { errors = json }
'''

TTL = 300
FAILURES = 3
API = "/api/v1/console"


def get(t, target, key=None, header=None, host="127.0.0.1", extra=None):
	"""GET the API for target, with "Authorization: Bearer KEY" (or the
	header as given); returns (status, parsed JSON body, response)."""
	headers = dict(extra or {})
	if header is not None:
		headers["Authorization"] = header
	elif key is not None:
		headers["Authorization"] = f"Bearer {key}"
	port = t.port if host == "127.0.0.1" else t.port_for("port2")
	r = t.http_get(f"{API}/{target}", port=port, host=host,
	    headers=headers)
	t.expect(r.headers.get("content-type", "").startswith(
	    "application/json"), f"GET {API}/{target}: {r.status} with "
	    f"content-type {r.headers.get('content-type')!r}")
	try:
		body = json.loads(r.body)
	except ValueError:
		t.fail(f"GET {API}/{target}: {r.status}, body not JSON: "
		    f"{r.body[:200]!r}")
	return r.status, body, r


def expect_error(t, what, got, status, code):
	st, body, _ = got
	t.expect(st == status and body.get("code") == code and
	    body.get("type") == "error", f"{what}: {st} {body}, want "
	    f"{status} {code}")
	t.expect("token" not in body, f"{what}: a token came with {st}")


def good_token(t, key, host="127.0.0.1", target="vm"):
	"""A token from the API with the good key; checks the answer.  A
	password field, masked, only for the target that asks for one."""
	st, body, r = get(t, target, key, host=host)
	t.expect(st == 200, f"good key from {host}: {st} {body}")
	fields = {"type", "token", "ws_path", "expires_at", "tls_enabled"}
	if target == "vmpw":
		fields.add("password")
		t.expect(body.get("password") == "********",
		    f"{target}: password {body.get('password')!r}, want "
		    "'********'")
	t.expect(set(body) == fields, f"{target}: answer fields "
	    f"{sorted(body)}, want {sorted(fields)}")
	t.expect(body["type"] == "vnc", f"type {body['type']!r}")
	t.expect(body["ws_path"] == f"{API}/ws", f"ws_path "
	    f"{body['ws_path']!r}, want {API}/ws")
	t.expect(body["tls_enabled"] is False,
	    f"tls_enabled {body['tls_enabled']!r} on a plain listener")
	t.expect("no-store" in r.headers.get("cache-control", ""),
	    f"Cache-Control {r.headers.get('cache-control')!r}")
	m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(Z|[+-]\d\d:\d\d)",
	    body["expires_at"])
	t.expect(m is not None, f"expires_at {body['expires_at']!r} is "
	    "not RFC 3339")
	expires = calendar.timegm(time.strptime(m.group(1),
	    "%Y-%m-%dT%H:%M:%S"))
	if m.group(2) != "Z":
		sign = 1 if m.group(2)[0] == "+" else -1
		hh, mm = map(int, m.group(2)[1:].split(":"))
		expires -= sign * (hh * 3600 + mm * 60)
	claims = lib_ctl.check_token(t, body["token"], t.secret, target,
	    "ops", TTL)
	t.expect(claims["exp"] == expires, f"expires_at {body['expires_at']}"
	    f" but the token's exp is {claims['exp']}")
	return body["token"], body["ws_path"]


def accepted(peer):
	with peer.cond:
		return [l for l in peer.lines if l and " accepted from " in l]


async def use_once(t, path, token, tag):
	"""The token opens a session on path: banner, echo, close 1000."""
	s = await lib_ctl.Session(t, f"ws://127.0.0.1:{t.port}{path}?token="
	    f"{urllib.parse.quote(token)}", tag).open()
	await s.banner()
	await s.echo(lib_ctl.nbytes(4096, tag))
	code = await s.close()
	t.expect(code == 1000, f"{tag}: closed with {code}")


async def use_again(t, path, token, tag):
	"""The same token again: upgrade, one JSON error message, 1008."""
	s = await lib_ctl.Session(t, f"ws://127.0.0.1:{t.port}{path}?token="
	    f"{urllib.parse.quote(token)}", tag).open()
	code, reason = await s.closed()
	t.expect(s.buf == b"", f"{tag}: console bytes {bytes(s.buf[:40])!r}"
	    " reached a refused client")
	t.expect(code == 1008, f"{tag}: close {code} {reason!r}, want 1008")
	t.expect(reason == "TOKEN_ALREADY_USED",
	    f"{tag}: close reason {reason!r}")
	# The JSON message before the close: checked now, reported at the
	# end, so that the checks after this one still run.
	if len(s.texts) != 1:
		return f"{tag}: text messages {s.texts} before the close, " \
		    "want one JSON TOKEN_ALREADY_USED message"
	try:
		msg = json.loads(s.texts[0])
	except ValueError:
		return f"{tag}: message not JSON: {s.texts[0]!r}"
	if msg.get("type") != "error" or \
	    msg.get("code") != "TOKEN_ALREADY_USED":
		return f"{tag}: message {msg}"
	return None


def run(t):
	peer = t.peer("echo")
	_, t.secret = lib_ctl.hs256_key(t)
	key, digest = lib_ctl.api_key(t)
	bad_keys = [lib_ctl.api_key(t)[0] for _ in range(FAILURES + 6)]
	t.start(CONFIG.replace("PEER_PORT", str(peer.port)).replace(
	    "API_HASH", digest))

	# Two tokens from a good key; one-time use.
	tok1, path = good_token(t, key)
	tok2, _ = good_token(t, key)
	t.expect(tok1 != tok2, "two requests gave the same token")
	good_token(t, key, target="vmpw")
	mark = t.mark()
	lib_ctl.run_async(t, use_once(t, path, tok1, "first use"), 60)
	start = t.wait_log(r"\bsession start id=\d+ .*route=/api/v1/console/ws"
	    r" target=(\S*) user=ops ", since=mark)
	# The session echoed through the console, so the peer accepted
	# it; its output line may reach us a little later.
	peer.wait_line(r"conn=1 accepted from ")
	t.expect(len(accepted(peer)) == 1, f"peer: {accepted(peer)}")
	late = []
	late.append(lib_ctl.run_async(t, use_again(t, path, tok1,
	    "second use"), 60))
	t.wait_log(r"result=TOKEN_ALREADY_USED", since=mark)
	# The next good session is the peer's second connection: the
	# refused one never reached the console.
	lib_ctl.run_async(t, use_once(t, path, tok2, "other token"), 60)
	peer.wait_line(r"conn=2 accepted from ")
	t.expect(len(accepted(peer)) == 2, "the replayed token reached the "
	    f"console: {accepted(peer)}")

	# Other methods: 405 naming the one the API answers (HEAD, too:
	# it would sign a token for nobody).
	for method in ("HEAD", "POST", "DELETE"):
		r = lib_relay.http_raw("127.0.0.1", t.port, lib_relay.request(
		    f"{API}/vm", method, extra=[f"Authorization: Bearer {key}",
		    "Content-Length: 0"]))[0]
		st, h, _, _ = lib_relay.parse_response(r)
		t.expect(st == 405 and h.get("allow") == "GET", f"{method} "
		    f"{API}/vm: {st}, Allow {h.get('allow')!r}, want 405 "
		    "with Allow: GET")

	# Unknown target with a good key.
	expect_error(t, "unknown target", get(t, "nosuchvm", key), 404,
	    "VM_NOT_FOUND")

	# Bad keys: 401 up to api-failures of them, then 429.
	expect_error(t, "wrong key", get(t, "vm", bad_keys[0]), 401,
	    "UNAUTHORIZED")
	expect_error(t, "no Authorization", get(t, "vm"), 401,
	    "UNAUTHORIZED")
	for k in range(2, FAILURES):
		expect_error(t, f"wrong key {k + 1}", get(t, "vm",
		    bad_keys[k]), 401, "UNAUTHORIZED")
	statuses = []
	for k in range(FAILURES, len(bad_keys)):
		st, body, _ = get(t, "vm", bad_keys[k])
		statuses.append(st)
		if st == 429:
			expect_error(t, "bad key after the limit",
			    (st, body, None), 429, "MAX_CONNECTIONS_REACHED")
			break
		t.expect(st == 401, f"bad key {k + 1}: {st} {body}")
	t.expect(statuses == [429], f"statuses after {FAILURES} bad keys: "
	    f"{statuses}, want 429 at once")
	# X-Forwarded-For from an untrusted peer does not make a new client.
	st, body, _ = get(t, "vm", bad_keys[-1],
	    extra={"X-Forwarded-For": "192.0.2.7"})
	t.expect(st == 429, f"bad key with X-Forwarded-For: {st} {body}")
	st, _, _ = get(t, "vm", key)
	t.note(f"good key from the locked-out client: {st}")
	# Another client (::1) is not locked out.
	expect_error(t, "wrong key from ::1", get(t, "vm", bad_keys[1],
	    host="::1"), 401, "UNAUTHORIZED")
	good_token(t, key, host="::1")

	# The daemon's log: requests are logged by key name, never a key.
	t.wait_log(r"\bauthd: api client=127\.0\.0\.1 target=vm key=ops "
	    r"result=OK$")
	t.wait_log(r"\bauthd: api client=127\.0\.0\.1 target=vm key=- "
	    r"result=UNAUTHORIZED$")
	with t.cond:
		log = "\n".join(t.lines)
	for k in [key] + bad_keys:
		t.expect(k not in log, "an API key is in the daemon's log")
		t.expect(k[4:24] not in log, "part of an API key is in the "
		    "daemon's log")
	t.expect(digest not in log, "the API key's hash is in the log")
	for tok in (tok1, tok2):
		t.expect(tok.split(".")[2] not in log,
		    "a console token is in the daemon's log")

	# The worker's session line names the target the token opened
	# (authd's decision line does).
	if start.group(1) != "vm":
		late.append("the session opened with an API token is logged "
		    f"with target={start.group(1)!r}, want vm")
	late = [x for x in late if x]
	t.expect(not late, "; ".join(late))
