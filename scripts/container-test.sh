#!/usr/bin/env bash
# Container proof (issue 5, item 3): build the real Dockerfile with podman, offline, and
# check the image against a mock Spotify.
#
#   scripts/container-test.sh          (as root, Debian 12; installs what it needs)
#
# Steps:
#   1. scripts/container-base-images.sh: podman & co., CONTAINERS_CONF, stand-in base images
#      tagged with the real names (base images cannot be pulled here).
#   2. podman build --pull=never --format docker of ./Dockerfile (docker format: the OCI
#      format would drop the HEALTHCHECK), with the host toolchain mounted read-only.
#   3. scripts/mock_spotify.py on the host; the container runs with the image's own
#      HOST/PORT (0.0.0.0:8080) on podman's default bridge network, published on
#      127.0.0.1:<free port>, and reaches the mock through the bridge gateway as
#      host.containers.internal (the mock listens on 0.0.0.0 for that). If a preflight shows
#      the gateway is not reachable on some machine, it falls back to --network=host with
#      PORT set to a free port (NP_CONTAINER_NETWORK=bridge|host forces one).
#   4. checks: /healthz 200, /now-playing 200 JSON with the mock's track, the image's
#      HEALTHCHECK (podman healthcheck run) and `podman exec ... /now-playing healthcheck`,
#      non-root uid (image config and the live process), TOKEN_FILE written on the /data
#      volume as uid 65532, image size < 20 MB, and `podman stop -t 10` (with an open event
#      stream) ends it by SIGTERM within 5 s with exit code 0.
#
# Environment: NP_IMAGE (tag to build, default localhost/now-playing:ci),
#   NP_SKIP_BUILD=1 (test an existing NP_IMAGE), NP_CONTAINER_NETWORK=bridge|host,
#   NP_MAX_IMAGE_BYTES (default 20000000), NP_MAX_STOP_SECONDS (default 5).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${NP_IMAGE:-localhost/now-playing:ci}
MAX_IMAGE_BYTES=${NP_MAX_IMAGE_BYTES:-20000000}
MAX_STOP_SECONDS=${NP_MAX_STOP_SECONDS:-5}
STANDIN_DEBIAN=docker.io/library/debian:bookworm-slim
TAG=np-ct-$$
CONTAINER=$TAG
VOLUME=$TAG-data
WORK=$(mktemp -d /tmp/np-container-test.XXXXXX)
MOCK_PID=
SSE_PID=

log() { printf '[container-test] %s\n' "$*" >&2; }
die() {
    printf '[container-test] ERROR: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    local rc=$?
    set +e
    [[ -n "$SSE_PID" ]] && kill "$SSE_PID" 2>/dev/null
    if command -v podman >/dev/null 2>&1 && [[ -n "${CONTAINERS_CONF:-}" ]]; then
        podman rm -f -t 0 "$CONTAINER" "$TAG-preflight" >/dev/null 2>&1
        podman volume rm -f "$VOLUME" >/dev/null 2>&1
    fi
    if [[ -n "$MOCK_PID" ]]; then
        kill "$MOCK_PID" 2>/dev/null
        wait "$MOCK_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- results ----------------------------------------------------------------------------
declare -a R_NAME=() R_STATUS=() R_DETAIL=()
FAILED=0
record() { # record NAME PASS|FAIL|SKIP DETAIL
    R_NAME+=("$1")
    R_STATUS+=("$2")
    R_DETAIL+=("$3")
    if [[ "$2" == FAIL ]]; then
        FAILED=1
        log "FAIL: $1: $3"
    else
        log "$2: $1: $3"
    fi
}
summary() {
    printf '\n%-26s %-6s %s\n' CHECK RESULT DETAIL
    printf '%-26s %-6s %s\n' -------------------------- ------ ------------------------------
    local i
    for i in "${!R_NAME[@]}"; do
        printf '%-26s %-6s %s\n' "${R_NAME[$i]}" "${R_STATUS[$i]}" "${R_DETAIL[$i]}"
    done
    printf '\n'
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# http_get URL OUT_BODY -> prints the status code ("000" when no answer)
http_get() {
    curl -sS -o "$2" -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true
}
show_logs() {
    log "---- container logs (last 40 lines) ----"
    podman logs --tail 40 "$CONTAINER" >&2 2>&1 || true
    log "----------------------------------------"
}

# ---- 1. base images ---------------------------------------------------------------------
log "preparing podman and the stand-in base images"
build_env=$("$ROOT/scripts/container-base-images.sh" --print-build-args) ||
    die "scripts/container-base-images.sh failed"
NP_BUILD_ARGS=()
eval "$build_env"
[[ -n "${CONTAINERS_CONF:-}" ]] || die "CONTAINERS_CONF not set by the base-images script"
export CONTAINERS_CONF
command -v python3 >/dev/null 2>&1 || die "python3 is required for the mock Spotify"
command -v curl >/dev/null 2>&1 || {
    log "installing curl"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl; } >&2 ||
        die "cannot install curl"
}

# ---- 2. build ---------------------------------------------------------------------------
if [[ "${NP_SKIP_BUILD:-0}" == 1 ]]; then
    podman image exists "$IMAGE" || die "NP_SKIP_BUILD=1 but $IMAGE does not exist"
    record build SKIP "NP_SKIP_BUILD=1, using existing $IMAGE"
else
    log "podman build --pull=never --format docker ${NP_BUILD_ARGS[*]} -t $IMAGE $ROOT"
    t0=$(date +%s)
    if ! podman build --pull=never --format docker "${NP_BUILD_ARGS[@]}" \
        --build-arg "VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)" \
        -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1; then
        tail -n 60 "$WORK/build.log" >&2
        record build FAIL "podman build failed (log tail above)"
        summary
        exit 1
    fi
    record build PASS "$(($(date +%s) - t0)) s, $IMAGE"
fi

# ---- 3. image checks (static) -----------------------------------------------------------
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1000000 }')
if ((size < MAX_IMAGE_BYTES)); then
    record image-size PASS "$size bytes ($size_mb MB) < $MAX_IMAGE_BYTES"
