#!/usr/bin/env bash
# The fault campaign of issue 9 (tests/integration/campaign.rs):
#
#   scripts/campaign.sh --mix dbb --events 50 --seed 7    dbb, then bbb with the same seed
#   scripts/campaign.sh --mix ddd --events 200 --jobs 2   the events split over 2 clusters
#   scripts/campaign.sh --mix ddbbb --events 40          five nodes, then bbbbb
#   scripts/campaign.sh --ci                              the bounded slice of scripts/test.sh
#
# A cluster of three to five nodes, one per letter of the mix (d = the
# distro binary, b = a BEAM node of the release DISTRO_OTP selects), with
# the seed's configuration ({myapp, 5000, [one, {two, three...}]}) with
# sync_nodes_optional and net_ticktime 8, goes through --events seeded
# random faults: kill -9 and restart, two nodes killed, SIGSTOP shorter and
# longer than the tick time, a kill within the first second of a takeover,
# a partition of one node with and without its heal, and with four or five
# nodes a partition into two groups (two nodes and the rest) and its heal
# (partitions need root: cgroup v2 + iptables; without them those events
# become kill+restart). The same seed runs with all-BEAM nodes (bbb...) as
# the baseline; the two are printed side by side. A failing event prints
# the command that replays it.
#
# The distro nodes heal partitions (`distro_heal_partitions`, on by
# default; README, "Netsplits that heal"); --no-heal gives them `false`,
# OTP's behaviour after a partition (both copies keep running).
#
# --only K[:R] runs only event kind K (0-7 in the order above: kill+restart,
# two killed, stop<tick, stop>tick, kill in takeover, partition one node,
# partition+heal one, partition+heal two groups), on role R (0 = one) if
# given: a loop on one kind of fault,
# e.g. --only 4:0 --events 30 (the seed still draws every delay).
#
# --report prints the table of the runs already in CAMPAIGN_LOGDIR (e.g.
# of runs cut short: every event's progress line counts) without running.
#
# --jobs N runs N clusters at once (seeds S, S+1, ...; the events split
# between them); the mix and its baseline run one after the other unless
# --jobs is 2 or more. Exit status: 1 when the mix has a violation the
# baseline does not have for the same seed.
set -uo pipefail
repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2
mix=dbb
events=10
seed=1
jobs=1
baseline=bbb
while [ $# -gt 0 ]; do
    case "$1" in
        --mix) mix=$2; shift ;;
        --events) events=$2; shift ;;
        --seed) seed=$2; shift ;;
        --jobs) jobs=$2; shift ;;
        --no-baseline) baseline= ;;
        --no-heal) export CAMPAIGN_HEAL=0 ;;
        --only) export CAMPAIGN_ONLY=$2; shift ;;
        --report) report_only=1 ;;
        --ci) mix=dbb; events=4; seed=9; jobs=2 ;;
        -h | --help)
            sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "unknown argument: $1 (try --help)" >&2
            exit 2
            ;;
    esac
    shift
