#!/usr/bin/env bash
# Install everything the tests need, idempotently (a second run only checks):
#
#   * apt packages: Erlang/OTP from the host's Debian (OTP 25 on bookworm),
#     debootstrap, a C toolchain for linking, shellcheck;
#   * Rust (rustup, if cargo is missing) and the rustfmt and clippy components;
#   * a minimal Debian chroot with erlang-base and elixir for every supported
#     OTP release the host's erl is not: $DISTRO_OTP_ROOT/otpNN (default
#     /opt/distro-otp), OTP 25 = bookworm, 27 = trixie, 29 = forky; /proc and
#     /dev bind-mounted into each, and the host's /etc/hosts copied in (for
#     `erl -sname`);
#   * Elixir of every release (the host's apt package for the host's OTP, the
#     suite's package in each chroot), added to chroots built before it was
#     part of them;
#   * Docker Compose v2 (`docker compose`), trixie's Debian package, when a
#     Docker engine is installed (images: scripts/images.sh);
#   * a final check printing the release of each OTP and its Elixir.
#
# Needs root for apt, debootstrap, mount and chroot (uses sudo when not root)
# and network access to deb.debian.org (override: DISTRO_DEBIAN_MIRROR).
# Used by .ci/run, and by scripts/test.sh when it runs as root on a machine
# that lacks something.
set -euo pipefail
export LC_NUMERIC=C # EPOCHREALTIME with a decimal point

repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
otp_root=${DISTRO_OTP_ROOT:-/opt/distro-otp}
mirror=${DISTRO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
releases=(25 27 29)
apt_packages=(erlang-nox erlang-src erlang-dev elixir debootstrap debian-archive-keyring
    build-essential pkg-config ca-certificates curl shellcheck)
# Installed into every chroot (Debian's elixir depends on the erlang-* it
# needs: crypto, inets, parsetools, public-key, tools).
chroot_packages=(erlang-base elixir)

# Debian suite whose erlang-base is the given OTP release.
suite_for() {
    case "$1" in
        25) echo bookworm ;;
        27) echo trixie ;;
        29) echo forky ;;
        *) return 1 ;;
    esac
}

log() { printf '%s\n' "$*" >&2; }
die() {
    log "provision: $*"
    exit 1
}

if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    as_root() { sudo "$@"; }
else
    as_root() { die "needs root (or sudo) to run: $*"; }
fi

declare -a timings=()
# step NAME FUNCTION: run FUNCTION, print and record how long it took.
step() {
    local name=$1 fn=$2 start end
    start=$EPOCHREALTIME
    log "==> $name"
    "$fn"
    end=$EPOCHREALTIME
    timings+=("$(awk -v n="$name" -v a="$start" -v b="$end" 'BEGIN { printf "%-24s %6.1f s", n, b - a }')")
}

# --- apt packages ---------------------------------------------------------------

install_apt_packages() {
    local missing=() pkg
    for pkg in "${apt_packages[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "    all present: ${apt_packages[*]}"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
    log "    installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"
}

# --- Rust -------------------------------------------------------------------------

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        if ! command -v rustup >/dev/null 2>&1; then
            log "    installing rustup (stable, minimal profile)"
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
                sh -s -- -y --profile minimal --default-toolchain stable
            export PATH="$HOME/.cargo/bin:$PATH"
        else
            rustup toolchain install stable --profile minimal
            rustup default stable
        fi
    fi
    local component subcommand
    for component in rustfmt clippy; do
        subcommand=$component
        [ "$component" = rustfmt ] && subcommand=fmt
        if cargo "$subcommand" --version >/dev/null 2>&1; then
            log "    $component: present"
        else
            command -v rustup >/dev/null 2>&1 || die "cargo $subcommand missing and no rustup to add it"
            rustup component add "$component"
        fi
    done
    log "    $(cargo --version)"
}

# --- chroots ----------------------------------------------------------------------

host_release() {
    command -v erl >/dev/null 2>&1 || return 0
    erl -noshell -eval 'io:format("~s~n", [erlang:system_info(otp_release)]), halt().' \
        </dev/null 2>/dev/null || true
}

# Releases that need a chroot: every supported one the host's erl is not.
chroot_releases() {
    local host r
    host=$(host_release)
    for r in "${releases[@]}"; do
        [ "$r" = "$host" ] || echo "$r"
    done
}

