#!/bin/sh
# Render index.html with the picture's URL (FRONT_IMAGE_URL: the origin's /5mo.jpg by
# default, e.g. http://cdn.woody.lab/5mo.jpg in the CDN stage), then exec the command.
set -eu

: "${FRONT_IMAGE_URL:=/5mo.jpg}"
: "${FRONT_TEMPLATE:=/usr/share/woody/index.html.template}"
: "${FRONT_INDEX_PATH:=/usr/share/woody/html/index.html}"

# A URL of safe characters only: no quotes, spaces, angle brackets, backslash or '|'.
if ! printf '%s\n' "$FRONT_IMAGE_URL" | grep -Eqx '[A-Za-z0-9:/?#@!$&()*+,;=._~%-]+'; then
    echo "woody-front: invalid FRONT_IMAGE_URL='$FRONT_IMAGE_URL'" >&2
    exit 64
fi
escaped=$(printf '%s' "$FRONT_IMAGE_URL" | sed -e 's/&/\\&amp;/g')

sed -e "s|@FRONT_IMAGE_URL@|$escaped|g" "$FRONT_TEMPLATE" > "$FRONT_INDEX_PATH.tmp"
mv "$FRONT_INDEX_PATH.tmp" "$FRONT_INDEX_PATH"

exec "$@"
