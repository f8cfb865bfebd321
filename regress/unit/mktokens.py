#!/usr/bin/python3
"""Mint JWT test vectors for test_token.c with an independent implementation.

Usage: /usr/bin/python3 mktokens.py DIR

Writes key files and DIR/vectors, a tab-separated file the C test reads:

    now      <unix time the C test verifies at>
    skew     <clock skew, seconds>
    maxlife  <maximum token lifetime, seconds>
    key      <kid> <alg> <file>          token_key_load must accept it
    badkey   <kid> <alg> <file> <what>   token_key_load must refuse it
    vec      <name> <expect> <allow> <deny> <ns> <sub> <jti> <why> <token>

<expect> is NONE, INVALID_TOKEN or TOKEN_EXPIRED; <allow> and <deny> are
targets token_allows() must accept and refuse, <ns>, <sub> and <jti> the
claims token_verify() must return, <why> a word its reason must contain,
so that a refusal for the wrong reason fails ("-" everywhere means "not
checked" or "absent").  Well-formed tokens come from python3-jwt; the
malformed ones PyJWT refuses to make are assembled by hand here, from
base64 and hmac.
"""

import base64
import hashlib
import hmac
import json
import os
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

NOW = 1700000000
SKEW = 30
MAXLIFE = 3600

HS1 = b"hs1-secret-0123456789abcdef0123456789abcdef"      # 43 bytes
HS2 = b"0123456789abcdef0123456789abcdef"                 # exactly 32
HS0 = b"retired-secret-0123456789abcdef-0123456789"       # not configured
LAB = b"lab-orchestrator-secret-key-0123456789"


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs_sign(key, signing_input):
    return hmac.new(key, signing_input.encode(), hashlib.sha256).digest()


def hand(header, payload, key=HS1, sig=None):
    """Assemble a token from raw JSON texts and sign it with HMAC-SHA256."""
    h, p = b64u(header), b64u(payload)
    if sig is None:
        sig = b64u(hs_sign(key, h + "." + p))
    return h + "." + p + "." + sig


def resign(h, p, key=HS1):
    """Sign already-encoded parts, however odd their spelling."""
    return h + "." + p + "." + b64u(hs_sign(key, h + "." + p))


def claims(**kw):
    c = {"sub": "alice", "target": "vm1", "iat": NOW, "exp": NOW + 600}
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def hs(c, key=HS1, kid="hs1"):
    headers = {"kid": kid} if kid else None
    return jwt.encode(c, key, algorithm="HS256", headers=headers)


def ed(c, key, kid):
    headers = {"kid": kid} if kid else None
    return jwt.encode(c, key, algorithm="EdDSA", headers=headers)


