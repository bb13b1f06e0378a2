#!/usr/bin/env bash
# Several bridges on one PostgreSQL: requests/s and p99 for one bridge on SQLite, one, two and
# three bridges on PostgreSQL (each with `courier worker` processes, devices from `courier
# devices --json`), then the takeover after a SIGKILL of one of three bridges. Starts its own
# mosquitto and PostgreSQL (initdb + postgres on free loopback ports in a temporary directory,
# as the `postgres` user through setpriv when run as root) and stops everything it started, by
# PID, when it ends or is interrupted. Figures on stdout, progress on stderr.
#
#   swift build -c release --product courier
#   Benchmarks/cluster.sh                       # or COURIER_BINARY=path/to/courier Benchmarks/cluster.sh
#
# Settings (environment): DEVICES (50), OUTSTANDING (4), DURATION (10s), WARMUP (3s), WORKERS
# (2), LEASES (takeover runs, "10s 2s"), KEEP_FILES (1: keep the logs and data), PG_OPTIONS (extra `postgres -c` settings, e.g.
# "-c synchronous_commit=off"; PostgreSQL's defaults otherwise: fsync and synchronous commit on).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
COURIER=${COURIER_BINARY:-$ROOT/.build/release/courier}
DEVICES=${DEVICES:-50}
OUTSTANDING=${OUTSTANDING:-4}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
WORKERS=${WORKERS:-2}
LEASES=${LEASES:-10s 2s}
PG_OPTIONS=${PG_OPTIONS:-}

for tool in jq curl mosquitto; do
    command -v "$tool" >/dev/null || { echo "cluster.sh needs $tool" >&2; exit 2; }
done
[[ -x $COURIER ]] || { echo "no courier binary at $COURIER: swift build -c release --product courier, or set COURIER_BINARY" >&2; exit 2; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n $PGBIN ]] || PGBIN=$(dirname "$(command -v initdb)")

WORK=$(mktemp -d /tmp/courier-bench-cluster.XXXXXX)
chmod 755 "$WORK"

progress() { echo "… $*" >&2; }

# Stops every process this script started and that still runs (its jobs), by PID: SIGTERM
# (to a job's own children too), then wait. The files go unless the run failed or KEEP_FILES=1.
cleanup() {
    local status=$? pid
    for pid in $(jobs -p); do
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [[ $status == 0 && -z ${KEEP_FILES:-} ]]; then
        rm -rf "$WORK"
    else
        progress "configurations, logs, stores and PostgreSQL's data kept in $WORK"
    fi
}
trap cleanup EXIT
trap 'echo "cluster.sh failed at line $LINENO" >&2' ERR
trap 'exit 130' INT TERM

