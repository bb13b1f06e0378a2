#!/usr/bin/env bash
# Makes the development secrets Config/mosquitto-secure.conf needs, without overwriting any
# that exist (run it again at any time; it only adds what is missing):
#
#   Config/certs/ca.crt, ca.key          a development CA (10 years)
#   Config/certs/server.crt, server.key  the broker certificate for localhost, 127.0.0.1 and ::1,
#                                        signed by that CA (2 years; remade when it no longer
#                                        verifies against the CA or expires within a week)
#   Config/secrets/<user>.pass           a random password per account, on one line
#   Config/secrets/passwd                mosquitto_passwd hashes of those passwords
#   Config/secrets/http.tokens           bearer tokens of the HTTP API (http.tokens in
#                                        Config/courier-production.yaml): one read, one write
#   Config/secrets/http-read.token,      each of those tokens alone, for the operator CLI's
#     http-write.token                   --token-file
#
# Accounts: courier-bridge, courier-worker and devices device-1, device-2, device-3, plus any
# device ids given as arguments:   Scripts/make-dev-secrets.sh thermostat-7 pump.2
#
# --dir DIR writes DIR/certs/ and DIR/secrets/ instead of Config/certs/ and Config/secrets/ (the
# tests use a temporary directory; a broker then needs its paths pointed there):
#   Scripts/make-dev-secrets.sh --dir /tmp/courier-secrets device-9
#
# Both directories are git-ignored. Never commit what this makes, and never use the
# development CA for anything reachable from outside your machine.
#
# Needs openssl and mosquitto_passwd (Scripts/install-deps.sh installs both).
set -euo pipefail
umask 077

