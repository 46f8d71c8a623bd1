#!/bin/sh
# Runs gunicorn as a child and passes the orchestrator's stop on to it. gunicorn ends a
# graceful stop with exit code 0, which Swarm records as a clean completion; a stop asked from
# outside is not one, so this script then exits 143 (128 + SIGTERM), like a killed process.
# Any other end keeps gunicorn's own exit code.
set -u
child=
trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi; exit 143' TERM INT
gunicorn --config "${API_GUNICORN_CONFIG:-/app/gunicorn.conf.py}" "$@" &
child=$!
wait "$child"
