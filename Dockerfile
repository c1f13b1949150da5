# now-playing: a static (musl, rustls) binary in an image with no shell, running as
# a non-root user.
#
# Build (Docker / BuildKit):
#   docker build -t now-playing .
# Build (podman; `--format docker` keeps the HEALTHCHECK, which the OCI format drops):
#   podman build --format docker -t now-playing .
# Offline, with local stand-in base images and the host toolchain mounted, as CI does:
#   scripts/container-test.sh          (see scripts/container-base-images.sh)
#
# Run:
#   docker run -d --name now-playing -p 8080:8080 \
#     -e SPOTIFY_CLIENT_ID=... -e SPOTIFY_CLIENT_SECRET=... -e SPOTIFY_REFRESH_TOKEN=... \
#     now-playing
#   Demo data, no credentials:   docker run --rm -p 8080:8080 now-playing serve --demo
#   Keep the refresh token across restarts (the server rewrites it when Spotify sends a
#   new one, and /auth/callback stores a re-authorized one there):
#     docker run -d -p 8080:8080 -e TOKEN_FILE=/data/token.json -v np-data:/data \
#       -e SPOTIFY_CLIENT_ID=... -e SPOTIFY_CLIENT_SECRET=... now-playing
#   A bind-mounted directory must be writable by uid 65532:
#     mkdir data && chown 65532:65532 data && docker run ... -v "$PWD/data:/data" ...

# ---- build ----------------------------------------------------------------------------
FROM docker.io/library/rust:1-bookworm AS builder

ARG TARGET=x86_64-unknown-linux-musl
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# musl-gcc compiles the C parts (aws-lc-sys for rustls) for the musl target. The official
# rust image lacks it; the CI stand-in image already has it, so apt is skipped there.
RUN if ! command -v musl-gcc >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
 && rustup target add "${TARGET}"

# The final image's file system, prepared here because `scratch` has no shell:
# a passwd/group naming the non-root user, and /data (the TOKEN_FILE volume) owned by it.
RUN mkdir -p /rootfs/etc /rootfs/data \
 && printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n' \
        > /rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /rootfs/etc/group \
 && chown 65532:65532 /rootfs/data

WORKDIR /build
COPY . .

# The target directory is a build cache, so a rebuild after a source change is
# incremental; the binary is copied out of it in the same step.
RUN --mount=type=cache,id=now-playing-target,target=/build/target \
    cargo build --release --locked --target "${TARGET}" \
 && cp "target/${TARGET}/release/now-playing" /now-playing \
 && /now-playing --help >/dev/null \
 && if readelf -l /now-playing | grep INTERP; then echo "not a static binary" >&2; exit 1; fi

# ---- runtime ----------------------------------------------------------------------------
FROM scratch

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="now-playing" \
      org.opencontainers.image.description="Shows what you are listening to on Spotify, for a blog footer: JSON, HTML, iframe, SVG and live events." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="scratch"

# CA roots for TLS to Spotify (rustls reads them from here).
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /rootfs/etc/passwd /rootfs/etc/group /etc/
COPY --from=builder --chown=65532:65532 /rootfs/data /data
COPY --from=builder /now-playing /now-playing

ENV HOST=0.0.0.0 \
    PORT=8080 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

# TOKEN_FILE is unset by default; set TOKEN_FILE=/data/token.json and mount a volume here
# to keep the refresh token across restarts.
VOLUME ["/data"]

USER 65532:65532
EXPOSE 8080

# `now-playing healthcheck` GETs http://127.0.0.1:$PORT/healthz; no curl needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/now-playing", "healthcheck"]

# The server is PID 1 and handles SIGTERM itself: graceful shutdown, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/now-playing"]
CMD ["serve"]
