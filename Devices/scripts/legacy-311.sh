#!/usr/bin/env bash
# An MQTT 3.1.1 device: no Response Topic or Correlation Data, so the request id travels in
# the topic and the status comes back as the last level of the reply topic.
#
#   request  devices/{device}/requests/{operation}/{requestId}
#   reply    devices/{device}/replies/{operation}/{requestId}/{status}    e.g. .../echo/r1/200
#
# The device subscribes to its reply (with + for the status) before it publishes. (device,
# operation, requestId) is the request's identity: running this again with the same
# REQUEST_ID within the bridge's retention (10 min) gets the stored reply, and the operation
# does not run twice. Use a new REQUEST_ID for a new request.
source "$(dirname "$0")/common.sh"

REQUEST_ID=${REQUEST_ID:-r1}
MESSAGE=${MESSAGE:-hello from an MQTT 3.1.1 device}

# Prints the first reply's topic and payload, then exits (or gives up after WAIT seconds).
run mosquitto_sub -V 311 -h "$HOST" -p "$PORT" -q 1 -C 1 -W "$WAIT" -v \
    -t "devices/$DEVICE/replies/echo/$REQUEST_ID/+" "${EXTRA[@]}" &
subscriber=$!
sleep 1  # mosquitto_sub gives no signal when it has subscribed; give it a moment

run mosquitto_pub -V 311 -h "$HOST" -p "$PORT" -q 1 \
    -t "devices/$DEVICE/requests/echo/$REQUEST_ID" \
    -m "$MESSAGE" "${EXTRA[@]}"

if wait "$subscriber"; then
    echo "(the last topic level is the status)" >&2
else
    echo "no reply within $WAIT s: is courier running on $HOST:$PORT?" >&2
    exit 1
fi
