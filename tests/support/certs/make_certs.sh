#!/bin/sh
# Regenerates the test-only PKI in this folder (see README.md): a test CA, a server certificate
# for 127.0.0.1 and localhost signed by it, and a second, unrelated CA for "wrong CA" tests.
# EC P-256 keys, valid for 100 years. The CA keys are thrown away: nothing else is ever signed.
set -eu

cd "$(dirname "$0")"
days=36500
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make_ca() { # make_ca KEY_OUT CERT_OUT COMMON_NAME
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
  openssl req -x509 -new -key "$1" -sha256 -days "$days" -subj "/O=Switchboard tests/CN=$3" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$2"
}

make_ca "$work/ca.key" ca.pem "Switchboard Test CA"
make_ca "$work/other_ca.key" other_ca.pem "Switchboard Unrelated Test CA"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
openssl req -new -key server.key -subj "/O=Switchboard tests/CN=localhost" -out "$work/server.csr"
cat > "$work/server.ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
openssl x509 -req -in "$work/server.csr" -CA ca.pem -CAkey "$work/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$days" \
  -extfile "$work/server.ext" -out server.pem

chmod 644 ca.pem other_ca.pem server.pem server.key
openssl verify -CAfile ca.pem server.pem
