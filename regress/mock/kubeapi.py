#!/usr/bin/python3
#
# Mock Kubernetes API server with KubeVirt's VNC subresource for vncrelayd's
# regress tests: bearer-token authentication (token file re-read on every
# request), RBAC refusal, Kubernetes Status errors before the upgrade, one
# session per VMI, and an RFB server (security None) that echoes bytes after
# ServerInit.  Sessions end by dropping TCP without a close frame.
# See regress/mock/README.md and shared/UPSTREAMS.md.

import hmac
import os
import re
import sys

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rfb  # noqa: E402
from rfb import json_response, log  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

VNC_RE = re.compile(r"/apis/subresources\.kubevirt\.io/(v1|v1alpha3)/"
                    r"namespaces/([^/]+)/virtualmachineinstances/([^/]+)/vnc")
STATES = ("running", "stopped", "nographics")
SUBPROTOCOL = "plain.kubevirt.io"


def status(code, reason, message):
    """A Kubernetes Status answer."""
    return json_response(code, {
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason,
        "code": code})


def new_stats():
    return {
        "connections": 0, "active": 0, "upgrade_requests": 0,
        "rejected_400": 0, "rejected_401": 0, "rejected_403": 0,
        "rejected_404": 0, "rejected_405": 0, "rejected_503": 0,
        "kicked": 0, "dropped": 0, "rfb_ready": 0, "echoed_bytes": 0,
        "text_frames_dropped": 0,
        "last_authorization_ok": False,
        "last_authorization_present": False,
        "last_path": "", "last_api_version": None,
        "last_preserve_session": None, "last_subprotocol": None,
        "last_upgrade_headers": {},
    }


