#!/bin/sh
# Render the reverse-proxy configuration from RP_* environment variables, then exec the
# command (nginx by default). Plain POSIX sh + sed: no envsubst needed in the base image.
#
# The api and front names go into `upstream` blocks (shared-memory zone, least_conn), one
# server per IPv4 address the name resolves to (`getent ahostsv4`), written to an include
# file next to the configuration. When the command is nginx, a watcher started in the
# background re-resolves the names every RP_RESOLVE_INTERVAL seconds and, only when an
# address set changed, rewrites that file, checks it with `nginx -t` and reloads nginx.
#
# Optional parts of the template (HTTPS, the redirect to it, per-client limits) are lines
# marked @IF_NAME@, kept only when their variables turn them on.
set -eu

: "${RP_LISTEN_PORT:=8080}"
: "${RP_RESOLVER:=127.0.0.11}"
: "${RP_RESOLVER_VALID:=5s}"
: "${RP_RESOLVE_INTERVAL:=2}"
: "${RP_API_HOST:=api}"
: "${RP_API_PORT:=5000}"
: "${RP_FRONT_HOST:=front}"
: "${RP_FRONT_PORT:=80}"
: "${RP_STATIC_RATE:=300k}"
: "${RP_PROXY_READ_TIMEOUT:=120s}"
# A replica that vanished (its node died) leaves an address nothing answers on until the next
# resolution: give up connecting quickly and let nginx try the next replica.
: "${RP_PROXY_CONNECT_TIMEOUT:=2s}"
: "${RP_UPSTREAM_KEEPALIVE:=32}"
# host:port of the API's Redis: cache hits are answered here (woody-cache-hit.lua). Empty: off.
: "${RP_CACHE_REDIS:=}"
: "${RP_CACHE_LUA:=/etc/woody/woody-cache-hit.lua}"
# File holding Redis's password (a Docker secret), read by the Lua lookup. Empty: no password.
: "${RP_CACHE_REDIS_PASSWORD_FILE:=}"
: "${RP_UPSTREAM_KEEPALIVE_TIMEOUT:=4s}"
# HTTPS: PEM certificate (chain) and key, Docker secrets under /run/secrets in production.
# Both empty: plain HTTP only. RP_TLS_PORT is the container's HTTPS port: unprivileged like
# 8080, so nginx needs no NET_BIND_SERVICE; the published port maps 443 onto it.
: "${RP_TLS_CERT_FILE:=}"
: "${RP_TLS_KEY_FILE:=}"
: "${RP_TLS_PORT:=8443}"
# 1: plain HTTP answers 301 to HTTPS and HTTPS answers carry HSTS (needs TLS). 0: both
# schemes serve (the lab's measurements use plain HTTP). RP_HTTPS_PUBLIC_PORT is the port the
# clients see (the published one), written in the redirect's Location unless it is 443.
: "${RP_HTTPS_REDIRECT:=0}"
: "${RP_HTTPS_PUBLIC_PORT:=443}"
# Per client address (limit_req / limit_conn), each off when empty; a refused request gets a
# 429 with Retry-After: 1. RATE: requests per second; BURST (default twice the rate): requests
# answered at once above the rate, so a page and its assets never wait; CONNECTIONS: requests
# in flight at once. Behind a shared address (Swarm's ingress mesh without `mode: host`, a
# CDN edge) every client counts as one: size them for that or leave them off.
: "${RP_CLIENT_RATE:=}"
: "${RP_CLIENT_BURST:=}"
: "${RP_CLIENT_CONNECTIONS:=}"
: "${RP_GETENT:=getent}"
: "${RP_TEMPLATE:=/etc/woody/woody-rp.conf.template}"
: "${RP_CONF_PATH:=/etc/nginx/conf.d/woody-rp.conf}"
# Not *.conf, so that an `include conf.d/*.conf` does not pick it up on its own.
RP_UPSTREAM_PATH="${RP_CONF_PATH%.conf}.upstreams"

# Each value must match its pattern (whole value), which also keeps sed and nginx safe.
check() {
    if ! printf '%s\n' "$2" | grep -Eqx "$3"; then
        echo "woody-rp: invalid $1='$2' (expected $3)" >&2
        exit 64
    fi
}

# A file the configuration names (a secret): an absolute path to a readable, non-empty file.
check_file() {
    check "$1" "$2" '/[0-9A-Za-z._/-]+'
    if [ ! -s "$2" ] || [ ! -r "$2" ]; then
        echo "woody-rp: $1=$2 is missing, unreadable or empty" >&2
        exit 64
    fi
}

