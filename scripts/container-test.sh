#!/usr/bin/env bash
# Container proof: build the Dockerfile with podman offline, run the image against the mock
# Spotify and check it. The program is `cargo xtask container` (xtask/src/container.rs;
# `--help` for its options); this name is kept for CI and the docs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo xtask container "$@"
