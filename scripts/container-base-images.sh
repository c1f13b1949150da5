#!/usr/bin/env bash
# Make the base images the Dockerfile names available to podman without pulling them.
#
# Base images cannot be pulled on the CI machines (they reach only the package registries),
# so this script builds local stand-ins tagged with the real names:
#
#   docker.io/library/debian:bookworm-slim  debootstrap --variant=minbase bookworm, imported
#   docker.io/library/rust:1-bookworm       FROM the debian stand-in + gcc, libc6-dev,
#                                           ca-certificates, musl-tools; same layout as the
#                                           official image (RUSTUP_HOME=/usr/local/rustup,
#                                           CARGO_HOME=/usr/local/cargo, PATH), but *without*
#                                           a toolchain: the host's rustup home and
#                                           ~/.cargo/bin are mounted read-only over
#                                           /usr/local/rustup and /usr/local/cargo/bin at build
#                                           time (see `container_build_args` below).
#
# The final stage of the Dockerfile is `FROM scratch`, which podman provides itself.
#
# Idempotent: an image that already exists with the current stand-in revision label (or any
# image that is not a stand-in, i.e. a real pulled one) is kept. NP_REBUILD_BASE_IMAGES=1
# forces a rebuild of the stand-ins.
#
# It also:
#   * installs podman, buildah, runc, fuse-overlayfs, uidmap, debootstrap when missing;
#   * writes the containers.conf this machine needs (runc, explicit ulimits) to
#     $NP_CONTAINERS_CONF (default /etc/containers/now-playing.conf);
#   * makes sure the host toolchain has the x86_64-unknown-linux-musl target, because the
#     build inside the container uses the host toolchain.
#
# Usage:  scripts/container-base-images.sh                      (as root; Debian 12)
#         scripts/container-base-images.sh --print-build-args   (then prints, on stdout,
#             CONTAINERS_CONF=PATH and each extra `podman build` argument on a line of its
#             own; `cargo xtask container` reads that)