check RP_LISTEN_PORT "$RP_LISTEN_PORT" '([0-9.]+:)?[0-9]{1,5}'
check RP_RESOLVER "$RP_RESOLVER" '[][0-9A-Za-z.:_ -]+'
check RP_RESOLVER_VALID "$RP_RESOLVER_VALID" '[0-9]+(ms|s|m)?'
check RP_RESOLVE_INTERVAL "$RP_RESOLVE_INTERVAL" '[0-9]{1,5}'
check RP_API_HOST "$RP_API_HOST" '[0-9A-Za-z._-]+'
check RP_API_PORT "$RP_API_PORT" '[0-9]{1,5}'
check RP_FRONT_HOST "$RP_FRONT_HOST" '[0-9A-Za-z._-]+'
check RP_FRONT_PORT "$RP_FRONT_PORT" '[0-9]{1,5}'
check RP_STATIC_RATE "$RP_STATIC_RATE" '[0-9]+[kKmMgG]?'
check RP_PROXY_READ_TIMEOUT "$RP_PROXY_READ_TIMEOUT" '[0-9]+(ms|s|m)?'
check RP_PROXY_CONNECT_TIMEOUT "$RP_PROXY_CONNECT_TIMEOUT" '[0-9]+(ms|s|m)?'
check RP_UPSTREAM_KEEPALIVE "$RP_UPSTREAM_KEEPALIVE" '[0-9]{1,5}'
check RP_UPSTREAM_KEEPALIVE_TIMEOUT "$RP_UPSTREAM_KEEPALIVE_TIMEOUT" '[0-9]+(ms|s|m)?'
if [ -n "$RP_CACHE_REDIS" ]; then
    check RP_CACHE_REDIS "$RP_CACHE_REDIS" '[0-9A-Za-z._-]+:[0-9]{1,5}'
fi
check RP_CACHE_LUA "$RP_CACHE_LUA" '[0-9A-Za-z._/-]+'
if [ -n "$RP_CACHE_REDIS_PASSWORD_FILE" ]; then
    check_file RP_CACHE_REDIS_PASSWORD_FILE "$RP_CACHE_REDIS_PASSWORD_FILE"
fi
if [ -n "$RP_TLS_CERT_FILE$RP_TLS_KEY_FILE" ]; then
    if [ -z "$RP_TLS_CERT_FILE" ] || [ -z "$RP_TLS_KEY_FILE" ]; then
        echo "woody-rp: RP_TLS_CERT_FILE and RP_TLS_KEY_FILE go together (both set: HTTPS;" \
            "both empty: plain HTTP only)" >&2
        exit 64
    fi
    check_file RP_TLS_CERT_FILE "$RP_TLS_CERT_FILE"
    check_file RP_TLS_KEY_FILE "$RP_TLS_KEY_FILE"
fi
check RP_TLS_PORT "$RP_TLS_PORT" '([0-9.]+:)?[0-9]{1,5}'
check RP_HTTPS_REDIRECT "$RP_HTTPS_REDIRECT" '[01]'
check RP_HTTPS_PUBLIC_PORT "$RP_HTTPS_PUBLIC_PORT" '[0-9]{1,5}'
if [ "$RP_HTTPS_REDIRECT" = 1 ] && [ -z "$RP_TLS_CERT_FILE" ]; then
    echo "woody-rp: RP_HTTPS_REDIRECT=1 needs HTTPS (RP_TLS_CERT_FILE and RP_TLS_KEY_FILE)" >&2
    exit 64
fi
if [ -n "$RP_CLIENT_RATE" ]; then
    check RP_CLIENT_RATE "$RP_CLIENT_RATE" '[1-9][0-9]{0,5}'
    : "${RP_CLIENT_BURST:=$((RP_CLIENT_RATE * 2))}"
    check RP_CLIENT_BURST "$RP_CLIENT_BURST" '[0-9]{1,6}'
elif [ -n "$RP_CLIENT_BURST" ]; then
    echo "woody-rp: RP_CLIENT_BURST=$RP_CLIENT_BURST needs RP_CLIENT_RATE" >&2
    exit 64
fi
if [ -n "$RP_CLIENT_CONNECTIONS" ]; then
    check RP_CLIENT_CONNECTIONS "$RP_CLIENT_CONNECTIONS" '[1-9][0-9]{0,5}'
