#!/bin/sh
# Render index.html with the picture's URL (FRONT_IMAGE_URL: the origin's /5mo.jpg by
# default, e.g. http://cdn.woody.lab/5mo.jpg in the CDN stage) and the page's
# Content-Security-Policy (an nginx include, FRONT_CSP_PATH), then exec the command.
set -eu

: "${FRONT_IMAGE_URL:=/5mo.jpg}"
: "${FRONT_TEMPLATE:=/usr/share/woody/index.html.template}"
: "${FRONT_INDEX_PATH:=/usr/share/woody/html/index.html}"
: "${FRONT_CSP_PATH:=/etc/nginx/woody-csp.conf}"

# A URL of safe characters only: no quotes, spaces, angle brackets, backslash or '|'.
if ! printf '%s\n' "$FRONT_IMAGE_URL" | grep -Eqx '[A-Za-z0-9:/?#@!$&()*+,;=._~%-]+'; then
    echo "woody-front: invalid FRONT_IMAGE_URL='$FRONT_IMAGE_URL'" >&2
    exit 64
fi
escaped=$(printf '%s' "$FRONT_IMAGE_URL" | sed -e 's/&/\\&amp;/g')

sed -e "s|@FRONT_IMAGE_URL@|$escaped|g" "$FRONT_TEMPLATE" > "$FRONT_INDEX_PATH.tmp"
mv "$FRONT_INDEX_PATH.tmp" "$FRONT_INDEX_PATH"

# The page's Content-Security-Policy: its own style, script and pictures, plus the picture's
# origin when it is elsewhere (the CDN); nothing inline, no other origin, no framing.
case "$FRONT_IMAGE_URL" in
    http://* | https://*)
        image_origin=$(printf '%s\n' "$FRONT_IMAGE_URL" | sed -E 's|^(https?://[^/?#]+).*|\1|')
        if ! printf '%s\n' "$image_origin" | grep -Eqx 'https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?'; then
            echo "woody-front: FRONT_IMAGE_URL's origin '$image_origin' is not a plain host[:port]" >&2
            exit 64
        fi
        image_sources="'self' $image_origin" ;;
    *) image_sources="'self'" ;;
esac
csp="default-src 'none'; img-src $image_sources; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
printf 'add_header Content-Security-Policy "%s" always;\n' "$csp" > "$FRONT_CSP_PATH.tmp"
mv "$FRONT_CSP_PATH.tmp" "$FRONT_CSP_PATH"

exec "$@"
