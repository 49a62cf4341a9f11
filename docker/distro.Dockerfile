# The `distro` release binary on a minimal Debian root (no Erlang: the node
# starts its own EPMD, `distro epmd -daemon`), with erl_interop/config and
# start_node.sh. Built by scripts/images.sh (or `docker compose --profile
# images build`) as distro:latest, from target/release/distro, which
# `cargo build --release` must have produced on a host whose glibc is not
# newer than the base's (Debian bookworm or older).
#
# BASE: distro-debian:bookworm (imported by scripts/images.sh, no registry
# needed) or, where a registry is reachable, debian:bookworm.
ARG BASE=distro-debian:bookworm
FROM ${BASE}

COPY target/release/distro /usr/local/bin/distro
COPY erl_interop/start_node.sh /erl_interop/start_node.sh
COPY erl_interop/config/ /erl_interop/config/
RUN distro --version
WORKDIR /erl_interop
CMD ["distro", "--help"]
