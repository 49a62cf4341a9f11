#!/usr/bin/env bash
# Builds the Docker images of docker-compose.yml and of the container tests,
# locally from Debian packages: no image registry is used or needed.
#
#   distro-debian:bookworm|trixie|forky   a `debootstrap --variant=minbase` root
#                                         of the suite, imported with `docker
#                                         import`: scripts/provision.sh's OTP
#                                         chroot of the suite if it has one
#                                         (trixie, forky), else a fresh one
#   distro-otp:25 | :27 | :29             docker/otp.Dockerfile on bookworm |
#                                         trixie | forky: erlang-base, Elixir,
#                                         erl_interop/ compiled by them
#   distro:latest                         docker/distro.Dockerfile: the release
#                                         binary on distro-debian:bookworm
#
#   scripts/images.sh              build what is missing or out of date
#   scripts/images.sh --check      only say whether every image exists (exit 1 if not)
#   scripts/images.sh --roots      also re-import the Debian roots (fresh packages)
#
# Idempotent: a Debian root is debootstrapped only when its image is missing
# (the image is the cache); the other images go through `docker compose
# --profile images build` (the build args and names live in
# docker-compose.yml), whose layer cache makes a second run a few seconds.
# `cargo build --release` runs first (distro:latest copies its binary).
# Needs root (or sudo) for debootstrap, a running Docker engine, Compose v2
# and network access to deb.debian.org (override: DISTRO_DEBIAN_MIRROR).
# scripts/provision.sh installs debootstrap and Compose; scripts/test.sh runs
# this script before the container tests.
set -euo pipefail
export LC_NUMERIC=C # EPOCHREALTIME with a decimal point

repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
mirror=${DISTRO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
otp_root=${DISTRO_OTP_ROOT:-/opt/distro-otp}
suites=(bookworm trixie forky)
images=(distro-otp:25 distro-otp:27 distro-otp:29 distro:latest)

log() { printf '%s\n' "$*" >&2; }
die() {
    log "images: $*"
    exit 1
}
if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    as_root() { sudo "$@"; }
else
    as_root() { die "needs root (or sudo) to run: $*"; }
fi

roots=no
check=no
while [ $# -gt 0 ]; do
    case "$1" in
        --roots) roots=yes ;;
        --check) check=yes ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if [ "$check" = yes ]; then
    missing=()
    for image in "${suites[@]/#/distro-debian:}" "${images[@]}"; do
        have_image "$image" || missing+=("$image")
    done
    [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (run scripts/images.sh)"
    log "images: all present"
    exit 0
fi

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed)"
docker compose version >/dev/null 2>&1 ||
    die "Docker Compose v2 is missing (\`docker compose\`); scripts/provision.sh installs it"

declare -a timings=()
step() {
    local name=$1 start
    shift
    start=$EPOCHREALTIME
    log "==> $name"
    "$@"
    timings+=("$(awk -v n="$name" -v a="$start" -v b="$EPOCHREALTIME" \
        'BEGIN { printf "%-28s %6.1f s", n, b - a }')")
}

# --- Debian roots -----------------------------------------------------------------

# debootstrap of bookworm predates forky, which is built like sid (as in
# scripts/provision.sh).
ensure_suite_script() {
    local scripts=/usr/share/debootstrap/scripts
    [ -e "$scripts/$1" ] || as_root ln -s sid "$scripts/$1"
}

# The OTP release of a suite's erlang-base, whose chroot scripts/provision.sh
# may already have built.
release_of() {
    case "$1" in
        bookworm) echo 25 ;;
        trixie) echo 27 ;;
        forky) echo 29 ;;
    esac
}

# tar of a root on stdout, without what Docker provides (/etc/hosts,
# hostname, resolv.conf), package lists and cache, temporary files, and
# nothing below a mount point (provision's chroots have /proc and /dev bound).
tar_root() {
    as_root tar -C "$1" --numeric-owner --one-file-system \
        --exclude=./etc/hostname --exclude=./etc/hosts --exclude=./etc/resolv.conf \
        --exclude='./var/lib/apt/lists/*' --exclude='./var/cache/apt/*' \
        --exclude='./tmp/*' --exclude='./var/tmp/*' --exclude='./root/*' -c .
}

# Imports a root of SUITE as distro-debian:SUITE: provision's chroot of the
# suite if there is one (a debootstrap minbase root with erlang-base and
# elixir: the very OTP the chroot tests run), else a fresh
# `debootstrap --variant=minbase` (Dockerfiles then apt-get what they need).
import_root() {
    local suite=$1 chroot work dir source
    chroot="$otp_root/otp$(release_of "$suite")"
    if [ -e "$chroot/usr/bin/erl" ]; then
        log "    importing $chroot (scripts/provision.sh's chroot)"
        source="$chroot (scripts/provision.sh)"
        tar_root "$chroot" | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' \
            --message "$source" - "distro-debian:$suite" >/dev/null
        log "    distro-debian:$suite imported"
        return
    fi
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing; scripts/provision.sh installs it"
    [ "$suite" = forky ] && ensure_suite_script forky
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/distro-root.XXXXXX")
    dir=$work/$suite
    log "    debootstrap --variant=minbase $suite (about half a minute)"
    if ! as_root debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$work/debootstrap.log" 2>&1; then
        tail -n 30 "$work/debootstrap.log" >&2
        as_root rm -rf --one-file-system "$work"
        die "debootstrap of $suite failed"
    fi
    tar_root "$dir" | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' \
        --message "debootstrap --variant=minbase $suite $mirror" - "distro-debian:$suite" >/dev/null
    as_root rm -rf --one-file-system "$work"
    log "    distro-debian:$suite imported"
}

ensure_roots() {
    local suite
    for suite in "${suites[@]}"; do
        if [ "$roots" = no ] && have_image "distro-debian:$suite"; then
            log "    distro-debian:$suite: present"
        else
            import_root "$suite"
        fi
    done
}

# --- the release binary and the images ----------------------------------------------

build_binary() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    # With the `docker` feature that test builds unify into the lib: after
    # `cargo bench --no-run` (scripts/test.sh) this reuses its artifacts.
    cargo build --release --quiet --bin distro --features docker
}

build_images() {
    local out
    out=$(mktemp "${TMPDIR:-/tmp}/distro-images.XXXXXX")
    # The classic builder: Debian's docker.io (20.10) has no buildx plugin.
    if ! DOCKER_BUILDKIT=0 docker compose --profile images build otp25 otp27 otp29 distro \
        >"$out" 2>&1; then
        tail -n 40 "$out" >&2
        rm -f "$out"
        die "docker compose --profile images build failed"
    fi
    grep -E '^(OTP [0-9]+|[0-9]+\.[0-9]+\.[0-9]+|distro [0-9])' "$out" | sed 's/^/    /' >&2 || true
    rm -f "$out"
    local image missing=()
    for image in "${images[@]}"; do
        have_image "$image" || missing+=("$image")
    done
    [ ${#missing[@]} -eq 0 ] || die "not built: ${missing[*]}"
}

step "Debian roots" ensure_roots
step "release binary" build_binary
step "images" build_images

log "images: done"
for t in "${timings[@]}"; do
    log "    $t"
done
docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^    distro' >&2 || true
