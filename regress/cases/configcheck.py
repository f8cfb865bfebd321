# `vncrelayd -n` accepts a good file and, for each kind of mistake, names
# the file and the line that holds it, and exits 1.

import os
import re
import subprocess

GOOD = '''prefork = 1
listen "127.0.0.1:{port}" { tls = no }
target "vm1" { host = "127.0.0.1" port = 5901 }
route "/ws/vnc/{name}" { backend = tcp auth = none }
route "/vnc/{ip}" { backend = tcp networks = {"127.0.0.0/8"} port = 5901 auth = none }
'''

# The listener of line 2 with TLS and one more setting.
TLS_LISTEN = ('listen "127.0.0.1:{{port}}" {{ tls = yes certificate = '
    '"{{cert}}" key = "{{key}}" {} }}')

# Each bad file is the good one with one line replaced by a mistake; the
# message must name the line and what is wrong on it.
BAD = {
	"unknown keyword": (3, 'nosuchkeyword = 1', r"nosuchkeyword"),
	"bad integer": (3, 'prefork = many', r"many"),
	"bad enum": (3, 'route "/x/{name}" { backend = nosuch auth = none }',
	    r"nosuch"),
	"bad listen address": (3, 'listen "999.0.0.1:{port2}" { tls = no }',
	    r"999\.0\.0\.1"),
	"bad CIDR": (3, 'route "/v/{ip}" { backend = tcp '
	    'networks = {"127.0.0.0/33"} port = 5901 auth = none }',
	    r"127\.0\.0\.0/33"),
	"unknown placeholder": (3, 'route "/ws/x/{nosuch}" '
	    '{ backend = tcp auth = none }', r"\{nosuch\}"),
	"target without host or socket": (3, 'target "vm2" { port = 5902 }',
	    r"vm2"),
	"bad integer on line 5": (5, 'max-sessions = x', r"max-sessions"),
	"bad metrics address": (5, 'metrics-listen = "localhost"',
	    r"metrics-listen address \"localhost\""),
	"replay cache of none": (5, 'replay-cache-size = 0',
	    r"replay-cache-size \(want a number from 1 to 16000000\)"),
	"replay cache too large": (5, 'replay-cache-size = 16000001',
	    r"\"16000001\" for replay-cache-size"),
	# OpenSSL's lists, checked when read: a list it refuses would leave
	# the listener without TLS.
	"unknown ciphers": (2, TLS_LISTEN.format('ciphers = "NOSUCH"'),
	    r"ciphers \"NOSUCH\""),
	"unknown ciphersuites": (2, TLS_LISTEN.format(
	    'ciphersuites = "TLS_NOSUCH"'), r"ciphersuites \"TLS_NOSUCH\""),
	"unknown curve": (2, TLS_LISTEN.format('curves = "X25519:P-999"'),
	    r"curves \"X25519:P-999\""),
}


def with_line(text, lineno, replacement):
	lines = text.splitlines()
	lines[lineno - 1] = replacement
	return "\n".join(lines) + "\n"


def check(t, name, text):
	"""Run -n on text; return (exit status, stderr, stdout, path)."""
	path = t.write_file(name, text + 'webroot = "{webroot}"\n')
	cp = t.run_daemon(["-n", "-f", path])
	return cp.returncode, cp.stderr.strip(), cp.stdout.strip(), path


def run(t):
	# Every file is tried; the case fails at the end with all problems.
	problems = []

	status, err, out, _ = check(t, "good.conf", GOOD)
	if status != 0 or "configuration OK" not in out + err:
		problems.append(f"good.conf: exit {status}: {out} {err}")
	# Lists narrower than the defaults, and one with a name OpenSSL does
	# not know beside one it does, are fine.
	status, err, out, _ = check(t, "goodtls.conf", with_line(GOOD, 2,
	    TLS_LISTEN.format('ciphers = "NOSUCH:ECDHE-RSA-AES256-GCM-SHA384" '
	    'ciphersuites = "TLS_AES_256_GCM_SHA384" curves = "P-384"')))
	if status != 0 or "configuration OK" not in out + err:
		problems.append(f"goodtls.conf: exit {status}: {out} {err}")

	for i, (what, (lineno, line, why)) in enumerate(sorted(BAD.items())):
		status, err, out, path = check(t, f"bad{i}.conf",
		    with_line(GOOD, lineno, line))
		want = re.escape(path) + f":{lineno}: .*{why}"
		if status != 1 or "configuration OK" in out + err:
			problems.append(f"{what}: exit {status}: {out} {err}")
		elif not re.search(want, err):
			problems.append(f"{what}: {err!r} is not "
			    f"'{path}:{lineno}: ...{why}...'")

	# A key that is not the certificate's, as in a rotation gone wrong:
	# reported at the listen section's closing brace (line 2 here).
	other = os.path.join(t.tmp, "other.key")
	subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
	    "ec_paramgen_curve:P-256", "-out", other], check=True, timeout=60,
	    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
	os.chmod(other, 0o600)
	status, err, out, path = check(t, "pair.conf", with_line(GOOD, 2,
	    TLS_LISTEN.replace('"{{key}}"', f'"{other}"').format("")))
	want = (re.escape(path) + r":2: listen .* key \"" + re.escape(other) +
	    r"\" cannot serve: key: .*key values mismatch")
	if status != 1 or not re.search(want, err):
		problems.append(f"mismatched key: exit {status}: {out} {err}")

	# One kubevirt section more than the master watches token files for:
	# the first one too many is named, on its line (line 5 + 33).
	kv = "".join(f'kubevirt "k{i}" {{ api-url = "https://127.0.0.1:6443" '
	    f'token-file = "{{key}}" tls-verify = no }}\n' for i in range(1, 34))
	status, err, out, path = check(t, "kubevirts.conf", GOOD + kv)
	want = re.escape(path) + r":38: kubevirt \"k33\": at most 32 "
	if status != 1 or not re.search(want, err):
		problems.append(f"33 kubevirt sections: exit {status}: {out} "
		    f"{err[-300:]}")
	status, err, out, path = check(t, "kubevirts32.conf",
	    GOOD + kv.split("\n", 1)[1])
	if status != 0 or "configuration OK" not in out + err:
		problems.append(f"32 kubevirt sections: exit {status}: {out} "
		    f"{err[-300:]}")

	missing = t.tmp + "/nosuch.conf"
	cp = t.run_daemon(["-n", "-f", missing])
	if cp.returncode != 1 or not re.search(re.escape(missing) +
	    r": No such file", cp.stderr) or re.search(re.escape(missing) +
	    r":\d+:", cp.stderr):
		problems.append(f"missing file: exit {cp.returncode}: "
		    f"{cp.stderr.strip()!r}")

	t.expect(not problems, "; ".join(problems))
