#!/usr/bin/env bash
# THE test command of the project:
#
#   scripts/test.sh            everything, interop tests against OTP 25, 27 and 29
#   scripts/test.sh --quick    the same, but interop tests against OTP 25 only
#   scripts/test.sh --otp 27   interop tests against the given release(s) only
#
# Stages, in order: cargo fmt --check, clippy -D warnings, shellcheck of the
# scripts (if shellcheck is installed), unit tests (lib + bins), doc tests,
# every fuzz target for 60 s (scripts/fuzz.sh, needs cargo-fuzz),
# `cargo bench --no-run` (only if benches/ exists), the Docker images of the
# container tests (scripts/images.sh, if a Docker engine answers), then every integration
# test binary (tests/integration/main.rs and any other tests/*.rs) once per
# OTP release, selected with DISTRO_OTP, and the bounded fault campaign
# (scripts/campaign.sh --ci, a few minutes). All stages run even when one fails;
# a summary table follows, and the exit status is non-zero if anything failed.
#
# A missing OTP release fails the run under CI (CI=true) and is skipped with a
# notice locally. When run as root on a machine that lacks Erlang or the OTP
# chroots, scripts/provision.sh is run first (DISTRO_NO_PROVISION=1 prevents
# that). Works from any directory.
set -uo pipefail
export LC_NUMERIC=C # EPOCHREALTIME with a decimal point

repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2

releases=(25 27 29)
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) releases=(25) ;;
        --otp)
            [ $# -ge 2 ] || {
                echo "--otp needs a release" >&2
                exit 2
            }
            if [ "${otp_given:-}" != 1 ]; then
                releases=()
                otp_given=1
            fi
            releases+=("$2")
            shift
            ;;
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

in_ci() { [ -n "${CI:-}" ] && [ "${CI}" != false ] && [ "${CI}" != 0 ]; }

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# Provision when running as root on a machine that lacks something.
needs_provisioning() {
    local r
    command -v cargo >/dev/null 2>&1 || return 0
    command -v erl >/dev/null 2>&1 || return 0
    for r in "${releases[@]}"; do
        scripts/otp.sh "$r" --check >/dev/null 2>&1 || return 0
        # Elixir of the release (the chroots got it later than erl).
        scripts/otp.sh "$r" elixir --short-version </dev/null >/dev/null 2>&1 || return 0
        # jinterface of the release (the chroots got it later still).
        local root="${DISTRO_OTP_ROOT:-/opt/distro-otp}/otp$r"
        [ -e "$root/usr/bin/erl" ] || root=""
        compgen -G "$root/usr/lib/erlang/lib/jinterface-*/priv/OtpErlang.jar" >/dev/null || return 0
    done
    command -v java >/dev/null 2>&1 || return 0
    getent ahostsv6 ip6-localhost >/dev/null 2>&1 || return 0
    return 1
}
if [ "$(id -u)" -eq 0 ] && [ "${DISTRO_NO_PROVISION:-}" != 1 ] && needs_provisioning; then
    echo "==> something is missing; running scripts/provision.sh (DISTRO_NO_PROVISION=1 to skip)"
    scripts/provision.sh || echo "provision failed; the affected stages will fail or skip" >&2
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi

logdir=$(mktemp -d "${TMPDIR:-/tmp}/distro-test.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

declare -a rows=()
failed=0

# record NAME RESULT PASSED FAILED IGNORED SECONDS
record() {
    rows+=("$(printf '%-26s %-5s %7s %7s %8s %8.1f s' "$@")")
    [ "$2" = FAIL ] && failed=1
    return 0
}

# Sums libtest's "test result:" lines of a log: prints "passed failed ignored".
count_tests() {
    awk '/^test result:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i) ~ /^passed;?$/) p += $(i - 1)
                if ($(i) ~ /^failed;?$/) f += $(i - 1)
                if ($(i) ~ /^ignored;?$/) g += $(i - 1)
            }
         }
         END { printf "%d %d %d\n", p, f, g }' "$1"
}

