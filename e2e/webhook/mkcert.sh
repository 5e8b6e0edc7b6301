#!/usr/bin/env bash
# mkcert.sh DIR NAME [CN]: a test CA (DIR/ca.crt, DIR/ca.key; made once) and
# a serving certificate signed by it (DIR/NAME.crt, DIR/NAME.key) for
# localhost, 127.0.0.1 and ::1 plus the in-cluster names, ECDSA P-256 like
# the operator's. CN defaults to NAME; the serial is random.
set -euo pipefail
dir=$1 name=$2 cn=${3:-$2}
mkdir -p "$dir"
if [ ! -f "$dir/ca.crt" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 2 \
        -subj "/O=mizzen-test/CN=mizzen test CA" -out "$dir/ca.crt" 2>/dev/null
fi
openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key.ec" 2>/dev/null
# PKCS#8, as the operator writes keys (GnuTLS reads both forms)
openssl pkcs8 -topk8 -nocrypt -in "$dir/$name.key.ec" -out "$dir/$name.key"
rm -f "$dir/$name.key.ec"
openssl req -new -key "$dir/$name.key" -subj "/CN=$cn" -out "$dir/$name.csr" 2>/dev/null
cat >"$dir/$name.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:mizzen-webhook.istio-system.svc,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -sha256 \
    -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
rm -f "$dir/$name.csr" "$dir/$name.ext"
