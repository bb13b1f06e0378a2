#!/usr/bin/env bash
# CPU per request of `courier serve` (or `courier bridge` + `courier worker`), closed loop or at
# a fixed rate, next to the broker's: ../shared/bench's load generator (C, its own process,
# 50 devices x 4 outstanding, QoS 1, op echo) against a private mosquitto and Courier started
# by ../shared/bench/courier_responder.sh; the load generator's --watch reads each process's
# CPU over the measured window. Several binaries alternate, so their figures share the
# machine's noise; `echo` as a binary runs the C echo responder instead.
#
#   bash Benchmarks/cpu_per_request.sh [-m serve|split] [-r RATE] [-t SECONDS] [-n ROUNDS] BINARY...
#   bash Benchmarks/cpu_per_request.sh old/courier .build/release/courier          # closed loop
#   bash Benchmarks/cpu_per_request.sh -r 2000 .build/release/courier echo          # 2,000 req/s
set -euo pipefail

mode=serve rate="" seconds=8 rounds=1
while getopts "m:r:t:n:" option; do
    case "$option" in
    m) mode=$OPTARG ;; r) rate=$OPTARG ;; t) seconds=$OPTARG ;; n) rounds=$OPTARG ;;
    *) sed -n '9,11p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
(($#)) || { sed -n '9,11p' "$0"; exit 2; }
bench="$(cd "$(dirname "$0")/../../shared/bench" && pwd)"
build="${BENCH_BUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/mqbench}"
mkdir -p "$build"
[[ "$build/loadgen" -nt "$bench/loadgen.c" ]] || cc -O2 -o "$build/loadgen" "$bench/loadgen.c" -lmosquitto -lpthread -lm
[[ "$build/echo_responder" -nt "$bench/echo_responder.c" ]] || cc -O2 -o "$build/echo_responder" "$bench/echo_responder.c" -lmosquitto -lpthread

pids=()
cleanup() { for pid in "${pids[@]}"; do pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# One run of one binary: prints its line.
run() {
    local binary=$1 work responder courier worker
    work=$(mktemp -d /tmp/courier-cpu.XXXXXX)
    # A port the kernel just handed out and nobody holds: a random one can be an ephemeral port
    # in use, and mosquitto then exits with "Address already in use".
    export PORT
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 1000\nmax_queued_messages 100000\nset_tcp_nodelay true\n' "$PORT" >"$work/mosquitto.conf"
    /usr/sbin/mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
    pids=($!)
    local broker=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
    kill -0 "$broker" 2>/dev/null || { echo "$binary: the broker did not start" >&2; cat "$work/broker.log" >&2; return 1; }
    if [ "$binary" = echo ]; then
        "$build/echo_responder" --port "$PORT" --qos 1 >"$work/responder.log" 2>&1 &
        responder=$! courier=$! worker=""
        pids+=("$responder")
        sleep 0.5
    else
        bash "$bench/courier_responder.sh" "$mode" "$(realpath "$binary")" >"$work/responder.log" 2>&1 &
        responder=$!
        pids+=("$responder")
        for _ in $(seq 150); do grep -q READY "$work/responder.log" && break; sleep 0.1; done
        grep -q READY "$work/responder.log" || { echo "$binary: not ready" >&2; cat "$work/responder.log" >&2; return 1; }
        courier=$(pgrep -P "$responder" -f " (serve|bridge) " | head -n 1)
        worker=$(pgrep -P "$responder" -f " worker " | head -n 1 || true)
    fi
    local watch=(--watch "broker=$broker" --watch "courier=$courier")
    [ -z "$worker" ] || watch+=(--watch "worker=$worker")
    local load=("$build/loadgen" --port "$PORT" --qos 1 --devices 50 --window 4 --duration "$seconds" --warmup 2
        --label cpu "${watch[@]}" --ops echo --reply-template 'devices/{id}/replies/r' --quiet)
    [ -z "$rate" ] || load+=(--rate "$rate")
    "${load[@]}" | tail -n 1 >"$work/result.json"
    cleanup
    python3 - "$binary" "$work/result.json" <<'PY'
import json, sys
result = json.load(open(sys.argv[2]))
rps = result["throughput_rps"]
cpu = result["cpu_pct"]
courier = cpu["courier"] + cpu.get("worker", 0)
print(f"{sys.argv[1]:32} {rps:8.0f} req/s  p50 {result['latency_us']['p50'] / 1000:7.2f} ms  "
      f"p99 {result['latency_us']['p99'] / 1000:7.2f} ms  CPU {courier:5.1f} %  "
      f"{courier * 10 / rps:.3f} ms/request  broker {cpu['broker'] * 10 / rps:.3f} ms/request  "
      f"correct {str(result['correct']).lower()}")
PY
    rm -rf "$work"
}

load="closed loop 50 x 4"
[ -z "$rate" ] || load="open loop at $rate req/s"
echo "# $(date -u +%FT%TZ) $(nproc) cores, mode $mode, $load, ${seconds} s"
for _ in $(seq "$rounds"); do
    for binary in "$@"; do run "$binary"; done
done