# stage NAME [--tests] COMMAND...: run COMMAND, show its output, record result.
stage() {
    local name=$1 counts=no
    shift
    if [ "$1" = --tests ]; then
        counts=yes
        shift
    fi
    local log="$logdir/stage.log" start end secs rc p=- f=- i=-
    echo
    echo "==> $name: $*"
    start=$EPOCHREALTIME
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    end=$EPOCHREALTIME
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    if [ "$counts" = yes ]; then
        read -r p f i < <(count_tests "$log")
    fi
    if [ "$rc" -eq 0 ]; then
        record "$name" PASS "$p" "$f" "$i" "$secs"
    else
        echo "==> $name FAILED (exit status $rc)"
        record "$name" FAIL "$p" "$f" "$i" "$secs"
        # What each failed test said, for the end of the output (a CI log
        # is often read from its tail).
        awk -v stage="$name" '
            /^---- .* stdout ----$/ { t = $2; n = 0; next }
            t != "" && /panicked at/ { print "[" stage "] " t ": " $0; n = 4; next }
            n > 0 { print "    " substr($0, 1, 400); n-- }
        ' "$log" >>"$logdir/failures"
    fi
}

echo "==> $(cargo --version 2>/dev/null || echo 'cargo: not found'), $(rustc --version 2>/dev/null)"

stage "fmt" cargo fmt --all -- --check
stage "clippy" cargo clippy --all-targets -- -D warnings
if command -v shellcheck >/dev/null 2>&1; then
    stage "shellcheck" shellcheck scripts/*.sh .ci/run
fi
stage "unit tests" --tests cargo test --lib --bins
stage "doc tests" --tests cargo test --doc
stage "rustdoc" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
# Every fuzz target for DISTRO_FUZZ_SECONDS (default 60 s) from its seeds;
# without cargo-fuzz (outside CI) the targets are only built.
if cargo fuzz --version >/dev/null 2>&1 || in_ci; then
    stage "fuzz" scripts/fuzz.sh
else
    echo "==> cargo-fuzz not installed (cargo install cargo-fuzz --locked): fuzz targets only built"
    stage "fuzz targets build" cargo check --quiet --manifest-path fuzz/Cargo.toml --bins
fi
if [ -d benches ]; then
    stage "benches build" cargo bench --no-run
    # A bounded slice of the benchmark: the quick load round, for its table
    # (distro/BEAM ratios are printed, never asserted).
    if command -v erl >/dev/null 2>&1; then
        stage "bench (load round, quick)" cargo bench --bench interop -- --load --quick
    fi
fi
# The images of the container tests (tests/integration/containers.rs):
# scripts/images.sh, after the benches so that its release build is theirs.
if docker info >/dev/null 2>&1; then
    stage "docker images" scripts/images.sh
elif in_ci; then
    echo "==> docker images: FAIL under CI: no Docker engine answers" >&2
    record "docker images" FAIL - - - 0
else
    echo "==> docker images: skipped locally: no Docker engine (container tests skip)" >&2
    record "docker images" SKIP - - - 0
fi

for r in "${releases[@]}"; do
    name="integration OTP $r"
    if where=$(scripts/otp.sh "$r" --check 2>"$logdir/otp.err"); then
        echo
        echo "==> OTP $where"
        # Every integration test target (the `integration` binary and any
        # other tests/*.rs), with a hard limit so that a hung test cannot
        # stall CI.
        DISTRO_OTP=$r stage "$name" --tests \
            timeout --kill-after=30s 12m cargo test --test '*' -- --test-threads=2
    else
        reason=$(cat "$logdir/otp.err")
        if in_ci; then
            echo "==> $name: FAIL under CI: $reason" >&2
            record "$name" FAIL - - - 0
        else
            echo "==> $name: skipped locally: $reason (run scripts/provision.sh)" >&2
            record "$name" SKIP - - - 0
        fi
    fi
done

# The bounded slice of the fault campaign (scripts/campaign.sh --ci): a
# few events on a distro+BEAM cluster and the same seed all-BEAM, against
# the first release; partitions only as root.
if scripts/otp.sh "${releases[0]}" --check >/dev/null 2>&1; then
    DISTRO_OTP=${releases[0]} stage "campaign --ci" \
        timeout --kill-after=30s 8m scripts/campaign.sh --ci
fi

echo
echo "==> summary"
printf '%-26s %-5s %7s %7s %8s %10s\n' stage result passed failed ignored time
for row in "${rows[@]}"; do
    echo "$row"
done
if [ "$failed" -ne 0 ]; then
    if [ -s "$logdir/failures" ]; then
        echo "==> failed tests"
        cat "$logdir/failures"
    fi
    echo "==> FAILED"
    exit 1
fi
echo "==> OK"