else
    record image-size FAIL "$size bytes ($size_mb MB) >= $MAX_IMAGE_BYTES"
fi

cfg_user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
cfg_hc=$(podman image inspect --format '{{json .HealthCheck}}' "$IMAGE" 2>/dev/null || true)
cfg_stop=$(podman image inspect --format '{{.Config.StopSignal}}' "$IMAGE")
cfg_env=$(podman image inspect --format '{{join .Config.Env " "}}' "$IMAGE")
cfg_ports=$(podman image inspect --format '{{range $p, $v := .Config.ExposedPorts}}{{$p}} {{end}}' "$IMAGE")
cfg_entry=$(podman image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$IMAGE")
problems=()
[[ "$cfg_user" =~ ^[0-9]+(:[0-9]+)?$ && "${cfg_user%%:*}" != 0 ]] || problems+=("USER '$cfg_user' is not a numeric non-root uid")
[[ "$cfg_hc" == *healthcheck* ]] || problems+=("no HEALTHCHECK calling 'now-playing healthcheck' ($cfg_hc)")
[[ "$cfg_stop" == SIGTERM || "$cfg_stop" == 15 || -z "$cfg_stop" ]] || problems+=("STOPSIGNAL is $cfg_stop")
[[ " $cfg_env " == *" HOST=0.0.0.0 "* && " $cfg_env " == *" PORT=8080 "* ]] || problems+=("ENV lacks HOST=0.0.0.0 PORT=8080")
[[ "$cfg_ports" == *8080* ]] || problems+=("8080 not exposed")
if ((${#problems[@]})); then
    record image-config FAIL "$(IFS=';'; echo "${problems[*]}")"
else
    record image-config PASS "user $cfg_user, port $cfg_ports, stop ${cfg_stop:-SIGTERM}, $cfg_entry"
fi

# ---- 4. mock Spotify and network mode ---------------------------------------------------
python3 "$ROOT/scripts/mock_spotify.py" --host 0.0.0.0 --port 0 --port-file "$WORK/mock.port" \
    --rotate-refresh-token test-refresh-rotated >"$WORK/mock.out" 2>"$WORK/mock.log" &
MOCK_PID=$!
for _ in $(seq 50); do
    [[ -s "$WORK/mock.port" ]] && break
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$WORK/mock.log" >&2; die "mock Spotify exited"; }
    sleep 0.1
done
[[ -s "$WORK/mock.port" ]] || die "mock Spotify did not start"
MOCK_PORT=$(cat "$WORK/mock.port")
log "mock Spotify on 0.0.0.0:$MOCK_PORT (pid $MOCK_PID)"

network=${NP_CONTAINER_NETWORK:-}
if [[ -z "$network" ]]; then
    # Can a container on the default bridge reach the host's mock? (bash /dev/tcp in the
    # debian stand-in, since the app image has no shell.)
    if timeout 60 podman run --rm --name "$TAG-preflight" "$STANDIN_DEBIAN" bash -c \
        "exec 3<>/dev/tcp/host.containers.internal/$MOCK_PORT && printf 'GET /_mock/stats HTTP/1.0\r\n\r\n' >&3 && grep -q '200 OK' <&3" \
        >"$WORK/preflight.log" 2>&1; then
        network=bridge
    else
        log "bridge preflight failed ($(tail -n 2 "$WORK/preflight.log" | tr '\n' ' ')); using --network=host"
        network=host
    fi
fi

HOST_PORT=$(free_port)
run_args=(-d --name "$CONTAINER"
    # the health check is run by hand below; no systemd timer on these machines
    --health-interval=disable
    -v "$VOLUME:/data"
    -e TOKEN_FILE=/data/token.json
    -e SPOTIFY_CLIENT_ID=test-client
    -e SPOTIFY_CLIENT_SECRET=test-secret
    -e SPOTIFY_REFRESH_TOKEN=test-refresh
    -e RUST_LOG=info)
case "$network" in
bridge)
    mock_url=http://host.containers.internal:$MOCK_PORT
    run_args+=(-p "127.0.0.1:$HOST_PORT:8080")
    ;;
host)
    mock_url=http://127.0.0.1:$MOCK_PORT
    run_args+=(--network=host -e "PORT=$HOST_PORT")
    ;;
*) die "NP_CONTAINER_NETWORK must be bridge or host, not '$network'" ;;
esac
run_args+=(-e "SPOTIFY_ACCOUNTS_URL=$mock_url" -e "SPOTIFY_API_URL=$mock_url")
BASE=http://127.0.0.1:$HOST_PORT

# ---- 5. run -----------------------------------------------------------------------------
podman volume create "$VOLUME" >/dev/null
log "podman run ${run_args[*]} $IMAGE"
# (stderr to a file: without systemd podman logs harmless errors about health-check timers)
podman run "${run_args[@]}" "$IMAGE" >/dev/null 2>"$WORK/run.err" || {
    cat "$WORK/run.err" >&2
    die "podman run failed"
}
record network PASS "$network; server at $BASE, mock at $mock_url"

# /healthz: wait up to 30 s for the first 200.
code=000
t0=$(date +%s%N)
for _ in $(seq 300); do
    code=$(http_get "$BASE/healthz" "$WORK/healthz.body")
    [[ "$code" == 200 ]] && break
    if [[ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER" 2>/dev/null)" != true ]]; then
        break
    fi
    sleep 0.1
done
startup_ms=$((($(date +%s%N) - t0) / 1000000))
if [[ "$code" == 200 ]]; then
    record healthz PASS "200 '$(head -c 20 "$WORK/healthz.body")' after ${startup_ms} ms"
else
    record healthz FAIL "last status $code, running=$(podman inspect --format '{{.State.Running}} exit={{.State.ExitCode}}' "$CONTAINER" 2>/dev/null)"
    show_logs
    summary
    exit 1
fi

# /now-playing: 200 JSON with the mock's track (retry a few seconds for the first fetch).
np_detail=
for _ in $(seq 20); do
    code=$(curl -sS -o "$WORK/np.body" -D "$WORK/np.headers" -w '%{http_code}' --max-time 5 \
        "$BASE/now-playing" 2>/dev/null || true)
    if [[ "$code" == 200 ]]; then
        if np_detail=$(python3 - "$WORK/np.body" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
item = doc.get("item") or {}
ok = doc.get("state") == "playing" and item.get("title") == "Dancing Queen" and doc.get("stale") is False
print("state=%s title=%r stale=%s" % (doc.get("state"), item.get("title"), doc.get("stale")))
sys.exit(0 if ok else 1)
EOF
        ); then
            break
        fi
    else
        np_detail="status $code"
    fi
    code=fail
    sleep 0.5
done
ctype=$(tr -d '\r' <"$WORK/np.headers" 2>/dev/null | awk -F': *' 'tolower($1)=="content-type"{print $2}' | head -n1)
if [[ "$code" == 200 && "$ctype" == application/json* ]]; then
    record now-playing PASS "200 $ctype, $np_detail"
else
    record now-playing FAIL "${np_detail:-no answer}; content-type '${ctype}'; body: $(head -c 300 "$WORK/np.body" 2>/dev/null)"
    show_logs
fi
mock_stats=$(curl -sS --max-time 5 "http://127.0.0.1:$MOCK_PORT/_mock/stats" 2>/dev/null || echo '?')

# HEALTHCHECK as declared in the image, and the command directly.
if out=$(podman healthcheck run "$CONTAINER" 2>&1); then
    record healthcheck PASS "podman healthcheck run: ${out:-healthy} ($(podman inspect --format '{{.State.Health.Status}}' "$CONTAINER" 2>/dev/null))"
else
    record healthcheck FAIL "podman healthcheck run: $out"
fi
if out=$(podman exec "$CONTAINER" /now-playing healthcheck 2>&1); then
    record healthcheck-exec PASS "podman exec $CONTAINER /now-playing healthcheck: exit 0"
else
    record healthcheck-exec FAIL "exit $?: $out"
fi

# Non-root: the live process's real and effective uid, from the host's /proc.
pid=$(podman inspect --format '{{.State.Pid}}' "$CONTAINER")
uids=$(awk '/^Uid:/ {print $2, $3}' "/proc/$pid/status" 2>/dev/null || true)
top_user=$(podman top "$CONTAINER" user huser 2>/dev/null | tail -n +2 | head -n1 | xargs || true)
if [[ -n "$uids" && "$uids" != *"0 "* && "${uids##* }" != 0 ]]; then
    record non-root PASS "pid $pid uid/euid $uids; podman top user/huser: $top_user"
else
    record non-root FAIL "pid $pid uid/euid '${uids}'; podman top: $top_user"
fi

# TOKEN_FILE on the /data volume: the mock rotates the refresh token, so the server writes
# the file, as uid 65532, mode 0600.
vol_dir=$(podman volume inspect --format '{{.Mountpoint}}' "$VOLUME")
tf_detail=
for _ in $(seq 20); do
    [[ -f "$vol_dir/token.json" ]] && break
    sleep 0.25
done
if [[ -f "$vol_dir/token.json" ]]; then
    tf_detail=$(stat -c '%u:%g %a' "$vol_dir/token.json")
    if [[ "$tf_detail" == "65532:65532 600" ]] && grep -q 'test-refresh-rotated' "$vol_dir/token.json"; then
        record token-file PASS "/data/token.json written, owner:group mode $tf_detail"
    else
        record token-file FAIL "/data/token.json: owner:group mode $tf_detail (want 65532:65532 600 and the rotated token)"
    fi
else
    record token-file FAIL "no /data/token.json after the token endpoint returned a new refresh token (volume dir $(stat -c '%u:%g %a' "$vol_dir"))"
fi

# podman stop: SIGTERM, with an event stream open, must end it within MAX_STOP_SECONDS, exit 0.
curl -sS -N --max-time 30 -o "$WORK/sse.out" -w '%{http_code}' "$BASE/now-playing/events" \
    >"$WORK/sse.code" 2>/dev/null &
SSE_PID=$!
sleep 1
t0=$(date +%s%N)
podman stop -t 10 "$CONTAINER" >/dev/null 2>"$WORK/stop.err" || true
# (podman stop returns once the container has exited, or after SIGKILL past -t 10)
stop_ms=$((($(date +%s%N) - t0) / 1000000))
stop_s=$(awk -v ms="$stop_ms" 'BEGIN { printf "%.2f", ms / 1000 }')
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$CONTAINER")
sse_state=ended
if kill -0 "$SSE_PID" 2>/dev/null; then
    sse_state="still open"
    kill "$SSE_PID" 2>/dev/null
fi
wait "$SSE_PID" 2>/dev/null || true
SSE_PID=
sse_events=$(grep -c '^event:' "$WORK/sse.out" 2>/dev/null || true)
sse_code=$(cat "$WORK/sse.code" 2>/dev/null || true)
sse_state="HTTP ${sse_code:-?}, ${sse_state}"
if [[ "$exit_code" == 0 ]] && ((stop_ms < MAX_STOP_SECONDS * 1000)); then
    record sigterm-stop PASS "podman stop -t 10: ${stop_s} s, exit code $exit_code; event stream ${sse_state} (${sse_events:-0} events)"
else
    record sigterm-stop FAIL "podman stop -t 10: ${stop_s} s (max ${MAX_STOP_SECONDS}), exit code $exit_code (137 = SIGKILL after timeout); event stream ${sse_state}; $(tr '\n' ' ' <"$WORK/stop.err")"
    show_logs
fi

log "mock Spotify calls: $mock_stats"
if grep -q -e test-secret -e test-refresh -e test-access < <(podman logs "$CONTAINER" 2>&1); then
    record no-secrets-in-logs FAIL "a secret from the environment appears in the container log"
else
    record no-secrets-in-logs PASS "client secret, refresh and access tokens absent from the log"
fi

summary
printf 'image %s: %s bytes (%s MB); stop %s s, exit code %s; network %s\n' \
    "$IMAGE" "$size" "$size_mb" "$stop_s" "$exit_code" "$network"
if ((FAILED)); then
    die "some container checks failed (see the table above)"
fi
log "all container checks passed"
