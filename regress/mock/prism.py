#!/usr/bin/python3
#
# Mock Nutanix Prism gateway (Element or Central) for vncrelayd's regress
# tests: session logins, the v3 VM lookup, and the console WebSocket
# /vnc/vm/{uuid}/proxy with an RFB server (security None) that echoes bytes
# after ServerInit.  See regress/mock/README.md and shared/UPSTREAMS.md.

import base64
import binascii
import collections
import hmac
import json
import os
import re
import secrets
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rfb  # noqa: E402
from rfb import json_response, log, response  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DEFAULT_CLUSTER = "00000000-0000-0000-0000-0000000000c1"
CENTRAL_COOKIES = "NTNX_IGW_SESSION,NTNX_IAM_SESSION"
LOGIN_PAGE = "/console/login"
VNC_RE = re.compile(r"/vnc/vm/([^/]*)/proxy")
V3_VM_RE = re.compile(r"/api/nutanix/v3/vms/([^/]*)")


def new_stats():
    return {
        "logins": 0, "failed_logins": 0, "connections": 0, "active": 0,
        "vm_lookups": 0, "rfb_ready": 0, "echoed_bytes": 0,
        "text_frames_dropped": 0, "upgrade_requests": 0,
        "rejected": {}, "rejected_expired_cookie": 0,
        "rejected_no_cookie": 0,
        "last_cookie_header": "", "last_rest_cookie_header": "",
        "last_upgrade_headers": {}, "last_upgrade_path": "",
        "last_subprotocol": None,
    }


def v3_error(code, reason, message):
    return json_response(code, {
        "api_version": "3.1", "code": code, "state": "ERROR",
        "message_list": [{"reason": reason, "message": message}]})


