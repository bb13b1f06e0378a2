#!/usr/bin/env bash
# Installs what is missing, builds, and runs `courier dev`: a private mosquitto on loopback,
# the bridge with its workers, and simulated devices. Extra arguments go to `courier dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh --runtime
. Scripts/swift-env.sh
swift build --product courier
exec "$(swift build --show-bin-path)/courier" dev "${@:---devices=20}"
