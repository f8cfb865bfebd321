# allowed-origins adds origins to the request's own host, as in
# nova-novncproxy (allowed_origins plus the Host header) and as authd's own
# comment says ("the request's own Host or one of allowed-origins"): a
# listed origin, or a listed bare host name, is accepted; an unlisted one
# refused; the scheme must still match (https through a trusted proxy's
# X-Forwarded-Proto); and the same-host Origin stays accepted.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
trusted-proxies = {"127.0.0.2/32"}
allowed-origins = {"https://a.example", "http://b.example", "d.example"}
route "/ws/vnc/{name}" { backend = tcp }
'''


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n")
	me = f"127.0.0.1:{t.port}"
	https = {"X-Forwarded-Proto": "https"}
	want = (
	    ("listed http origin", "http://b.example", {}, None, "OK"),
	    ("listed bare host", "http://d.example", {}, None, "OK"),
	    ("listed https origin through a trusted proxy",
		"https://a.example", https, "127.0.0.2", "OK"),
	    ("listed https origin on the plain listener", "https://a.example",
		{}, None, "UNAUTHORIZED"),
	    ("unlisted origin", "http://c.example", {}, None, "UNAUTHORIZED"),
	    ("same-host origin", f"http://{me}", {}, None, "OK"),
	)
	problems = []
	for what, origin, headers, source, code in want:
		mark = t.mark()
		h = dict(headers, Origin=origin)
		tok = keys.mint(k1, keys.claims(), what=what)
		r = lt.attempt(t, f"/ws/vnc/vm1?token={tok}", headers=h,
		    source=source)
		d = lt.decision(t, mark)
		got = "OK" if r.status == 101 else r.code
		t.note(f"{what}: Origin {origin}: HTTP {r.status}, decision "
		    f"{d['result']}")
		t.expect(got == d["result"], f"{what}: HTTP {r.status} "
		    f"{r.code} but decision {d['result']}")
		if got != code:
			problems.append(f"{what} ({origin}): {got}, want {code}")
		if r.status == 101:
			t.wait_log(rf"\bworker{d['worker']}: session end "
			    rf"id={d['session']} ", since=mark)
	t.expect(not problems, "; ".join(problems))