USED_PORTS=" "
free_port() {
    local port
    while true; do
        port=$((20000 + RANDOM % 12000))
        [[ $USED_PORTS == *" $port "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            USED_PORTS+="$port "
            echo "$port"
            return
        fi
    done
}

now_ms() { date +%s%3N; }

# Waits until something answers on a loopback port.
wait_port() {
    local port=$1 deadline=$((SECONDS + 60))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        ((SECONDS < deadline)) || { echo "nothing answers on port $port" >&2; exit 1; }
        sleep 0.05
    done
}

# CPU seconds (user + system) used so far by the given processes.
cpu_seconds() {
    local ticks=0 pid fields
    for pid in "$@"; do
        fields=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        read -r -a stat <<<"$fields"
        ticks=$((ticks + stat[11] + stat[12]))
    done
    echo "$ticks $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'
}

# --- mosquitto -------------------------------------------------------------------------------
# On a free port; another one when something took it meanwhile (the broker then exits).
mkdir -p "$WORK/mosquitto"
for attempt in 1 2 3 4 5; do
    MQTT_PORT=$(free_port)
    sed -e "s|^listener .*|listener $MQTT_PORT 127.0.0.1|" -e "s|^persistence_location .*|persistence_location $WORK/mosquitto/|" \
        "$ROOT/Config/mosquitto.conf" >"$WORK/mosquitto.conf"
    [[ $(id -u) == 0 ]] && echo "user root" >>"$WORK/mosquitto.conf"
    mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
    MOSQUITTO_PID=$!
    until grep -q "listen socket on port $MQTT_PORT" "$WORK/mosquitto.log" || ! kill -0 "$MOSQUITTO_PID" 2>/dev/null; do sleep 0.05; done
    sleep 0.2
    kill -0 "$MOSQUITTO_PID" 2>/dev/null && break
    wait "$MOSQUITTO_PID" || true
    ((attempt < 5)) || { echo "mosquitto did not start: $(tail -3 "$WORK/mosquitto.log")" >&2; exit 1; }
done
BROKER=mqtt://127.0.0.1:$MQTT_PORT
wait_port "$MQTT_PORT"

# --- PostgreSQL ------------------------------------------------------------------------------
PG_PORT=$(free_port)
PG_PASSWORD=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$WORK/pg"
echo "$PG_PASSWORD" >"$WORK/pg/password"
RUN_AS=()
if [[ $(id -u) == 0 ]]; then
    chown -R postgres:postgres "$WORK/pg"
    RUN_AS=(setpriv "--reuid=$(id -u postgres)" "--regid=$(id -g postgres)" --clear-groups --)
fi
progress "initdb in $WORK/pg"
"${RUN_AS[@]}" "$PGBIN/initdb" -D "$WORK/pg/data" -U courier --pwfile="$WORK/pg/password" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C >"$WORK/pg/initdb.log" 2>&1
# Ready when it answers on its own socket in $WORK/pg; another port when the first was taken.
for attempt in 1 2 3 4 5; do
    # shellcheck disable=SC2086
    "${RUN_AS[@]}" "$PGBIN/postgres" -D "$WORK/pg/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
        -c "unix_socket_directories=$WORK/pg" $PG_OPTIONS >"$WORK/pg/postgres.log" 2>&1 &
    PG_PID=$!
    until "$PGBIN/pg_isready" -q -h "$WORK/pg" -p "$PG_PORT" || ! kill -0 "$PG_PID" 2>/dev/null; do sleep 0.1; done
    kill -0 "$PG_PID" 2>/dev/null && break
    wait "$PG_PID" || true
    ((attempt < 5)) || { echo "postgres did not start: $(tail -3 "$WORK/pg/postgres.log")" >&2; exit 1; }
    PG_PORT=$(free_port)
done

psql_do() { "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$WORK/pg" -p "$PG_PORT" -U courier -d "$1" -c "$2"; }
postgres_pids() { echo "$PG_PID" $(pgrep -P "$PG_PID" || true); }

# --- Courier ---------------------------------------------------------------------------------
# A configuration for one run, on the private broker; the store and HTTP address are per bridge.
write_config() {
    local file=$1 lease=$2
    cat >"$file" <<EOF
broker:
  url: $BROKER
bridge:
  leaseTimeout: $lease
limits:
  maxPendingPerDevice: 256
operations:
  - name: echo
    content: any
    timeout: 60s
    attemptTimeout: 5s
workers:
  concurrency: 8
  operations: [echo]
log:
  level: warning
EOF
}

# The devices' profile: closed loop, each device keeping OUTSTANDING echo requests in flight.
write_profile() {
    local file=$1 prefix=$2 length=$3
    cat >"$file" <<EOF
name: courier-bench-cluster
protocol: mqtt5
devices: { count: $DEVICES, idPrefix: $prefix }
operations:
  - operation: echo
    payload: { echo: { bytes: 64 } }
mode: { closed: { outstanding: $OUTSTANDING } }
duration: $length
timeout: 60s
qos: 1
EOF
}

# Runs `courier devices` to its end; its JSON Lines go to $1.jsonl.
devices_run() {
    local name=$1 length=$2
    write_profile "$name.yaml" "$(basename "$name")" "$length"
    "$COURIER" devices --profile "$name.yaml" --broker "$BROKER" --json --progress-every 500ms >"$name.jsonl" 2>"$name.log" || true
}

summary() { jq -c 'select(.summary) | .summary' "$1.jsonl" | tail -1; }

BRIDGE_PIDS=()
BRIDGE_IDS=()
WORKER_PIDS=()

# start_bridges RUN COUNT STORE CONFIG: COUNT bridges b1... of RUN on STORE (a SQLite file or
# a postgres:// URL, given through COURIER_STORE_URL), each on its own HTTP port; waits until
# every one answers /readyz.
start_bridges() {
    local run=$1 count=$2 store=$3 config=$4 index port
    BRIDGE_PIDS=()
    BRIDGE_IDS=()
    for ((index = 1; index <= count; index++)); do
        port=$(free_port)
        COURIER_STORE_URL=$store "$COURIER" bridge --config "$config" --bridge-id "$run-b$index" --http "127.0.0.1:$port" \
            >"$WORK/$run-b$index.log" 2>&1 &
        BRIDGE_PIDS+=($!)
        BRIDGE_IDS+=("$run-b$index")
        local deadline=$((SECONDS + 60))
        until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]]; do
            ((SECONDS < deadline)) || { echo "bridge $run-b$index not ready: $(tail -5 "$WORK/$run-b$index.log")" >&2; exit 1; }
            sleep 0.1
        done
    done
}