done
[[ $mix =~ ^[db]{3,5}$ ]] || {
    echo "--mix: three to five letters of d (distro) and b (BEAM), e.g. dbb or ddbbb" >&2
    exit 2
}
# The baseline has as many nodes as the mix.
[ -n "$baseline" ] && baseline=${mix//d/b}
report_only=${report_only:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
logdir=${CAMPAIGN_LOGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/campaign.XXXXXX")}
mkdir -p "$logdir"
if [ "$report_only" = 0 ]; then
cargo build --quiet --tests --bins || exit 2
bin=$(cargo test --no-run --test integration --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*integration[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || {
    echo "no integration test binary" >&2
    exit 2
}
# run MIX SEED EVENTS: one cluster; its log in $logdir/MIX.SEED.log
# shellcheck disable=SC2317 # called through xargs
run() {
    CAMPAIGN_MIX=$1 CAMPAIGN_SEED=$2 CAMPAIGN_EVENTS=$3 \
        "$bin" campaign::run --ignored --exact --nocapture --test-threads=1 \
        >"$logdir/$1.$2.log" 2>&1
    grep -h '^\[\|^replay' "$logdir/$1.$2.log" | grep -v '^\[out\]\|^\[err\]' >&2 || true
}
export -f run
export bin logdir
tasks=()
per=$(((events + jobs - 1) / jobs))
for mx in "$mix" $baseline; do
    left=$events
    for ((j = 0; j < jobs && left > 0; j++)); do
        n=$((left < per ? left : per))
        tasks+=("$mx $((seed + j)) $n")
        left=$((left - n))
    done
done
parallel=$jobs
[ -n "$baseline" ] && [ "$jobs" -ge 2 ] && parallel=$((jobs * 2))
# shellcheck disable=SC2016 # expanded by the inner bash
printf '%s\n' "${tasks[@]}" | xargs -P "$parallel" -L 1 bash -c 'run "$0" "$1" "$2"'
# A cluster killed mid-partition leaves its iptables chain (campx<pid>x<n>):
# remove those of test processes that are gone.
for c in $(iptables -S 2>/dev/null | sed -n 's/^-N \(campx\([0-9]*\)x[0-9]*\)$/\1/p'); do
    pid=${c#campx}
    pid=${pid%%x*}
    [ -d "/proc/$pid" ] && continue
    while iptables -D OUTPUT -j "$c" 2>/dev/null; do :; done
    iptables -F "$c" && iptables -X "$c"
done
fi
# summary MIX: the side-by-side column of one mix, from its result lines
summary() {
    local lines recs n med=- p95=-
    # Each cluster's final line, or its last progress line if it was cut short.
    lines=$(for f in "$logdir/$1".*.log; do
        [ -e "$f" ] || continue
        grep -h '^CAMPAIGN-RESULT' "$f" || grep -h '^CAMPAIGN-PROGRESS' "$f" | tail -1
    done)
    recs=$(grep -o 'recovery_ms=[0-9,]*' <<<"$lines" | cut -d= -f2 | tr ',' '\n' | grep . | sort -n)
    n=$(grep -c . <<<"$recs")
    if [ "$n" -gt 0 ]; then
        med=$(sed -n "$(((n + 1) / 2))p" <<<"$recs")
        p95=$(sed -n "$(((n * 95 + 99) / 100))p" <<<"$recs")
    fi
    awk -v mix="$1" -v med="$med" -v p95="$p95" '
    {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        ev += v["events"]; a += v["at_most_one"]; e += v["exactly_one"]; g += v["global"]
        p += v["placement"]; c += v["crashes"]; r += v["resets"]; t += v["two_after"]; part = v["partitions"]
    }
    END { printf "%s %d %d %d %d %d %d %d %d %s %s %s\n", mix, ev, a, e, g, p, c, r, t, med, p95, part }' <<<"$lines"
}
printf '\n%-26s' ""
rows=("$(summary "$mix")")
[ -n "$baseline" ] && rows+=("$(summary "$baseline")")
for r in "${rows[@]}"; do printf '%12s' "${r%% *}"; done
printf '\n'
names=("events" "viol: more than one copy" "viol: no copy" "viol: global names" "viol: placement" "crashes" "unhealed: cluster restarts" "  two copies after reconn." "recovery median (ms)" "recovery p95 (ms)" "partitions")
for ((f = 1; f <= ${#names[@]}; f++)); do
    printf '%-26s' "${names[$((f - 1))]}"
    for r in "${rows[@]}"; do
        read -ra col <<<"$r"
        printf '%12s' "${col[$f]:-?}"
    done
    printf '\n'
done
echo "logs: $logdir"
# A distro mix fails where it has a violation the baseline lacks.
read -ra m <<<"${rows[0]}"
status=0
[ "${m[1]:-0}" -gt 0 ] || status=1
if [ -n "$baseline" ]; then
    read -ra b <<<"${rows[1]}"
    for f in 2 3 4 5 6; do
        [ "${m[$f]:-0}" -le "${b[$f]:-0}" ] || status=1
    done
fi
exit $status
