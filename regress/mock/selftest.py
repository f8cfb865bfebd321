#!/usr/bin/python3
#
# Self-check of the mock upstreams: makes test certificates, starts
# prism.py and kubeapi.py on free ports and drives them with
# python3-websockets and http.client.  Prints "ok - ..." / "not ok - ..."
# lines, then a summary; exits 1 if anything failed.
#
#   /usr/bin/python3 regress/mock/selftest.py [-v]

import asyncio
import base64
import hashlib
import json
import os
import random
import select
import signal
import ssl
import struct
import subprocess
import sys
import tempfile
import http.client

import websockets.client
from websockets.exceptions import ConnectionClosed

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
VERBOSE = "-v" in sys.argv[1:]

VM1 = "11111111-2222-3333-4444-555555555555"
VM2 = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
VM_UNKNOWN = "99999999-9999-9999-9999-999999999999"
CL_DEFAULT = "00000000-0000-0000-0000-0000000000c1"
CL9 = "c9c9c9c9-0000-0000-0000-000000000009"
PASSWORD = "s3cr3t-pw-selftest"

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok - %s" % name)
    else:
        failed += 1
        print("not ok - %s%s" % (name, ": " + str(detail) if detail else ""))
    sys.stdout.flush()
    return cond


class Mock:
    def __init__(self, tmp, script, args, cert="server"):
        self.name = script
        self.errpath = os.path.join(tmp, "%s.%d.err" % (script, id(self)))
        self.err = open(self.errpath, "wb")
        cmd = [PY, os.path.join(HERE, script), "--port", "0",
               "--cert", os.path.join(tmp, cert + ".pem"),
               "--key", os.path.join(tmp, cert + ".key")] + args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.err)
        self.port = None
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if r else ""
        if line.startswith("READY port="):
            self.port = int(line.split("=", 1)[1])
        check("%s %s prints READY" % (script, " ".join(args[:2])),
              self.port is not None, repr(line))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.err.close()
        log = self.log()
        if VERBOSE:
            for line in log.splitlines():
                print("# %s" % line)
        check("%s: no traceback or error in its log" % self.name,
              "Traceback" not in log and " ERROR" not in log.upper()
              .replace("_ERROR", ""), log[-2000:])
        return rc

    def log(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Client:
    def __init__(self, tmp):
        self.ctx = ssl.create_default_context(
            cafile=os.path.join(tmp, "ca.pem"))

    def request(self, port, method, path, body=None, headers=None):
        c = http.client.HTTPSConnection("localhost", port, context=self.ctx,
                                        timeout=10)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read() if r.status != 101 else b""
        hdrs = r.getheaders()
        c.close()
        if VERBOSE:
            print("# %s %s -> %d" % (method, path, r.status))
        return r.status, hdrs, data

    def upgrade_status(self, port, path, headers=None):
        h = {"Connection": "Upgrade", "Upgrade": "websocket",
             "Sec-WebSocket-Version": "13",
             "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
        h.update(headers or {})
        return self.request(port, "GET", path, headers=h)

    def stats(self, port):
        st, _, body = self.request(port, "GET", "/_mock/stats")
        return json.loads(body)

    def connect(self, port, path, subprotocols=None, headers=None):
        return websockets.client.connect(
            "wss://localhost:%d%s" % (port, path), ssl=self.ctx,
            subprotocols=subprotocols, extra_headers=headers or {},
            compression=None, max_size=None, open_timeout=10,
            close_timeout=2, ping_interval=None)


def hget(hdrs, name):
    return [v for k, v in hdrs if k.lower() == name.lower()]


def set_cookies(hdrs):
    out = {}
    for v in hget(hdrs, "Set-Cookie"):
        k, _, rest = v.partition("=")
        out[k] = rest.split(";", 1)[0]
    return out


# ------------------------------------------------------------ RFB client

class Rfb:
    def __init__(self, ws):
        self.ws = ws
        self.buf = bytearray()

    async def need(self, n):
        while len(self.buf) < n:
            m = await self.ws.recv()
            if isinstance(m, str):
                raise ValueError("text frame from server")
            self.buf += m
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def handshake(self):
        """Returns (width, height, pixel format, name)."""
        ver = await self.need(12)
        if ver != b"RFB 003.008\n":
            raise ValueError("version %r" % ver)
        await self.ws.send(b"RFB 003.008\n")
        sec = await self.need(2)
        if sec != b"\x01\x01":
            raise ValueError("security types %r" % sec)
        await self.ws.send(b"\x01")
        res = await self.need(4)
        if res != b"\0\0\0\0":
            raise ValueError("SecurityResult %r" % res)
        await self.ws.send(b"\x01")
        w, h = struct.unpack(">HH", await self.need(4))
        pf = await self.need(16)
        n, = struct.unpack(">I", await self.need(4))
        name = (await self.need(n)).decode()
        return w, h, pf, name

    async def echo(self, total, maxchunk=8192, text_noise=False):
        """Sends total random bytes in random chunks while reading them
        back; returns (sha256 sent, sha256 received)."""
        data = os.urandom(total)
        got = hashlib.sha256()
        rnd = random.Random(total)

        async def sender():
            i = 0
            while i < total:
                n = rnd.randint(1, maxchunk)
                if text_noise and rnd.random() < 0.2:
                    await self.ws.send("text frame noise")
                await self.ws.send(data[i:i + n])
                i += n

        async def receiver():
            left = total
            if self.buf:
                got.update(self.buf[:left])
                left -= len(self.buf[:left])
                self.buf.clear()
            while left > 0:
                m = await self.ws.recv()
                if isinstance(m, str):
                    raise ValueError("text frame from server")
                got.update(m)
                left -= len(m)

        await asyncio.gather(sender(), receiver())
        return hashlib.sha256(data).hexdigest(), got.hexdigest()


PF_EXPECT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255,
                        16, 8, 0)


async def console_ok(cl, port, path, want_name, subprotocols=None,
                     headers=None, want_proto=None, label=""):
    """Full RFB handshake plus a byte-exact echo."""
    try:
        async with cl.connect(port, path, subprotocols, headers) as ws:
            check("%s subprotocol %r" % (label, want_proto),
                  ws.subprotocol == want_proto, ws.subprotocol)
            r = Rfb(ws)
            w, h, pf, name = await r.handshake()
            check("%s ServerInit 640x480 32bpp, name %s" % (label, want_name),
                  (w, h, pf, name) == (640, 480, PF_EXPECT, want_name),
                  (w, h, pf.hex(), name))
            a, b = await r.echo(200000, text_noise=True)
            check("%s echo 200000 bytes sha256 equal" % label, a == b)
            a, b = await r.echo(1)
            check("%s echo 1 byte" % label, a == b)
            return True
    except Exception as e:
        check("%s console session" % label, False, repr(e))
        return False


# ------------------------------------------------------------ Prism

async def test_prism_element(tmp, cl):
    m = Mock(tmp, "prism.py", ["--mode", "element", "--password", PASSWORD,
                               "--vm", VM1, "--vm", VM2 + "=" + CL9])
    if not m.port:
        return m.stop()
    p = m.port
    login = "/PrismGateway/j_spring_security_check"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    st, h, body = cl.request(p, "POST", login,
                             "j_username=admin&j_password=wrong", form)
    check("element: wrong password -> 401", st == 401, st)
    st, h, body = cl.request(p, "POST", login,
                             "j_username=admin&j_password=" + PASSWORD, form)
    jar = set_cookies(h)
    check("element: login -> 200 Success + JSESSIONID",
          st == 200 and body == b"Success" and "JSESSIONID" in jar,
          (st, body, jar))
    cookie = {"Cookie": "JSESSIONID=" + jar.get("JSESSIONID", "")}
    s = cl.stats(p)
    check("element: stats logins 1 failed 1",
          s["logins"] == 1 and s["failed_logins"] == 1, s)

    path1 = "/vnc/vm/%s/proxy" % VM1
    st, _, _ = cl.upgrade_status(p, path1)
    check("element: upgrade without cookie -> 401", st == 401, st)
    st, _, _ = cl.upgrade_status(p, path1, {"Cookie": "JSESSIONID=bogus"})
    check("element: upgrade with unknown cookie -> 401", st == 401, st)
    st, _, _ = cl.upgrade_status(p, "/vnc/vm/1111-2222/proxy", cookie)
    check("element: malformed uuid -> 400", st == 400, st)
    st, _, _ = cl.upgrade_status(p, "/vnc/vm/%s/proxy" % VM_UNKNOWN, cookie)
    check("element: unknown VM -> 404", st == 404, st)

    await console_ok(cl, p, path1, "mock-" + VM1, ["binary"], cookie,
                     "binary", "element(binary):")
    await console_ok(cl, p, "/vnc/vm/%s/proxy" % VM2.upper(),
                     "mock-" + VM2, None, cookie, None, "element(none):")
    s = cl.stats(p)
    check("element: stats connections 2, rfb_ready 2, last cookie header",
          s["connections"] == 2 and s["rfb_ready"] == 2 and
          s["last_cookie_header"] == cookie["Cookie"] and
          s["last_upgrade_headers"].get("Cookie") == cookie["Cookie"], s)
    check("element: text frames dropped and counted",
          s["text_frames_dropped"] > 0, s["text_frames_dropped"])

    # 32 concurrent consoles per VM, the 33rd is refused.
    conns = []
    try:
        for i in range(32):
            conns.append(await cl.connect(p, path1, ["binary"], cookie))
        st, _, _ = cl.upgrade_status(p, path1, cookie)
        check("element: 33rd concurrent console -> 503", st == 503, st)
        st, _, _ = cl.upgrade_status(p, "/vnc/vm/%s/proxy" % VM2, cookie)
        check("element: other VM still admitted (limit is per VM)",
              st == 101, st)
        check("element: stats active >= 32", cl.stats(p)["active"] >= 32)
    except Exception as e:
        check("element: 32 concurrent consoles", False, repr(e))
    for ws in conns:
        await ws.close()
    ok = False
    for _ in range(50):
        if cl.stats(p)["per_vm"].get(VM1, 0) == 0:
            ok = True
            break
        await asyncio.sleep(0.05)
    check("element: slots released after close", ok)
    st, _, _ = cl.upgrade_status(p, path1, cookie)
    check("element: console admitted again", st == 101, st)

    st, _, body = cl.request(p, "POST", "/_mock/expire")
    check("element: /_mock/expire", st == 200, (st, body))
    st, _, _ = cl.upgrade_status(p, path1, cookie)
    check("element: expired cookie -> 401", st == 401, st)
    s = cl.stats(p)
    check("element: stats counts expired-cookie rejection",
          s["rejected_expired_cookie"] >= 2 and s["rejected_401"] >= 3, s)
    rc = m.stop()
    check("element: exit 0 on SIGTERM", rc == 0, rc)
    log = m.log()
    check("element: password and cookie values not logged",
          PASSWORD not in log and jar.get("JSESSIONID", "x") not in log)


async def test_prism_element_variants(tmp, cl):
    m = Mock(tmp, "prism.py", ["--mode", "element", "--vm", VM1,
                               "--cookie-lifetime", "1",
                               "--expired-status", "302",
                               "--login-failure", "302",
                               "--require-subprotocol"])
    if not m.port:
        return m.stop()
    p = m.port
    login = "/PrismGateway/j_spring_security_check"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    st, h, _ = cl.request(p, "POST", login, "j_username=admin&j_password=x",
                          form)
    check("element/302: wrong password -> 302 /console/login",
          st == 302 and hget(h, "Location") == ["/console/login"], (st, h))
    st, h, _ = cl.request(p, "POST", login,
                          "j_username=admin&j_password=secret", form)
    jar = set_cookies(h)
    check("element/302: login -> 200", st == 200 and "JSESSIONID" in jar)
    cookie = {"Cookie": "JSESSIONID=" + jar.get("JSESSIONID", "")}
    path1 = "/vnc/vm/%s/proxy" % VM1
    st, _, _ = cl.upgrade_status(p, path1, cookie)
    check("element/302: --require-subprotocol refuses no subprotocol -> 400",
          st == 400, st)
    st, _, _ = cl.upgrade_status(p, path1, dict(
        cookie, **{"Sec-WebSocket-Protocol": "base64, binary"}))
    check("element/302: 'base64, binary' offered -> 101", st == 101, st)
    await asyncio.sleep(1.3)
    st, h, _ = cl.upgrade_status(p, path1, dict(
        cookie, **{"Sec-WebSocket-Protocol": "binary"}))
    check("element/302: cookie past its lifetime -> 302 /console/login",
          st == 302 and hget(h, "Location") == ["/console/login"], (st, h))
    rc = m.stop()
    check("element/302: exit 0 on SIGTERM", rc == 0, rc)


async def test_prism_central(tmp, cl):
    m = Mock(tmp, "prism.py", ["--mode", "central", "--password", PASSWORD,
                               "--expired-status", "403",
                               "--vm", VM1 + "=" + CL9, "--vm", VM2])
    if not m.port:
        return m.stop()
    p = m.port
    bad = {"Authorization": "Basic " +
           base64.b64encode(b"admin:nope").decode(),
           "Content-Type": "application/json"}
    good = {"Authorization": "Basic " +
            base64.b64encode(("admin:" + PASSWORD).encode()).decode(),
            "Content-Type": "application/json"}
    st, _, _ = cl.request(p, "POST", "/api/nutanix/v3/clusters/list", "{}",
                          bad)
    check("central: clusters/list wrong password -> 401", st == 401, st)
    st, _, _ = cl.request(p, "POST", "/api/nutanix/v3/clusters/list", "",
                          good)
    check("central: clusters/list without a JSON body -> 400", st == 400, st)
    st, h, body = cl.request(p, "POST", "/api/nutanix/v3/clusters/list",
                             "{}", good)
    jar = set_cookies(h)
    check("central: clusters/list -> 200 JSON + IGW and IAM cookies",
          st == 200 and "entities" in json.loads(body) and
          set(jar) == {"NTNX_IGW_SESSION", "NTNX_IAM_SESSION"}, (st, jar))
    st, h, body = cl.request(p, "GET", "/api/nutanix/v3/users/me",
                             headers={"Authorization": good["Authorization"]})
    check("central: users/me with Basic -> 200 + cookies",
          st == 200 and len(set_cookies(h)) == 2, st)
    s = cl.stats(p)
    check("central: stats logins 2 failed 1",
          s["logins"] == 2 and s["failed_logins"] == 1, s)
    both = {"Cookie": "; ".join("%s=%s" % kv for kv in sorted(jar.items()))}
    iam = {"Cookie": "NTNX_IAM_SESSION=" + jar.get("NTNX_IAM_SESSION", "")}
    igw = {"Cookie": "NTNX_IGW_SESSION=" + jar.get("NTNX_IGW_SESSION", "")}

    st, _, body = cl.request(p, "GET", "/api/nutanix/v3/vms/" + VM1,
                             headers=both)
    cluster = None
    try:
        cluster = json.loads(body)["status"]["cluster_reference"]["uuid"]
    except Exception:
        pass
    check("central: vms/{uuid} -> cluster_reference", st == 200 and
          cluster == CL9, (st, body[:200]))
    st, _, body = cl.request(p, "GET", "/api/nutanix/v3/vms/" + VM2,
                             headers=igw)
    check("central: vms/{uuid} default cluster", st == 200 and
          json.loads(body)["status"]["cluster_reference"]["uuid"] ==
          CL_DEFAULT, body[:200])
    st, _, _ = cl.request(p, "GET", "/api/nutanix/v3/vms/" + VM_UNKNOWN,
                          headers=both)
    check("central: unknown VM lookup -> 404", st == 404, st)
    st, _, _ = cl.request(p, "GET", "/api/nutanix/v3/vms/" + VM1)
    check("central: VM lookup without cookie -> 401", st == 401, st)
    check("central: stats vm_lookups 4", cl.stats(p)["vm_lookups"] == 4)

    base = "/vnc/vm/%s/proxy" % VM1
    st, _, _ = cl.upgrade_status(p, base + "?proxyClusterUuid=" + CL9)
    check("central: upgrade without cookie -> 403", st == 403, st)
    st, _, _ = cl.upgrade_status(p, base, both)
    check("central: upgrade without proxyClusterUuid -> 400", st == 400, st)
    st, _, _ = cl.upgrade_status(p, base + "?proxyClusterUuid=" +
                                 CL_DEFAULT, both)
    check("central: wrong proxyClusterUuid -> 400", st == 400, st)
    st, _, _ = cl.upgrade_status(p, "/vnc/vm/%s/proxy?proxyClusterUuid=%s"
                                 % (VM_UNKNOWN, CL9), both)
    check("central: unknown VM upgrade -> 404", st == 404, st)
    await console_ok(cl, p, base + "?proxyClusterUuid=" + CL9,
                     "mock-" + VM1, ["binary"], iam, "binary",
                     "central(IAM cookie):")
    await console_ok(cl, p, base + "?proxyClusterUuid=" + CL9.upper(),
                     "mock-" + VM1, ["binary"], igw, "binary",
                     "central(IGW cookie):")

    cl.request(p, "POST", "/_mock/expire")
    st, _, _ = cl.request(p, "GET", "/api/nutanix/v3/vms/" + VM1,
                          headers=both)
    check("central: expired session, REST -> 401", st == 401, st)
    st, _, _ = cl.upgrade_status(p, base + "?proxyClusterUuid=" + CL9, both)
    check("central: expired session, upgrade -> 403", st == 403, st)
    s = cl.stats(p)
    check("central: stats upgrade headers recorded",
          s["last_upgrade_headers"].get("Cookie") == both["Cookie"] and
          s["last_cookie_header"] == both["Cookie"], s)
    rc = m.stop()
    check("central: exit 0 on SIGTERM", rc == 0, rc)
    check("central: password not logged", PASSWORD not in m.log())

    # Only the IAM cookie is set; the IGW one is then not accepted.
    m = Mock(tmp, "prism.py", ["--mode", "central", "--vm", VM1,
                               "--central-cookies", "NTNX_IAM_SESSION"])
    if not m.port:
        return m.stop()
    good = {"Authorization": "Basic " +
            base64.b64encode(b"admin:secret").decode()}
    st, h, _ = cl.request(m.port, "GET", "/api/nutanix/v3/users/me",
                          headers=good)
    jar = set_cookies(h)
    check("central/IAM only: users/me sets only NTNX_IAM_SESSION",
          st == 200 and list(jar) == ["NTNX_IAM_SESSION"], (st, jar))
    path = "/vnc/vm/%s/proxy?proxyClusterUuid=%s" % (VM1, CL_DEFAULT)
    st, _, _ = cl.upgrade_status(m.port, path, {
        "Cookie": "NTNX_IGW_SESSION=" + jar.get("NTNX_IAM_SESSION", "")})
    check("central/IAM only: the value under another name -> 401", st == 401,
          st)
    st, _, _ = cl.upgrade_status(m.port, path, {
        "Cookie": "other=1; NTNX_IAM_SESSION=" +
        jar.get("NTNX_IAM_SESSION", "")})
    check("central/IAM only: upgrade -> 101", st == 101, st)
    m.stop()


# ------------------------------------------------------------ KubeVirt

VNC = ("/apis/subresources.kubevirt.io/%s/namespaces/%s/"
       "virtualmachineinstances/%s/vnc")


def kstatus(body):
    try:
        j = json.loads(body)
        return (j["kind"], j["apiVersion"], j["status"], j["code"],
                j["reason"], j["message"])
    except Exception:
        return None


async def test_kubeapi(tmp, cl):
    tokfile = os.path.join(tmp, "token")
    tok_a = "tokA-" + os.urandom(8).hex()
    tok_b = "tokB-" + os.urandom(8).hex()
    tok_f = "tokF-" + os.urandom(8).hex()
    with open(tokfile, "w") as f:
        f.write(tok_a + "\n")
    m = Mock(tmp, "kubeapi.py", ["--token-file", tokfile,
                                 "--forbidden-token", tok_f,
                                 "--vmi", "default/vm1",
                                 "--vmi", "default/vm2=running",
                                 "--vmi", "default/off=stopped",
                                 "--vmi", "other/nog=nographics"])
    if not m.port:
        return m.stop()
    p = m.port
    auth = {"Authorization": "Bearer " + tok_a}
    vm1 = VNC % ("v1", "default", "vm1")

    st, _, body = cl.upgrade_status(p, vm1)
    check("kube: no Authorization -> 401 Status",
          st == 401 and kstatus(body) == ("Status", "v1", "Failure", 401,
                                          "Unauthorized", "Unauthorized"),
          (st, body))
    st, _, body = cl.upgrade_status(p, vm1, {"Authorization":
                                             "Bearer wrong"})
    check("kube: wrong token -> 401", st == 401, st)
    st, _, body = cl.upgrade_status(p, vm1, {"Authorization":
                                             "Bearer " + tok_f})
    ks = kstatus(body)
    check("kube: forbidden token -> 403 Status Forbidden",
          st == 403 and ks and ks[3:5] == (403, "Forbidden"), (st, body))
    s = cl.stats(p)
    check("kube: stats rejected_401 2, rejected_403 1, last auth not ok",
          s["rejected_401"] == 2 and s["rejected_403"] == 1 and
          s["last_authorization_ok"] is False, s)
    st, _, body = cl.upgrade_status(p, VNC % ("v1", "default", "nosuch"),
                                    auth)
    ks = kstatus(body)
    check("kube: unknown VMI -> 404 Status NotFound",
          st == 404 and ks and ks[3:5] == (404, "NotFound"), (st, body))
    st, _, body = cl.upgrade_status(p, VNC % ("v1", "default", "off"), auth)
    ks = kstatus(body)
    check("kube: stopped VMI -> 400 'VMI is not running'",
          st == 400 and ks and ks[3:] == (400, "BadRequest",
                                          "VMI is not running"), (st, body))
    st, _, body = cl.upgrade_status(p, VNC % ("v1", "other", "nog"), auth)
    ks = kstatus(body)
    check("kube: no graphics -> 400 'No graphics devices are present.'",
          st == 400 and ks and ks[5] == "No graphics devices are present.",
          (st, body))
    st, _, body = cl.request(p, "GET", "/api/v1/pods", headers=auth)
    check("kube: other path -> 404 Status", st == 404 and kstatus(body),
          st)

    await console_ok(cl, p, vm1, "mock-vm1", ["plain.kubevirt.io"], auth,
                     "plain.kubevirt.io", "kube(v1, offered):")
    await console_ok(cl, p, VNC % ("v1alpha3", "default", "vm2"),
                     "mock-vm2", None, auth, None, "kube(v1alpha3, none):")
    s = cl.stats(p)
    check("kube: stats connections 2, last auth ok, token redacted",
          s["connections"] == 2 and s["last_authorization_ok"] is True and
          tok_a not in json.dumps(s), s)

    st, _, _ = cl.upgrade_status(p, vm1 + "?preserveSession=true", auth)
    check("kube: preserveSession=true without a session -> 101", st == 101,
          st)

    # One session per VMI.
    try:
        old = await cl.connect(p, vm1, ["plain.kubevirt.io"], auth)
        await Rfb(old).handshake()
        st, _, body = cl.upgrade_status(p, vm1 + "?preserveSession=true",
                                        auth)
        ks = kstatus(body)
        check("kube: preserveSession=true with a session -> 503",
              st == 503 and ks and
              ks[5] == "Active VNC connection. Request denied.", (st, body))
        new = await cl.connect(p, vm1 + "?preserveSession=false",
                               ["plain.kubevirt.io"], auth)
        rcvd = "no exception"
        try:
            await asyncio.wait_for(old.recv(), 5)
        except ConnectionClosed as e:
            rcvd = e.rcvd
        check("kube: new session kicks the old one, no close frame",
              rcvd is None, rcvd)
        r = Rfb(new)
        await r.handshake()
        a, b = await r.echo(5000)
        check("kube: new session works after the kick", a == b)
        check("kube: stats kicked 1", cl.stats(p)["kicked"] == 1)
        await new.close()
    except Exception as e:
        check("kube: session kick", False, repr(e))

    # Session ended by the upstream: TCP dropped, no close frame.
    try:
        ws = await cl.connect(p, vm1, None, auth)
        await Rfb(ws).handshake()
        cl.request(p, "POST", "/_mock/drop")
        rcvd = "no exception"
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as e:
            rcvd = e.rcvd
        check("kube: /_mock/drop ends without a close frame", rcvd is None,
              rcvd)
    except Exception as e:
        check("kube: /_mock/drop", False, repr(e))

    # Token rotation: the file is re-read on every request.
    with open(tokfile, "w") as f:
        f.write(tok_b + "\n")
    st, _, _ = cl.upgrade_status(p, vm1, auth)
    check("kube: rotated token, old one -> 401", st == 401, st)
    await console_ok(cl, p, vm1, "mock-vm1", ["plain.kubevirt.io"],
                     {"Authorization": "Bearer " + tok_b},
                     "plain.kubevirt.io", "kube(rotated token):")

    st, _, _ = cl.request(p, "POST", "/_mock/vmi?vmi=default/vm2&state="
                          "stopped")
    st2, _, _ = cl.upgrade_status(p, VNC % ("v1", "default", "vm2"),
                                  {"Authorization": "Bearer " + tok_b})
    check("kube: /_mock/vmi changes state", st == 200 and st2 == 400,
          (st, st2))

    # SIGTERM with a session open.
    ws = await cl.connect(p, vm1, None, {"Authorization": "Bearer " + tok_b})
    await Rfb(ws).handshake()
    rc = m.stop()
    check("kube: exit 0 on SIGTERM with a session open", rc == 0, rc)
    await ws.close()
    log = m.log()
    check("kube: bearer tokens never logged",
          tok_a not in log and tok_b not in log and tok_f not in log)


async def test_kubeapi_cut(tmp, cl):
    tokfile = os.path.join(tmp, "token2")
    with open(tokfile, "w") as f:
        f.write("cut-token")
    m = Mock(tmp, "kubeapi.py", ["--token-file", tokfile,
                                 "--close-after-bytes", "1000",
                                 "--vmi", "ns/cut"])
    if not m.port:
        return m.stop()
    try:
        async with cl.connect(m.port, VNC % ("v1", "ns", "cut"), None,
                              {"Authorization": "Bearer cut-token"}) as ws:
            r = Rfb(ws)
            await r.handshake()
            await ws.send(os.urandom(3000))
            got = 0
            rcvd = "no exception"
            try:
                while True:
                    got += len(await asyncio.wait_for(ws.recv(), 5))
            except ConnectionClosed as e:
                rcvd = e.rcvd
            check("kube: --close-after-bytes 1000 echoes 1000 then drops "
                  "TCP without a close frame", got == 1000 and rcvd is None,
                  (got, rcvd))
    except Exception as e:
        check("kube: --close-after-bytes", False, repr(e))
    rc = m.stop()
    check("kube(cut): exit 0 on SIGTERM", rc == 0, rc)


async def test_screen(tmp, cl):
    """--screen: the viewer's pixel format is honoured and a full update
    request gets the checkerboard as one Raw rectangle."""
    m = Mock(tmp, "prism.py", ["--mode", "element", "--password", PASSWORD,
                               "--vm", VM1, "--screen"])
    if not m.port:
        return m.stop()
    st, hdrs, _ = cl.request(m.port, "POST",
                             "/PrismGateway/j_spring_security_check",
                             body="j_username=admin&j_password=" + PASSWORD,
                             headers={"Content-Type":
                                      "application/x-www-form-urlencoded"})
    cookie = "JSESSIONID=" + set_cookies(hdrs).get("JSESSIONID", "")
    try:
        async with cl.connect(m.port, "/vnc/vm/%s/proxy" % VM1, ["binary"],
                              {"Cookie": cookie}) as ws:
            r = Rfb(ws)
            await r.handshake()
            # noVNC's choice: 32 bpp little-endian, red at shift 0.
            pf = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255,
                             0, 8, 16)
            await ws.send(b"\0\0\0\0" + pf)
            await ws.send(struct.pack(">BxHi", 2, 1, 0))
            await ws.send(struct.pack(">BBHI", 4, 1, 0, 0x61))
            await ws.send(struct.pack(">BBHH", 5, 0, 10, 10))
            await ws.send(struct.pack(">BBHHHH", 3, 0, 0, 0, 640, 480))
            head = await r.need(4)
            check("screen: an update of 15 rectangles",
                  head == struct.pack(">BxH", 0, 15), head.hex())
            pix = b""
            for y in range(0, 480, 32):
                rect = await r.need(12)
                check("screen: Raw rectangle 640x32 at row %d" % y,
                      rect == struct.pack(">HHHHi", 0, y, 640, 32, 0),
                      rect.hex())
                pix += await r.need(640 * 32 * 4)
            check("screen: checkerboard in the client's pixel format",
                  pix[:4] == bytes([0x46, 0x82, 0xb4, 0]) and
                  pix[16 * 4:17 * 4] == b"\xff\xff\xff\0" and
                  pix[640 * 16 * 4:640 * 16 * 4 + 4] == b"\xff\xff\xff\0",
                  (pix[:4].hex(), pix[64:68].hex()))
        check("screen: stats count one picture",
              cl.stats(m.port).get("screens_sent") == 1,
              cl.stats(m.port).get("screens_sent"))
    except Exception as e:
        check("screen: session", False, repr(e))
    m.stop()


