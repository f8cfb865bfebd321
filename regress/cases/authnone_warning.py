# `vncrelayd -n` accepts a file with a route of auth = none, prints
# "configuration OK", and warns on standard error, naming the route; a
# file without auth none gets no such warning.  Both exit 0.

import re

OPEN = '''prefork = 1
listen "127.0.0.1:{port}" { tls = no }
target "vm1" { host = "127.0.0.1" port = 5901 }
route "/ws/open/{name}" { backend = tcp auth = none }
route "/ws/vnc/{name}" { backend = tcp }
'''

CLOSED = '''prefork = 1
listen "127.0.0.1:{port}" { tls = no }
target "vm1" { host = "127.0.0.1" port = 5901 }
route "/ws/vnc/{name}" { backend = tcp }
'''

WARN_RE = r"warning: route \"([^\"]*)\" has auth none"


def check(t, name, text):
	path = t.write_file(name, t.config_text(text))
	cp = t.run_daemon(["-n", "-f", path])
	t.expect(cp.returncode == 0, f"{name}: -n exit {cp.returncode}: "
	    f"{cp.stderr.strip()!r}")
	t.expect("configuration OK" in cp.stdout,
	    f"{name}: stdout {cp.stdout!r}, no 'configuration OK'")
	return path, cp


def run(t):
	path, cp = check(t, "open.conf", OPEN)
	warned = re.findall(WARN_RE, cp.stderr)
	t.expect(warned == ["/ws/open/{name}"], f"auth none: warnings for "
	    f"{warned}, want only /ws/open/{{name}}: {cp.stderr!r}")
	t.expect(path in cp.stderr, f"the warning does not name the file "
	    f"{path}: {cp.stderr!r}")
	t.expect("configuration OK" not in cp.stderr,
	    "'configuration OK' on stderr")

	path, cp = check(t, "closed.conf", CLOSED)
	t.expect("has auth none" not in cp.stderr and
	    "warning" not in cp.stderr,
	    f"no auth none, yet stderr says {cp.stderr!r}")