def nested(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def make_keys(d):
    ed1 = ed25519.Ed25519PrivateKey.generate()
    ed2 = ed25519.Ed25519PrivateKey.generate()
    other = ed25519.Ed25519PrivateKey.generate()
    ed1_pub = ed1.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    ed2_priv = ed2.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    ed_enc = ed2.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass phrase"))
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    files = {
        "hs1.key": HS1,
        "hs2.key": HS2 + b"\n",          # one newline, stripped by the loader
        "lab.key": LAB,
        "ed1.pub": ed1_pub,
        "ed2.pem": ed2_priv,
        "short.key": HS2[:31] + b"\n",
        "enc.pem": ed_enc,
        "p256.pub": p256,
        "junk.pem": b"-----BEGIN PUBLIC KEY-----\nnot base64\n"
                    b"-----END PUBLIC KEY-----\n",
    }
    for name, data in files.items():
        write(os.path.join(d, name), data)
    return ed1, ed1_pub, ed2, other


def key_lines(d):
    p = lambda n: os.path.join(d, n)
    return [
        ("key", "hs1", "HS256", p("hs1.key")),
        ("key", "hs2", "HS256", p("hs2.key")),
        ("key", "lab", "HS256", p("lab.key")),
        ("key", "ed1", "EdDSA", p("ed1.pub")),
        ("key", "ed2", "EdDSA", p("ed2.pem")),
        ("badkey", "short", "HS256", p("short.key"), "secret under 32 bytes"),
        ("badkey", "pem", "HS256", p("ed1.pub"), "PEM as an HS256 secret"),
        ("badkey", "enc", "EdDSA", p("enc.pem"), "encrypted private key"),
        ("badkey", "p256", "EdDSA", p("p256.pub"), "P-256 key as EdDSA"),
        ("badkey", "junk", "EdDSA", p("junk.pem"), "broken PEM"),
        ("badkey", "raw", "EdDSA", p("hs1.key"), "raw bytes as EdDSA"),
        ("badkey", "rs", "RS256", p("ed1.pub"), "unsupported algorithm"),
        ("badkey", "a b", "HS256", p("hs1.key"), "kid with a space"),
        ("badkey", "none", "none", p("hs1.key"), "alg none"),
    ]


def good_vectors(ed1, ed2, other):
    """(name, expect, allow, deny, ns, sub, jti, token)"""
    v = []
    add = lambda *a: v.append(a)
    add("HS256 with kid", "NONE", "vm1", "vm2", "-", "alice", "-",
        hs(claims()))
    add("HS256 without kid tries each HS256 key", "NONE", "vm1", "-", "-",
        "alice", "-", hs(claims(), HS2, None))
    add("rotated key chosen by kid", "NONE", "vm1", "-", "-", "alice", "-",
        hs(claims(), HS2, "hs2"))
    add("float exp accepted", "NONE", "vm1", "-", "-", "alice", "-",
        hs(claims(exp=NOW + 600.5, iat=NOW + 0.25)))
    add("integer-only times, no iat", "NONE", "vm1", "-", "-", "alice", "-",
        hs(claims(iat=None)))
    add("expired within the skew accepted", "NONE", "vm1", "-", "-", "-",
        "-", hs(claims(exp=NOW - SKEW + 1)))
    add("nbf within the skew accepted", "NONE", "vm1", "-", "-", "-", "-",
        hs(claims(nbf=NOW + SKEW - 1)))
    add("lifetime exactly the maximum accepted", "NONE", "vm1", "-", "-",
        "-", "-", hs(claims(iat=NOW - 3500, exp=NOW + 100)))
    add("target array", "NONE", "b", "d", "-", "-", "-",
        hs(claims(target=["a", "b", "c"])))
    add("16 targets accepted", "NONE", "t15", "t16", "-", "-", "-",
        hs(claims(target=["t%d" % i for i in range(16)])))
    add("no target allows nothing", "NONE", "-", "vm1", "-", "alice", "-",
        hs(claims(target=None)))
    add("jti returned", "NONE", "-", "-", "-", "-", "abc-123",
        hs(claims(jti="abc-123")))
    add("jti of 128 bytes accepted", "NONE", "-", "-", "-", "-", "j" * 128,
        hs(claims(jti="j" * 128)))
    add("UTF-8 sub accepted", "NONE", "-", "-", "-", "\u00e9lodie", "-",
        hs(claims(sub="\u00e9lodie")))
    add("brackets inside strings are not nesting", "NONE", "-", "-", "-",
        "-", "-", hs(claims(x="[[[[[[[[[[{{{{{{{{\\\"[[[[")))
    add("nesting depth 5 accepted", "NONE", "-", "-", "-", "-", "-",
        hs(claims(x=nested(4))))
    add("EdDSA with kid", "NONE", "vm1", "vm2", "-", "alice", "-",
        ed(claims(), ed1, "ed1"))
    add("EdDSA without kid", "NONE", "vm1", "-", "-", "alice", "-",
        ed(claims(), ed1, None))
    add("EdDSA key loaded from a private PEM", "NONE", "vm1", "-", "-",
        "alice", "-", ed(claims(), ed2, "ed2"))
    lab = {"id": 42, "exp": NOW + 600.25,
           "lab_instance": {"lab_id": 3, "lab_instance_id": 9,
                            "namespace_name": "lab-9",
                            "allowed_vmi_names": ["ubuntu", "kali"]}}
    add("seed 001 lab_instance token", "NONE", "kali", "windows", "lab-9",
        "42", "-", jwt.encode(lab, LAB, algorithm="HS256"))
    lab2 = dict(lab, id="user-7")
    add("seed 001 token with a string id", "NONE", "ubuntu", "-", "lab-9",
        "user-7", "-", jwt.encode(lab2, LAB, algorithm="HS256"))
    lab3 = dict(lab, target="extra")
    add("target and allowed_vmi_names merge", "NONE", "extra", "-", "lab-9",
        "-", "-", jwt.encode(lab3, LAB, algorithm="HS256"))
    return v


def signature_vectors(ed1, ed1_pub, other):
    v = []
    add = lambda name, tok, expect="INVALID_TOKEN": v.append(
        (name, expect, "-", "-", "-", "-", "-", tok))
    good = hs(claims())
    h, p, s = good.split(".")
    add("forged signature (wrong secret)", resign(h, p, b"x" * 40))
    tampered = b64u(json.dumps(claims(target="vm2")))
    add("payload changed after signing", h + "." + tampered + "." + s)
    add("signature truncated to 16 bytes",
        h + "." + p + "." + b64u(hs_sign(HS1, h + "." + p)[:16]))
    add("unknown kid", hs(claims(), HS1, "nosuchkey"))
    add("retired key (kid removed)", hs(claims(), HS0, "hs0"))
    add("retired key without kid", hs(claims(), HS0, None))
    add("alg none", jwt.encode(claims(), None, algorithm="none"))
    add("alg none with kid and a signature",
        hand('{"alg":"none","kid":"hs1"}', json.dumps(claims())))
    add("alg missing", hand('{"kid":"hs1"}', json.dumps(claims())))
    add("alg in lower case", hand('{"alg":"hs256","kid":"hs1"}',
                                  json.dumps(claims())))
    add("alg RS256", hand('{"alg":"RS256","kid":"hs1"}', json.dumps(claims())))
    add("kid not a string", hand('{"alg":"HS256","kid":5}',
                                 json.dumps(claims())))
    add("HS256 keyed with the EdDSA public PEM, kid ed1",
        hand('{"alg":"HS256","kid":"ed1"}', json.dumps(claims()), ed1_pub))
    add("HS256 keyed with the EdDSA public PEM, no kid",
        hand('{"alg":"HS256"}', json.dumps(claims()), ed1_pub))
    add("HS256 keyed with the PEM less its newline",
        hand('{"alg":"HS256","kid":"ed1"}', json.dumps(claims()),
             ed1_pub.rstrip(b"\n")))
    edtok = ed(claims(), ed1, "ed1")
    eh, ep, es = edtok.split(".")
    add("EdDSA signature under an HS256 header",
        b64u('{"alg":"HS256","kid":"ed1"}') + "." + ep + "." + es)
    add("EdDSA token naming an HS256 key", ed(claims(), ed1, "hs1"))
    add("EdDSA signed by an unknown key, kid ed1", ed(claims(), other, "ed1"))
    add("EdDSA signed by an unknown key, no kid", ed(claims(), other, None))
    add("critical header extension",
        hand('{"alg":"HS256","kid":"hs1","crit":["exp"]}',
             json.dumps(claims())))
    return v


def claim_vectors():
    v = []
    add = lambda name, expect, tok: v.append(
        (name, expect, "-", "-", "-", "-", "-", tok))
    add("expired", "TOKEN_EXPIRED", hs(claims(exp=NOW - 3600)))
    add("expired at exactly exp + skew", "TOKEN_EXPIRED",
        hs(claims(exp=NOW - SKEW)))
    add("float exp expired", "TOKEN_EXPIRED",
        hs(claims(exp=NOW - SKEW - 0.5)))
    add("nbf in the future", "INVALID_TOKEN", hs(claims(nbf=NOW + 3600)))
    add("iat in the future", "INVALID_TOKEN", hs(claims(iat=NOW + 3600,
                                                        exp=NOW + 3700)))
    add("valid for a year (no iat)", "INVALID_TOKEN",
        hs(claims(iat=None, exp=NOW + 365 * 86400)))
    add("over the maximum lifetime by one second", "INVALID_TOKEN",
        hs(claims(iat=NOW - 3500, exp=NOW + 101)))
    add("old iat makes the lifetime too long", "INVALID_TOKEN",
        hs(claims(iat=NOW - 7200, exp=NOW + 100)))
    add("missing exp", "INVALID_TOKEN", hs(claims(exp=None)))
    add("exp is a string", "INVALID_TOKEN", hs(claims(exp=str(NOW + 60))))
    add("exp is a boolean", "INVALID_TOKEN", hs(claims(exp=True)))
    add("nbf is null", "INVALID_TOKEN",
        hand('{"alg":"HS256","kid":"hs1"}',
             '{"exp":%d,"nbf":null}' % (NOW + 60)))
    add("exp overflows a double", "INVALID_TOKEN",
        hand('{"alg":"HS256","kid":"hs1"}', '{"exp":1e400}'))
    add("exp overflows an integer", "INVALID_TOKEN",
        hand('{"alg":"HS256","kid":"hs1"}', '{"exp":99999999999999999999}'))
    add("17 targets refused", "INVALID_TOKEN",
        hs(claims(target=["t%d" % i for i in range(17)])))
    add("target is a number", "INVALID_TOKEN", hs(claims(target=5)))
    add("target with a newline", "INVALID_TOKEN", hs(claims(target="a\nb")))
    add("empty target", "INVALID_TOKEN", hs(claims(target="")))
    add("target too long", "INVALID_TOKEN", hs(claims(target="t" * 128)))
    add("sub with a control character", "INVALID_TOKEN",
        hs(claims(sub="root\x1b[2J")))
    add("sub is a number", "INVALID_TOKEN", hs(claims(sub=7)))
    add("jti of 129 bytes", "INVALID_TOKEN", hs(claims(jti="j" * 129)))
    add("jti is a number", "INVALID_TOKEN", hs(claims(jti=12345)))
    add("NUL inside a string", "INVALID_TOKEN",
        hand('{"alg":"HS256","kid":"hs1"}',
             '{"exp":%d,"sub":"a\\u0000b"}' % (NOW + 60)))
    lab = {"id": 1, "exp": NOW + 60,
           "lab_instance": {"namespace_name": "../kube-system",
                            "allowed_vmi_names": ["x"]}}
    add("seed 001 namespace not a DNS label", "INVALID_TOKEN",
        jwt.encode(lab, LAB, algorithm="HS256"))
    lab = {"id": 1, "exp": NOW + 60,
           "lab_instance": {"allowed_vmi_names": "x"}}
    add("seed 001 allowed_vmi_names not an array", "INVALID_TOKEN",
        jwt.encode(lab, LAB, algorithm="HS256"))
    add("seed 001 id is a float", "INVALID_TOKEN",
        jwt.encode({"id": 1.5, "exp": NOW + 60}, LAB, algorithm="HS256"))
    return v


def long_token():
    """The longest token that fits, and one byte more."""
    pad = 3000
    while True:
        t = hs(claims(pad="x" * pad))
        if len(t) >= 4096:
            break
        pad += 1
    fits = t
    while len(fits) > 4096:
        pad -= 1
        fits = hs(claims(pad="x" * pad))
    over = hs(claims(pad="x" * (pad + 3)))
    assert len(fits) <= 4096 < len(over)
    return fits, over


def structure_vectors():
    v = []
    add = lambda name, tok, expect="INVALID_TOKEN": v.append(
        (name, expect, "-", "-", "-", "-", "-", tok))
    fits, over = long_token()
    add("token of %d bytes accepted" % len(fits), fits, "NONE")
    add("token of %d bytes refused" % len(over), over)
    add("absurdly long token", hs(claims(pad="x" * 100000)))
    add("nesting depth 6 refused", hs(claims(x=nested(5))))
    add("JSON bomb, depth 1000", hand('{"alg":"HS256","kid":"hs1"}',
        '{"exp":%d,"x":%s1%s}' % (NOW + 60, "[" * 1000, "]" * 1000)))
    add("deep header", hand('{"alg":"HS256","kid":"hs1","x":%s%s}' %
                            ("{\"a\":" * 10, "1" + "}" * 10),
                            json.dumps(claims())))
    hdr = '{"alg":"HS256","kid":"hs1"}'
    add("duplicate key", hand(hdr, '{"exp":%d,"exp":%d}' %
                              (NOW + 60, NOW + 99999)))
    add("duplicate key spelt with an escape",
        hand(hdr, '{"exp":%d,"e\\u0078p":%d}' % (NOW + 60, NOW + 99999)))
    add("duplicate key in a nested object",
        hand(hdr, '{"exp":%d,"lab_instance":{"namespace_name":"a",'
             '"namespace_name":"b"}}' % (NOW + 60)))
    add("duplicate alg in the header",
        hand('{"alg":"none","alg":"HS256","kid":"hs1"}',
             json.dumps(claims())))
    add("header is an array", hand('["HS256"]', json.dumps(claims())))
    add("payload is an array", hand(hdr, '[%d]' % (NOW + 60)))
    add("payload is a string", hand(hdr, '"exp"'))
    add("trailing garbage after the payload",
        hand(hdr, '{"exp":%d} x' % (NOW + 60)))
    add("payload not JSON", hand(hdr, 'exp=%d' % (NOW + 60)))
    good = hs(claims())
    h, p, s = good.split(".")
    add("two parts", h + "." + p)
    add("four parts", good + "." + s)
    add("five parts (JWE)", good + ".a.b")
    add("empty signature", h + "." + p + ".")
    add("empty header", "." + p + "." + s)
    add("not a token", "hello")
    add("base64url with padding in the payload", resign(h, p + "=="))
    add("base64url with padding in the signature", good + "=")
    std = None
    for n in range(64):
        t = hs(claims(sub="alice" + "?" * n + ">>"))
        th, tp, _ = t.split(".")
        if "-" in tp or "_" in tp:
            std = resign(th, tp.replace("-", "+").replace("_", "/"))
            break
    add("standard base64 alphabet (+ and /)", std)
    add("a space inside the payload", resign(h, p[:10] + " " + p[10:]))
    add("length 1 mod 4", resign(h, p + "A" * ((1 - len(p)) % 4)))
    add("non-canonical trailing bits in the payload", noncanonical())
    add("non-canonical trailing bits in the signature",
        h + "." + p + "." + bump(s))
    return v


def bump(part):
    """Set the unused low bits of the last character: same bytes, new text."""
    alphabet = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_")
    spare = {2: 4, 3: 2}[len(part) % 4]
    i = alphabet.index(part[-1]) | ((1 << spare) - 1)
    return part[:-1] + alphabet[i]


def noncanonical():
    """A payload whose encoding has spare bits, with them set."""
    for n in range(1, 4):
        h, p, _ = hs(claims(sub="a" * n)).split(".")
        if len(p) % 4 != 0:
            return resign(h, bump(p))
    raise AssertionError("no payload with spare bits")


# The reason that must be given, where a wrong one would hide a bug.
WHY = {
    "forged signature (wrong secret)": "bad signature",
    "payload changed after signing": "bad signature",
    "signature truncated to 16 bytes": "bad signature",
    "unknown kid": "unknown kid",
    "retired key (kid removed)": "unknown kid",
    "retired key without kid": "bad signature",
    "alg none": "unsupported alg",
    "alg none with kid and a signature": "unsupported alg",
    "HS256 keyed with the EdDSA public PEM, kid ed1": "alg differs",
    "HS256 keyed with the EdDSA public PEM, no kid": "bad signature",
    "EdDSA signature under an HS256 header": "alg differs",
    "EdDSA token naming an HS256 key": "alg differs",
    "EdDSA signed by an unknown key, kid ed1": "bad signature",
    "critical header extension": "crit",
    "expired": "expired",
    "nbf in the future": "nbf",
    "iat in the future": "iat",
    "valid for a year (no iat)": "maximum lifetime",
    "over the maximum lifetime by one second": "maximum lifetime",
    "old iat makes the lifetime too long": "maximum lifetime",
    "missing exp": "missing exp",
    "17 targets refused": "target",
    "seed 001 namespace not a DNS label": "lab_instance",
    "absurdly long token": "too long",
    "nesting depth 6 refused": "nested",
    "JSON bomb, depth 1000": "nested",
    "deep header": "nested",
    "duplicate key": "bad JSON",
    "duplicate key spelt with an escape": "bad JSON",
    "duplicate key in a nested object": "bad JSON",
    "duplicate alg in the header": "bad JSON",
    "header is an array": "not an object",
    "payload is an array": "not an object",
    "four parts": "compact",
    "base64url with padding in the payload": "base64url",
    "base64url with padding in the signature": "base64url",
    "standard base64 alphabet (+ and /)": "base64url",
    "length 1 mod 4": "base64url",
    "non-canonical trailing bits in the payload": "base64url",
    "non-canonical trailing bits in the signature": "base64url",
}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mktokens.py DIR")
    d = sys.argv[1]
    ed1, ed1_pub, ed2, other = make_keys(d)
    lines = ["now\t%d" % NOW, "skew\t%d" % SKEW, "maxlife\t%d" % MAXLIFE]
    lines += ["\t".join(k) for k in key_lines(d)]
    vecs = (good_vectors(ed1, ed2, other) +
            signature_vectors(ed1, ed1_pub, other) +
            claim_vectors() + structure_vectors())
    names = set(v[0] for v in vecs)
    assert len(names) == len(vecs) and names >= set(WHY), "vector names"
    for vec in vecs:
        vec = vec[:7] + (WHY.get(vec[0], "-"),) + vec[7:]
        assert all("\t" not in f and "\n" not in f for f in vec), vec[0]
        lines.append("vec\t" + "\t".join(vec))
    with open(os.path.join(d, "vectors"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