fi
check RP_GETENT "$RP_GETENT" '[0-9A-Za-z._/-]+'
check RP_CONF_PATH "$RP_CONF_PATH" '[0-9A-Za-z._/-]+'

# A name with no task behind it gets no answer from Docker's resolver for 10 s: each lookup
# is bounded (coreutils' timeout), so the watcher notices a lost service within seconds.
if command -v timeout >/dev/null 2>&1; then
    lookup_bound="timeout 1"
else
    lookup_bound=""
fi

# The IPv4 addresses NAME resolves to, sorted, one a line; nothing if it does not resolve.
resolve() {
    { $lookup_bound "$RP_GETENT" ahostsv4 "$1" 2>/dev/null || true; } \
        | awk '$1 ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ { print $1 }' \
        | sort -u -t . -k 1,1n -k 2,2n -k 3,3n -k 4,4n
}

# upstream_block UPSTREAM HOST PORT: the block, with a server per address of HOST. A name
# that does not resolve (service not running yet, scaled to 0) gets a single `down` server:
# nginx answers at once ("no live upstreams", turned into a 503 with Retry-After by the
# configuration), and the watcher keeps polling.
# Appends "UPSTREAM=addr,addr" (or "UPSTREAM=none") to $summary for the log.
upstream_block() {
    addrs=$(resolve "$2")
    printf 'upstream %s {\n    zone %s 64k;\n    least_conn;\n' "$1" "$1"
    if [ -n "$addrs" ]; then
        for addr in $addrs; do
            printf '    server %s:%s max_fails=0;\n' "$addr" "$3"
        done
        # Reused connections: a cache hit costs one request, not a TCP handshake as well.
        # Idle ones close before the API's own keep-alive (10 s) would close them under us.
        printf '    keepalive %s;\n    keepalive_timeout %s;\n' \
            "$RP_UPSTREAM_KEEPALIVE" "$RP_UPSTREAM_KEEPALIVE_TIMEOUT"
        summary="$summary $1=$(printf '%s' "$addrs" | tr '\n' ',')"
    else
        printf '    server 127.0.0.1:9 down;  # %s does not resolve\n' "$2"
        summary="$summary $1=none"
    fi
    printf '}\n'
}

# write_upstreams FILE: both upstream blocks, as they resolve now.
write_upstreams() {
    summary=""
    {
        printf '# Written by woody-rp-entrypoint.sh from the addresses of %s and %s.\n' \
            "$RP_API_HOST" "$RP_FRONT_HOST"
        upstream_block woody_api "$RP_API_HOST" "$RP_API_PORT"
        upstream_block woody_front "$RP_FRONT_HOST" "$RP_FRONT_PORT"
    } > "$1"
}

# Is process $1 still running (a zombie does not count)?
alive() {
    kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
}

# watch_upstreams MASTER NGINX-COMMAND...: poll the names while MASTER (nginx, which this
# script becomes) lives. Quiet unless an address set changes (one line) or a check fails.
watch_upstreams() {
    set +e  # a failed step is retried on the next poll; the watcher must not die of it
    master=$1
    shift
    next="$RP_UPSTREAM_PATH.next"
    keep="$RP_UPSTREAM_PATH.keep"
    held=""      # a candidate that drops a name's last address, held for one more poll
    rejected=""  # a candidate nginx -t refused, not retried until the names change again
    while sleep "$RP_RESOLVE_INTERVAL" && alive "$master"; do
        write_upstreams "$next" || continue
        if cmp -s "$next" "$RP_UPSTREAM_PATH"; then
            held=""
            continue
        fi
        candidate=$(cat "$next")
        [ "$candidate" = "$rejected" ] && continue
        # A name that stops resolving may be a DNS hiccup: drop its servers only if the
        # next poll agrees, rather than answer 502 for an interval.
        if [ "$(grep -c ' down;' "$next")" -gt "$(grep -c ' down;' "$RP_UPSTREAM_PATH")" ] \
                && [ "$candidate" != "$held" ]; then
            held=$candidate
            continue
        fi
        held=""
        cp "$RP_UPSTREAM_PATH" "$keep"
        mv "$next" "$RP_UPSTREAM_PATH"
        if output=$("$@" -t -q 2>&1); then
            echo "woody-rp: upstreams changed:$summary; reloading nginx" >&2
            kill -HUP "$master"
        else
            echo "woody-rp: new upstreams refused by nginx -t, keeping the old ones:" >&2
            printf '%s\n' "$output" >&2
            mv "$keep" "$RP_UPSTREAM_PATH"
            rejected=$candidate
        fi
    done
    rm -f "$next" "$keep"
}

