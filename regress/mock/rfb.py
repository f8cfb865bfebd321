#!/usr/bin/python3
#
# Shared pieces of the mock upstreams (prism.py, kubeapi.py):
#
#  - a minimal RFB 3.8 server (security type None) over a WebSocket that,
#    after ServerInit, echoes every binary byte back verbatim;
#  - the HTTP plumbing on top of python3-websockets 10.4 (legacy server):
#    requests with any method and a body, plain HTTP answers from
#    process_request, TLS, "READY port=N", request logging and SIGTERM.
#
# Only Debian's python3 and python3-websockets are used.

import argparse
import asyncio
import http
import json
import logging
import os
import re
import signal
import ssl
import struct
import sys
import time
import urllib.parse

import websockets.server
from websockets.datastructures import Headers
from websockets.exceptions import InvalidMessage
from websockets.legacy.http import read_headers, read_line

RFB_VERSION = b"RFB 003.008\n"
RFB_WIDTH = 640
RFB_HEIGHT = 480
# 32 bpp, depth 24, little-endian, true colour, max 255/255/255,
# shifts 16/8/0, three bytes of padding: 16 bytes.
RFB_PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x",
                               32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
RFB_SECURITY_NONE = 1

MAX_BODY = 1 << 20

_progname = "mock"


def set_progname(name):
    global _progname
    _progname = name


def log(fmt, *args):
    """One line on stderr; callers never pass secrets."""
    msg = fmt % args if args else fmt
    stamp = time.strftime("%H:%M:%S")
    sys.stderr.write("%s %s[%d]: %s\n" % (stamp, _progname, os.getpid(), msg))
    sys.stderr.flush()


# ---------------------------------------------------------------- RFB

class WsByteStream:
    """Turns the binary messages of a WebSocket into a byte stream.
    Text messages are dropped (and counted), as KubeVirt does."""

    def __init__(self, ws, stats):
        self.ws = ws
        self.stats = stats
        self.buf = bytearray()

    async def _fill(self):
        while True:
            msg = await self.ws.recv()
            if isinstance(msg, str):
                self.stats["text_frames_dropped"] = \
                    self.stats.get("text_frames_dropped", 0) + 1
                continue
            if msg:
                self.buf += msg
                return

    async def read_exact(self, n):
        while len(self.buf) < n:
            await self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def read_some(self):
        if not self.buf:
            await self._fill()
        out = bytes(self.buf)
        self.buf.clear()
        return out


def rfb_server_init(name):
    nm = name.encode("utf-8")
    return (struct.pack(">HH", RFB_WIDTH, RFB_HEIGHT) + RFB_PIXEL_FORMAT +
            struct.pack(">I", len(nm)) + nm)


async def drop_tcp(ws, timeout=2.0):
    """End the connection without a WebSocket close frame and without a TLS
    close_notify, after what was already sent has left the process."""
    tr = ws.transport
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            pending = tr.get_write_buffer_size()
            sslp = getattr(tr, "_ssl_protocol", None)
            inner = getattr(sslp, "_transport", None)
            if inner is not None:
                pending += inner.get_write_buffer_size()
        except Exception:
            break
        if pending == 0:
            break
        await asyncio.sleep(0.01)
    tr.abort()
    # connection_lost runs from the loop a moment later; until it has, the
    # library would still try to send a close frame when the handler ends.
    try:
        await asyncio.wait_for(asyncio.shield(ws.connection_lost_waiter), 2)
    except asyncio.TimeoutError:
        log("connection_lost did not follow abort()")


async def rfb_session(ws, name, stats, close_after=None,
                      screen=False):
    """Serve RFB 3.8 with security None, then echo (or, with screen, act
    as a small desktop: see serve_screen).  Returns a short reason string;
    ConnectionClosed propagates to the caller."""
    s = WsByteStream(ws, stats)
    await ws.send(RFB_VERSION)
    ver = await s.read_exact(12)
    if not re.fullmatch(rb"RFB \d{3}\.\d{3}\n", ver):
        log("rfb %s: bad client version %r", name, ver)
        return "bad-version"
    await ws.send(bytes([1, RFB_SECURITY_NONE]))
    choice = (await s.read_exact(1))[0]
    if choice != RFB_SECURITY_NONE:
        reason = b"security type not offered"
        await ws.send(struct.pack(">II", 1, len(reason)) + reason)
        log("rfb %s: client chose security type %d", name, choice)
        return "bad-security-type"
    await ws.send(struct.pack(">I", 0))
    await s.read_exact(1)           # ClientInit: shared flag
    await ws.send(rfb_server_init("mock-" + name))
    stats["rfb_ready"] = stats.get("rfb_ready", 0) + 1
    if screen:
        log("rfb %s: ServerInit sent, serving a screen", name)
        return await serve_screen(ws, s, name, stats)
    log("rfb %s: ServerInit sent, echoing", name)

    echoed = 0
    while True:
        if close_after is not None and echoed >= close_after:
            log("rfb %s: %d bytes echoed, dropping TCP", name, echoed)
            await drop_tcp(ws)
            return "close-after-bytes"
        data = await s.read_some()
        if close_after is not None:
            data = data[:close_after - echoed]
        await ws.send(data)
        echoed += len(data)
        stats["echoed_bytes"] = stats.get("echoed_bytes", 0) + len(data)


