#!/usr/bin/env bash
# Installs the system packages Courier needs (Debian/Ubuntu), only those missing; the Swift
# toolchain is Scripts/swift-env.sh's business. With --runtime (Scripts/dev.sh), only what
# building and running Courier needs: not postgresql, which the tests of the PostgreSQL store
# start private servers from (as the `postgres` user it creates, when run as root).
set -euo pipefail

packages=(mosquitto mosquitto-clients libmosquitto-dev openssl pkg-config curl ca-certificates e2fsprogs util-linux)
[ "${1:-}" = "--runtime" ] || packages+=(postgresql)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
