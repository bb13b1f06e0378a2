#!/usr/bin/env bash
# A device that answers commands by hand, MQTT 5, with mosquitto_sub and mosquitto_pub.
#
# The bridge sends a command to devices/{device}/commands/{command} with a Response Topic
# (devices/{device}/command-replies/{command}) and Correlation Data (the command id). The device
# answers on that Response Topic with the same Correlation Data and user property status (absent
# means 200; 102 is progress, 202 "received, working", anything else final). The command id is
# an idempotency key: a repeated attempt (the bridge retries a command that got no answer in
# time) is answered again, and the command does not run twice.
#
#   Devices/scripts/command-device.sh                  # as dev-1, until Ctrl-C
#   COUNT=1 STATUS=500 Devices/scripts/command-device.sh
#
# COUNT: exit after answering this many distinct commands (default 0: never). STATUS: the status
# to answer with (default 200). The payload comes back as the answer. The session is persistent
# (client id = the device id), so commands sent while the script is not running wait at the
# broker until their expiry. Command ids and payloads are taken as one line of text each.
source "$(dirname "$0")/common.sh"

COUNT=${COUNT:-0}
STATUS=${STATUS:-200}
declare -A seen
distinct=0

# One line per command: topic, response topic, correlation data, payload, tab-separated.
while IFS=$'\t' read -r topic response_topic correlation payload; do
    command=${topic##*/}
    if [[ -z $response_topic || -z $correlation ]]; then
        echo "$command: no Response Topic or Correlation Data, nowhere to answer" >&2
        continue
    fi
    if [[ -n ${seen[$correlation]:-} ]]; then
        echo "repeat of $command ($correlation): the same answer again, not a second run"
    else
        seen[$correlation]=1
        distinct=$((distinct + 1))
        echo "running $command ($correlation): $payload"
    fi
    run mosquitto_pub -V mqttv5 -h "$HOST" -p "$PORT" -q 1 -t "$response_topic" \
        -D publish correlation-data "$correlation" \
        -D publish user-property status "$STATUS" \
        -m "$payload" "${EXTRA[@]}"
    echo "answered $command ($correlation): $STATUS"
    if ((COUNT > 0 && distinct >= COUNT)); then break; fi
done < <(run mosquitto_sub -V mqttv5 -h "$HOST" -p "$PORT" -q 1 -i "$DEVICE" -c -x 3600 \
    -t "devices/$DEVICE/commands/+" -F $'%t\t%R\t%D\t%p' "${EXTRA[@]}")
kill $! 2>/dev/null || true