out=Config
devices=()
while (($#)); do
    case $1 in
        --dir)
            [[ $# -ge 2 && -n $2 ]] || { echo "make-dev-secrets: --dir needs a directory" >&2; exit 2; }
            # Made and resolved here, before the cd below, so a relative DIR means the caller's.
            out=$(mkdir -p "$2" && cd "$2" && pwd)
            shift 2
            ;;
        *)
            devices+=("$1")
            shift
            ;;
    esac
done
cd "$(dirname "$0")/.."

certs=$out/certs
secrets=$out/secrets
accounts=(courier-bridge courier-worker device-1 device-2 device-3)
for device in ${devices[@]+"${devices[@]}"}; do
    # Device ids are single topic levels (SPEC: [A-Za-z0-9_.-]{1,64}); the ACL binds them by username.
    if [[ ! "$device" =~ ^[A-Za-z0-9_.-]{1,64}$ ]]; then
        echo "make-dev-secrets: \"$device\" is not a device id ([A-Za-z0-9_.-]{1,64})" >&2
        exit 2
    fi
    accounts+=("$device")
done

for tool in openssl mosquitto_passwd; do
    command -v "$tool" >/dev/null || { echo "make-dev-secrets: $tool is missing (run Scripts/install-deps.sh)" >&2; exit 1; }
done

mkdir -p "$certs" "$secrets"
chmod 755 "$certs"
chmod 700 "$secrets"
made=()
kept=()

# The development CA. Its key stays in Config/certs/ so the server certificate can be remade.
if [[ -s $certs/ca.crt && -s $certs/ca.key ]]; then
    kept+=("$certs/ca.crt (development CA)")
else
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=Courier Development CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$certs/ca.key" -out "$certs/ca.crt" 2>/dev/null
    rm -f "$certs/server.crt"  # a new CA invalidates the old server certificate
    made+=("$certs/ca.crt, $certs/ca.key (development CA)")
fi

# The broker certificate, for the names clients use on this machine.
server_ok=false
if [[ -s $certs/server.crt && -s $certs/server.key ]] &&
    openssl verify -CAfile "$certs/ca.crt" "$certs/server.crt" >/dev/null 2>&1 &&
    openssl x509 -in "$certs/server.crt" -noout -checkend 604800 >/dev/null 2>&1; then
    server_ok=true
fi
if $server_ok; then
    kept+=("$certs/server.crt (localhost, 127.0.0.1, ::1)")
else
    extensions=$(mktemp)
    trap 'rm -f "$extensions"' EXIT
    printf '%s\n' \
        "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" >"$extensions"
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
        -keyout "$certs/server.key" -out "$certs/server.csr" 2>/dev/null
    openssl x509 -req -sha256 -days 730 -in "$certs/server.csr" \
        -CA "$certs/ca.crt" -CAkey "$certs/ca.key" -CAcreateserial \
        -extfile "$extensions" -out "$certs/server.crt" 2>/dev/null
    rm -f "$certs/server.csr"
    made+=("$certs/server.crt, $certs/server.key (localhost, 127.0.0.1, ::1)")
fi
# Anyone may read the certificates; only the owner the keys.
chmod 644 "$certs/ca.crt" "$certs/server.crt"
chmod 600 "$certs/ca.key" "$certs/server.key"

# One random password per account, and its hash in the mosquitto password file.
[[ -e $secrets/passwd ]] || : >"$secrets/passwd"
for account in "${accounts[@]}"; do
    pass_file="$secrets/$account.pass"
    new=false
    if [[ ! -s $pass_file ]]; then
        openssl rand -hex 16 >"$pass_file"
        new=true
    fi
    if $new || ! grep -q "^$account:" "$secrets/passwd"; then
        mosquitto_passwd -b "$secrets/passwd" "$account" "$(head -n 1 "$pass_file")"
        made+=("$pass_file and its entry in $secrets/passwd")
    else
        kept+=("$pass_file")
    fi
done
chmod 600 "$secrets/passwd" "$secrets"/*.pass

# Bearer tokens of the HTTP API: a token file as http.tokens reads it (SCOPE TOKEN [NAME]), and
# each token alone in a file for `courier requests ... --token-file`. An existing token file is
# kept as it is: it may hold tokens given out since.
tokens=$secrets/http.tokens
if [[ -s $tokens ]]; then
    kept+=("$tokens")
else
    read_token=$(openssl rand -hex 32)
    write_token=$(openssl rand -hex 32)
    printf '%s\n' "$read_token" >"$secrets/http-read.token"
    printf '%s\n' "$write_token" >"$secrets/http-write.token"
    printf '%s\n' \
        "# Bearer tokens of Courier's HTTP API, one per line: SCOPE TOKEN [NAME]" \
        "# (SCOPE read: every GET; write: everything). Made by Scripts/make-dev-secrets.sh." \
        "read  $read_token operator-read" \
        "write $write_token operator-write" >"$tokens"
    made+=("$tokens, $secrets/http-read.token, $secrets/http-write.token (HTTP API tokens)")
fi
for file in "$tokens" "$secrets/http-read.token" "$secrets/http-write.token"; do
    if [[ -e $file ]]; then chmod 600 "$file"; fi
done

# Started as root, mosquitto drops privileges to the `mosquitto` user before it reads the
# password file and the ACL, so when root runs this script that user's group may read what the
# broker needs (the plain-text .pass files stay private to their owner).
if [[ $(id -u) -eq 0 ]] && getent group mosquitto >/dev/null; then
    chgrp mosquitto "$certs" "$secrets" "$certs/server.key" "$secrets/passwd"
    chmod 750 "$secrets"
    chmod 640 "$certs/server.key" "$secrets/passwd"
fi

# The names in SPEC.md's example configuration (broker.passwordFile: Config/secrets/bridge.pass).
for short in bridge worker; do
    [[ -e $secrets/$short.pass ]] || ln -s "courier-$short.pass" "$secrets/$short.pass"
done

if ((${#made[@]})); then
    echo "made:"
    printf '  %s\n' "${made[@]}"
fi
if ((${#kept[@]})); then
    echo "kept (already there):"
    printf '  %s\n' "${kept[@]}"
fi
cat <<EOF

Start the secure broker from the repository root (a running one reloads accounts on SIGHUP):
  mkdir -p .courier/mosquitto-secure && mosquitto -c Config/mosquitto-secure.conf
Connect as a device, e.g.:
  mosquitto_sub -h localhost -p 8883 --cafile $certs/ca.crt -u device-1 -P "\$(cat $secrets/device-1.pass)" -t 'devices/device-1/replies/#' -v
Courier (Config/courier.yaml): url mqtts://localhost:8883, username courier-bridge,
passwordFile $secrets/courier-bridge.pass, tls.caFile $certs/ca.crt.
EOF
if [[ $out == Config ]]; then
    cat <<EOF
Or all of that, with the HTTP API on every interface behind the tokens in $tokens:
  courier serve --config Config/courier-production.yaml
  courier requests list --token-file $secrets/http-read.token
EOF
fi
