#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test against real mosquitto brokers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
. Scripts/swift-env.sh
swift build --build-tests
swift test --skip-build "$@"
