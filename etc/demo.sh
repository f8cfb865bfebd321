#!/bin/sh
#
# demo.sh: vncrelayd in front of a real virtual machine console, on this
# machine.  `make demo` runs it as root on Debian 12 after `make deps all`.
#
# It makes a state directory (build/demo) with a throw-away self-signed
# certificate, starts a QEMU guest with no disk (its firmware screen is the
# console; TigerVNC's Xvnc stands in when QEMU is missing), writes a
# configuration for it and runs build/vncrelayd in the foreground.  Open
# the URL it prints and accept the certificate.  Ctrl-C stops everything
# the script started, by pid.
#
# DEMO_ONCE=1 makes it non-interactive: once the console's WebSocket has
# answered with the RFB greeting it prints "demo: reached RFB greeting",
# stops everything and exits 0 (regress/cases/demo_smoke.py).
#
# Environment: DEMO_PORT (default 8443), DEMO_TIMEOUT (seconds, default
# 60), DEMO_STATE (an absolute path, default build/demo) and VNCRELAYD
# (default build/vncrelayd).

set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=/usr/bin/python3
RELAYD=${VNCRELAYD:-$TOP/build/vncrelayd}
WEBROOT=$TOP/build/www
STATE=${DEMO_STATE:-$TOP/build/demo}
PORT=${DEMO_PORT:-8443}
TIMEOUT=${DEMO_TIMEOUT:-60}
ONCE=${DEMO_ONCE:-0}
CTL=$TOP/build/vncrelayctl

console_pid=
relay_pid=

say() {
	echo "demo: $*"
}

die() {
	echo "demo: $*" >&2
	exit 1
}

