# The EXAMPLES of vncrelayd.conf(5) are working configurations: each
# literal block that holds a listen section is accepted by `vncrelayd -n`,
# and there is one for each seed deployment (Prism Central, KubeVirt with
# path tokens, /vnc/{ip} on a private network, named targets, the console
# API).  Only what cannot exist here is changed: the files they name point
# at test files (secrets mode 0600), host names at localhost, and the
# KubeVirt section, which takes the pod's defaults, gets this test's token
# and CA files and KUBERNETES_SERVICE_HOST in its environment.

import os
import re
import subprocess

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PAGE = os.path.join(TOP, "man", "vncrelayd.conf.5")

# What marks each seed deployment's example.
SEEDS = {
	"Prism Central console proxy": r"central = yes",
	"KubeVirt lab with path tokens": r'route "/\{token\}/\{vmi\}"',
	"/vnc/{ip} for a private network": r'route "/vnc/\{ip\}"',
	"named targets": r'route "/ws/vnc/\{name\}"',
	"console API": r"console-api = ",
}

KUBEVIRT_RE = re.compile(r'(kubevirt "[^"]+" \{)\s*\}')


def examples():
	with open(PAGE) as f:
		text = f.read()
	part = text[text.index("\n.Sh EXAMPLES"):text.index("\n.Sh SEE ALSO")]
	blocks = re.findall(r"\n\.Bd -literal[^\n]*\n(.*?)\n\.Ed", part, re.S)
	return [b.replace("\\e", "\\") for b in blocks if 'listen "' in b]


def test_files(t):
	secret = t.write_file("example.secret", "s" * 48 + "\n", mode=0o600)
	ed = subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519"],
	    capture_output=True, text=True, timeout=30, check=True).stdout
	return {
	    "certificate": t.subst("{cert}"),
	    "key": t.subst("{key}"),
	    "ca-file": t.subst("{cert}"),
	    "password-file": secret,
	    "secret": secret,
	    "pem": t.write_file("example-ed25519.pem", ed, mode=0o600),
	    "token": t.write_file("example.token", "bearer\n", mode=0o600),
	}


def localised(block, files):
	c = block
	for kw in ("certificate", "ca-file", "password-file"):
		c = re.sub(rf'\b{kw} = "/[^"]*"', f'{kw} = "{files[kw]}"', c)
	c = re.sub(r'(?<![-\w])key = "/[^"]*"', f'key = "{files["key"]}"', c)
	c = re.sub(r'\bfile = "/[^"]*\.secret"', f'file = "{files["secret"]}"',
	    c)
	c = re.sub(r'\bfile = "/[^"]*\.pem"', f'file = "{files["pem"]}"', c)
	c = re.sub(r'\bhost = "[A-Za-z][^"]*"', 'host = "localhost"', c)
	return KUBEVIRT_RE.sub(rf'\1 token-file = "{files["token"]}" '
	    rf'ca-file = "{files["ca-file"]}" }}', c)


def run(t):
	os.chmod(t.subst("{key}"), 0o600)
	blocks = examples()
	files = test_files(t)
	for what, mark in SEEDS.items():
		n = sum(1 for b in blocks if re.search(mark, b))
		t.expect(n == 1, f"EXAMPLES: {n} configurations for the {what}, "
		    "want one")
	env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1",
	    KUBERNETES_SERVICE_PORT="6443")
	for i, block in enumerate(blocks):
		text = localised(block, files)
		t.expect("/etc/" not in text, f"example {i + 1}: a file under "
		    f"/etc/ was not replaced: {text!r}")
		path = t.write_file(f"example{i + 1}.conf", t.config_text(text))
		cp = subprocess.run([t.bin, "-n", "-f", path], env=env,
		    stdin=subprocess.DEVNULL, capture_output=True, text=True,
		    timeout=30)
		out = (cp.stdout + cp.stderr).strip()
		t.note(f"example {i + 1}: exit {cp.returncode}: {out}")
		t.expect(cp.returncode == 0 and "configuration OK" in cp.stdout,
		    f"example {i + 1} of vncrelayd.conf(5) is refused: {out}\n"
		    f"{block}")