ensure_forky_script() {
    local scripts=/usr/share/debootstrap/scripts
    if [ -e "$scripts/forky" ]; then
        log "    $scripts/forky: present"
    else
        # bookworm's debootstrap predates forky; forky is built like sid.
        as_root ln -s sid "$scripts/forky"
        log "    linked $scripts/forky -> sid"
    fi
}

mount_into() {
    local dir=$1 fs
    for fs in proc dev; do
        as_root mkdir -p "$dir/$fs"
        if mountpoint -q "$dir/$fs"; then
            log "    $dir/$fs: mounted"
        else
            as_root mount --bind "/$fs" "$dir/$fs"
            log "    $dir/$fs: bind-mounted /$fs"
        fi
    done
}

unmount_from() {
    local dir=$1 fs
    for fs in dev proc; do
        if mountpoint -q "$dir/$fs"; then
            as_root umount "$dir/$fs"
        fi
    done
}

# Removes a chroot directory without ever following its bind mounts.
remove_chroot() {
    local dir=$1
    case "$dir" in
        "$otp_root"/otp*) ;;
        *) die "refusing to remove $dir (not under $otp_root)" ;;
    esac
    unmount_from "$dir"
    if mountpoint -q "$dir/proc" || mountpoint -q "$dir/dev"; then
        die "$dir still has mounts; not removing it"
    fi
    as_root rm -rf --one-file-system "$dir"
}

chroot_works() {
    local release=$1 got
    got=$(as_root env DISTRO_OTP_ROOT="$otp_root" "$repo/scripts/otp.sh" "$release" --check 2>/dev/null) ||
        return 1
    [ "${got%% *}" = "$release" ]
}

ensure_chroot() {
    local release=$1 dir suite
    dir="$otp_root/otp$release"
    suite=$(suite_for "$release")
    if [ -e "$dir/usr/bin/erl" ]; then
        mount_into "$dir"
        if chroot_works "$release"; then
            sync_hosts "$dir"
            log "    $dir: OTP $release works"
            return
        fi
        log "    $dir exists but does not run OTP $release; rebuilding it"
    fi
    [ "$suite" = forky ] && ensure_forky_script
    local partial="$dir.partial"
    [ -e "$partial" ] && remove_chroot "$partial"
    [ -e "$dir" ] && remove_chroot "$dir"
    as_root mkdir -p "$otp_root"
    local include
    include=$(
        IFS=,
        echo "${chroot_packages[*]}"
    )
    log "    debootstrap $suite with $include into $dir (about a minute)"
    as_root debootstrap --variant=minbase --include="$include" "$suite" "$partial" "$mirror" \
        >"${TMPDIR:-/tmp}/debootstrap-otp$release.log" 2>&1 || {
        tail -n 30 "${TMPDIR:-/tmp}/debootstrap-otp$release.log" >&2
        die "debootstrap of $suite failed (log: ${TMPDIR:-/tmp}/debootstrap-otp$release.log)"
    }
    as_root mv "$partial" "$dir"
    mount_into "$dir"
    sync_hosts "$dir"
    chroot_works "$release" || die "$dir was built but does not run OTP $release"
}

# The chroots have no /etc/hosts of their own; -sname nodes must resolve the
# host name like host nodes do.
sync_hosts() {
    local dir=$1
    if ! cmp -s /etc/hosts "$dir/etc/hosts"; then
        as_root cp /etc/hosts "$dir/etc/hosts"
        log "    copied /etc/hosts into $dir"
    fi
}

ensure_chroots() {
    local r
    for r in $(chroot_releases); do
        ensure_chroot "$r"
    done
}

# --- Elixir ---------------------------------------------------------------------

# Whether `elixir` of the release runs on that release.
elixir_works() {
    local release=$1 got
    got=$(as_root env DISTRO_OTP_ROOT="$otp_root" LANG=C.UTF-8 timeout 120 \
        "$repo/scripts/otp.sh" "$release" elixir -e 'IO.puts System.otp_release' \
        </dev/null 2>/dev/null) || return 1
    [ "$got" = "$release" ]
}

chroot_apt_install() {
    local dir=$1
    shift
    as_root chroot "$dir" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >/dev/null
}

