#!/usr/bin/env bash
# The demo: the seed walkthrough as a mixed cluster on loopback.
#
#   one   = distro (Rust)   -config erl_interop/config/one --app distro
#   two   = Elixir node     erl_interop/start_node.sh elixir two
#   three = Elixir node     erl_interop/start_node.sh elixir three
#
# with {distributed, [{distro, 5000, [one, {two, three}]}]}:
#   1. the app runs at one; Distro.DistroCal.add(4, 5) called at two is 9,
#      served by the Rust node through {:global, Distro.DistroCal};
#   2. one is killed: after 5 s two or three takes over; add(4, 5) is still 9;
#   3. one comes back: it takes the application over, the old node stops it.
#
# Everything runs on 127.0.0.1 with a private EPMD; every process started
# here is stopped (by PID) at the end. Needs erl and elixir (run as root on
# a fresh machine and scripts/provision.sh installs them).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
work=$(mktemp -d /tmp/distro-demo.XXXXXX)
pids=()

cleanup() {
    for p in "${pids[@]}"; do
        kill -9 "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

if [ -t 1 ]; then
    say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
    say() { printf '\n==> %s\n' "$*"; }
fi

need() { command -v "$1" >/dev/null 2>&1; }
if ! need erl || ! need elixir || ! need epmd; then
    if [ "$(id -u)" = 0 ]; then
        say "installing Erlang/OTP and Elixir (scripts/provision.sh)"
        scripts/provision.sh
    else
        echo "demo: needs erl, epmd and elixir (apt-get install erlang-nox elixir, or run scripts/provision.sh as root)" >&2
        exit 1
    fi
fi

say "building distro"
cargo build --release --quiet
distro="$top/target/release/distro"

say "compiling the Elixir demo application (erl_interop/distro)"
(cd erl_interop/distro && MIX_ENV=prod mix compile >/dev/null)

# A free port for the private EPMD (python3 if present, else a random high port).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 40000)))
export ERL_EPMD_PORT=$port COOKIE=distro NOSHELL=1
say "starting a private EPMD on 127.0.0.1:$port"
epmd -port "$port" &
pids+=($!)
sleep 0.5

start_elixir() {
    erl_interop/start_node.sh elixir "$1" >"$work/$1.log" 2>&1 &
    pids+=($!)
}

start_one() {
    "$distro" -name one@127.0.0.1 -setcookie distro -config erl_interop/config/one --app distro \
        >"$work/one.log" 2>&1 &
    one_pid=$!
    pids+=("$one_pid")
}

# wait_log FILE TEXT SECONDS
wait_log() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "demo: timed out waiting for '$2' in $(basename "$1")" >&2
    tail -20 "$1" >&2
    return 1
}

# at NODE EXPR: evaluates EXPR at NODE from a hidden control node.
at() {
    erl -name "ctl$RANDOM@127.0.0.1" -setcookie distro -hidden -noshell -start_epmd false -eval "
        R = rpc:call('$1@127.0.0.1', erlang, apply, [fun() -> $2 end, []]),
        io:format(\"~p~n\", [R]), halt()."
}

add_at_two() {
    local v server
    v=$(at two "'Elixir.Distro.DistroCal':add(4, 5)")
    server=$(at two "node(global:whereis_name('Elixir.Distro.DistroCal'))")
    echo "    Distro.DistroCal.add(4, 5) at two = $v   (served by $server)"
}

say "starting two and three (Elixir) and one (distro, the Rust node)"
start_elixir two
start_elixir three
start_one
wait_log "$work/one.log" "Distro application in :normal mode" 30
grep -F "Distro application" "$work/one.log" | sed 's/^/    one: /'

say "step 1: the application runs at one (Rust)"
for _ in $(seq 1 50); do
    [ "$(at two "'Elixir.Distro.DistroCal':add(4, 5)")" = 9 ] && break
    sleep 0.2
done
add_at_two

say "step 2: kill -9 one; after the 5 s restart time two or three takes over"
kill -9 "$one_pid"
wait "$one_pid" 2>/dev/null || true
start=$EPOCHREALTIME
for _ in $(seq 1 150); do
    if grep -qF "Distro application in :normal mode" "$work/two.log" "$work/three.log"; then break; fi
    sleep 0.1
done
end=$EPOCHREALTIME
grep -HF "Distro application" "$work/two.log" "$work/three.log" | sed "s|$work/||; s/^/    /"
awk -v a="$start" -v b="$end" 'BEGIN { printf "    failover after %.1f s\n", b - a }'
add_at_two

say "step 3: one comes back and takes the application over"
start_one
wait_log "$work/one.log" "Distro application in {:takeover" 30
grep -F "Distro application" "$work/one.log" | sed 's/^/    one: /'
for n in two three; do
    if wait_log "$work/$n.log" "Application distro exited" 5 2>/dev/null; then
        grep -F "Application distro exited" "$work/$n.log" | sed "s/^/    $n: /"
    fi
done
for _ in $(seq 1 50); do
    [ "$(at two "node(global:whereis_name('Elixir.Distro.DistroCal'))")" = "'one@127.0.0.1'" ] && break
    sleep 0.2
done
add_at_two

say "done; stopping every node started here"