class Prism:
    def __init__(self, args):
        self.args = args
        self.vms = {}                       # uuid -> cluster uuid
        for spec in args.vm or []:
            uuid, _, cluster = spec.partition("=")
            cluster = cluster or DEFAULT_CLUSTER
            if not UUID_RE.fullmatch(uuid) or \
               not UUID_RE.fullmatch(cluster):
                sys.exit("prism.py: bad --vm %r" % spec)
            self.vms[uuid.lower()] = cluster.lower()
        if args.mode == "element":
            self.cookie_names = ["JSESSIONID"]
        else:
            self.cookie_names = [c.strip() for c in
                                 args.central_cookies.split(",") if c.strip()]
        self.sessions = {}                  # value -> (name, expiry)
        self.per_vm = collections.Counter()
        self.live = set()
        self.stats = new_stats()

    # ---------------------------------------------------------- helpers

    def describe(self, proto):
        return ""

    def reject(self, ans):
        key = str(ans[0].value)
        self.stats["rejected"][key] = self.stats["rejected"].get(key, 0) + 1
        return ans

    def new_session(self):
        """A login: one fresh cookie per configured name."""
        self.stats["logins"] += 1
        expiry = time.monotonic() + self.args.cookie_lifetime
        out = []
        for name in self.cookie_names:
            value = secrets.token_hex(16)
            self.sessions[value] = (name, expiry)
            out.append(("Set-Cookie",
                        "%s=%s; Path=/; Secure; HttpOnly" % (name, value)))
        return out

    def cookie_state(self, headers):
        """'ok', 'expired' (a cookie of ours was sent, but is no longer
        valid) or 'none'."""
        seen = False
        now = time.monotonic()
        for name, values in rfb.cookies_of(headers).items():
            if name not in self.cookie_names:
                continue
            seen = True
            for v in values:
                s = self.sessions.get(v)
                if s and s[0] == name and s[1] > now:
                    return "ok"
        return "expired" if seen else "none"

    def basic_auth(self, headers):
        """None (no Basic credentials), True or False."""
        auth = headers.get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            raw = base64.b64decode(auth[6:].strip(), validate=True)
            user, _, pw = raw.decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (hmac.compare_digest(user, self.args.username) and
                hmac.compare_digest(pw, self.args.password))

    def expired_answer(self):
        st = self.args.expired_status
        if st == 302:
            return response(302, headers=[("Location", LOGIN_PAGE)])
        if st == 403:
            return response(403, "Forbidden\n")
        return response(401, "Authentication required\n",
                        headers=[("WWW-Authenticate", 'Basic realm="Prism"')])

    # ---------------------------------------------------------- routes

    async def route(self, proto, method, path, query, headers, body):
        if path.startswith("/_mock/"):
            return self.control(method, path, query)
        m = VNC_RE.fullmatch(path)
        if m:
            return self.upgrade(proto, method, m.group(1), query, headers)
        if self.args.mode == "element":
            if path == "/PrismGateway/j_spring_security_check":
                return self.element_login(method, headers, body)
        else:
            if path == "/api/nutanix/v3/clusters/list":
                return self.central_rest(method, "POST", headers, body,
                                         self.clusters_list)
            if path == "/api/nutanix/v3/users/me":
                return self.central_rest(method, "GET", headers, None,
                                         self.users_me)
            m = V3_VM_RE.fullmatch(path)
            if m:
                return self.vm_lookup(method, m.group(1), headers)
        return response(404, "Not found\n")

    def control(self, method, path, query):
        if path == "/_mock/stats" and method == "GET":
            st = dict(self.stats)
            st["sessions"] = sum(1 for s in self.sessions.values()
                                 if s[1] > time.monotonic())
            st["per_vm"] = {k: v for k, v in self.per_vm.items() if v}
            for k, v in self.stats["rejected"].items():
                st["rejected_" + k] = v
            return json_response(200, st)
        if method != "POST":
            return response(405, "Method not allowed\n")
        if path == "/_mock/expire":
            n = len(self.sessions)
            self.sessions.clear()
            log("expired %d session cookies", n)
            return json_response(200, {"expired": n})
        if path == "/_mock/reset":
            live = self.stats["active"]
            self.stats = new_stats()
            self.stats["active"] = live
            return json_response(200, {"reset": True})
        if path == "/_mock/drop":
            how = query.get("how", ["abort"])[0]
            n = len(self.live)
            for ws in list(self.live):
                if how == "close":
                    ws.loop.create_task(ws.close(1001, "going away"))
                else:
                    ws.transport.abort()
            return json_response(200, {"dropped": n})
        return response(404, "Not found\n")

    def element_login(self, method, headers, body):
        if method != "POST":
            return response(405, "Method not allowed\n")
        form = {}
        try:
            for k, v in urllib.parse.parse_qsl(body.decode("utf-8"),
                                               keep_blank_values=True):
                form[k] = v
        except UnicodeDecodeError:
            pass
        user = form.get("j_username", "")
        pw = form.get("j_password", "")
        if (hmac.compare_digest(user, self.args.username) and
                hmac.compare_digest(pw, self.args.password) and
                "j_username" in form and "j_password" in form):
            return response(200, "Success", headers=self.new_session())
        self.stats["failed_logins"] += 1
        if self.args.login_failure == 302:
            return response(302, headers=[("Location",
                                           LOGIN_PAGE)])
        return response(401, "Authentication failed\n")

    def central_rest(self, method, want, headers, body, answer):
        """clusters/list and users/me: Basic auth logs in (fresh cookies),
        a valid cookie alone is also accepted."""
        if method != want:
            return response(405, "Method not allowed\n")
        if body is not None:
            try:
                if not isinstance(json.loads(body or b"!"), dict):
                    raise ValueError
            except ValueError:
                return v3_error(400, "INVALID_REQUEST",
                                "request body must be a JSON object")
        basic = self.basic_auth(headers)
        if basic:
            return json_response(200, answer(), self.new_session())
        if basic is False:
            self.stats["failed_logins"] += 1
        elif self.cookie_state(headers) == "ok":
            return json_response(200, answer())
        return v3_error(401, "AUTHENTICATION_REQUIRED",
                        "Authentication required.")

    def clusters_list(self):
        clusters = sorted(set(self.vms.values()) | {DEFAULT_CLUSTER})
        return {
            "api_version": "3.1",
            "metadata": {"kind": "cluster", "length": len(clusters),
                         "total_matches": len(clusters), "offset": 0},
            "entities": [{"metadata": {"kind": "cluster", "uuid": c},
                          "status": {"name": "mock-cluster-" + c[-4:]}}
                         for c in clusters]}

    def users_me(self):
        return {
            "api_version": "3.1",
            "metadata": {"kind": "user",
                         "uuid": "00000000-0000-0000-0000-00000000a001"},
            "status": {"name": self.args.username, "state": "COMPLETE",
                       "resources": {"display_name": self.args.username}}}

    def vm_lookup(self, method, uuid, headers):
        if method != "GET":
            return response(405, "Method not allowed\n")
        self.stats["vm_lookups"] += 1
        self.stats["last_rest_cookie_header"] = \
            ", ".join(headers.get_all("Cookie"))
        if self.cookie_state(headers) != "ok":
            return v3_error(401, "AUTHENTICATION_REQUIRED",
                            "Authentication required.")
        if not UUID_RE.fullmatch(uuid):
            return v3_error(400, "INVALID_UUID", "invalid uuid " + uuid)
        cluster = self.vms.get(uuid.lower())
        if cluster is None:
            return v3_error(404, "ENTITY_NOT_FOUND",
                            "VM %s not found" % uuid.lower())
        return json_response(200, {
            "api_version": "3.1",
            "metadata": {"kind": "vm", "uuid": uuid.lower()},
            "spec": {"name": "mock-" + uuid.lower(),
                     "cluster_reference": {"kind": "cluster",
                                           "uuid": cluster}},
            "status": {"name": "mock-" + uuid.lower(), "state": "COMPLETE",
                       "cluster_reference": {"kind": "cluster",
                                             "uuid": cluster},
                       "resources": {"power_state": "ON"}}})

    def upgrade(self, proto, method, uuid, query, headers):
        st = self.stats
        st["upgrade_requests"] += 1
        st["last_upgrade_headers"] = rfb.headers_dict(headers)
        st["last_cookie_header"] = ", ".join(headers.get_all("Cookie"))
        st["last_upgrade_path"] = proto.path
        if method != "GET":
            return self.reject(response(405, "Method not allowed\n"))
        cs = self.cookie_state(headers)
        if cs != "ok":
            st["rejected_expired_cookie" if cs == "expired"
               else "rejected_no_cookie"] += 1
            return self.reject(self.expired_answer())
        if not UUID_RE.fullmatch(uuid):
            return self.reject(response(400, "Invalid VM uuid\n"))
        uuid = uuid.lower()
        cluster = self.vms.get(uuid)
        if cluster is None:
            return self.reject(response(404, "VM not found\n"))
        pcu = query.get("proxyClusterUuid")
        if self.args.mode == "central":
            if not pcu or pcu[-1].lower() != cluster:
                return self.reject(response(
                    400, "Missing or wrong proxyClusterUuid\n"))
        protos = rfb.header_values(headers, "Sec-WebSocket-Protocol")
        if self.args.require_subprotocol and "binary" not in protos:
            return self.reject(response(400, "Subprotocol binary "
                                        "required\n"))
        if self.per_vm[uuid] >= self.args.max_per_vm:
            return self.reject(response(503, "Too many console "
                                        "connections for this VM\n"))
        self.per_vm[uuid] += 1
        proto.mock_vm = uuid
        proto.mock_name = uuid
        return None

    def lost(self, proto):
        vm = getattr(proto, "mock_vm", None)
        if vm is not None:
            self.per_vm[vm] -= 1
            proto.mock_vm = None

    async def session(self, ws):
        st = self.stats
        st["connections"] += 1
        st["active"] += 1
        st["last_subprotocol"] = ws.subprotocol
        self.live.add(ws)
        vm = ws.mock_name
        reason = "?"
        log("console %s open, subprotocol %s", vm, ws.subprotocol)
        try:
            reason = await rfb.rfb_session(ws, vm, st,
                                           screen=self.args.screen)
        except ConnectionClosed as e:
            reason = "closed %s" % (e.code,)
        finally:
            self.live.discard(ws)
            st["active"] -= 1
            log("console %s ended: %s", vm, reason)

    def shutdown(self):
        pass


