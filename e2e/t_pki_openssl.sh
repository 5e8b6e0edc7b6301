#!/usr/bin/env bash
# t_pki_openssl.sh: lib/pki checked by the real openssl CLI. Our code (via
# tests/tools/pki_tool) makes a root, a workload cert and the webhook's
# serving cert; `openssl verify` accepts them and `openssl x509 -text` shows
# the SPIFFE URI SAN, EKU, key usage and CA:FALSE. Then the user's `cacerts`
# case: a root and an intermediate made by the openssl CLI (RSA root, EC
# intermediate with a SEC1 key from `openssl ecparam`), our code issues from
# the intermediate, and `openssl verify -CAfile root -untrusted chain`
# passes. A tampered certificate fails in both our verify and openssl's; an
# expired one too (with an injected time). No network, no processes left.
set -euo pipefail
: "${MZ_ROOT:?}" "${MZ_WORK:?}"
MZ_BINDIR="${MZ_BINDIR:-bin}"
PY=/usr/bin/python3
W="$MZ_WORK"

tool="$MZ_BINDIR/pki_tool"
case "$tool" in /*) ;; *) tool="$MZ_ROOT/$tool" ;; esac
if [ ! -x "$tool" ]; then
    echo "check: $tool missing, building it from lib/ into \$MZ_WORK"
    tool="$W/pki_tool"
    (cd "$MZ_ROOT" &&
        cc -std=c11 -D_GNU_SOURCE -I. -O1 -o "$tool" tests/tools/pki_tool.c \
            lib/buf.c lib/clock.c lib/errmsg.c lib/mem.c lib/pki*.c \
            $(pkg-config --cflags --libs openssl jansson) -pthread)
fi
openssl version

fail() {
    echo "FAIL: $*"
    exit 1
}
has() { # has FILE TEXT: the text output of openssl x509 contains TEXT
    grep -qF -- "$2" "$1" || fail "$1 lacks '$2'"
}

echo "check: usage errors exit 2"
rc=0
"$tool" frob 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "usage exit $rc"

# ---- our root, workload and webhook certificates ----------------------------
mkdir -p "$W/root" "$W/wl" "$W/wh" "$W/rsa" "$W/rsawl"
echo "check: a self-signed root (ECDSA P-256, 10 years)"
"$tool" root "$W/root" --cn "mizzen root" --org cluster.local
openssl x509 -in "$W/root/ca-cert.pem" -noout -text >"$W/root.txt"
has "$W/root.txt" "Version: 3 (0x2)"
has "$W/root.txt" "ecdsa-with-SHA256"
grep -A1 "X509v3 Basic Constraints: critical" "$W/root.txt" | grep -q "CA:TRUE" ||
    fail "root lacks critical CA:TRUE"
grep -A1 "X509v3 Key Usage: critical" "$W/root.txt" |
    grep -q "Certificate Sign, CRL Sign" || fail "root key usage"
has "$W/root.txt" "X509v3 Subject Key Identifier"
has "$W/root.txt" "X509v3 Authority Key Identifier"
openssl verify -CAfile "$W/root/root-cert.pem" "$W/root/ca-cert.pem"
days=$(( ($(openssl x509 -in "$W/root/ca-cert.pem" -noout -enddate |
    sed 's/notAfter=//' | xargs -I{} date -d {} +%s) - $(date +%s)) / 86400 ))
[ "$days" -ge 3649 ] && [ "$days" -le 3650 ] || fail "root lives $days days"
echo "check: the CA key is PKCS#8 and mode 0600"
head -1 "$W/root/ca-key.pem" | grep -qx -- "-----BEGIN PRIVATE KEY-----" ||
    fail "key is not PKCS#8"
[ "$(stat -c %a "$W/root/ca-key.pem")" = 600 ] || fail "key mode"
openssl pkey -in "$W/root/ca-key.pem" -noout

echo "check: a workload certificate verifies and carries the SPIFFE id"
id=spiffe://cluster.local/ns/default/sa/bookinfo
"$tool" issue "$W/root" "$W/wl" --uri "$id" --ttl 2160h
openssl verify -CAfile "$W/root/root-cert.pem" "$W/wl/cert-chain.pem" |
    tee "$W/v1.txt"
grep -q ": OK$" "$W/v1.txt" || fail "openssl verify"
openssl verify -purpose sslclient -CAfile "$W/root/root-cert.pem" \
    "$W/wl/cert-chain.pem" >/dev/null || fail "not a TLS client cert"
openssl verify -purpose sslserver -CAfile "$W/root/root-cert.pem" \
    "$W/wl/cert-chain.pem" >/dev/null || fail "not a TLS server cert"
openssl x509 -in "$W/wl/cert-chain.pem" -noout -text >"$W/wl.txt"
cat "$W/wl.txt" | sed -n '/X509v3 extensions/,/Signature Algorithm/p'
has "$W/wl.txt" "URI:$id"
has "$W/wl.txt" "TLS Web Server Authentication, TLS Web Client Authentication"
grep -A1 "X509v3 Key Usage: critical" "$W/wl.txt" |
    grep -q "Digital Signature, Key Encipherment" || fail "leaf key usage"
grep -A1 "X509v3 Basic Constraints: critical" "$W/wl.txt" | grep -q "CA:FALSE" ||
    fail "leaf lacks critical CA:FALSE"
has "$W/wl.txt" "X509v3 Subject Alternative Name: critical" # empty subject
has "$W/wl.txt" "ecdsa-with-SHA256"
days=$(( ($(openssl x509 -in "$W/wl/cert.pem" -noout -enddate |
    sed 's/notAfter=//' | xargs -I{} date -d {} +%s) - $(date +%s)) / 86400 ))
[ "$days" -ge 89 ] && [ "$days" -le 90 ] || fail "leaf lives $days days"
echo "check: key.pem is the certificate's key (openssl's view)"
[ "$(openssl pkey -in "$W/wl/key.pem" -pubout)" = \
  "$(openssl x509 -in "$W/wl/cert.pem" -noout -pubkey)" ] || fail "key mismatch"
cmp -s "$W/wl/root-cert.pem" "$W/root/ca-cert.pem" || fail "root-cert.pem"
"$tool" keymatch "$W/wl/cert.pem" "$W/wl/key.pem"
"$tool" verify "$W/wl/cert-chain.pem" "$W/root/root-cert.pem" | grep -qx ok

echo "check: our serial and fingerprint agree with openssl's"
ours=$("$tool" info "$W/wl/cert.pem")
serial=$(openssl x509 -in "$W/wl/cert.pem" -noout -serial | sed 's/serial=//')
echo "$ours" | grep -qx "serial=$serial" || fail "serial $serial"
fp=$(openssl x509 -in "$W/wl/cert.pem" -noout -fingerprint -sha256 |
    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
echo "$ours" | grep -qx "sha256=$fp" || fail "fingerprint"
echo "$ours" | grep -qx "uri=$id" || fail "uri"

echo "check: the webhook serving certificate (DNS SANs, CN)"
svc=mizzen-webhook.istio-system.svc
"$tool" issue "$W/root" "$W/wh" --cn "$svc" --dns "$svc" \
    --dns "$svc.cluster.local"
openssl verify -purpose sslserver -CAfile "$W/root/root-cert.pem" \
    "$W/wh/cert-chain.pem" >/dev/null || fail "webhook verify"
openssl x509 -in "$W/wh/cert.pem" -noout -checkhost "$svc.cluster.local" |
    grep -q "does match" || fail "checkhost"
openssl x509 -in "$W/wh/cert.pem" -noout -checkhost "evil.svc" |
    grep -q "does NOT match" || fail "checkhost other"
openssl x509 -in "$W/wh/cert.pem" -noout -text >"$W/wh.txt"
has "$W/wh.txt" "DNS:$svc, DNS:$svc.cluster.local"
has "$W/wh.txt" "Subject: CN = $svc"

echo "check: an RSA-2048 root signs with sha256WithRSAEncryption"
"$tool" root "$W/rsa" --key-type rsa-2048
"$tool" issue "$W/rsa" "$W/rsawl" --uri "$id"
openssl verify -CAfile "$W/rsa/root-cert.pem" "$W/rsawl/cert-chain.pem" \
    >/dev/null || fail "rsa verify"
openssl x509 -in "$W/rsawl/cert.pem" -noout -text |
    grep -q "sha256WithRSAEncryption" || fail "rsa sig alg"

# ---- the user's cacerts, made with the openssl CLI ------------------------------
echo "check: cacerts made by openssl (RSA root, EC intermediate, SEC1 key)"
C="$W/cacerts"
mkdir -p "$C" "$W/plugged"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/user-root-key.pem" \
    -out "$C/root-cert.pem" -days 3650 -subj "/O=Istio/CN=Root CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -out "$C/ca-key.pem"
grep -q "BEGIN EC PARAMETERS" "$C/ca-key.pem" || fail "ecparam output"
openssl req -new -key "$C/ca-key.pem" -subj "/O=Istio/CN=Intermediate CA" \
    -out "$W/int.csr"
cat >"$W/int.ext" <<'EOF'
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
EOF
openssl x509 -req -in "$W/int.csr" -CA "$C/root-cert.pem" \
    -CAkey "$W/user-root-key.pem" -CAcreateserial -days 730 \
    -extfile "$W/int.ext" -out "$C/ca-cert.pem" 2>/dev/null
cat "$C/ca-cert.pem" "$C/root-cert.pem" >"$C/cert-chain.pem"
"$tool" issue "$C" "$W/plugged" --uri "$id"
n=$(grep -c "BEGIN CERTIFICATE" "$W/plugged/cert-chain.pem")
[ "$n" -eq 2 ] || fail "chain has $n certs, want leaf + intermediate"
openssl verify -CAfile "$C/root-cert.pem" -untrusted "$W/plugged/cert-chain.pem" \
    "$W/plugged/cert-chain.pem" | tee "$W/v2.txt"
grep -q ": OK$" "$W/v2.txt" || fail "openssl verify via intermediate"
"$tool" verify "$W/plugged/cert-chain.pem" "$C/root-cert.pem" | grep -qx ok
cmp -s "$W/plugged/root-cert.pem" "$C/root-cert.pem" || fail "root-cert.pem"
openssl x509 -in "$W/plugged/cert.pem" -noout -issuer | grep -q "Intermediate CA" ||
    fail "issuer"
echo "check: without the intermediate, openssl and we both refuse"
if openssl verify -CAfile "$C/root-cert.pem" "$W/plugged/cert.pem" \
    >/dev/null 2>&1; then fail "leaf alone verified"; fi
out=$("$tool" verify "$W/plugged/cert.pem" "$C/root-cert.pem" || true)
echo "$out"
echo "$out" | grep -q "^FAIL unknown issuer" || fail "our verify: $out"

echo "check: a CA key that is not the CA cert's key is refused"
mkdir -p "$W/wrong" "$W/out3"
cp "$C"/*.pem "$W/wrong/"
cp "$W/root/ca-key.pem" "$W/wrong/ca-key.pem"
rc=0
"$tool" issue "$W/wrong" "$W/out3" --uri "$id" 2>"$W/err3" || rc=$?
[ "$rc" -eq 1 ] || fail "wrong key exit $rc"
grep -q "ca-key\|does not match" "$W/err3" || fail "message: $(cat "$W/err3")"
if grep -q "PRIVATE" "$W/err3"; then fail "key material in the message"; fi

echo "check: a leaf used as a CA is refused"
mkdir -p "$W/leafca"
cp "$W/wl/cert.pem" "$W/leafca/ca-cert.pem"
cp "$W/wl/key.pem" "$W/leafca/ca-key.pem"
cp "$W/root/root-cert.pem" "$W/leafca/root-cert.pem"
rc=0
"$tool" issue "$W/leafca" "$W/out3" --uri "$id" 2>"$W/err4" || rc=$?
[ "$rc" -eq 1 ] && grep -q "not a CA" "$W/err4" || fail "leaf as CA: $(cat "$W/err4")"

# ---- tampering and time ----------------------------------------------------------------
echo "check: a tampered certificate fails in openssl and in our verify"
"$PY" - "$W/wl/cert.pem" "$W/tampered.pem" <<'EOF'
import base64, sys
text = open(sys.argv[1]).read()
body = "".join(l for l in text.splitlines() if not l.startswith("-----"))
der = bytearray(base64.b64decode(body))
i = der.find(b"sa/bookinfo")
assert i > 0
der[i + 3] ^= 0x01  # "bookinfo" -> "cookinfo": same length, signed part
b64 = base64.b64encode(bytes(der)).decode()
lines = [b64[j:j + 64] for j in range(0, len(b64), 64)]
open(sys.argv[2], "w").write("-----BEGIN CERTIFICATE-----\n" +
                             "\n".join(lines) +
                             "\n-----END CERTIFICATE-----\n")
EOF
openssl x509 -in "$W/tampered.pem" -noout -text | grep -q "sa/cookinfo" ||
    fail "tampering did not change the SAN"
if openssl verify -CAfile "$W/root/root-cert.pem" "$W/tampered.pem" \
    >"$W/v3.txt" 2>&1; then fail "openssl accepted a tampered cert"; fi
cat "$W/v3.txt"
grep -q "signature failure" "$W/v3.txt" || fail "openssl reason"
out=$("$tool" verify "$W/tampered.pem" "$W/root/root-cert.pem" || true)
echo "$out"
echo "$out" | grep -q "^FAIL bad signature" || fail "our verify: $out"

echo "check: an expired certificate fails in both (injected time)"
later=$(( $(date +%s) + 91 * 86400 ))
if openssl verify -attime "$later" -CAfile "$W/root/root-cert.pem" \
    "$W/wl/cert-chain.pem" >/dev/null 2>&1; then fail "openssl: not expired"; fi
out=$("$tool" verify "$W/wl/cert-chain.pem" "$W/root/root-cert.pem" \
    --now "$later" || true)
echo "$out" | grep -q "^FAIL expired" || fail "our verify: $out"
out=$("$tool" verify "$W/wl/cert-chain.pem" "$W/root/root-cert.pem" \
    --clock-offset 2184h || true)
echo "$out" | grep -q "^FAIL expired" || fail "clock offset: $out"

echo "check: root rotation bundle (old + new root) accepts both leaves"
cat "$W/root/root-cert.pem" "$W/rsa/root-cert.pem" >"$W/bundle.pem"
"$tool" verify "$W/wl/cert-chain.pem" "$W/bundle.pem" | grep -qx ok
"$tool" verify "$W/rsawl/cert-chain.pem" "$W/bundle.pem" | grep -qx ok
openssl verify -CAfile "$W/bundle.pem" "$W/rsawl/cert-chain.pem" >/dev/null

echo "check: a bundle with trailing junk is refused with the block named"
{ cat "$W/bundle.pem"; echo "junk"; } >"$W/junk.pem"
out=$("$tool" verify "$W/wl/cert-chain.pem" "$W/junk.pem" || true)
echo "$out" | grep -q "junk after PEM block 2" || fail "junk: $out"

echo "PASS: t_pki_openssl"