# ------------------------------------------------------- --screen mode

# Client-to-server message types a viewer sends to a server that offers
# only Raw: their lengths after the type byte (ClientCutText and
# SetEncodings carry a count and are handled on their own).
RFB_FIXED = {0: 19, 3: 9, 4: 7, 5: 5}
SCREEN_CELL = 16
SCREEN_BAND = 32                    # rows per rectangle and per message
SCREEN_COLOURS = ((0x46, 0x82, 0xb4), (0xff, 0xff, 0xff))   # steel blue


def screen_pixels(pf, width, height):
    """The test pattern (a checkerboard of SCREEN_CELL squares in the two
    SCREEN_COLOURS) as Raw pixel data in the client's pixel format."""
    bpp, _, big, tc, rmax, gmax, bmax, rs, gs, bs = \
        struct.unpack(">BBBBHHHBBB", pf[:13])
    if not tc or bpp not in (8, 16, 32):
        raise ValueError("pixel format bpp=%d true-colour=%d" % (bpp, tc))
    order = "big" if big else "little"
    cells = []
    for r, g, b in SCREEN_COLOURS:
        v = ((r * rmax // 255) << rs | (g * gmax // 255) << gs |
             (b * bmax // 255) << bs)
        cells.append(v.to_bytes(bpp // 8, order) * SCREEN_CELL)
    rows = []
    for parity in (0, 1):
        row = b"".join(cells[(i + parity) % 2]
                       for i in range(width // SCREEN_CELL + 1))
        rows.append(row[:width * bpp // 8])
    return b"".join(rows[(y // SCREEN_CELL) % 2] for y in range(height))


async def serve_screen(ws, s, name, stats):
    """After ServerInit: read the viewer's messages, honour SetPixelFormat
    (true colour only), and answer every non-incremental
    FramebufferUpdateRequest with the whole screen in Raw rectangles of
    SCREEN_BAND rows, each in its own message (as a gateway relaying a
    TCP stream sends moderate frames, not one of over a megabyte).
    Incremental requests wait for a change that never comes, so a viewer
    gets one picture, not a stream.  Key, pointer and cut-text messages
    are read and ignored; an unknown message type ends the session."""
    pf = RFB_PIXEL_FORMAT
    for _ in range(1 << 30):
        kind = (await s.read_exact(1))[0]
        if kind == 2:                       # SetEncodings
            count, = struct.unpack(">xH", await s.read_exact(3))
            await s.read_exact(4 * count)
            continue
        if kind == 6:                       # ClientCutText
            size, = struct.unpack(">3xI", await s.read_exact(7))
            if size > MAX_BODY:
                log("rfb %s: cut text of %d bytes", name, size)
                return "cut-text-too-long"
            await s.read_exact(size)
            continue
        if kind not in RFB_FIXED:
            log("rfb %s: unknown client message type %d", name, kind)
            return "bad-message"
        body = await s.read_exact(RFB_FIXED[kind])
        if kind == 0:
            pf = body[3:19]
            continue
        if kind != 3 or body[0]:            # key, pointer, incremental
            continue
        try:
            pixels = screen_pixels(pf, RFB_WIDTH, RFB_HEIGHT)
        except ValueError as e:
            log("rfb %s: %s", name, e)
            return "bad-pixel-format"
        row = len(pixels) // RFB_HEIGHT
        bands = range(0, RFB_HEIGHT, SCREEN_BAND)
        await ws.send(struct.pack(">BxH", 0, len(bands)))
        for y in bands:
            h = min(SCREEN_BAND, RFB_HEIGHT - y)
            await ws.send(struct.pack(">HHHHi", 0, y, RFB_WIDTH, h, 0) +
                          pixels[y * row:(y + h) * row])
        stats["screens_sent"] = stats.get("screens_sent", 0) + 1
    return "too-many-messages"


# ---------------------------------------------------------------- HTTP

def response(status, body=b"", ctype="text/plain; charset=utf-8",
             headers=()):
    """An early answer for process_request: (status, headers, body)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    h = Headers()
    for k, v in headers:
        h[k] = v
    h["Content-Type"] = ctype
    return (http.HTTPStatus(status), h, body)


def json_response(status, obj, headers=()):
    body = json.dumps(obj, indent=1, sort_keys=True).encode() + b"\n"
    return response(status, body, "application/json", headers)


def header_values(headers, name):
    """All comma-separated values of a header, over repeated lines."""
    out = []
    for v in headers.get_all(name):
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def cookies_of(headers):
    """name -> [values] from every Cookie header line."""
    out = {}
    for line in headers.get_all("Cookie"):
        for part in line.split(";"):
            if "=" not in part:
                continue
            k, v = part.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def headers_dict(headers, redact=()):
    out = {}
    for k, v in headers.raw_items():
        if k.lower() in redact:
            v = v.split(" ", 1)[0] + " <redacted>"
        out[k] = out[k] + ", " + v if k in out else v
    return out


class MockProtocol(websockets.server.WebSocketServerProtocol):
    """Accepts any method (websockets 10.4 only reads GET), reads a
    Content-Length body, and hands every request to app.route(), which
    returns an early HTTP answer or None to go on with the upgrade."""

    app = None

    async def read_http_request(self):
        self.method = "?"
        self.body = b""
        self.bad_body = False
        try:
            line = await read_line(self.reader)
            method, target, version = line.split(b" ", 2)
            if version not in (b"HTTP/1.1", b"HTTP/1.0"):
                raise ValueError("bad HTTP version")
            headers = await read_headers(self.reader)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise InvalidMessage("did not receive a valid HTTP "
                                 "request") from exc
        self.method = method.decode("ascii", "replace")
        path = target.decode("ascii", "surrogateescape")
        if "Transfer-Encoding" in headers:
            self.bad_body = True
        else:
            try:
                n = int(headers.get("Content-Length", "0"))
            except ValueError:
                n = -1
            if n < 0 or n > MAX_BODY:
                self.bad_body = True
            elif n:
                self.body = await self.reader.readexactly(n)
        self.path = path
        self.request_headers = headers
        return path, headers

    async def process_request(self, path, headers):
        peer = self.transport.get_extra_info("peername") or ("?", 0)
        u = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if self.bad_body:
            ans = response(400, "unsupported request body\n")
        else:
            ans = await self.app.route(self, self.method, u.path,
                                       query, headers, self.body)
        what = "upgrade" if ans is None else "%d" % ans[0].value
        log("%s %s %s -> %s%s", peer[0], self.method, path, what,
            self.app.describe(self))
        return ans

    async def close(self, code=1000, reason=""):
        # On shutdown websockets 10.4 also "closes" connections whose
        # handshake was refused and which are still draining; they have no
        # WebSocket state to close and the library would raise.
        if not hasattr(self, "transfer_data_task"):
            return
        await super().close(code, reason)

    def connection_lost(self, exc):
        super().connection_lost(exc)
        try:
            self.app.lost(self)
        except Exception as e:
            log("lost: %r", e)


# ---------------------------------------------------------------- main

def arg_parser(desc):
    p = argparse.ArgumentParser(description=desc)
    p.add_argument("--port", type=int, default=0,
                   help="TCP port, 0 picks a free one (default 0)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address(es) to listen on, comma-separated, all on "
                   "one port: 127.0.0.1 (default), ::1, or 127.0.0.1,::1")
    p.add_argument("--cert", required=True, help="server certificate PEM")
    p.add_argument("--key", required=True, help="server key PEM")
    p.add_argument("--screen", action="store_true",
                   help="after ServerInit act as a desktop that sends one "
                   "test picture per full update request, instead of "
                   "echoing (for a real viewer such as noVNC)")
    p.add_argument("--ping-interval", type=float, default=0,
                   help="send WebSocket pings every N seconds "
                   "(default 0: never)")
    return p


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    if os.environ.get("SSLKEYLOGFILE"):
        ctx.keylog_filename = os.environ["SSLKEYLOGFILE"]
    return ctx


async def _serve(app, args, subprotocols):
    proto = type("Proto", (MockProtocol,), {"app": app})
    ctx = tls_context(args.cert, args.key)
    servers = []
    port = args.port
    # Every address listens on the same port: the first one picks it.
    for host in [h.strip() for h in args.host.split(",") if h.strip()]:
        srv = await websockets.server.serve(
            app.session, host, port, ssl=ctx, create_protocol=proto,
            subprotocols=subprotocols, compression=None, max_size=1 << 24,
            ping_interval=args.ping_interval or None, close_timeout=1)
        port = list(srv.sockets)[0].getsockname()[1]
        servers.append(srv)
        log("listening on %s port %d", host, port)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: stop.done() or
                                stop.set_result(s))
    sys.stdout.write("READY port=%d\n" % port)
    sys.stdout.flush()
    sig = await stop
    log("signal %d, shutting down", sig)
    app.shutdown()
    for srv in servers:
        srv.close()
    try:
        await asyncio.wait_for(asyncio.gather(
            *[srv.wait_closed() for srv in servers]), 5)
    except asyncio.TimeoutError:
        log("connections did not close in time")


def run(app, args, subprotocols):
    # Library messages (handshake failures and the like) go to stderr with
    # their level, so that a test can look for "ERROR".
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s " + _progname +
                        "[%(process)d]: websockets %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    try:
        asyncio.run(_serve(app, args, subprotocols))
    except OSError as e:
        log("cannot listen: %s", e)
        sys.exit(1)
    sys.exit(0)