async def main():
    with tempfile.TemporaryDirectory(prefix="mockself.") as tmp:
        r = subprocess.run(["sh", os.path.join(HERE, "mkcerts.sh"), tmp])
        if not check("mkcerts.sh", r.returncode == 0 and
                     os.path.exists(os.path.join(tmp, "wserver.pem"))):
            return
        cl = Client(tmp)
        for t in (test_prism_element, test_prism_element_variants,
                  test_prism_central, test_kubeapi, test_kubeapi_cut,
                  test_screen):
            try:
                await asyncio.wait_for(t(tmp, cl), 120)
            except Exception as e:
                check(t.__name__, False, repr(e))
        # The certificates a client must refuse: wrong CA, wrong name.
        tls_refused(tmp, "server", "wca.pem", "verify failed",
                    "TLS: server.pem refused with wca.pem")
        tls_refused(tmp, "wserver", "ca.pem", "verify failed",
                    "TLS: wserver.pem refused with ca.pem")
        tls_refused(tmp, "wrongname", "ca.pem", "Hostname mismatch",
                    "TLS: wrongname.pem refused for localhost")


def tls_refused(tmp, cert, ca, why, label):
    m = Mock(tmp, "prism.py", [], cert)
    ctx = ssl.create_default_context(cafile=os.path.join(tmp, ca))
    try:
        c = http.client.HTTPSConnection("localhost", m.port, context=ctx,
                                        timeout=5)
        c.request("GET", "/_mock/stats")
        c.getresponse()
        check(label, False, "accepted")
    except ssl.SSLCertVerificationError as e:
        check(label, why in str(e), e)
    m.stop()


if __name__ == "__main__":
    asyncio.run(main())
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
