#!/usr/bin/env bash
# The `echo` operation over MQTT 5 request/reply, with mosquitto_rr.
#
# mosquitto_rr subscribes to the Response Topic, publishes the request with that Response
# Topic and the Correlation Data, prints the first reply and exits. Courier echoes the
# correlation data byte for byte and adds user property status=200; the payload and content
# type come back unchanged.
#
#   Devices/scripts/echo-rr.sh                           # as dev-1 against `courier dev`
#   MESSAGE='hi there' DEVICE=dev-7 Devices/scripts/echo-rr.sh
#
# Correlation data identifies the request for duplicate suppression: sending the same
# correlation data again within the bridge's retention (10 min) gets the stored reply without
# running the operation again. This script uses a fresh one each time unless CORRELATION is set.
source "$(dirname "$0")/common.sh"

MESSAGE=${MESSAGE:-hello from $DEVICE}
CORRELATION=${CORRELATION:-echo-$(date +%s)-$$}

run mosquitto_rr -V 5 -h "$HOST" -p "$PORT" -q 1 -W "$WAIT" \
    -t "devices/$DEVICE/requests/echo" \
    -e "devices/$DEVICE/replies/echo" \
    -D publish correlation-data "$CORRELATION" \
    -D publish content-type text/plain \
    -m "$MESSAGE" \
    -F "$REPLY_FORMAT" "${EXTRA[@]}"
