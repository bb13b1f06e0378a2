#!/usr/bin/env bash
# Response-topic confinement: a device may only ask for replies in its own namespace,
# devices/{device}/replies/#. Here DEVICE (dev-1) asks for the reply to go to another device's
# namespace (devices/dev-2/replies/echo). The bridge's account could write there, so the bridge
# refuses: it sends no reply anywhere, logs and counts the request, and dead-letters it with
# reason forbidden_response_topic on courier/deadletters/echo.
#
# The script watches both the forbidden reply topic and the dead-letter topic, and succeeds
# when no reply arrives. (On the secure broker a device may not read courier/deadletters/# at
# all, so there only the missing reply is visible; the dead letter is in `courier deadletters list`.)
source "$(dirname "$0")/common.sh"

OTHER=${OTHER:-dev-2}
QUIET_WAIT=${QUIET_WAIT:-3}

# The dead letter the bridge publishes (JSON: id, device, operation, reason, ...).
letter=$(mktemp)
trap 'rm -f "$letter"' EXIT
run mosquitto_sub -V 5 -h "$HOST" -p "$PORT" -q 1 -C 1 -W $((QUIET_WAIT + 1)) -v \
    -t courier/deadletters/echo "${EXTRA[@]}" >"$letter" 2>/dev/null &
watcher=$!
sleep 1

set +e
run mosquitto_rr -V 5 -h "$HOST" -p "$PORT" -q 1 -W "$QUIET_WAIT" \
    -t "devices/$DEVICE/requests/echo" \
    -e "devices/$OTHER/replies/echo" \
    -D publish correlation-data "forbidden-$(date +%s)-$$" \
    -m "please answer $OTHER instead" \
    -F "$REPLY_FORMAT" "${EXTRA[@]}"
status=$?
wait "$watcher"
set -e

if ((status == 0)); then
    echo "UNEXPECTED: a reply reached devices/$OTHER/replies/echo" >&2
    exit 1
fi
echo "no reply on devices/$OTHER/replies/echo, as expected"
if grep -q '"reason":"forbidden_response_topic"' "$letter"; then
    echo "dead-lettered: $(cat "$letter")"
else
    echo "no dead letter seen on courier/deadletters/echo (on the secure broker devices may not read it: see courier deadletters list)"
fi