# Chroots built before elixir was in chroot_packages lack it: install it with
# the chroot's own apt (its sources.list is the one debootstrap wrote).
ensure_chroot_elixir() {
    local release=$1 dir
    dir="$otp_root/otp$release"
    if elixir_works "$release"; then
        log "    $dir: elixir present"
        return
    fi
    log "    $dir: installing elixir"
    # Name resolution for apt, as debootstrap set it up (never writing
    # through a symlink the chroot might have there).
    as_root cp --remove-destination /etc/resolv.conf "$dir/etc/resolv.conf"
    # First from the package lists debootstrap left (versions that match the
    # installed erlang-base); if the mirror no longer has those, refresh.
    if ! chroot_apt_install "$dir" elixir; then
        log "    $dir: refreshing the package lists"
        as_root chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        chroot_apt_install "$dir" elixir || die "installing elixir into $dir failed"
    fi
    as_root chroot "$dir" apt-get clean
    elixir_works "$release" || die "elixir in $dir does not run on OTP $release"
}

ensure_chroot_elixirs() {
    local r
    for r in $(chroot_releases); do
        ensure_chroot_elixir "$r"
    done
}

# --- Docker Compose v2 ------------------------------------------------------------

# `docker compose` (v2, what docker-compose.yml and README use). bookworm's
# docker-compose package is v1 (1.29, `docker-compose`); trixie's is v2 and
# runs on bookworm (it needs libc6 >= 2.34 only): take it with the apt of the
# OTP 27 (trixie) chroot and install it over v1. Not needed, and skipped,
# where no Docker engine is installed.
ensure_compose() {
    if ! command -v docker >/dev/null 2>&1; then
        log "    no docker command: skipped (the container tests need Docker)"
        return
    fi
    if docker compose version >/dev/null 2>&1; then
        log "    $(docker compose version)"
        return
    fi
    local candidate
    candidate=$(apt-cache policy docker-compose 2>/dev/null | awk '/Candidate:/ { print $2 }')
    if [ -n "$candidate" ] && [ "${candidate%%.*}" -ge 2 ] 2>/dev/null; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose
    else
        local dir="$otp_root/otp27" deb
        [ -e "$dir/usr/bin/apt-get" ] || die "no Compose v2 package for this host and no trixie chroot at $dir"
        as_root rm -f "$dir"/tmp/docker-compose_*.deb
        if ! as_root chroot "$dir" sh -c 'cd /tmp && apt-get download -q docker-compose' >/dev/null; then
            as_root chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
            as_root chroot "$dir" sh -c 'cd /tmp && apt-get download -q docker-compose' >/dev/null ||
                die "cannot download trixie's docker-compose"
        fi
        deb=$(ls "$dir"/tmp/docker-compose_*.deb)
        log "    installing $(basename "$deb") (trixie's Compose v2)"
        as_root env DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >/dev/null
        as_root rm -f "$deb"
    fi
    docker compose version >/dev/null 2>&1 || die "docker compose still does not work"
    log "    $(docker compose version)"
}

# --- final check ------------------------------------------------------------------

check_releases() {
    local r out elixir failed=0
    for r in "${releases[@]}"; do
        if out=$(as_root env DISTRO_OTP_ROOT="$otp_root" "$repo/scripts/otp.sh" "$r" --check 2>&1); then
            if elixir=$(as_root env DISTRO_OTP_ROOT="$otp_root" LANG=C.UTF-8 timeout 120 \
                "$repo/scripts/otp.sh" "$r" elixir --short-version </dev/null 2>&1); then
                log "    OTP $out, Elixir $elixir"
            else
                log "    OTP $out, no Elixir: $elixir"
                failed=1
            fi
        else
            log "    $out"
            failed=1
        fi
    done
    [ "$failed" -eq 0 ] || die "some OTP releases or their Elixir are not available"
}

step "apt packages" install_apt_packages
step "rust toolchain" ensure_rust
step "OTP chroots" ensure_chroots
step "Elixir in chroots" ensure_chroot_elixirs
step "Docker Compose v2" ensure_compose
step "check OTP releases" check_releases

log "provision: done"
for t in "${timings[@]}"; do
    log "    $t"
done
