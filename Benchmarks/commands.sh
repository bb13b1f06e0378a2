#!/usr/bin/env bash
# Command round trip, HTTP -> device -> reply: requests/s and latency percentiles of
# `POST /v1/devices/{device}/commands/ping` with `Prefer: wait=10` (the answer in the HTTP
# response), against `courier dev` (private mosquitto + serve) and simulated actuators that
# answer, driven by wrk (Debian's wrk) from its own process.
#
#   bash Benchmarks/commands.sh [COURIER_BINARY] [DEVICES] [CONNECTIONS] [SECONDS]
#   bash Benchmarks/commands.sh .build/release/courier 50 16 20
set -euo pipefail

courier=${1:-.build/release/courier}
devices=${2:-50}
connections=${3:-16}
seconds=${4:-20}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }

work=$(mktemp -d /tmp/courier-commands-bench.XXXXXX)
port=$((20000 + RANDOM % 10000))
http=$((port + 1))
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
pids=()
trap cleanup EXIT

"$courier" dev --port "$port" --http "127.0.0.1:$http" --state-dir "$work" --log-level error >"$work/dev.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.1; done
"$courier" devices --profile Devices/profiles/actuator.yaml --count "$devices" --duration 1h \
    --broker "mqtt://127.0.0.1:$port" >"$work/devices.log" 2>&1 &
pids+=($!)
# Ready once one device answers.
for _ in $(seq 100); do
    status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Prefer: wait=2' -d x \
        "http://127.0.0.1:$http/v1/devices/actuator-1/commands/ping") || true
    [ "$status" = 200 ] && break
    sleep 0.2
done

cat >"$work/ping.lua" <<LUA
wrk.method = "POST"
wrk.body = "ping"
wrk.headers["Prefer"] = "wait=10"
request = function()
  return wrk.format(nil, "/v1/devices/actuator-" .. math.random(1, $devices) .. "/commands/ping")
end
LUA
echo "courier: $courier; $devices devices; $connections connections; ${seconds}s; load $(cut -d' ' -f1-3 /proc/loadavg)"
wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s "$work/ping.lua" "http://127.0.0.1:$http" | tee "$work/wrk.txt"
curl -s "http://127.0.0.1:$http/metrics" | grep -E '^courier_requests_total\{operation="ping"' || true