# Stops a process this script started: SIGTERM, then SIGKILL if it stays.
stop() {
	pid=$1
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	n=0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt 150 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	# vncrelayd first: it drains its sessions, then the console goes.
	[ -n "$relay_pid" ] && say "stopping vncrelayd (pid $relay_pid)"
	stop "$relay_pid"
	[ -n "$console_pid" ] && say "stopping the console (pid $console_pid)"
	stop "$console_pid"
	exit $rc
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$RELAYD" ] || die "no $RELAYD: run make first"
[ -d "$WEBROOT/novnc/core" ] || die "no web root in $WEBROOT: run make first"
[ -x "$PYTHON" ] || die "$PYTHON is missing: run make deps"
command -v openssl >/dev/null || die "openssl is missing: run make deps"
[ "$(id -u)" -eq 0 ] || say "not root: vncrelayd will run without chroot " \
    "and setuid (see its warning)"

# A fresh state directory: the key of an old run is not reused.  Only a
# directory that an earlier run made is removed.
case $STATE in
/*)	;;
*)	die "DEMO_STATE must be an absolute path" ;;
esac
if [ -e "$STATE" ] && [ -n "$(ls -A "$STATE")" ]; then
	grep -qs "^# Written by etc/demo.sh" "$STATE/vncrelayd.conf" ||
	    die "$STATE is not a directory of an earlier demo: not removing it"
	rm -rf "$STATE"
fi
mkdir -p "$STATE/empty" || die "cannot create $STATE"

(
	umask 077
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 7 -subj "/CN=vncrelayd demo" \
	    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" \
	    >"$STATE/openssl.log" 2>&1
) || die "openssl failed, see $STATE/openssl.log"
chmod 0600 "$STATE/key.pem"
chmod 0644 "$STATE/cert.pem"
# The token key: 32 random bytes, readable by root only.
(umask 077 && openssl rand -hex 32 >"$STATE/token.key") ||
    die "cannot make the token key"

# A free port for the VNC server, 5900 + display number.
vnc_port=$("$PYTHON" - <<'EOF'
import socket
for port in range(5950, 6000):
	s = socket.socket()
	try:
		s.bind(("127.0.0.1", port))
	except OSError:
		continue
	finally:
		s.close()
	print(port)
	break
EOF
)
[ -n "$vnc_port" ] || die "no free port in 5950-5999 for the console"
display=$((vnc_port - 5900))

if command -v qemu-system-x86_64 >/dev/null; then
	say "starting QEMU with its VNC console on 127.0.0.1:$vnc_port"
	qemu-system-x86_64 -display none -vnc "127.0.0.1:$display" \
	    -nodefaults -vga std -machine pc -m 64 \
	    >"$STATE/console.log" 2>&1 </dev/null &
	console_pid=$!
elif command -v Xvnc >/dev/null; then
	say "QEMU is missing: starting Xvnc on 127.0.0.1:$vnc_port instead"
	Xvnc ":$display" -rfbport "$vnc_port" -localhost -SecurityTypes None \
	    -geometry 1024x768 -depth 24 \
	    >"$STATE/console.log" 2>&1 </dev/null &
	console_pid=$!
else
	die "neither qemu-system-x86_64 nor Xvnc: run make deps"
fi

cat >"$STATE/vncrelayd.conf" <<EOF
# Written by etc/demo.sh; see vncrelayd.conf(5).
webroot = "$WEBROOT"
authd-root = "$STATE/empty"
control-socket = "$STATE/control.sock"

listen "127.0.0.1:$PORT" {
	tls = yes
	certificate = "$STATE/cert.pem"
	key = "$STATE/key.pem"
}

target "demo" { host = "127.0.0.1" port = $vnc_port }

# Every console needs a one-time token, signed with this key by authd.
key "demo" { algorithm = "HS256" file = "$STATE/token.key" }
token-ttl = 600
route "/ws/vnc/{name}" { backend = tcp auth = token }
EOF

"$RELAYD" -n -f "$STATE/vncrelayd.conf" >/dev/null ||
    die "the demo configuration does not parse"

say "starting $RELAYD"
"$RELAYD" -d -f "$STATE/vncrelayd.conf" </dev/null &
relay_pid=$!

# The URL's token works once: print it when the console listens, so that
# the first try does not spend it on a console that is not there yet.
"$PYTHON" - "$vnc_port" "$TIMEOUT" "$console_pid" <<'EOF' ||
import os, socket, sys, time
port, timeout, pid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
	try:
		os.kill(pid, 0)
		socket.create_connection(("127.0.0.1", port), timeout=2).close()
		sys.exit(0)
	except OSError:
		time.sleep(0.2)
sys.exit(1)
EOF
    die "the console did not listen on 127.0.0.1:$vnc_port (see $STATE/console.log)"

# A fresh one-time token and the console URL that carries it.
mint() {
	n=0
	while [ $n -lt 100 ]; do
		out=$("$CTL" -s "$STATE/control.sock" token demo -u demo \
		    2>/dev/null) && { echo "$out" | sed -n 's/^url: //p'; return 0; }
		kill -0 "$relay_pid" 2>/dev/null || return 1
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
URL=$(mint) || die "vncrelayd did not issue a token"
say "console: $URL"
say "the token works once; for another: $CTL -s $STATE/control.sock token demo"

if [ "$ONCE" != 1 ]; then
	say "press Ctrl-C to stop"
	wait "$relay_pid"
	rc=$?
	relay_pid=
	say "vncrelayd exited with status $rc"
	exit $rc
fi

# DEMO_ONCE=1: fetch the page, then open its WebSocket as noVNC would, with
# the printed URL's token, and wait for the console's first bytes.  Should
# that fail, it is retried with fresh tokens until the deadline, and the
# script says that the printed token did not do.
"$PYTHON" - "$URL" "$STATE/cert.pem" "$TIMEOUT" "$CTL" "$STATE/control.sock" \
    "$relay_pid" "$console_pid" <<'EOF'
import asyncio, os, ssl, subprocess, sys, time, urllib.parse, urllib.request
import websockets

url, cafile, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
ctl, sock = sys.argv[4], sys.argv[5]
pids = [int(p) for p in sys.argv[6:]]
ctx = ssl.create_default_context(cafile=cafile)

def wsurl_of(url):
	u = urllib.parse.urlsplit(url)
	path = urllib.parse.parse_qs(u.query)["path"][0]
	token = urllib.parse.parse_qs(u.fragment)["token"][0]
	return f"wss://{u.netloc}/{path}?token={token}"

def fresh_url():
	# One token per attempt: a failed attempt may have spent the last.
	out = subprocess.run([ctl, "-s", sock, "token", "demo"], check=True,
	    capture_output=True, text=True).stdout
	return [l[5:] for l in out.splitlines() if l.startswith("url: ")][0]

def alive(pid):
	try:
		os.kill(pid, 0)
	except OSError:
		return False
	with open(f"/proc/{pid}/stat") as f:
		return f.read().rsplit(")", 1)[1].split()[0] != "Z"

async def greeting(console_url):
	with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
		if r.status != 200 or b"<html" not in r.read():
			raise OSError(f"page answered {r.status}")
	wsurl = wsurl_of(console_url)
	async with websockets.connect(wsurl, ssl=ctx, subprotocols=["binary"],
	    open_timeout=10) as ws:
		data = await asyncio.wait_for(ws.recv(), 10)
		return data

deadline = time.monotonic() + timeout
last = first = None
tries = 0
while time.monotonic() < deadline:
	for pid in pids:
		if not alive(pid):
			sys.exit(f"demo: process {pid} exited early ({last})")
	try:
		# The printed token first; it is spent by then, so fresh ones.
		data = asyncio.run(greeting(url if tries == 0 else fresh_url()))
		if isinstance(data, bytes) and data.startswith(b"RFB 003.008"):
			print(f"demo: the console answered {data[:11].decode()} "
			    + ("with the printed URL's token" if tries == 0 else
			    f"with a fresh token (the printed one: {first})"))
			sys.exit(0)
		last = f"first message {data[:20]!r}"
	except Exception as e:
		last = f"{type(e).__name__}: {e}"
	if tries == 0:
		first = last
	tries += 1
	time.sleep(0.5)
sys.exit(f"demo: no RFB greeting within {timeout:g}s ({last})")
EOF
rc=$?
[ $rc -eq 0 ] && say "reached RFB greeting"
exit $rc