_np_base_images_main() {
    set -euo pipefail

    local STANDIN_REVISION=1
    local DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
    local RUST_IMAGE=docker.io/library/rust:1-bookworm
    local MUSL_TARGET=x86_64-unknown-linux-musl
    local conf=${NP_CONTAINERS_CONF:-/etc/containers/now-playing.conf}

    log() { printf '[base-images] %s\n' "$*" >&2; }
    die() { printf '[base-images] ERROR: %s\n' "$*" >&2; return 1; }

    local print_build_args=0
    if [[ "${1:-}" == "--print-build-args" ]]; then
        print_build_args=1
    fi

    if [[ $(id -u) -ne 0 ]]; then
        die "must run as root (rootful podman; apt-get; debootstrap)"
    fi

    # --- 1. packages ---------------------------------------------------------------------
    # (with their recommends, as on the machines this was tried on: netavark, aardvark-dns,
    # slirp4netns, catatonit; iptables for the bridge network's NAT and published ports)
    local pkgs=(podman buildah runc fuse-overlayfs uidmap debootstrap debian-archive-keyring iptables)
    local missing=()
    local p
    for p in "${pkgs[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]})); then
        log "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq "${missing[@]}" >&2
    fi

    # --- 2. containers.conf --------------------------------------------------------------
    mkdir -p "$(dirname "$conf")"
    local want_conf
    want_conf=$(cat <<'EOF'
# Written by now-playing scripts/container-base-images.sh.
# crun and the default ulimits do not work on these machines; runc with explicit
# ulimits does.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
EOF
)
    if [[ ! -f "$conf" ]] || [[ "$(cat "$conf")" != "$want_conf" ]]; then
        printf '%s\n' "$want_conf" >"$conf"
        log "wrote $conf"
    fi
    export CONTAINERS_CONF="$conf"

    # --- 3. host toolchain ----------------------------------------------------------------
    if ! command -v rustup >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/rustup" ]]; then
        PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    fi
    command -v rustup >/dev/null 2>&1 || die "rustup not found (expected in ~/.cargo/bin)"
    local rustup_home cargo_bin sysroot
    rustup_home=$(rustup show home 2>/dev/null || echo "${RUSTUP_HOME:-$HOME/.rustup}")
    cargo_bin=$(dirname "$(command -v rustup)")
    sysroot=$(rustc --print sysroot)
    [[ -d "$rustup_home/toolchains" ]] || die "no toolchains in rustup home $rustup_home"
    [[ "$sysroot" == "$rustup_home"/* ]] ||
        die "active toolchain $sysroot is not inside rustup home $rustup_home; cannot mount it"
    if [[ ! -d "$sysroot/lib/rustlib/$MUSL_TARGET/lib" ]]; then
        log "adding rust target $MUSL_TARGET to the host toolchain"
        rustup target add "$MUSL_TARGET" >&2 ||
            die "rustup target add $MUSL_TARGET failed; the build needs it in the host toolchain"
    fi

    # --- 4. stand-in images --------------------------------------------------------------
    # image_state NAME -> "missing" | "standin-current" | "standin-old" | "real"
    image_state() {
        if ! podman image exists "$1"; then
            echo missing
            return
        fi
        local rev
        rev=$(podman image inspect --format '{{ index .Labels "io.now-playing.standin" }}' "$1" 2>/dev/null || true)
        if [[ -z "$rev" || "$rev" == "<no value>" ]]; then
            echo real
        elif [[ "$rev" == "$STANDIN_REVISION" && "${NP_REBUILD_BASE_IMAGES:-0}" != 1 ]]; then
            echo standin-current
        else
            echo standin-old
        fi
    }

    local mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    local work
    work=$(mktemp -d /var/tmp/np-base-images.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT

    local debian_state rust_state
    debian_state=$(image_state "$DEBIAN_IMAGE")
    rust_state=$(image_state "$RUST_IMAGE")

    if [[ "$debian_state" == missing || "$debian_state" == standin-old ]]; then
        log "building stand-in $DEBIAN_IMAGE (debootstrap minbase bookworm from $mirror)"
        local rootfs="$work/rootfs"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
            tail -n 30 "$work/debootstrap.log" >&2
            die "debootstrap failed (log above)"
        }
        # Same apt sources as the official image; no caches or downloaded lists.
        rm -f "$rootfs/etc/apt/sources.list"
        cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
            "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
        tar -C "$rootfs" --numeric-owner -c . |
            podman import \
                --change 'CMD ["bash"]' \
                --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                --change "LABEL io.now-playing.standin=$STANDIN_REVISION" \
                - "$DEBIAN_IMAGE" >"$work/import.log" 2>&1 || {
            cat "$work/import.log" >&2
            die "podman import failed"
        }
        rm -rf "$rootfs"
        # The rust stand-in is built from this one: rebuild it too.
        [[ "$rust_state" == real ]] || rust_state=missing
    else
        log "$DEBIAN_IMAGE present ($debian_state)"
    fi

    if [[ "$rust_state" == missing || "$rust_state" == standin-old ]]; then
        log "building stand-in $RUST_IMAGE"
        mkdir -p "$work/rust"
        cat >"$work/rust/Containerfile" <<EOF
FROM $DEBIAN_IMAGE
LABEL io.now-playing.standin=$STANDIN_REVISION
# Layout of the official image; the toolchain itself is mounted at build time:
#   -v HOST_RUSTUP_HOME:/usr/local/rustup:ro -v HOST_CARGO_HOME/bin:/usr/local/cargo/bin:ro
ENV RUSTUP_HOME=/usr/local/rustup \\
    CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        gcc libc6-dev ca-certificates musl-tools \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /usr/local/rustup /usr/local/cargo/bin /usr/local/cargo/registry
EOF
        podman build --pull=never --format docker -t "$RUST_IMAGE" \
            -f "$work/rust/Containerfile" "$work/rust" >"$work/rust-build.log" 2>&1 || {
            tail -n 40 "$work/rust-build.log" >&2
            die "building the rust stand-in failed (log above)"
        }
    else
        log "$RUST_IMAGE present ($rust_state)"
    fi

    rm -rf "$work"
    trap - EXIT

    if ((print_build_args)); then
        # Extra `podman build` arguments for the Dockerfile: needed only with the stand-in
        # rust image (a real one carries its own toolchain).
        local args=()
        if [[ "$(image_state "$RUST_IMAGE")" == standin-* ]]; then
            args+=(-v "$rustup_home:/usr/local/rustup:ro")
            args+=(-v "$cargo_bin:/usr/local/cargo/bin:ro")
            # cargo inside the build must trust the same roots as the host to reach the
            # crate registry from here (TLS-intercepting network).
            if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
                args+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
            fi
            # Reuse the host's crate downloads (read-write: cargo locks and may add crates).
            local cargo_home=${CARGO_HOME:-$HOME/.cargo}
            if [[ "${NP_MOUNT_HOST_REGISTRY:-1}" == 1 && -d "$cargo_home/registry" ]]; then
                args+=(-v "$cargo_home/registry:/usr/local/cargo/registry")
            fi
        fi
        printf 'CONTAINERS_CONF=%s\n' "$conf"
        if ((${#args[@]})); then printf '%s\n' "${args[@]}"; fi
    else
        log "ready; use: export CONTAINERS_CONF=$conf"
    fi
}

_np_base_images_main "$@"
