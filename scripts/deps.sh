#!/bin/sh
# deps.sh: install the Debian packages that building and testing mizzen need,
# and the npm packages of e2e/package.json. Idempotent: does nothing when all
# are present. Runs as root (CI and the dev machines) or through sudo.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config clang libclang-rt-dev clang-format
libjansson-dev libyaml-dev libssl-dev libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev
libnghttp2-dev openssl curl ca-certificates python3 python3-jsonpatch
python3-yaml iptables iproute2 wrk nginx-light tzdata valgrind"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
# kubectl: any kubectl on PATH will do; else Debian's kubernetes-client.
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
# Node.js and npm: any on PATH will do (a NodeSource nodejs ships its own npm
# and conflicts with Debian's npm package); else Debian's.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "deps: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends $missing
fi

# Debian's own kubectl (kubernetes-client 1.20) for the emulator tests, which
# drive the emulator with every kubectl they find. Where another package owns
# /usr/bin/kubectl (e.g. the Google Cloud SDK's), Debian's is unpacked into
# build/debian-kubectl/ (not installed); e2e/run.sh passes it on.
if ! dpkg-query -W -f='${Status}\n' kubernetes-client 2>/dev/null | grep -q "ok installed" &&
    [ ! -x build/debian-kubectl/usr/bin/kubectl ]; then
    echo "deps: unpacking Debian's kubernetes-client into build/debian-kubectl"
    rm -rf build/debian-kubectl.tmp && mkdir -p build/debian-kubectl.tmp
    if (cd build/debian-kubectl.tmp && apt-get download -qq kubernetes-client >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get download -qq kubernetes-client; }) &&
        dpkg-deb -x build/debian-kubectl.tmp/kubernetes-client_*.deb build/debian-kubectl; then
        rm -rf build/debian-kubectl.tmp
    else
        echo "deps: could not fetch kubernetes-client" >&2
        exit 1
    fi
fi

# npm packages for the end-to-end tests (grpc-js-xds, Envoy protos)
if [ -f e2e/package.json ]; then
    if [ ! -d e2e/node_modules ] || [ e2e/package.json -nt e2e/node_modules ]; then
        echo "deps: npm install in e2e/"
        (cd e2e && npm install --no-audit --no-fund --loglevel=error) &&
            touch e2e/node_modules
    fi
fi
