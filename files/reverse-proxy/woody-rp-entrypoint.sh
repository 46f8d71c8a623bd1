#!/bin/sh
# Render the reverse-proxy configuration from RP_* environment variables, then exec the
# command (nginx by default). Plain POSIX sh + sed: no envsubst needed in the base image.
set -eu

: "${RP_LISTEN_PORT:=8080}"
: "${RP_RESOLVER:=127.0.0.11}"
: "${RP_RESOLVER_VALID:=5s}"
: "${RP_API_HOST:=api}"
: "${RP_API_PORT:=5000}"
: "${RP_FRONT_HOST:=front}"
: "${RP_FRONT_PORT:=80}"
: "${RP_STATIC_RATE:=300k}"
: "${RP_PROXY_READ_TIMEOUT:=120s}"
: "${RP_TEMPLATE:=/etc/woody/woody-rp.conf.template}"
: "${RP_CONF_PATH:=/etc/nginx/conf.d/woody-rp.conf}"

# Each value must match its pattern (whole value), which also keeps sed and nginx safe.
check() {
    if ! printf '%s\n' "$2" | grep -Eqx "$3"; then
        echo "woody-rp: invalid $1='$2' (expected $3)" >&2
        exit 64
    fi
}
check RP_LISTEN_PORT "$RP_LISTEN_PORT" '([0-9.]+:)?[0-9]{1,5}'
check RP_RESOLVER "$RP_RESOLVER" '[][0-9A-Za-z.:_ -]+'
check RP_RESOLVER_VALID "$RP_RESOLVER_VALID" '[0-9]+(ms|s|m)?'
check RP_API_HOST "$RP_API_HOST" '[0-9A-Za-z._-]+'
check RP_API_PORT "$RP_API_PORT" '[0-9]{1,5}'
check RP_FRONT_HOST "$RP_FRONT_HOST" '[0-9A-Za-z._-]+'
check RP_FRONT_PORT "$RP_FRONT_PORT" '[0-9]{1,5}'
check RP_STATIC_RATE "$RP_STATIC_RATE" '[0-9]+[kKmMgG]?'
check RP_PROXY_READ_TIMEOUT "$RP_PROXY_READ_TIMEOUT" '[0-9]+(ms|s|m)?'

sed -e "s|@RP_LISTEN_PORT@|$RP_LISTEN_PORT|g" \
    -e "s|@RP_RESOLVER@|$RP_RESOLVER|g" \
    -e "s|@RP_RESOLVER_VALID@|$RP_RESOLVER_VALID|g" \
    -e "s|@RP_API_HOST@|$RP_API_HOST|g" \
    -e "s|@RP_API_PORT@|$RP_API_PORT|g" \
    -e "s|@RP_FRONT_HOST@|$RP_FRONT_HOST|g" \
    -e "s|@RP_FRONT_PORT@|$RP_FRONT_PORT|g" \
    -e "s|@RP_STATIC_RATE@|$RP_STATIC_RATE|g" \
    -e "s|@RP_PROXY_READ_TIMEOUT@|$RP_PROXY_READ_TIMEOUT|g" \
    "$RP_TEMPLATE" > "$RP_CONF_PATH.tmp"
mv "$RP_CONF_PATH.tmp" "$RP_CONF_PATH"

exec "$@"
