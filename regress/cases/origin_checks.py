# The Origin check (as nova-novncproxy does it) and the trusted proxy:
# a same-host Origin is accepted, a foreign one refused 403, an https
# Origin on the plain listener refused; from a trusted proxy (127.0.0.2)
# X-Forwarded-Proto: https makes the https Origin the right one (and the
# http Origin the wrong one), and its X-Forwarded-For is the client in the
# decision line; from an untrusted peer (127.0.0.3) both headers are
# ignored.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
trusted-proxies = {"127.0.0.2/32"}
route "/ws/vnc/{name}" { backend = tcp }
'''

XFF = "203.0.113.7"


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n")
	held = []
	try:
		cases(t, keys, k1, held)
	finally:
		lt.close_all(held)


def path(keys, k1, what):
	return "/ws/vnc/vm1?token=" + keys.mint(k1, keys.claims(), what=what)


def cases(t, keys, k1, held):
	me = f"127.0.0.1:{t.port}"

	s = lt.rfb_session(t, path(keys, k1, "same host"), "same-host Origin",
	    held, origin=f"http://{me}")
	t.expect(s.decision["client"] == "127.0.0.1",
	    f"same host: client={s.decision['client']}")
	s.close()
	s = lt.rfb_session(t, path(keys, k1, "no origin"), "no Origin", held)
	s.close()

	for what, origin in (("foreign Origin", "http://evil.example"),
	    ("foreign Origin, same port", f"http://evil.example:{t.port}"),
	    ("Origin with our host as a prefix", f"http://{me}.evil.example"),
	    ("https Origin on the plain listener", f"https://{me}"),
	    ("Origin without a scheme", me)):
		lt.expect_refused(t, what, path(keys, k1, what), "UNAUTHORIZED",
		    headers={"Origin": origin})

	# An Origin too long to copy for authd is refused, never dropped:
	# dropped, it would read as "no Origin" and pass.
	mark = t.mark()
	r = lt.attempt(t, path(keys, k1, "long origin"), headers={"Origin":
	    "http://" + "a" * 300 + ".evil.example"})
	t.expect(r.status == 400 and r.code == "BAD_REQUEST",
	    f"a 320-byte Origin: HTTP {r.status} {r.code}, want 400 "
	    "BAD_REQUEST")
	t.expect(not t.log_matches(r"\bauthd: decision\b", since=mark),
	    "a request with an Origin too long to check reached authd")

	# A trusted proxy terminates TLS: https is the scheme to match.
	fwd = {"X-Forwarded-Proto": "https", "X-Forwarded-For": XFF}
	s = lt.rfb_session(t, path(keys, k1, "proxy https"),
	    "trusted proxy, https Origin", held, origin=f"https://{me}",
	    headers=fwd, source="127.0.0.2")
	t.expect(s.decision["client"] == XFF, "trusted proxy: decision "
	    f"client={s.decision['client']}, want {XFF}")
	t.wait_log(rf"\bworker{s.worker}: session start id={s.session} "
	    rf"client={XFF} ")
	s.close()
	d = lt.expect_refused(t, "trusted proxy, http Origin",
	    path(keys, k1, "proxy http"), "UNAUTHORIZED",
	    headers=dict(fwd, Origin=f"http://{me}"), source="127.0.0.2")
	t.expect(d["client"] == XFF, f"trusted proxy refused: client="
	    f"{d['client']}, want {XFF}")

	# The same headers from a peer that is not trusted count for nothing.
	d = lt.expect_refused(t, "untrusted peer, https Origin",
	    path(keys, k1, "untrusted https"), "UNAUTHORIZED",
	    headers=dict(fwd, Origin=f"https://{me}"), source="127.0.0.3")
	t.expect(d["client"] == "127.0.0.3", f"untrusted peer: client="
	    f"{d['client']}, want 127.0.0.3")
	s = lt.rfb_session(t, path(keys, k1, "untrusted http"),
	    "untrusted peer, http Origin", held, origin=f"http://{me}",
	    headers=fwd, source="127.0.0.3")
	t.expect(s.decision["client"] == "127.0.0.3", "untrusted peer: "
	    f"client={s.decision['client']}, want 127.0.0.3")
	s.close()
