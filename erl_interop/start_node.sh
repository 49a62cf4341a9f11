#!/bin/sh
# Starts a node for the walkthroughs (see README.md):
#
#   ./start_node.sh erlang cp2        # erl, myapp, config/cp2.config
#   ./start_node.sh elixir two        # iex, the Elixir distro app, config/two.config
#   ./start_node.sh distro one        # the distro binary, --app distro (cp*: --app myapp)
#
# Node names and configs:
#   NAMING unset   -name NAME@127.0.0.1 with config/NAME.config (every node
#                  on this machine: the walkthroughs, scripts/demo.sh)
#   NAMING=sname   -sname NAME (NAME@`uname -n`) with config/sname/NAME.config
#   NAMING=name    -name NAME@HOST.DOMAIN (`uname -n` and the container's
#                  domain name) with config/name/NAME.config
# The last two are for one host per node (docker-compose.yml, the container
# tests): host `one` runs one@one, or one@one.distro.test.
#
# Environment: COOKIE (default "distro"), ERL_EPMD_PORT, MYAPP_START_PHASES=1,
# NOSHELL=1 (no interactive shell, for containers, scripts and tests),
# NODE_ARGS (more erl-style flags, e.g. "-kernel net_ticktime 4"; split at
# white space), DISTRO (the distro binary; default `distro` on PATH, else
# target/release/distro of this checkout).
set -e
here=$(cd "$(dirname "$0")" && pwd)
kind=$1
name=$2
if [ -z "$kind" ] || [ -z "$name" ]; then
  echo "usage: $0 erlang|elixir|distro NAME" >&2
  exit 2
fi
cookie=${COOKIE:-distro}
case "${NAMING:-}" in
  "")
    name_flag=-name; node=$name@127.0.0.1; config=$here/config/$name ;;
  sname)
    name_flag=-sname; node=$name; config=$here/config/sname/$name ;;
  name)
    domain=$(cat /proc/sys/kernel/domainname 2>/dev/null || true)
    if [ -z "$domain" ] || [ "$domain" = "(none)" ]; then
      echo "$0: NAMING=name needs a domain name (docker run --domainname, compose domainname:)" >&2
      exit 2
    fi
    name_flag=-name; node=$name@$(uname -n).$domain; config=$here/config/name/$name ;;
  *) echo "$0: NAMING must be unset, sname or name (not $NAMING)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086 # NODE_ARGS is a list of flags
set -- ${NODE_ARGS:-}
case "$kind" in
  erlang)
    [ -f "$here/myapp/ebin/myapp_app.beam" ] || "$here/myapp/build.sh"
    shell=""
    [ "${NOSHELL:-0}" = 1 ] && shell="-noshell"
    exec erl "$name_flag" "$node" -setcookie "$cookie" $shell \
      -config "$config" -pa "$here/myapp/ebin" "$@" \
      -eval 'ok = application:start(myapp).'
    ;;
  elixir)
    [ -d "$here/distro/_build/prod/lib/distro/ebin" ] || (cd "$here/distro" && MIX_ENV=prod mix compile)
    if [ "${NOSHELL:-0}" = 1 ]; then run="elixir --no-halt"; else run="iex"; fi
    exec $run "-$name_flag" "$node" --cookie "$cookie" \
      --erl "-config $config $*" \
      -pa "$here/distro/_build/prod/lib/distro/ebin" \
      -e '{:ok, _} = Application.ensure_all_started(:distro)'
    ;;
  distro)
    case "$name" in cp*) app=myapp ;; *) app=distro ;; esac
    distro=${DISTRO:-}
    if [ -z "$distro" ]; then
      if command -v distro >/dev/null 2>&1; then distro=distro; else distro=$here/../target/release/distro; fi
    fi
    exec "$distro" "$name_flag" "$node" -setcookie "$cookie" -config "$config" "$@" --app "$app"
    ;;
  *) echo "unknown kind $kind" >&2; exit 2 ;;
esac
