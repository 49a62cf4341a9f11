#!/usr/bin/env bash
# Run a program (erl, escript, epmd, erlc, ...) of a given OTP release.
#
#   scripts/otp.sh 27 erl -noshell -eval 'io:format("~s~n", [erlang:system_info(otp_release)]), halt().'
#   scripts/otp.sh 29 escript some_script.escript
#   scripts/otp.sh 25 --check     # prints "25 25.2.3 host" or exits 1 with the reason
#   scripts/otp.sh 27 --where     # prints "host" or the chroot directory
#
# A release NN runs from the chroot $DISTRO_OTP_ROOT/otpNN (default root
# /opt/distro-otp) if that directory holds /usr/bin/erl, else from the host's
# PATH. This is the same rule as the Rust harness (tests/integration/support/
# otp.rs). Chroots need root, and /proc and /dev bind-mounted into them
# (scripts/provision.sh does both). The environment, including ERL_EPMD_PORT,
# is passed through to the program.
set -euo pipefail

usage() {
    echo "usage: $0 <25|27|29> (<program> [args...] | --check | --where)" >&2
    exit 2
}

[ $# -ge 2 ] || usage
release=$1
shift
case "$release" in
    25 | 27 | 29) ;;
    *)
        echo "$0: unsupported OTP release '$release' (supported: 25 27 29)" >&2
        exit 2
        ;;
esac

root=${DISTRO_OTP_ROOT:-/opt/distro-otp}
chroot_dir="$root/otp$release"
if [ -e "$chroot_dir/usr/bin/erl" ]; then
    where=$chroot_dir
else
    where=host
fi

# run PROGRAM ARGS...: PROGRAM of this release, in its chroot or on the host.
run() {
    local program=$1
    shift
    if [ "$where" = host ]; then
        exec "$program" "$@"
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "$0: OTP $release lives in the chroot $where; running it needs root" >&2
        exit 1
    fi
    case "$program" in
        /*) ;;
        *) program=/usr/bin/$program ;;
    esac
    exec chroot "$where" "$program" "$@"
}

case "$1" in
    --where)
        echo "$where"
        ;;
    --check)
        # Run in a subshell: run() execs.
        probe='{ok, V} = file:read_file(filename:join([code:root_dir(), "releases",
                 erlang:system_info(otp_release), "OTP_VERSION"])),
               io:format("~s ~s~n", [erlang:system_info(otp_release), string:trim(V)]),
               halt().'
        if [ "$where" = host ] && ! command -v erl >/dev/null 2>&1; then
            echo "OTP $release not available: no chroot at $chroot_dir and no erl on PATH" >&2
            exit 1
        fi
        if ! out=$(timeout 120 "$0" "$release" erl -noshell -eval "$probe" </dev/null 2>&1); then
            echo "OTP $release not available ($where): ${out:-erl failed}" >&2
            exit 1
        fi
        read -r got version _ <<<"$out"
        if [ "$got" != "$release" ]; then
            echo "OTP $release not available: $where has OTP ${got:-?} (no chroot at $chroot_dir)" >&2
            exit 1
        fi
        echo "$release $version $where"
        ;;
    -*)
        usage
        ;;
    *)
        run "$@"
        ;;
esac
