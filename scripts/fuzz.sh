#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/fuzz_targets/ on the stable toolchain
# (libFuzzer without a sanitizer: it still catches panics, aborts, stack
# overflows, hangs and runaway memory):
#
#   scripts/fuzz.sh                   every target for 60 s (CI does this)
#   scripts/fuzz.sh etf dist_frame    the named targets only
#   scripts/fuzz.sh --seconds 600     another time per target
#   scripts/fuzz.sh --long            the long run: 1 hour per target
#
# DISTRO_FUZZ_SECONDS sets the default time per target. Each target starts
# from its committed seeds (fuzz/seeds/<target>, read only) and grows its
# working corpus in fuzz/corpus/<target> (git-ignored, kept between runs).
# An input that panics, aborts, overflows the stack, runs longer than 10 s
# or makes the process pass 2 GiB fails the run: libFuzzer saves it under
# fuzz/artifacts/<target>/, and the replay command is printed. A summary
# table gives the executions per target. Needs cargo-fuzz
# (scripts/provision.sh installs it: cargo install cargo-fuzz --locked).
set -uo pipefail

repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2

seconds=${DISTRO_FUZZ_SECONDS:-60}
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds)
            [ $# -ge 2 ] || {
                echo "--seconds needs a number" >&2
                exit 2
            }
            seconds=$2
            shift
            ;;
        --long) seconds=3600 ;;
        -h | --help)
            sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "unknown option: $1 (try --help)" >&2
            exit 2
            ;;
        *) targets+=("$1") ;;
    esac
    shift
done
case "$seconds" in
    '' | *[!0-9]*)
        echo "seconds must be a whole number, not '$seconds'" >&2
        exit 2
        ;;
esac

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 1
fi

if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_targets/*.rs; do
        t=$(basename "$f" .rs)
        targets+=("$t")
    done
fi

echo "==> building ${targets[*]} ($(cargo fuzz --version), $(rustc --version))"
if ! cargo fuzz build --sanitizer none; then
    echo "==> fuzz: build failed" >&2
    exit 1
fi

logdir=$(mktemp -d "${TMPDIR:-/tmp}/distro-fuzz.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

declare -a rows=()
failed=0
for t in "${targets[@]}"; do
    seeds=fuzz/seeds/$t
    [ -d "$seeds" ] || {
        echo "==> $t: no seed directory $seeds" >&2
        failed=1
        rows+=("$(printf '%-12s %-5s' "$t" FAIL)")
        continue
    }
    mkdir -p "fuzz/corpus/$t"
    log=$logdir/$t.log
    echo
    echo "==> $t: $seconds s from $seeds"
    cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" "$seeds" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done |^stat::(number_of_executed_units|peak_rss_mb)' "$log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        result=PASS
    else
        result=FAIL
        failed=1
        tail -n 60 "$log"
        artifact=$(sed -n 's/.*Test unit written to \(\S*\).*/\1/p' "$log" | tail -1)
        if [ -n "$artifact" ]; then
            echo "==> $t FAILED on $artifact; replay with:"
            echo "    cargo fuzz run --sanitizer none $t $artifact"
        else
            echo "==> $t FAILED (exit status $rc)"
        fi
    fi
    rows+=("$(printf '%-12s %-5s %14s %8s %10s %12s' "$t" "$result" "${runs:--}" \
        "$seconds" "$corpus" "${rss:--}")")
done

echo
echo "==> fuzz summary"
printf '%-12s %-5s %14s %8s %10s %12s\n' target result executions seconds corpus peak_rss_mb
printf '%s\n' "${rows[@]}"
exit "$failed"
