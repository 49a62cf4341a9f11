#!/usr/bin/env bash
# Install everything the tests need, idempotently (a second run only checks):
#
#   * apt packages: Erlang/OTP from the host's Debian (OTP 25 on bookworm),
#     debootstrap, a C toolchain for linking, shellcheck;
#   * Rust (rustup, if cargo is missing) and the rustfmt and clippy components;
#   * cargo-fuzz (from crates.io) for scripts/fuzz.sh;
#   * a minimal Debian chroot with erlang-base and elixir for every supported
#     OTP release the host's erl is not: $DISTRO_OTP_ROOT/otpNN (default
#     /opt/distro-otp), OTP 25 = bookworm, 27 = trixie, 29 = forky; /proc and
#     /dev bind-mounted into each, and the host's /etc/hosts copied in (for
#     `erl -sname`);
#   * Elixir of every release (the host's apt package for the host's OTP, the
#     suite's package in each chroot), added to chroots built before it was
#     part of them;
#   * jinterface of every release (the host's erlang-jinterface and a JDK to
#     run it; in each chroot the jar of the suite's erlang-jinterface, unpacked
#     without its Java dependencies, which the host's JDK runs), and erl_call
#     (part of erlang-base everywhere);
#   * an /etc/hosts name for ::1 (ip6-localhost, as Debian's default hosts
#     file has it), for the IPv6 tests;
#   * erlang-ssl (ssl, public_key, crypto: what `-proto_dist inet_tls`
#     needs) on the host and in every chroot, added to chroots built before
#     it was listed;
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
apt_packages=(erlang-nox erlang-ssl erlang-src erlang-dev elixir debootstrap debian-archive-keyring
    build-essential pkg-config ca-certificates curl shellcheck erlang-jinterface
    default-jdk-headless iptables)
# Installed into every chroot (Debian's elixir depends on the erlang-* it
# needs: crypto, inets, parsetools, public-key, tools).
# erlang-ssl (which pulls erlang-crypto and erlang-public-key) for TLS
# distribution; elixir usually brings it too, but nothing guarantees that.
chroot_packages=(erlang-base erlang-ssl elixir)

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

# cargo-fuzz, for scripts/fuzz.sh (libFuzzer on the stable toolchain, with
# --sanitizer none; it builds libFuzzer with the C++ compiler of
# build-essential).
ensure_cargo_fuzz() {
    if cargo fuzz --version >/dev/null 2>&1; then
        log "    $(cargo fuzz --version): present"
        return
    fi
    cargo install cargo-fuzz --locked --version 0.13.2
    log "    $(cargo fuzz --version)"
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

# --- jinterface in chroots ---------------------------------------------------------

chroot_jinterface_jar() {
    local dir=$1
    compgen -G "$dir/usr/lib/erlang/lib/jinterface-*/priv/OtpErlang.jar" >/dev/null
}

# The jar of the chroot's own erlang-jinterface (the version of its
# erlang-base), unpacked into the chroot without installing the package: its
# dependency is a Java runtime, and the tests run the jar with the host's.
ensure_chroot_jinterface() {
    local release=$1 dir version
    dir="$otp_root/otp$release"
    if chroot_jinterface_jar "$dir"; then
        log "    $dir: jinterface present"
        return
    fi
    # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
    version=$(as_root chroot "$dir" dpkg-query -W -f='${Version}' erlang-base)
    log "    $dir: unpacking erlang-jinterface $version"
    as_root cp --remove-destination /etc/resolv.conf "$dir/etc/resolv.conf"
    as_root rm -rf "$dir/tmp/jinterface-deb"
    as_root mkdir -p "$dir/tmp/jinterface-deb"
    as_root chmod 0777 "$dir/tmp/jinterface-deb" # apt downloads as _apt
    if ! as_root chroot "$dir" sh -c "cd /tmp/jinterface-deb && apt-get download -qq erlang-jinterface=$version"; then
        log "    $dir: refreshing the package lists"
        as_root chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root chroot "$dir" sh -c "cd /tmp/jinterface-deb && apt-get download -qq erlang-jinterface=$version" ||
            die "downloading erlang-jinterface $version into $dir failed"
    fi
    as_root sh -c "dpkg-deb -x '$dir'/tmp/jinterface-deb/erlang-jinterface_*.deb '$dir'"
    as_root rm -rf "$dir/tmp/jinterface-deb"
    chroot_jinterface_jar "$dir" || die "no OtpErlang.jar in $dir after unpacking erlang-jinterface"
}

ensure_chroot_jinterfaces() {
    local r
    for r in $(chroot_releases); do
        ensure_chroot_jinterface "$r"
    done
}

# --- IPv6 host name ---------------------------------------------------------------

# Debian's default /etc/hosts names ::1 ip6-localhost; minimal images may
# lack the line. The chroots get the file by sync_hosts.
ensure_ipv6_hosts() {
    if getent ahostsv6 ip6-localhost 2>/dev/null | grep -q '^::1 '; then
        log "    ip6-localhost: resolves to ::1"
        return
    fi
    printf '::1\tip6-localhost ip6-loopback\n' | as_root tee -a /etc/hosts >/dev/null
    log "    added ip6-localhost (::1) to /etc/hosts"
    local r
    for r in $(chroot_releases); do
        [ -d "$otp_root/otp$r/etc" ] && sync_hosts "$otp_root/otp$r"
    done
}

# --- TLS distribution in the chroots ----------------------------------------------

# Whether the release can start ssl (crypto's NIF, public_key, ssl): what
# `erl -proto_dist inet_tls` needs.
ssl_works() {
    local release=$1 got
    got=$(as_root env DISTRO_OTP_ROOT="$otp_root" timeout 120 "$repo/scripts/otp.sh" "$release" erl \
        -noshell -eval '{ok, _} = application:ensure_all_started(ssl), io:format("ssl~n"), halt().' \
        </dev/null 2>/dev/null) || return 1
    [ "$got" = ssl ]
}

ensure_chroot_ssl() {
    local release=$1 dir
    dir="$otp_root/otp$release"
    if ssl_works "$release"; then
        log "    $dir: ssl present"
        return
    fi
    log "    $dir: installing erlang-ssl"
    as_root cp --remove-destination /etc/resolv.conf "$dir/etc/resolv.conf"
    if ! chroot_apt_install "$dir" erlang-ssl; then
        log "    $dir: refreshing the package lists"
        as_root chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        chroot_apt_install "$dir" erlang-ssl || die "installing erlang-ssl into $dir failed"
    fi
    as_root chroot "$dir" apt-get clean
    ssl_works "$release" || die "ssl in $dir does not start on OTP $release"
}

ensure_chroot_ssls() {
    local r
    for r in $(chroot_releases); do
        ensure_chroot_ssl "$r"
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
step "cargo-fuzz" ensure_cargo_fuzz
step "OTP chroots" ensure_chroots
step "Elixir in chroots" ensure_chroot_elixirs
step "jinterface in chroots" ensure_chroot_jinterfaces
step "IPv6 host name" ensure_ipv6_hosts
step "ssl in chroots" ensure_chroot_ssls
step "Docker Compose v2" ensure_compose
step "check OTP releases" check_releases

log "provision: done"
for t in "${timings[@]}"; do
    log "    $t"
done
