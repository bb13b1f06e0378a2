#!/usr/bin/env bash
# The `telemetry.anomalies` operation: readings whose z-score against the batch is at least
# the threshold.
#
#   request  {"readings": [20.1, 20.3, ..., 35.0, ...], "threshold": 3.0}
#   reply    {"anomalies": [{"index": 7, "value": 35.0, "z": 3.31...}]}, status 200
#
# Then the same operation with a bad request (a reading that is not a number), which gets
# status 400, user property error=bad_request and a JSON body saying what is wrong:
#   {"error": {"status": 400, "code": "bad_request", "message": "..."}}
source "$(dirname "$0")/common.sh"

READINGS=${READINGS:-[20.1, 20.3, 20.2, 20.4, 20.0, 20.2, 20.3, 35.0, 20.1, 20.2, 20.4, 20.3]}
THRESHOLD=${THRESHOLD:-3.0}

request() {
    run mosquitto_rr -V 5 -h "$HOST" -p "$PORT" -q 1 -W "$WAIT" \
        -t "devices/$DEVICE/requests/telemetry.anomalies" \
        -e "devices/$DEVICE/replies/telemetry.anomalies" \
        -D publish correlation-data "anomalies-$1-$(date +%s)-$$" \
        -D publish content-type application/json \
        -m "$2" \
        -F "$REPLY_FORMAT" "${EXTRA[@]}"
}

echo "# a good batch: one reading stands out" >&2
request good "{\"readings\": $READINGS, \"threshold\": $THRESHOLD}"
echo >&2
echo "# a bad batch: 400 bad_request" >&2
request bad '{"readings": [20.1, "warm", 20.3], "threshold": 3.0}'