write_upstreams "$RP_UPSTREAM_PATH.tmp"
mv "$RP_UPSTREAM_PATH.tmp" "$RP_UPSTREAM_PATH"
echo "woody-rp: upstreams:$summary" >&2

if [ -n "$RP_CACHE_REDIS" ]; then
    cache_http="lua_shared_dict woody_cache 64k;"
    # The Lua lookup resolves Redis's name itself: a Redis service with no task left gets no
    # answer from Docker's resolver, so the wait for one is bounded (nginx's default is 30 s).
    cache_lookup="        resolver $RP_RESOLVER valid=$RP_RESOLVER_VALID ipv6=off;
        resolver_timeout 300ms;
        set \$woody_redis_host ${RP_CACHE_REDIS%:*};
        set \$woody_redis_port ${RP_CACHE_REDIS##*:};
        set \$woody_redis_password_file \"$RP_CACHE_REDIS_PASSWORD_FILE\";
        access_by_lua_file $RP_CACHE_LUA;"
else
    cache_http="# no cache lookup here (RP_CACHE_REDIS is empty)"
    cache_lookup=""
fi

# The template's optional lines (@IF_NAME@ at the start) that are kept.
options=""
https_port_suffix=""
if [ -n "$RP_TLS_CERT_FILE" ]; then
    options="$options TLS"
    if [ "$RP_HTTPS_REDIRECT" = 1 ]; then
        options="$options REDIRECT"
    fi
    if [ "$RP_HTTPS_PUBLIC_PORT" != 443 ]; then
        https_port_suffix=":$RP_HTTPS_PUBLIC_PORT"
    fi
fi
if [ -n "$RP_CLIENT_RATE" ]; then
    options="$options RATE LIMITS"
fi
if [ -n "$RP_CLIENT_CONNECTIONS" ]; then
    options="$options CONN LIMITS"
fi

awk -v http="$cache_http" -v lookup="$cache_lookup" -v options="$options" '
    BEGIN { n = split(options, names, " "); for (i = 1; i <= n; i++) on[names[i]] = 1 }
    $0 == "@RP_CACHE_HTTP@" { print http; next }
    $0 == "@RP_CACHE_LOOKUP@" { print lookup; next }
    match($0, /^@IF_[A-Z]+@/) {
        if ((substr($0, 5, RLENGTH - 5)) in on) print substr($0, RLENGTH + 1)
        next
    }
    { print }' \
    "$RP_TEMPLATE" |
sed -e "s|@RP_LISTEN_PORT@|$RP_LISTEN_PORT|g" \
    -e "s|@RP_TLS_PORT@|$RP_TLS_PORT|g" \
    -e "s|@RP_TLS_CERT_FILE@|$RP_TLS_CERT_FILE|g" \
    -e "s|@RP_TLS_KEY_FILE@|$RP_TLS_KEY_FILE|g" \
    -e "s|@RP_HTTPS_PORT_SUFFIX@|$https_port_suffix|g" \
    -e "s|@RP_CLIENT_RATE@|$RP_CLIENT_RATE|g" \
    -e "s|@RP_CLIENT_BURST@|$RP_CLIENT_BURST|g" \
    -e "s|@RP_CLIENT_CONNECTIONS@|$RP_CLIENT_CONNECTIONS|g" \
    -e "s|@RP_UPSTREAM_PATH@|$RP_UPSTREAM_PATH|g" \
    -e "s|@RP_STATIC_RATE@|$RP_STATIC_RATE|g" \
    -e "s|@RP_PROXY_READ_TIMEOUT@|$RP_PROXY_READ_TIMEOUT|g" \
    -e "s|@RP_PROXY_CONNECT_TIMEOUT@|$RP_PROXY_CONNECT_TIMEOUT|g" \
    > "$RP_CONF_PATH.tmp"
mv "$RP_CONF_PATH.tmp" "$RP_CONF_PATH"

# The watcher's $$ is this shell's PID, which exec makes nginx's master: it reloads nginx
# with SIGHUP (what `nginx -s reload` sends) and ends when the master is gone.
if [ "$RP_RESOLVE_INTERVAL" -gt 0 ]; then
    case "${1:-}" in
        nginx | */nginx | nginx-debug | */nginx-debug)
            watch_upstreams "$$" "$@" < /dev/null &
            ;;
    esac
fi

exec "$@"
