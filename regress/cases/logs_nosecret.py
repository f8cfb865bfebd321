# No secret in any log.  This case runs sessions with tokens in every form
# (query, cookie, path with and without prefix, subprotocol bearer, over
# TLS too), refusals of every kind and in every error style, and keys that
# fail to load on a reload; then it looks for every secret it made (token,
# token signature, HS256 secret, Ed25519 private key, TLS private key, a
# garbage "token") in its own log, and for every secret any case recorded
# with regress/lib_token.py or regress/lib_ctl.py
# (regress/artifacts/NAME.secrets, in subdirectories too) in every log
# under regress/artifacts.  regress/run runs it after all the other cases.
# A found secret is named by case, file, line and kind, never printed.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

TIMEOUT = 180
# After every other case in a run of the whole suite (regress/run), so
# that their logs are this run's, all of them.
RUN_LAST = True

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
listen "127.0.0.1:{port2}" { tls = yes certificate = "{cert}" key = "{key}" }
max-sessions-per-target = 0
route "/c/ws" { errors = json }
route "/ws/vnc/{name}" { backend = tcp }
route "/ws_proxy/{token}/{vmi}" { errors = reason }
route "/{token}/{vmi}" { errors = reason }
'''


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	ed = keys.ed25519("ed", file="public")
	edp = keys.ed25519("edp", file="private")
	retired = keys.hs256("k0", configured=False)
	tls_key = t.subst("{key}")
	os.chmod(tls_key, 0o600)
	with open(tls_key) as f:
		sec.add_pem("TLS private key", f.read())
	peer = t.peer("echo")
	conf = (CONFIG + "\n".join(k.conf() for k in (k1, ed, edp)) + "\n" +
	    lt.targets_conf(peer.port) + "\n")
	t.start(conf)
	held = []
	try:
		sessions(t, keys, k1, ed, edp, retired, held)
	finally:
		lt.close_all(held)
	bad_keys(t, keys, conf)
	check(t, sec)


def sessions(t, keys, k1, ed, edp, retired, held):
	def q(key=k1, **kw):
		return keys.mint(key, keys.claims(**kw), what="query")

	def done(s):
		s.reach_rfb()
		lt.close_and_wait(t, s)

	# Accepted, every source and key.
	for key in (k1, ed, edp):
		done(lt.session(t, f"/ws/vnc/vm1?token={q(key)}",
		    f"query {key.kid}", held))
	done(lt.session(t, "/ws/vnc/vm1", "cookie", held, headers={
	    "Cookie": f"token={keys.mint(k1, keys.claims(), 'cookie')}"}))
	done(lt.session(t, "/ws/vnc/vm1", "bearer", held, subprotocols=[
	    "binary", lt.BEARER_PREFIX + keys.mint(k1, keys.claims(),
	    "bearer")]))
	lab = keys.mint(k1, keys.lab_claims(vmis=("vm1",)), what="path")
	done(lt.session(t, f"/{lab}/vm1", "path", held))
	done(lt.session(t, f"/ws_proxy/{lab}/vm1", "prefixed path", held))
	done(lt.session(t, f"/c/ws?token={q()}", "json route", held))
	done(lt.session(t, f"/ws/vnc/vm1?token={q()}", "TLS", held,
	    port=t.port_for("port2"), tls=True))

	# Refused before the upgrade, for every reason.
	once = q(sub="once")
	done(lt.session(t, f"/ws/vnc/vm1?token={once}", "one-time", held))
	t0 = int(lt.now())
	garbage = "notajwt-" + os.urandom(12).hex()
	keys.secrets.add("garbage token", garbage)
	for what, tok, code in (
	    ("replay", once, "TOKEN_ALREADY_USED"),
	    ("forged", keys.mint(retired, keys.claims(), "forged",
		headers={"kid": "k1"}), "INVALID_TOKEN"),
	    ("retired", keys.mint(retired, keys.claims(), "retired"),
		"INVALID_TOKEN"),
	    ("alg none", keys.mint_none(keys.claims()), "INVALID_TOKEN"),
	    ("confusion", keys.mint_hs256_with(ed.material, keys.claims(),
		headers={"kid": "ed"}), "INVALID_TOKEN"),
	    ("expired", keys.mint(k1, keys.claims(iat=t0 - 900,
		exp=t0 - 300), "expired"), "TOKEN_EXPIRED"),
	    ("wrong target", q(target="vm2"), "UNAUTHORIZED"),
	    ("garbage", garbage, "INVALID_TOKEN")):
		lt.expect_refused(t, what, f"/ws/vnc/vm1?token={tok}", code)
	lt.expect_refused(t, "bad origin", f"/ws/vnc/vm1?token={q()}",
	    "UNAUTHORIZED", headers={"Origin": "http://evil.example"})
	lt.expect_refused(t, "bad cookie", "/ws/vnc/vm1", "INVALID_TOKEN",
	    headers={"Cookie": f"token={garbage}x"})
	lt.expect_refused(t, "TLS forged", "/ws/vnc/vm1?token=" + keys.mint(
	    retired, keys.claims(), "TLS forged", kid=False),
	    "INVALID_TOKEN", port=t.port_for("port2"), tls=True)

	# Refused after the upgrade: errors = json and errors = reason.
	for what, path in (
	    ("json forged", "/c/ws?token=" + keys.mint(retired,
		keys.claims(), "json forged", headers={"kid": "k1"})),
	    ("reason forged", "/" + keys.mint(retired, keys.lab_claims(),
		"reason forged", headers={"kid": "k1"}) + "/vm1"),
	    ("reason garbage", f"/ws_proxy/{garbage}/vm1")):
		mark = t.mark()
		s = lt.try_session(t, path, what)
		s.until_closed()
		d = lt.decision(t, mark)
		t.expect(d["result"] == "INVALID_TOKEN", f"{what}: {d}")


def bad_keys(t, keys, conf):
	"""Keys that cannot load: a short HS256 secret, and a private PEM
	configured as HS256.  authd's warnings must not quote them."""
	short = os.urandom(10).hex().encode()		# 20 bytes
	keys.secrets.add_bytes("short HS256 secret", short)
	p1 = keys._write("short.key", short)
	pem = keys.ed25519("pemhs")
	with open(pem.path, "wb") as f:
		f.write(pem.signing)
	text = (conf + f'key "short" {{ algorithm = "HS256" file = "{p1}" }}\n'
	    f'key "pemhs" {{ algorithm = "HS256" file = "{pem.path}" }}\n')
	mark = t.reload(text)
	t.wait_log(r"\bmaster: reload: configuration reloaded\b", since=mark)
	t.wait_log(r"\bauthd: .*\bkey short\b", since=mark)
	t.wait_log(r"\bauthd: .*\bkey pemhs\b", since=mark)


def check(t, sec):
	own = list(t.lines)
	t.expect(len(sec.items) >= 40, f"only {len(sec.items)} secrets made")
	t.expect(len(t.log_matches(lt.DECISION_RE)) >= 20,
	    "fewer decision lines than requests")
	# The scanner finds what is there: a jti hash the log shows, and a
	# secret planted in a line of text.
	probe = t.log_matches(lt.DECISION_RE)[1].group("jti")
	t.expect(len(probe) == 16 and lt.scan_text("\n".join(own),
	    [("probe", probe)]), "the scanner does not find a jti hash "
	    "the log shows")
	t.expect(lt.scan_text("a\nb " + sec.items[-1][1] + " c\n",
	    sec.items) == [(2, sec.items[-1][0])],
	    "the scanner does not find a planted secret")

	problems = []
	for n, what in lt.scan_text("\n".join(own), sec.items):
		problems.append(f"daemon output line {n}: {what}")

	recorded = lt.secrets_files()
	recorded[t.name] = sec.items
	logs = lt.artifacts(".log")
	t.expect(t.name in logs, "this case's own log is missing")
	scanned = 0
	for name, path in logs.items():
		with open(path, encoding="utf-8", errors="replace") as f:
			text = f.read()
		for case, items in recorded.items():
			for n, what in lt.scan_text(text, items):
				problems.append(f"{name}.log:{n}: {case}'s {what}")
		scanned += 1
	t.note(f"scanned {scanned} logs for the secrets of "
	    f"{len(recorded)} cases "
	    f"({sum(len(v) for v in recorded.values())} values)")
	for p in problems:
		t.note(f"secret found: {p}")
	t.expect(not problems, f"{len(problems)} secrets in logs: " +
	    "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else ""))