def main():
    p = rfb.arg_parser("Mock Nutanix Prism console gateway")
    p.add_argument("--username", default="admin")
    p.add_argument("--password", default="secret")
    p.add_argument("--mode", choices=["element", "central"],
                   default="element")
    p.add_argument("--cookie-lifetime", type=float, default=3600,
                   metavar="SECONDS")
    p.add_argument("--expired-status", type=int, choices=[401, 403, 302],
                   default=401,
                   help="upgrade answer for a missing/expired cookie")
    p.add_argument("--login-failure", type=int, choices=[401, 302],
                   default=401, help="Element login failure answer")
    p.add_argument("--vm", action="append", metavar="UUID[=CLUSTER]",
                   help="a known VM (repeatable)")
    p.add_argument("--require-subprotocol", action="store_true",
                   help="refuse upgrades that do not offer 'binary'")
    p.add_argument("--max-per-vm", type=int, default=32,
                   help="concurrent consoles per VM (default 32)")
    p.add_argument("--central-cookies", default=CENTRAL_COOKIES,
                   help="cookies a Central login sets (default %s)" %
                   CENTRAL_COOKIES)
    args = p.parse_args()
    rfb.set_progname("prism")
    rfb.run(Prism(args), args, ["binary"])


if __name__ == "__main__":
    main()
