# Upstream TLS is verified.  Mocks that present a certificate from the
# wrong CA (wserver.pem) or for the wrong name (wrongname.pem, only
# wrong.invalid) are refused with CONNECTION_FAILED and a log line giving
# the certificate failure, for Prism (authd's login) and for KubeVirt (the
# worker's upgrade); the mocks never saw an HTTP request.  The same wrong-
# CA Prism with `tls-verify = no` opens the console, so it is the
# verification that refused.  `vncrelayd -n` warns about each upstream
# with tls-verify = no and about no other, and refuses a Prism without
# ca-file unless tls-verify = no is written.

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_token as lt		# noqa: E402
import lib_upstream as lu	# noqa: E402

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
route "/wca/proxy/{uuid}" { backend = prism upstream = "pwca" }
route "/wname/proxy/{uuid}" { backend = prism upstream = "pwname" }
route "/noverify/proxy/{uuid}" { backend = prism upstream = "pnoverify" }
route "/kwca/{namespace}/{vmi}" { backend = kubevirt upstream = "kwca" }
route "/kwname/{namespace}/{vmi}" { backend = kubevirt upstream = "kwname" }
'''

TLS_WHY = re.compile(r"(?i)certificate|verif|host ?name")


def tls_warned(out, name):
	return any("warning" in l.lower() and re.search(rf"\b{name}\b", l)
	    and "verif" in l.lower() for l in out.splitlines())


def run(t):
	keys = lt.Keys(t)
	sec = keys.secrets
	k1 = keys.hs256("k1")
	_, tokfile = lu.bearer_file(t, sec)
	pwca, pwca_conf = lu.prism_upstream(t, sec, "pwca", cert="wserver")
	pwname, pwname_conf = lu.prism_upstream(t, sec, "pwname",
	    cert="wrongname")
	kwca = lu.start_kubeapi(t, tokfile, "kwca", vmis=("ns/vm1",),
	    cert="wserver")
	kwname = lu.start_kubeapi(t, tokfile, "kwname", vmis=("ns/vm1",),
	    cert="wrongname")
	# The same wrong CA, with tls-verify = no.
	pnov, noverify = lu.prism_upstream(t, sec, "pnoverify",
	    cert="wserver", ca=False, extra=["tls-verify = no"])
	mocks = (pwca, pwname, kwca, kwname)
	upstreams = (pwca_conf + pwname_conf +
	    lu.kubevirt_conf("kwca", kwca, tokfile) +
	    lu.kubevirt_conf("kwname", kwname, tokfile))
	conf = CONFIG + k1.conf() + "\n" + upstreams + noverify
	t.start(conf)

	for what, path, target in (
	    ("Prism, wrong CA", f"/wca/proxy/{lu.VM1}", lu.VM1),
	    ("Prism, wrong name", f"/wname/proxy/{lu.VM1}", lu.VM1),
	    ("KubeVirt, wrong CA", "/kwca/ns/vm1", "vm1"),
	    ("KubeVirt, wrong name", "/kwname/ns/vm1", "vm1")):
		mark = t.mark()
		tok = keys.mint(k1, keys.claims(target=target))
		lu.refused(t, what, f"{path}?token={tok}", "CONNECTION_FAILED")
		why = [m.string for m in t.log_matches(
		    r"\b(login failed|session refused|CONNECTION_FAILED)\b",
		    since=mark) if TLS_WHY.search(m.string)]
		t.expect(why, f"{what}: no log line gives the certificate "
		    "failure")
	for m in mocks:
		st = m.counters("logins", "failed_logins", "upgrade_requests")
		t.expect(not st["logins"] and not st["failed_logins"] and
		    not st["upgrade_requests"], f"{m.label}: the mock got a "
		    f"request over TLS it should have refused: {st}")

	# tls-verify = no: the wrong CA is accepted.
	tok = keys.mint(k1, keys.claims(target=lu.VM1))
	s = lu.console(t, f"/noverify/proxy/{lu.VM1}?token={tok}",
	    "tls-verify = no", f"mock-{lu.VM1}", total=4096)
	lt.close_and_wait(t, s)
	t.expect(pnov.stats()["logins"] == 1, "tls-verify = no: the login "
	    "did not reach the mock")
	lu.record_cookies(sec, pnov.stats()["last_cookie_header"])
	lu.check_no_secrets(t, sec, mocks + (pnov,))

	# -n warns about each tls-verify = no, and about nothing else.
	kvnov = lu.kubevirt_conf("knoverify", kwca, tokfile, ca=False,
	    extra=["tls-verify = no"])
	cp = t.run_daemon(["-n", "-f", t.write_file("noverify.conf",
	    t.config_text(conf + kvnov))])
	out = cp.stdout + cp.stderr
	t.expect(cp.returncode == 0, f"-n refused tls-verify = no: "
	    f"{out.strip()[-300:]!r}")
	for name in ("pnoverify", "knoverify"):
		t.expect(tls_warned(out, name), f"-n gave no warning for "
		    f"{name} with tls-verify = no: {out.strip()[-300:]!r}")
	for name in ("pwca", "pwname", "kwca", "kwname"):
		t.expect(not tls_warned(out, name), f"-n warned about {name}, "
		    "which verifies")
	cp = t.run_daemon(["-n", "-f", t.write_file("verify.conf",
	    t.config_text(CONFIG.replace(
	        'route "/noverify/', '# route "/noverify/') +
	    k1.conf() + "\n" + upstreams))])
	out = cp.stdout + cp.stderr
	t.expect(cp.returncode == 0 and not any("warning" in l.lower() and
	    "verif" in l.lower() for l in out.splitlines()),
	    f"-n without tls-verify = no: exit {cp.returncode}, "
	    f"{out.strip()[-300:]!r}")

	# A Prism without ca-file must say tls-verify = no.
	bare = lu.prism_conf("pbare", pwca, pwca.password_file, ca=False)
	cp = t.run_daemon(["-n", "-f", t.write_file("noca.conf",
	    t.config_text(conf + bare))])
	out = cp.stdout + cp.stderr
	t.expect(cp.returncode != 0 and "ca-file" in out,
	    f"-n with a Prism without ca-file: exit {cp.returncode}, "
	    f"{out.strip()[-300:]!r}")
