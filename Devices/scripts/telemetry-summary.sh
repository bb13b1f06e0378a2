#!/usr/bin/env bash
# The `telemetry.summary` operation: a JSON batch of readings in, statistics out.
#
#   request  {"sensor": "temp", "readings": [21.5, 21.7, 22.0, 21.9, 22.3]}
#   reply    {"sensor": "temp", "count": 5, "min": 21.5, "max": 22.3, "mean": 21.88, "stddev": 0.2713...}
#            (population standard deviation), status 200, content type application/json
#
# A body that is not JSON, or has no readings, gets status 400 and a JSON error body, e.g.
#   READINGS='[]' Devices/scripts/telemetry-summary.sh
source "$(dirname "$0")/common.sh"

SENSOR=${SENSOR:-temp}
READINGS=${READINGS:-[21.5, 21.7, 22.0, 21.9, 22.3]}

run mosquitto_rr -V 5 -h "$HOST" -p "$PORT" -q 1 -W "$WAIT" \
    -t "devices/$DEVICE/requests/telemetry.summary" \
    -e "devices/$DEVICE/replies/telemetry.summary" \
    -D publish correlation-data "summary-$(date +%s)-$$" \
    -D publish content-type application/json \
    -m "{\"sensor\": \"$SENSOR\", \"readings\": $READINGS}" \
    -F "$REPLY_FORMAT" "${EXTRA[@]}"
