#!/bin/sh
# Builds myapp with plain erlc (no rebar): ebin/*.beam and ebin/myapp.app.
# MYAPP_START_PHASES=1 adds {start_phases, [{go, []}]} to the .app, so that
# failover starts with {failover, Node} instead of normal.
set -e
cd "$(dirname "$0")"
mkdir -p ebin
erlc -o ebin src/*.erl
if [ "${MYAPP_START_PHASES:-0}" = 1 ]; then
  sed 's/{mod, {myapp_app, \[\]}}/{mod, {myapp_app, []}},\n  {start_phases, [{go, []}]}/' src/myapp.app.src > ebin/myapp.app
else
  cp src/myapp.app.src ebin/myapp.app
fi
