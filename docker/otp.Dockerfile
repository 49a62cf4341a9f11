# An OTP node image: erlang-base and Elixir of one Debian release, with
# erl_interop/ (the Elixir `distro` app compiled by this image's own Elixir,
# the OTP guide's `myapp` compiled by its own erlc, the configs and
# start_node.sh). Built by scripts/images.sh (or `docker compose --profile
# images build`) as distro-otp:25 (bookworm), distro-otp:27 (trixie) and
# distro-otp:29 (forky).
#
# BASE names the Debian image: distro-debian:<suite> (a debootstrap root that
# scripts/images.sh imports; no registry needed) or, where a registry is
# reachable, debian:<suite>.
ARG BASE=distro-debian:bookworm
FROM ${BASE}

ENV LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive

# Debian's erlang-base and elixir, unless the base already has them (the
# roots scripts/images.sh imports from scripts/provision.sh's chroots do).
# Valid-Until is not checked: testing's Release files expire within a week
# and a mirror snapshot may be older than that.
RUN set -eu; \
    if ! command -v erl >/dev/null || ! command -v elixir >/dev/null; then \
        apt-get update -qq -o Acquire::Check-Valid-Until=false; \
        apt-get install -y -qq --no-install-recommends erlang-base elixir >/dev/null; \
        apt-get clean; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    erl -noshell -eval 'io:format("OTP ~s~n", [erlang:system_info(otp_release)]), halt().'; \
    elixir --short-version

COPY erl_interop/ /erl_interop/
RUN set -eu; \
    cd /erl_interop/distro; \
    HOME=/tmp MIX_ENV=prod mix compile; \
    rm -rf /tmp/.mix; \
    /erl_interop/myapp/build.sh

WORKDIR /erl_interop
# Nodes are started by the command (see docker-compose.yml):
#   start_node.sh elixir two  |  start_node.sh erlang cp2
CMD ["erl"]