start_workers() {
    local run=$1 config=$2 index
    WORKER_PIDS=()
    for ((index = 1; index <= WORKERS; index++)); do
        "$COURIER" worker --config "$config" --worker-id "$run-w$index" >"$WORK/$run-w$index.log" 2>&1 &
        WORKER_PIDS+=($!)
    done
}

# Stops the run's bridges, then its workers (SIGTERM, then wait), and ends the bridges' durable
# broker sessions so that the next run's shared subscriptions are the only ones.
stop_all() {
    local pid id
    for pid in "${BRIDGE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${BRIDGE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for pid in "${WORKER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${WORKER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for id in "${BRIDGE_IDS[@]}"; do
        mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -i "courier-bridge-$id" -t courier/none -E 2>/dev/null || true
    done
}

TABLE=()

# measure NAME BRIDGES STORE_KIND: a warm-up, then the measured closed-loop run.
measure() {
    local name=$1 bridges=$2 kind=$3 store config="$WORK/$1.yaml"
    write_config "$config" 10s
    if [[ $kind == sqlite ]]; then
        store=sqlite:$WORK/$name.sqlite
    else
        psql_do postgres "CREATE DATABASE $name" >/dev/null
        store=postgres://courier:$PG_PASSWORD@127.0.0.1:$PG_PORT/$name
    fi
    progress "$name: $bridges bridge(s) on $kind, $WORKERS workers"
    start_workers "$name" "$config"
    start_bridges "$name" "$bridges" "$store" "$config"
    # The warm-up also lets every bridge see the workers' presence (503 until then).
    progress "$name: warm-up $WARMUP"
    devices_run "$WORK/$name-warmup" "$WARMUP"
    local before_bridges before_workers before_pg before_mqtt
    before_bridges=$(cpu_seconds "${BRIDGE_PIDS[@]}")
    before_workers=$(cpu_seconds "${WORKER_PIDS[@]}")
    before_pg=$(cpu_seconds $(postgres_pids))
    before_mqtt=$(cpu_seconds "$MOSQUITTO_PID")
    progress "$name: $DEVICES devices x $OUTSTANDING outstanding for $DURATION"
    devices_run "$WORK/$name" "$DURATION"
    local used_bridges used_workers used_pg used_mqtt
    used_bridges=$(echo "$(cpu_seconds "${BRIDGE_PIDS[@]}") - $before_bridges" | bc | xargs printf "%.2f")
    used_workers=$(echo "$(cpu_seconds "${WORKER_PIDS[@]}") - $before_workers" | bc | xargs printf "%.2f")
    used_pg=$(echo "$(cpu_seconds $(postgres_pids)) - $before_pg" | bc | xargs printf "%.2f")
    used_mqtt=$(echo "$(cpu_seconds "$MOSQUITTO_PID") - $before_mqtt" | bc | xargs printf "%.2f")
    local owners=""
    if [[ $kind == postgres ]]; then
        owners=$(psql_do "$name" "SELECT string_agg(n::text, '/' ORDER BY owner) FROM (SELECT owner, count(*) n FROM requests GROUP BY owner) o")
    fi
    stop_all
    local s
    s=$(summary "$WORK/$name")
    [[ -n $s ]] || { echo "$name: no summary from courier devices: $(tail -5 "$WORK/$name.log")" >&2; exit 1; }
    TABLE+=("$(jq -r --arg name "$name" --arg b "$bridges" --arg kind "$kind" --arg cb "$used_bridges" --arg cw "$used_workers" \
        --arg cp "$used_pg" --arg cm "$used_mqtt" --arg cd "$(jq -r '.cpuSeconds * 100 | round / 100' <<<"$s")" --arg owners "${owners:--}" '
        [$name, $b, $kind,
         ((.replies["200"] // 0) / .seconds | floor | tostring),
         (.latency.p50 * 100 | round / 100 | tostring), (.latency.p99 * 100 | round / 100 | tostring),
         ((.sent - (.replies["200"] // 0)) | tostring), ((.mismatches + .unmatched) | tostring), (.duplicates | tostring),
         $cb, $cw, $cp, $cm, $cd, $owners] | join(" | ")' <<<"$s")")
}

TAKEOVERS=()

# takeover LEASE: three bridges on PostgreSQL under load; the first is SIGKILLed 5 s in.
takeover() {
    local lease=$1 name config
    name=takeover_${lease}
    config="$WORK/$name.yaml"
    write_config "$config" "$lease"
    psql_do postgres "CREATE DATABASE $name" >/dev/null
    progress "$name: 3 bridges on postgres, lease $lease"
    start_workers "$name" "$config"
    start_bridges "$name" 3 "postgres://courier:$PG_PASSWORD@127.0.0.1:$PG_PORT/$name" "$config"
    local seconds=${lease%s}
    local length=$((5 + seconds + 15))s
    devices_run "$WORK/$name" "$length" &
    local devices=$!
    sleep 5
    local victim=${BRIDGE_PIDS[0]}
    kill -KILL "$victim"
    local killed_at
    killed_at=$(now_ms)
    wait "$victim" 2>/dev/null || true
    # What the dead bridge held: its pending requests and its replies not yet delivered.
    psql_do "$name" "CREATE TABLE bench_held AS SELECT id FROM requests WHERE owner = '$name-b1' AND delivered_at IS NULL" >/dev/null
    progress "$name: SIGKILLed $name-b1; devices run for $length"
    wait "$devices"
    local held last_delivered undelivered took_over
    read -r held last_delivered undelivered <<<"$(psql_do "$name" \
        "SELECT count(*), coalesce(max(r.delivered_at) - $killed_at, 0), count(*) FILTER (WHERE r.delivered_at IS NULL)
         FROM bench_held h JOIN requests r USING (id)" | tr '|' ' ')"
    took_over=$(grep -h 'took over the requests' "$WORK/$name-b2.log" "$WORK/$name-b3.log" | grep "from=$name-b1" |
        sed -E 's/^time=([^ ]+) .*/\1/' | head -1)
    local took_over_ms="-"
    [[ -n $took_over ]] && took_over_ms=$(($(date -d "$took_over" +%s%3N) - killed_at))
    BRIDGE_PIDS=("${BRIDGE_PIDS[@]:1}")
    stop_all
    local s
    s=$(summary "$WORK/$name")
    TAKEOVERS+=("$(jq -r --arg lease "$lease" --arg t "$took_over_ms" --arg held "$held" --arg last "$last_delivered" --arg undelivered "$undelivered" '
        [$lease, $t, $held, $last, $undelivered, (.latency.max | round | tostring),
         ((.replies["200"] // 0) | tostring), (.sent | tostring), (.timeouts | tostring),
         ((.mismatches + .unmatched) | tostring), (.duplicates | tostring)] | join(" | ")' <<<"$s")")
}

echo "command:  Benchmarks/cluster.sh (DEVICES=$DEVICES OUTSTANDING=$OUTSTANDING DURATION=$DURATION WARMUP=$WARMUP WORKERS=$WORKERS LEASES='$LEASES' PG_OPTIONS='$PG_OPTIONS')"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine:  $(nproc) cores; courier $COURIER ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "broker:   private mosquitto $BROKER; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT${PG_OPTIONS:+ ($PG_OPTIONS)}"
echo "load:     courier devices: $DEVICES devices x $OUTSTANDING outstanding, MQTT 5, QoS 1, echo, 64-byte payloads, $DURATION after a $WARMUP warm-up"

measure sqlite_1 1 sqlite
measure postgres_1 1 postgres
measure postgres_2 2 postgres
measure postgres_3 3 postgres
for lease in $LEASES; do takeover "$lease"; done

echo
echo "| run | bridges | store | requests/s | p50 ms | p99 ms | not 200 | mismatches | duplicates | CPU s bridges | workers | postgres | mosquitto | devices | requests per bridge |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${TABLE[@]}"; do echo "| $row |"; done
echo
echo "| lease | kill → takeover logged (ms) | requests held by the killed bridge | kill → last of them delivered (ms) | never delivered | devices' max latency (ms) | replies 200 | sent | timeouts | mismatches | duplicates |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${TAKEOVERS[@]}"; do echo "| $row |"; done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
