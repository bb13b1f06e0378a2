#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test against real mosquitto brokers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
. Scripts/swift-env.sh
swift build --build-tests
# The tests' files (brokers, stores, logs: tens of megabytes a run) go to a directory of this
# run's own, removed when every test passed and kept, with its name printed, when one failed.
# Readable by all: as root, the PostgreSQL tests run the server as the `postgres` user.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/courier-test-run.XXXXXX")
export TMPDIR
chmod 755 "$TMPDIR"
if swift test --skip-build "$@"; then
    rm -rf "$TMPDIR"
else
    status=$?
    echo "test files kept in $TMPDIR" >&2
    exit "$status"
fi
