#!/bin/sh
# Starts a BEAM node for the walkthroughs (see README.md):
#
#   ./start_node.sh erlang cp2        # erl, myapp, config/cp2.config
#   ./start_node.sh elixir two        # iex, the Elixir distro app, config/two.config
#
# Environment: COOKIE (default "distro"), ERL_EPMD_PORT, MYAPP_START_PHASES=1,
# NOSHELL=1 (no interactive shell, for scripts and tests).
set -e
here=$(cd "$(dirname "$0")" && pwd)
kind=$1
name=$2
if [ -z "$kind" ] || [ -z "$name" ]; then
  echo "usage: $0 erlang|elixir NAME" >&2
  exit 2
fi
cookie=${COOKIE:-distro}
case "$kind" in
  erlang)
    [ -f "$here/myapp/ebin/myapp_app.beam" ] || "$here/myapp/build.sh"
    shell=""
    [ "${NOSHELL:-0}" = 1 ] && shell="-noshell"
    exec erl -name "$name@127.0.0.1" -setcookie "$cookie" $shell \
      -config "$here/config/$name" -pa "$here/myapp/ebin" \
      -eval 'ok = application:start(myapp).'
    ;;
  elixir)
    [ -d "$here/distro/_build/prod/lib/distro/ebin" ] || (cd "$here/distro" && MIX_ENV=prod mix compile)
    if [ "${NOSHELL:-0}" = 1 ]; then run="elixir --no-halt"; else run="iex"; fi
    exec $run --name "$name@127.0.0.1" --cookie "$cookie" \
      --erl "-config $here/config/$name" \
      -pa "$here/distro/_build/prod/lib/distro/ebin" \
      -e '{:ok, _} = Application.ensure_all_started(:distro)'
    ;;
  *) echo "unknown kind $kind" >&2; exit 2 ;;
esac
