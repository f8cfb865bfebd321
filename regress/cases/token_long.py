# A long token (about 1500 characters, well under the 4096 the daemon
# takes, the size of a Kubernetes service-account JWT with a few claims)
# works from every source alike: query, cookie, path and the subprotocol
# bearer.  Each session reaches RFB.

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
route "/ws/vnc/{name}" { backend = tcp }
route "/{token}/{vmi}" { errors = reason }
'''


def run(t):
	keys = lt.Keys(t)
	k1 = keys.hs256("k1")
	peer = t.peer("echo")
	t.start(CONFIG + k1.conf() + "\n" + lt.targets_conf(peer.port) + "\n")
	groups = [f"group-{i:03d}-" + "x" * 30 for i in range(24)]

	def big(what, lab=False):
		c = keys.lab_claims() if lab else keys.claims()
		c["groups"] = groups
		tok = keys.mint(k1, c, what=what)
		t.expect(1200 < len(tok) < 2500, f"token of {len(tok)} chars")
		return tok

	problems = []
	forms = (
	    ("query", lambda tok: (f"/ws/vnc/vm1?token={tok}", {})),
	    ("cookie", lambda tok: ("/ws/vnc/vm1",
		{"headers": {"Cookie": f"token={tok}"}})),
	    ("path", lambda tok: (f"/{tok}/vm1", {})),
	    ("subprotocol bearer", lambda tok: ("/ws/vnc/vm1",
		{"subprotocols": ["binary", lt.BEARER_PREFIX + tok]})),
	)
	for what, form in forms:
		tok = big(what, lab=(what == "path"))
		path, kw = form(tok)
		mark = t.mark()
		try:
			s = lt.try_session(t, path, what, **kw)
		except lt.Refused as e:
			d = lt.decision(t, mark)
			why = t.log_matches(r"\bauthd: (no token|token refused: "
			    r".*)$", since=mark)
			problems.append(f"{what} ({len(tok)} chars): HTTP "
			    f"{e.status} {d['result']}" +
			    (f" ({why[-1].group(1)})" if why else ""))
			continue
		d = lt.decision(t, mark)
		t.expect(d["result"] == "OK", f"{what}: {d['result']}")
		s.worker, s.session = d["worker"], d["session"]
		s.reach_rfb()
		if what == "subprotocol bearer" and s.subprotocol != "binary":
			problems.append(f"{what}: subprotocol {s.subprotocol!r}")
		lt.close_and_wait(t, s, since=mark)
	t.expect(not problems, "; ".join(problems))
