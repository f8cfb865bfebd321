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
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lib_relay		# noqa: E402
from lib_relay import browse	# noqa: E402

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


def run(t):
	lib_relay.browser_tools(t)
	lib_relay.copy_webroot(t)
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
