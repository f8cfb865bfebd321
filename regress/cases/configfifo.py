# A file the configuration names (a certificate, a key, a token key) that
# is a named pipe, or a device, is refused at once by `vncrelayd -n`, with
# the file named, instead of hanging in open(2) until someone writes to
# the pipe (which a reload would do too, with the master stuck).

import os

CONFIG = '''listen "127.0.0.1:{port}" {
	tls = yes
	certificate = "CERT"
	key = "KEY"
}
'''


def check(t, name, cert, key):
	path = t.write_file(name, CONFIG.replace("CERT", cert)
	    .replace("KEY", key) + 'webroot = "{webroot}"\n')
	cp = t.run_daemon(["-n", "-f", path], timeout=20)
	t.expect(cp.returncode == 1, f"{name}: exit {cp.returncode}, want 1")
	t.expect("not a regular file" in cp.stderr and
	    path in cp.stderr, f"{name}: {cp.stderr.strip()!r}")


def run(t):
	fifo = os.path.join(t.tmp, "pipe.pem")
	os.mkfifo(fifo, 0o600)
	cert, key = t.subst("{cert}"), t.subst("{key}")
	os.chmod(key, 0o600)
	check(t, "fifo-cert.conf", fifo, key)
	check(t, "fifo-key.conf", cert, fifo)
	check(t, "device-key.conf", cert, "/dev/zero")
	# The same files, regular, are accepted: the refusals above are
	# about the pipe.
	path = t.write_file("good.conf", CONFIG.replace("CERT", cert)
	    .replace("KEY", key) + 'webroot = "{webroot}"\n')
	cp = t.run_daemon(["-n", "-f", path], timeout=20)
	t.expect(cp.returncode == 0, f"good.conf: exit {cp.returncode}: "
	    f"{cp.stderr.strip()!r}")
