#!/bin/sh
#
# Make throw-away test certificates into directory $1 with the openssl CLI:
#
#   ca.pem                        test CA
#   server.pem, server.key        signed by ca.pem; CN localhost,
#                                 SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   wca.pem                       an unrelated "wrong" CA
#   wserver.pem, wserver.key      same names as server.pem, signed by wca.pem
#                                 (chain verification must fail against ca.pem)
#   wrongname.pem, wrongname.key  signed by ca.pem but only for
#                                 wrong.invalid (hostname check must fail)
#
# Keys are ECDSA P-256; certificates are valid for 30 days.  The CA keys
# (ca.key, wca.key) are left in the directory too.  Nothing here is secret:
# all files are mode 644.

set -eu

dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"

days=30

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>/dev/null
}

# mkca name cn
mkca() {
	newkey "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "/O=vncrelayd regress/CN=$2" \
	    -days "$days" -sha256 -out "$1.pem" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -addext "subjectKeyIdentifier=hash"
}

# mkleaf name ca cn san
mkleaf() {
	newkey "$1.key"
	openssl req -new -key "$1.key" -subj "/O=vncrelayd regress/CN=$3" \
	    -out "$1.csr"
	cat >"$1.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$4
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
	    -set_serial "0x$(openssl rand -hex 12)" -days "$days" -sha256 \
	    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

san="DNS:localhost,IP:127.0.0.1,IP:::1"

mkca ca "vncrelayd regress test CA"
mkca wca "vncrelayd regress wrong CA"
mkleaf server ca localhost "$san"
mkleaf wserver wca localhost "$san"
mkleaf wrongname ca wrong.invalid "DNS:wrong.invalid"

# Test keys are world-readable on purpose: an unprivileged test process
# (or the daemon after dropping privileges) may have to read them.
chmod 644 ./*.pem ./*.key

openssl verify -CAfile ca.pem server.pem wrongname.pem >/dev/null
openssl verify -CAfile wca.pem wserver.pem >/dev/null
if openssl verify -CAfile ca.pem wserver.pem >/dev/null 2>&1; then
	echo "mkcerts.sh: wserver.pem verifies against ca.pem" >&2
	exit 1
fi
