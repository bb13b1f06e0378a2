# Shared by the scripts in this directory (sourced, not run). Settings, all optional:
#   MQTT_HOST  broker host            (default 127.0.0.1, the `courier dev` broker)
#   MQTT_PORT  broker port            (default 1883)
#   DEVICE     the device id to act as (default dev-1)
#   WAIT       seconds to wait for a reply (default 15)
# Arguments given to a script are passed on to every mosquitto_* command it runs, e.g. for
# the secure broker: --cafile Config/certs/ca.crt -u device-1 -P "$(cat Config/secrets/device-1.pass)"
set -euo pipefail

HOST=${MQTT_HOST:-127.0.0.1}
PORT=${MQTT_PORT:-1883}
DEVICE=${DEVICE:-dev-1}
WAIT=${WAIT:-15}
EXTRA=("$@")

for tool in mosquitto_rr mosquitto_sub mosquitto_pub; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: install mosquitto-clients (Scripts/install-deps.sh)" >&2; exit 1; }
done
if [[ ! "$DEVICE" =~ ^[A-Za-z0-9_.-]{1,64}$ ]]; then
    echo "DEVICE=\"$DEVICE\" is not a device id ([A-Za-z0-9_.-]{1,64})" >&2
    exit 2
fi

# Prints a command (with any password masked) to stderr, then runs it, so each script shows
# exactly what to type by hand.
run() {
    local shown=() mask=false word
    for word in "$@"; do
        if $mask; then
            shown+=("'***'")
            mask=false
        elif [[ $word =~ ^[A-Za-z0-9_./:=+@%,-]+$ ]]; then
            shown+=("$word")
        else
            shown+=("'${word//\'/\'\\\'\'}'")
        fi
        [[ $word == -P ]] && mask=true
    done
    echo "+ ${shown[*]}" >&2
    "$@"
}

# How mosquitto_rr and mosquitto_sub print an MQTT 5 reply: topic, user properties (status,
# error, traceparent), correlation data, content type, then the payload on its own line.
REPLY_FORMAT='%t  [%P]  correlation=%D  content-type=%C\n%p'