class KubeApi:
    def __init__(self, args):
        self.args = args
        self.vmis = {}                      # (ns, name) -> state
        for spec in args.vmi or []:
            nsname, _, state = spec.partition("=")
            ns, _, name = nsname.partition("/")
            state = state or "running"
            if not ns or not name or "/" in name or state not in STATES:
                sys.exit("kubeapi.py: bad --vmi %r" % spec)
            self.vmis[(ns, name)] = state
        self.sessions = {}                  # (ns, name) -> protocol
        self.stats = new_stats()

    def describe(self, proto):
        return " auth=%s" % getattr(proto, "mock_auth", "-")

    def reject(self, ans):
        key = "rejected_%d" % ans[0].value
        if key in self.stats:
            self.stats[key] += 1
        return ans

    def current_token(self):
        try:
            with open(self.args.token_file, "rb") as f:
                return f.read().decode("utf-8", "replace").strip()
        except OSError as e:
            log("cannot read token file: %s", e.strerror)
            return ""

    def authenticate(self, proto, headers):
        """'ok', 'forbidden' or 'bad'; the token itself is never logged."""
        auth = headers.get("Authorization", "")
        self.stats["last_authorization_present"] = bool(auth)
        token = ""
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        cur = self.current_token()
        if token and cur and hmac.compare_digest(token, cur):
            res = "ok"
        elif (token and self.args.forbidden_token and
              hmac.compare_digest(token, self.args.forbidden_token)):
            res = "forbidden"
        else:
            res = "bad" if auth else "none"
        self.stats["last_authorization_ok"] = res == "ok"
        proto.mock_auth = res
        return res

    async def route(self, proto, method, path, query, headers, body):
        if path.startswith("/_mock/"):
            return self.control(method, path, query)
        m = VNC_RE.fullmatch(path)
        st = self.stats
        if m:
            st["upgrade_requests"] += 1
            st["last_path"] = path
            st["last_api_version"] = m.group(1)
            st["last_upgrade_headers"] = rfb.headers_dict(
                headers, redact=("authorization",))
        auth = self.authenticate(proto, headers)
        if auth in ("bad", "none"):
            return self.reject(status(401, "Unauthorized", "Unauthorized"))
        if auth == "forbidden":
            what = m.group(3) if m else ""
            ns = m.group(2) if m else ""
            return self.reject(status(
                403, "Forbidden",
                'virtualmachineinstances.subresources.kubevirt.io "%s" is '
                'forbidden: User "system:serviceaccount:mock:forbidden" '
                'cannot get resource "virtualmachineinstances/vnc" in API '
                'group "subresources.kubevirt.io" in the namespace "%s"'
                % (what, ns)))
        if not m:
            if path == "/version" and method == "GET":
                return json_response(200, {"major": "1", "minor": "29",
                                           "gitVersion": "v1.29.0-mock"})
            return self.reject(status(404, "NotFound", "the server could "
                                      "not find the requested resource"))
        return self.upgrade(proto, method, m.group(2), m.group(3), query)

    def upgrade(self, proto, method, ns, name, query):
        if method != "GET":
            return self.reject(status(405, "MethodNotAllowed",
                                      "the server does not allow this "
                                      "method on the requested resource"))
        state = self.vmis.get((ns, name))
        if state is None:
            return self.reject(status(
                404, "NotFound",
                'virtualmachineinstance.kubevirt.io "%s" not found' % name))
        if state == "stopped":
            return self.reject(status(400, "BadRequest",
                                      "VMI is not running"))
        if state == "nographics":
            return self.reject(status(400, "BadRequest",
                                      "No graphics devices are present."))
        preserve = query.get("preserveSession", [""])[-1].lower() == "true"
        self.stats["last_preserve_session"] = preserve
        key = (ns, name)
        old = self.sessions.get(key)
        if old is not None:
            if preserve:
                return self.reject(status(
                    503, "ServiceUnavailable",
                    "Active VNC connection. Request denied."))
            log("vmi %s/%s: new session kicks the old one", ns, name)
            self.stats["kicked"] += 1
            old.mock_key = None
            old.transport.abort()
        self.sessions[key] = proto
        proto.mock_key = key
        return None

    def control(self, method, path, query):
        if path == "/_mock/stats" and method == "GET":
            st = dict(self.stats)
            st["sessions"] = ["%s/%s" % k for k in sorted(self.sessions)]
            st["vmis"] = {"%s/%s" % k: v for k, v in self.vmis.items()}
            return json_response(200, st)
        if method != "POST":
            return status(405, "MethodNotAllowed", "use POST")
        if path == "/_mock/reset":
            live = self.stats["active"]
            self.stats = new_stats()
            self.stats["active"] = live
            return json_response(200, {"reset": True})
        if path == "/_mock/drop":
            n = len(self.sessions)
            for proto in list(self.sessions.values()):
                proto.transport.abort()
            self.stats["dropped"] += n
            return json_response(200, {"dropped": n})
        if path == "/_mock/vmi":
            vmi = query.get("vmi", [""])[-1]
            state = query.get("state", ["running"])[-1]
            ns, _, name = vmi.partition("/")
            if not ns or not name or state not in STATES + ("absent",):
                return status(400, "BadRequest", "vmi=NS/NAME&state=...")
            if state == "absent":
                self.vmis.pop((ns, name), None)
            else:
                self.vmis[(ns, name)] = state
            return json_response(200, {"vmi": vmi, "state": state})
        return status(404, "NotFound", "no such control route")

    def lost(self, proto):
        key = getattr(proto, "mock_key", None)
        if key is not None and self.sessions.get(key) is proto:
            del self.sessions[key]
        proto.mock_key = None

    async def session(self, ws):
        st = self.stats
        st["connections"] += 1
        st["active"] += 1
        st["last_subprotocol"] = ws.subprotocol
        key = ws.mock_key
        name = "%s/%s" % key if key else "?"
        reason = "?"
        log("vnc %s open, subprotocol %s", name, ws.subprotocol)
        try:
            reason = await rfb.rfb_session(ws, key[1] if key else "?", st,
                                           self.args.close_after_bytes,
                                           self.args.screen)
            if reason != "close-after-bytes":
                await rfb.drop_tcp(ws)
        except ConnectionClosed as e:
            reason = "closed %s" % (e.code,)
        finally:
            st["active"] -= 1
            log("vnc %s ended: %s", name, reason)

    def shutdown(self):
        for proto in list(self.sessions.values()):
            proto.transport.abort()


def main():
    p = rfb.arg_parser("Mock Kubernetes API server with KubeVirt VNC")
    p.add_argument("--token-file", required=True, metavar="PATH",
                   help="holds the valid bearer token; re-read per request")
    p.add_argument("--forbidden-token", metavar="T",
                   help="a token that authenticates but gets 403")
    p.add_argument("--vmi", action="append", metavar="NS/NAME[=STATE]",
                   help="a VMI: running (default), stopped, nographics")
    p.add_argument("--close-after-bytes", type=int, metavar="N",
                   help="drop TCP after echoing N bytes in a session")
    args = p.parse_args()
    rfb.set_progname("kubeapi")
    rfb.run(KubeApi(args), args, [SUBPROTOCOL])


if __name__ == "__main__":
    main()
