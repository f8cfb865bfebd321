# A kubevirt section takes its defaults from a pod's environment: the API
# server from KUBERNETES_SERVICE_HOST/PORT, the token and CA from the
# service account's files.  Outside a pod, a missing api-url is an error
# that says so; a missing token file is named; a namespace that cannot be
# one is refused.

import subprocess

BASE = '''
listen "127.0.0.1:{port}" { tls = no }
route "/k8s/{namespace}/{vmi}" { backend = kubevirt upstream = "kv" }
'''

SA = "/var/run/secrets/kubernetes.io/serviceaccount"


def check(t, name, section, env):
	path = t.write_file(name + ".conf", t.subst(BASE) + section)
	cp = subprocess.run([t.bin, "-n", "-f", path], env=env,
	    stdin=subprocess.DEVNULL, capture_output=True, text=True,
	    timeout=30)
	out = (cp.stdout + cp.stderr).strip()
	t.note(f"{name}: exit {cp.returncode}: {out}")
	return cp.returncode, out


def run(t):
	token = t.write_file("token", "abc\n")
	ca = t.subst("{cert}")
	pod = {"PATH": "/usr/bin:/bin", "KUBERNETES_SERVICE_HOST": "127.0.0.1",
	    "KUBERNETES_SERVICE_PORT": "6443"}
	files = f'token-file = "{token}" ca-file = "{ca}"'

	rc, out = check(t, "pod", f'kubevirt "kv" {{ {files} }}', pod)
	t.expect(rc == 0 and "configuration OK" in out,
	    f"in a pod's environment: exit {rc}: {out}")

	rc, out = check(t, "nopod", f'kubevirt "kv" {{ {files} }}',
	    {"PATH": "/usr/bin:/bin"})
	t.expect(rc == 1 and "no api-url" in out and
	    "KUBERNETES_SERVICE_HOST" in out,
	    f"outside a pod without api-url: exit {rc}: {out}")

	rc, out = check(t, "v6pod", f'kubevirt "kv" {{ {files} }}',
	    dict(pod, KUBERNETES_SERVICE_HOST="::1"))
	t.expect(rc == 0, f"an IPv6 service host: exit {rc}: {out}")

	rc, out = check(t, "notoken", 'kubevirt "kv" { api-url = '
	    f'"https://127.0.0.1:6443" ca-file = "{ca}" }}', pod)
	t.expect(rc == 1 and SA + "/token" in out,
	    f"without the service account's token file: exit {rc}: {out}")

	rc, out = check(t, "badns", f'kubevirt "kv" {{ {files} namespace = '
	    '"Bad_NS" }', pod)
	t.expect(rc == 1 and "not a DNS label" in out,
	    f"a namespace that is no DNS label: exit {rc}: {out}")

	rc, out = check(t, "badurl", 'kubevirt "kv" { api-url = '
	    f'"ftp://127.0.0.1" {files} }}', pod)
	t.expect(rc == 1 and "invalid api-url" in out,
	    f"an ftp api-url: exit {rc}: {out}")
