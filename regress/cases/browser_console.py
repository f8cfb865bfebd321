# The console in a real browser: headless Chromium (regress/browser/
# console-test.mjs) loads a page from vncrelayd, noVNC connects back
# through it to a real VNC server, reaches "connected" and draws a
# non-blank screen.  The pages and URL forms people use:
#
#   console.html?path=ws/vnc/NAME&name=NAME          to Xvnc, and to QEMU
#   the same over https (test CA, certificate errors ignored)
#   /console/vnc_auto.html?path=ws/vnc/NAME&name=N   old bookmarks (seed 000)
#   /novnc/vnc.html?path=vnc/127.0.0.1&autoconnect=1 the seed 002 form (the
#                                                    build puts our page
#                                                    under noVNC's names)
#
# Screenshots are kept as regress/artifacts/browser_console-*.png.

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_relay		# noqa: E402

TIMEOUT = 400

CONFIG = '''
prefork = 2
webroot = "{tmp}/www"
listen "127.0.0.1:{port}" { tls = false }
listen "127.0.0.1:{port2}" {
	tls = true
	certificate = "{tmp}/pki/server.pem"
	key = "{tmp}/pki/server.key"
}
target "xvnc" { host = "127.0.0.1" port = XVNC_PORT }
target "qemu" { host = "127.0.0.1" port = QEMU_PORT }
route "/ws/vnc/{name}" { backend = tcp auth = none }
route "/vnc/{ip}" {
	backend = tcp
	networks = {"127.0.0.0/8"}
	port = XVNC_PORT
	auth = none
}
'''

SCRIPT = os.path.join(lib_relay.HERE, "browser", "console-test.mjs")


def need_tools(t):
	for tool in ("node", "chromium"):
		if shutil.which(tool) is None:
			t.skip(f"{tool} is missing")
	if not os.path.isdir(os.path.join(lib_relay.TOP, "node_modules",
	    "playwright-core")):
		t.skip("node_modules/playwright-core is missing (npm ci)")
	if not os.path.exists(os.path.join(lib_relay.TOP, "build", "www",
	    "console.html")):
		t.skip("build/www is not built (make www)")


def copy_webroot(t):
	"""A private copy, so that a `make www` meanwhile (which swaps
	build/www) cannot pull the files from under the daemon."""
	dst = os.path.join(t.tmp, "www")
	shutil.copytree(os.path.join(lib_relay.TOP, "build", "www"), dst)
	subprocess.run(["chmod", "-R", "u=rwX,go=rX", dst], check=True,
	    timeout=30)


def browse(t, what, url, target, route, extra=()):
	shot = os.path.join(lib_relay.ARTIFACTS, f"browser_console-{what}.png")
	if os.path.exists(shot):
		os.unlink(shot)
	mark = t.mark()
	node = lib_relay.start_child(t, ["node", SCRIPT, url, shot,
	    "--timeout", "45000"] + list(extra), f"node-{what}")
	status = node.wait(90)
	out = node.output()
	node.stop()
	for line in out.splitlines():
		t.note(f"{what}: {line}")
	t.expect(status is not None, f"{what}: console-test still running "
	    "after 90s")
	last = out.strip().splitlines()[-1] if out.strip() else ""
	t.expect(status == 0 and last.startswith("console-test: ok "
	    "state=connected"), f"{what}: {last or f'exit {status}'}")
	t.expect(os.path.exists(shot), f"{what}: no screenshot {shot}")
	t.wait_log(r"\bworker\d+: session start id=\d+ client=127\.0\.0\.1 "
	    rf"route={route} target={target} ", since=mark)


def run(t):
	need_tools(t)
	copy_webroot(t)
	lib_relay.make_certs(t)
	x = lib_relay.start_xvnc(t, geometry="1024x768")
	lib_relay.paint_root(t, x, "#4682b4", pattern_on="white")
	q = lib_relay.start_qemu(t, name="browser")
	t.start(CONFIG.replace("XVNC_PORT", str(x.port))
	    .replace("QEMU_PORT", str(q.port)))

	http = f"http://127.0.0.1:{t.port}"
	https = f"https://127.0.0.1:{t.port_for('port2')}"
	name_route = r"/ws/vnc/\{name\}"
	browse(t, "xvnc", f"{http}/console.html?path=ws/vnc/xvnc&name=xvnc",
	    "xvnc", name_route, ["--page", "console"])
	browse(t, "qemu", f"{http}/console.html?path=ws/vnc/qemu&name=qemu",
	    "qemu", name_route, ["--page", "console"])
	browse(t, "xvnc-https",
	    f"{https}/console.html?path=ws/vnc/xvnc&name=xvnc", "xvnc",
	    name_route, ["--page", "console", "--ignore-https-errors"])
	browse(t, "vnc_auto",
	    f"{http}/console/vnc_auto.html?path=ws/vnc/xvnc&name=xvnc",
	    "xvnc", name_route)
	browse(t, "novnc-vnc",
	    f"{http}/novnc/vnc.html?path=vnc/127.0.0.1&autoconnect=1",
	    r"127\.0\.0\.1", r"/vnc/\{ip\}")
