#!/usr/bin/env bash
# Load benchmark (issue 5, item 4): builds the shipped static binary, runs it against the mock
# Spotify (scripts/mock_spotify.py) and measures, in one run:
#
#   - the static binary's size;
#   - startup time to the first /healthz 200 (median of NP_BENCH_STARTUPS starts);
#   - with `wrk -t2 -c64 -d10s --latency`: requests/s and p99 of /now-playing,
#     /now-playing.html, /embed and /now-playing.svg, each as a ratio to a /healthz run made
#     just before it on the same server (NP_BENCH_ROUNDS rounds, median ratio): the 2-core
#     machine is shared by wrk and the server and is noisy, so only ratios within one run are
#     compared, never absolute numbers across runs;
#   - the Spotify calls the mock saw during each run, and over the server's whole life: at
#     most one currently-playing call per CACHE_TTL plus one token call;
#   - peak RSS (VmHWM) during one extra run with 256 connections on /now-playing, and RSS with
#     1000 open event streams (/now-playing/events);
#   - informational: the same routes with a browser's Accept-Encoding (compression on), and a
#     server with RUST_LOG=info (one log line per request).
#
# It prints a markdown report (targets with PASS/FAIL, per-route tables, memory, calls).
# Exit status is non-zero only when the benchmark cannot be set up or run (build failure,
# server or mock not starting, a route answering wrongly); missed targets are reported, not
# fatal. CI does not run this.
#
#   scripts/bench.sh                     (as root on Debian 12; installs wrk, musl-tools and
#                                         the musl target when missing)
#
# Environment (all optional):
#   NP_BENCH_DURATION=10s      wrk duration of every run
#   NP_BENCH_CONNECTIONS=64    wrk connections of the ratio runs
#   NP_BENCH_THREADS=2         wrk threads
#   NP_BENCH_ROUNDS=5          rounds of (/healthz, route) pairs; ratios are the median
#   NP_BENCH_BIG_CONNECTIONS=256   connections of the peak-RSS run on /now-playing
#   NP_BENCH_EVENT_STREAMS=1000    event streams held open for the memory measure
#   NP_BENCH_EVENT_HOLD=12     seconds the streams stay open (> CACHE_TTL: one poll happens)
#   NP_BENCH_CACHE_TTL=10      CACHE_TTL of the server
#   NP_BENCH_IMAGE_BYTES=24000 size of the mock's cover JPEG (inlined in the SVG card)
#   NP_BENCH_STARTUPS=5        server starts timed (the last one is the benchmarked server)
#   NP_BENCH_COMPRESSED=1      0 skips the informational Accept-Encoding round
#   NP_BENCH_INFO_LOG=1        0 skips the informational RUST_LOG=info round
#   NP_BENCH_INFO_ROUTES="/now-playing /embed"   routes of the RUST_LOG=info round
#   NP_BENCH_ROUTES="/now-playing /now-playing.html /embed /now-playing.svg"
#   NP_BENCH_TARGET=x86_64-unknown-linux-musl   cargo target to build and run
#   NP_BENCH_BIN=PATH          benchmark this binary, skip the build (size still reported)
#   NP_BENCH_RESULTS=DIR       where raw wrk outputs, logs and report.md go
#                              (default target/bench/<date>-<time>)
# shellcheck disable=SC2016  # backticks in printf formats are markdown, not commands
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${NP_BENCH_DURATION:-10s}
CONNS=${NP_BENCH_CONNECTIONS:-64}
THREADS=${NP_BENCH_THREADS:-2}
ROUNDS=${NP_BENCH_ROUNDS:-5}
BIG_CONNS=${NP_BENCH_BIG_CONNECTIONS:-256}
STREAMS=${NP_BENCH_EVENT_STREAMS:-1000}
HOLD=${NP_BENCH_EVENT_HOLD:-12}
TTL=${NP_BENCH_CACHE_TTL:-10}
IMAGE_BYTES=${NP_BENCH_IMAGE_BYTES:-24000}
STARTUPS=${NP_BENCH_STARTUPS:-5}
COMPRESSED=${NP_BENCH_COMPRESSED:-1}
INFO_LOG=${NP_BENCH_INFO_LOG:-1}
read -r -a INFO_ROUTES <<<"${NP_BENCH_INFO_ROUTES:-/now-playing /embed}"
read -r -a ROUTES <<<"${NP_BENCH_ROUTES:-/now-playing /now-playing.html /embed /now-playing.svg}"
TARGET=${NP_BENCH_TARGET:-x86_64-unknown-linux-musl}
BROWSER_AE='gzip, deflate, br, zstd'

# Targets (issue 5). Sizes in decimal MB (10^6 bytes), the stricter reading.
T_JSON_RATIO=0.9
T_HTML_RATIO=0.8
T_RSS_256_BYTES=25000000
T_RSS_STREAMS_BYTES=60000000
T_STARTUP_MS=100
T_BINARY_BYTES=12000000

WORK=$(mktemp -d /tmp/np-bench.XXXXXX)
MOCK_PID=
SERVER_PID=
SSE_PID=

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    printf '[bench] ERROR: %s\n' "$*" >&2
    exit 1
}

# The server is started by a small Python launcher (so that the startup clock starts right
# before exec), which leaves it running: it is not a child of this shell, so stop it by pid.
stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 6 s
    local pid=$1 i
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    set +e
    [[ -n "$SSE_PID" ]] && kill "$SSE_PID" 2>/dev/null
    stop_pid "$SERVER_PID"
    if [[ -n "$MOCK_PID" ]]; then
        kill "$MOCK_PID" 2>/dev/null
        wait "$MOCK_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 0. tools ---------------------------------------------------------------------------
apt_pkgs=()
command -v wrk >/dev/null 2>&1 || apt_pkgs+=(wrk)
command -v curl >/dev/null 2>&1 || apt_pkgs+=(curl)
command -v python3 >/dev/null 2>&1 || apt_pkgs+=(python3)
if [[ -z "${NP_BENCH_BIN:-}" && "$TARGET" == *musl* ]] && ! command -v musl-gcc >/dev/null 2>&1; then
    apt_pkgs+=(musl-tools)
fi
if ((${#apt_pkgs[@]})); then
    log "installing ${apt_pkgs[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_pkgs[@]}"; } >&2 ||
        die "apt-get install ${apt_pkgs[*]} failed"
fi
command -v cargo >/dev/null 2>&1 || [[ -n "${NP_BENCH_BIN:-}" ]] || die "cargo (the Rust toolchain) is required"

# Many sockets: 1000 event streams plus wrk's connections, in this shell's children.
if (($(ulimit -n) < 8192)); then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
(($(ulimit -n) >= STREAMS + 200)) || die "ulimit -n is $(ulimit -n), too low for $STREAMS event streams"

# ---- 1. build ---------------------------------------------------------------------------
if [[ -n "${NP_BENCH_BIN:-}" ]]; then
    BIN=$(realpath "$NP_BENCH_BIN")
    [[ -x "$BIN" ]] || die "NP_BENCH_BIN=$NP_BENCH_BIN is not an executable"
    BUILD_CMD="(none: NP_BENCH_BIN=$NP_BENCH_BIN)"
    BUILD_SECS=-
else
    if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
        log "rustup target add $TARGET"
        rustup target add "$TARGET" >&2 || die "rustup target add $TARGET failed"
    fi
    BUILD_CMD="cargo build --release --locked --target $TARGET"
    log "$BUILD_CMD"
    t0=$(date +%s)
    (cd "$ROOT" && cargo build --release --locked --target "$TARGET" >&2) || die "release build failed"
    BUILD_SECS=$(($(date +%s) - t0))
    target_dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    BIN=$target_dir/$TARGET/release/now-playing
    [[ -x "$BIN" ]] || die "no binary at $BIN after the build"
fi
BIN_BYTES=$(stat -c %s "$BIN")
BIN_KIND=$( (command -v file >/dev/null && file -b "$BIN" | cut -d, -f1-2) || echo 'file(1) not installed')
if [[ -n "${NP_BENCH_RESULTS:-}" ]]; then
    RES=$NP_BENCH_RESULTS
else
    RES=$ROOT/target/bench/$(date +%Y%m%d-%H%M%S)
fi
mkdir -p "$RES"
log "binary $BIN ($BIN_BYTES bytes); raw results in $RES"

# ---- helpers ----------------------------------------------------------------------------
cat >"$WORK/helper.py" <<'PY'
"""bench.sh helpers: start the server and time the first /healthz 200; hold event streams."""
import asyncio
import collections
import json
import os
import socket
import subprocess
import sys
import time


def status_kb(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


def launch(port, logfile, cmd):
    """Starts cmd, polls /healthz every 0.5 ms, prints {"pid", "startup_ms"}; leaves it running."""
    req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    out = open(logfile, "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    while True:
        if proc.poll() is not None:
            print(json.dumps({"pid": proc.pid, "error": "exited with status %s" % proc.returncode}))
            return 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(req)
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            pass
        if time.perf_counter() - t0 > 30:
            print(json.dumps({"pid": proc.pid, "error": "no /healthz 200 within 30 s"}))
            return 1
        time.sleep(0.0005)
    ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({"pid": proc.pid, "startup_ms": round(ms, 2)}), flush=True)
    return 0


async def hold_streams(port, n, hold, pid, ready_file):
    """Opens n event streams, waits for each one's first event, holds them `hold` seconds."""
    statuses = collections.Counter()
    events = [0] * n
    got_first = [asyncio.Event() for _ in range(n)]
    failed = [asyncio.Event() for _ in range(n)]
    writers = []
    connect_gate = asyncio.Semaphore(100)  # stay under the listen backlog
    marker = b"event: now-playing"

    async def one(i):
        try:
            async with connect_gate:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 15)
                writers.append(writer)
                writer.write(b"GET /now-playing/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Accept: text/event-stream\r\n\r\n")
                await writer.drain()
                status = await asyncio.wait_for(reader.readline(), 15)
            parts = status.split()
            statuses[parts[1].decode() if len(parts) > 1 else "no-answer"] += 1
            tail = b""
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buf = tail + chunk
                events[i] += buf.count(marker)
                tail = buf[-(len(marker) - 1):]
                if events[i] and not got_first[i].is_set():
                    got_first[i].set()
        except Exception as e:  # noqa: BLE001 - counted, reported
            statuses["error:" + type(e).__name__] += 1
        finally:
            failed[i].set()

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(one(i)) for i in range(n)]

    async def settled(i):
        done = asyncio.ensure_future(got_first[i].wait())
        gone = asyncio.ensure_future(failed[i].wait())
        await asyncio.wait([done, gone], return_when=asyncio.FIRST_COMPLETED)
        done.cancel()
        gone.cancel()

    try:
        await asyncio.wait_for(asyncio.gather(*(settled(i) for i in range(n))), 60)
    except asyncio.TimeoutError:
        pass
    open_s = time.perf_counter() - t0
    ready = sum(1 for e in got_first if e.is_set())
    at_open = status_kb(pid)
    with open(ready_file, "w") as f:
        f.write("%d\n" % ready)
    await asyncio.sleep(hold)
    at_end = status_kb(pid)
    still_open = sum(1 for i in range(n) if got_first[i].is_set() and not failed[i].is_set())
    result = {
        "requested": n,
        "ready": ready,
        "still_open": still_open,
        "open_seconds": round(open_s, 2),
        "statuses": dict(statuses),
        "events_total": sum(events),
        "events_max": max(events) if events else 0,
        "rss_kb_open": at_open.get("VmRSS"),
        "rss_kb_end": at_end.get("VmRSS"),
        "hwm_kb_end": at_end.get("VmHWM"),
    }
    for w in writers:
        w.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(result), flush=True)
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "launch":  # launch PORT LOGFILE -- CMD...
        return launch(int(sys.argv[2]), sys.argv[3], sys.argv[5:])
    if cmd == "streams":  # streams PORT N HOLD_SECONDS SERVER_PID READY_FILE
        port, n, hold, pid, ready = sys.argv[2:7]
        return asyncio.run(hold_streams(int(port), int(n), float(hold), int(pid), ready))
    raise SystemExit("unknown helper command " + cmd)


if __name__ == "__main__":
    sys.exit(main())
PY

PY=$(python3 -c 'import sys; print(sys.executable)')
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
jget() { # jget JSON KEY -> value (python, no jq needed)
    python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}
mock_stats() { # -> "token currently_playing recently_played image"
    curl -sS --max-time 5 "http://127.0.0.1:$MOCK_PORT/_mock/stats" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["token"], d["currently_playing"], d["recently_played"], d.get("image", 0))'
}
calls_delta() { # calls_delta "BEFORE" "AFTER" -> "cp N, token N[, recent N][, image N]"
    local -a b a
    read -r -a b <<<"$1"
    read -r -a a <<<"$2"
    local s="cp $((a[1] - b[1])), token $((a[0] - b[0]))"
    (((a[2] - b[2]) > 0)) && s+=", recent $((a[2] - b[2]))"
    (((a[3] - b[3]) > 0)) && s+=", image $((a[3] - b[3]))"
    printf '%s' "$s"
}
proc_kb() { # proc_kb PID VmRSS|VmHWM
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || true
}
reset_hwm() { # reset the peak RSS counter (Linux >= 4.0); 0 when it worked
    echo 5 >"/proc/$1/clear_refs" 2>/dev/null
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }
kb_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k * 1024 / 1000000 }'; }
median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { awk -v v="$1" -v p="${2:-0}" 'BEGIN { printf "%.*f", p, v }'; }
passfail() { # passfail CONDITION_AWK_EXPR -> PASS|FAIL
    if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # cpu_ticks PID -> "utime stime" (clock ticks; fields 14 and 15 of /proc/PID/stat)
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'
}

# wrk_run LABEL CONNS PATH [wrk args...]: one wrk run against $BASE; sets W_RPS, W_P99 (ms),
# W_BAD (non-2xx/3xx responses + socket errors), W_CALLS (Spotify calls during the run) and
# W_CPU (the server's CPU time per request in µs, "user+sys").
wrk_run() {
    local label=$1 conns=$2 path=$3
    shift 3
    local out=$RES/$label.txt before after cpu0 cpu1 reqs
    before=$(mock_stats)
    cpu0=$(cpu_ticks "$SERVER_PID")
    wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency "$@" "$BASE$path" >"$out" 2>&1 ||
        die "wrk failed on $path: $(tail -n 3 "$out")"
    cpu1=$(cpu_ticks "$SERVER_PID")
    after=$(mock_stats)
    W_CALLS=$(calls_delta "$before" "$after")
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    W_CPU=$(awk -v a="$cpu0" -v b="$cpu1" -v n="${reqs:-0}" -v hz="$CLK_TCK" 'BEGIN {
        split(a, x, " "); split(b, y, " "); u = (y[1] - x[1]) / hz * 1e6; s = (y[2] - x[2]) / hz * 1e6
        if (n > 0) printf "%.1f+%.1f", u / n, s / n; else print "-" }')
    W_RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    W_P99=$(awk '$1 == "99%" { v = $2
        if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v) }
        else if (v ~ /m$/) { sub(/m$/, "", v); v = v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }
        printf "%.2f", v }' "$out")
    W_BAD=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
        /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$out")
    [[ -n "$W_RPS" && -n "$W_P99" ]] || die "could not read wrk's output for $path ($out)"
    log "$(printf '%-28s c=%-4s %10s req/s  p99 %8s ms  bad %s  server cpu %s us/req  spotify: %s  load %s' \
        "$label" "$conns" "$W_RPS" "$W_P99" "$W_BAD" "$W_CPU" "$W_CALLS" "$(loadavg)")"
}

# ---- 2. mock Spotify --------------------------------------------------------------------
python3 "$ROOT/scripts/mock_spotify.py" --port 0 --port-file "$WORK/mock.port" \
    --advance-progress --image-bytes "$IMAGE_BYTES" --quiet >"$WORK/mock.out" 2>"$RES/mock.log" &
MOCK_PID=$!
for _ in $(seq 50); do
    [[ -s "$WORK/mock.port" ]] && break
    kill -0 "$MOCK_PID" 2>/dev/null || die "mock Spotify exited: $(cat "$RES/mock.log")"
    sleep 0.1
done
[[ -s "$WORK/mock.port" ]] || die "mock Spotify did not start"
MOCK_PORT=$(cat "$WORK/mock.port")
MOCK=http://127.0.0.1:$MOCK_PORT
log "mock Spotify at $MOCK (pid $MOCK_PID)"

# start_server LOG_LEVEL LOGFILE: starts the binary on a free port; sets SERVER_PID, PORT,
# BASE, STARTUP_MS. The working directory is $WORK, so no developer's .env is read.
start_server() {
    local level=$1 logfile=$2 out
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT
    out=$(cd "$WORK" && env -i PATH="$PATH" HOME="${HOME:-/root}" \
        SPOTIFY_CLIENT_ID=bench-client SPOTIFY_CLIENT_SECRET=bench-secret \
        SPOTIFY_REFRESH_TOKEN=bench-refresh \
        SPOTIFY_ACCOUNTS_URL="$MOCK" SPOTIFY_API_URL="$MOCK" SPOTIFY_IMAGES_URL="$MOCK" \
        HOST=127.0.0.1 PORT="$PORT" CACHE_TTL="$TTL" RUST_LOG="$level" LOG_FORMAT=pretty \
        MAX_EVENT_CLIENTS=$((STREAMS + 100)) METRICS=true \
        "$PY" "$WORK/helper.py" launch "$PORT" "$logfile" -- "$BIN" serve) ||
        die "server did not start: $out; log: $(tail -n 20 "$logfile")"
    SERVER_PID=$(jget "$out" pid)
    STARTUP_MS=$(jget "$out" startup_ms)
}

# ---- 3. startup time --------------------------------------------------------------------
declare -a STARTUP_ALL=()
for i in $(seq "$STARTUPS"); do
    if ((i == STARTUPS)); then
        CALLS_START=$(mock_stats) # the benchmarked server's calls are counted from here
        T_SERVER_START=$(date +%s.%N)
    fi
    start_server warn "$RES/server.log"
    STARTUP_ALL+=("$STARTUP_MS")
    log "start $i: first /healthz 200 after $STARTUP_MS ms (pid $SERVER_PID, port $PORT)"
    if ((i < STARTUPS)); then
        stop_pid "$SERVER_PID"
        SERVER_PID=
    fi
done
STARTUP_MED=$(median "${STARTUP_ALL[@]}")
STARTUP_MAX=$(printf '%s\n' "${STARTUP_ALL[@]}" | sort -g | tail -n1)
FIRST_NP=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 "$BASE/now-playing" || true)
FIRST_NP_MS=$(awk '{ printf "%.1f", $2 * 1000 }' <<<"$FIRST_NP")
[[ "${FIRST_NP%% *}" == 200 ]] || die "first /now-playing answered '$FIRST_NP'; log: $(tail -n 20 "$RES/server.log")"
log "first /now-playing (cold cache: token + currently-playing) in $FIRST_NP_MS ms"

# ---- 4. check the routes, warm up -------------------------------------------------------
declare -A CTYPE_WANT=([/healthz]=text/plain [/now-playing]=application/json
    [/now-playing.html]=text/html [/embed]=text/html [/now-playing.svg]=image/svg+xml)
declare -A BODY_BYTES=() BODY_BR=()
ART=missing
for path in /healthz "${ROUTES[@]}"; do
    for _ in $(seq 30); do
        code_ct=$(curl -sS -o "$WORK/body" -w '%{http_code} %{content_type}' --max-time 5 "$BASE$path" || true)
        if [[ "$path" == /now-playing.svg ]] && ! grep -q 'data:image/jpeg;base64,' "$WORK/body"; then
            sleep 0.1 # the art arrives for the next card
            continue
        fi
        break
    done
    [[ "$code_ct" == "200 ${CTYPE_WANT[$path]:-}"* ]] || die "$path answered '$code_ct' (want 200 ${CTYPE_WANT[$path]:-})"
    BODY_BYTES[$path]=$(stat -c %s "$WORK/body")
    BODY_BR[$path]=$(curl -sS -o /dev/null -H "Accept-Encoding: $BROWSER_AE" \
        -w '%{size_download} %header{content-encoding}' --max-time 5 "$BASE$path")
    if [[ "$path" == /now-playing ]]; then
        python3 - "$WORK/body" <<'PY' || die "/now-playing does not show the mock's track: $(head -c 300 "$WORK/body")"
import json, sys
doc = json.load(open(sys.argv[1]))
sys.exit(0 if doc.get("state") == "playing" and (doc.get("item") or {}).get("title") == "Dancing Queen" else 1)
PY
    fi
    if [[ "$path" == /now-playing.svg ]] && grep -q 'data:image/jpeg;base64,' "$WORK/body"; then
        ART=inlined
    fi
done
[[ " ${ROUTES[*]} " != *" /now-playing.svg "* || "$ART" == inlined ]] ||
    log "WARNING: the SVG card has no inlined cover art (SPOTIFY_IMAGES_URL not used?)"
log "routes answer as expected; warming up"
DURATION_SAVED=$DURATION
DURATION=2s
wrk_run warmup-healthz "$CONNS" /healthz
wrk_run warmup-now-playing "$CONNS" /now-playing
DURATION=$DURATION_SAVED
IDLE_RSS_KB=$(proc_kb "$SERVER_PID" VmRSS)

# ---- 5. ratio rounds --------------------------------------------------------------------
declare -A RPS=() P99=() HZ_RPS=() HZ_P99=() RATIO=() CALLS=() BAD=() CPU=() HZ_CPU=()
HZ_CALLS_SUM=0
LOAD_BEFORE=$(loadavg)
for r in $(seq "$ROUNDS"); do
    for path in "${ROUTES[@]}"; do
        name=${path#/}
        name=${name//\//-}
        hz_before=$(mock_stats)
        wrk_run "r$r-healthz-before-$name" "$CONNS" /healthz
        hz_after=$(mock_stats)
        HZ_RPS[$path,$r]=$W_RPS
        HZ_P99[$path,$r]=$W_P99
        HZ_CPU[$path,$r]=$W_CPU
        read -r -a bb <<<"$hz_before"
        read -r -a aa <<<"$hz_after"
        HZ_CALLS_SUM=$((HZ_CALLS_SUM + aa[0] - bb[0] + aa[1] - bb[1] + aa[2] - bb[2] + aa[3] - bb[3]))
        wrk_run "r$r-$name" "$CONNS" "$path"
        RPS[$path,$r]=$W_RPS
        P99[$path,$r]=$W_P99
        CPU[$path,$r]=$W_CPU
        RATIO[$path,$r]=$(awk -v a="$W_RPS" -v b="${HZ_RPS[$path,$r]}" 'BEGIN { printf "%.3f", a / b }')
        CALLS[$path,$r]=$W_CALLS
        BAD[$path]=$((${BAD[$path]:-0} + W_BAD))
    done
done
LOAD_AFTER=$(loadavg)
HWM_64_KB=$(proc_kb "$SERVER_PID" VmHWM)

# ---- 6. compressed (informational) ------------------------------------------------------
declare -A CRPS=() CP99=() CHZ=() CRATIO=() CCPU=()
GZ_HWM_KB=
if [[ "$COMPRESSED" == 1 ]]; then
    reset_hwm "$SERVER_PID" || true
    for path in "${ROUTES[@]}"; do
        name=${path#/}
        name=${name//\//-}
        wrk_run "gz-healthz-before-$name" "$CONNS" /healthz -H "Accept-Encoding: $BROWSER_AE"
        CHZ[$path]=$W_RPS
        wrk_run "gz-$name" "$CONNS" "$path" -H "Accept-Encoding: $BROWSER_AE"
        CRPS[$path]=$W_RPS
        CP99[$path]=$W_P99
        CCPU[$path]=$W_CPU
        CRATIO[$path]=$(awk -v a="$W_RPS" -v b="${CHZ[$path]}" 'BEGIN { printf "%.3f", a / b }')
    done
    GZ_HWM_KB=$(proc_kb "$SERVER_PID" VmHWM)
fi

# ---- 7. peak RSS at 256 connections -----------------------------------------------------
if reset_hwm "$SERVER_PID"; then HWM_SCOPE="during this run (VmHWM reset before it)"; else HWM_SCOPE="since start (VmHWM could not be reset)"; fi
wrk_run "c$BIG_CONNS-now-playing" "$BIG_CONNS" /now-playing
BIG_RPS=$W_RPS
BIG_P99=$W_P99
BIG_BAD=$W_BAD
BIG_CALLS=$W_CALLS
BIG_CPU=$W_CPU
HWM_256_KB=$(proc_kb "$SERVER_PID" VmHWM)
log "peak RSS with $BIG_CONNS connections: $HWM_256_KB kB"

# ---- 8. event streams -------------------------------------------------------------------
sleep 1
RSS_BEFORE_STREAMS_KB=$(proc_kb "$SERVER_PID" VmRSS)
reset_hwm "$SERVER_PID" || true
before=$(mock_stats)
log "opening $STREAMS event streams, holding them $HOLD s"
python3 "$WORK/helper.py" streams "$PORT" "$STREAMS" "$HOLD" "$SERVER_PID" "$WORK/streams.ready" \
    >"$WORK/streams.json" 2>"$RES/streams.err" &
SSE_PID=$!
for _ in $(seq 900); do
    [[ -s "$WORK/streams.ready" ]] && break
    kill -0 "$SSE_PID" 2>/dev/null || break
    sleep 0.1
done
sleep 1
GAUGE=$(curl -sS --max-time 5 "$BASE/metrics" | awk '/^now_playing_event_clients / { print $2 }')
wait "$SSE_PID" || die "the event-stream client failed: $(tail -n 5 "$RES/streams.err")"
SSE_PID=
after=$(mock_stats)
STREAMS_CALLS=$(calls_delta "$before" "$after")
SJ=$(cat "$WORK/streams.json")
cp "$WORK/streams.json" "$RES/streams.json"
S_READY=$(jget "$SJ" ready)
S_OPEN=$(jget "$SJ" still_open)
S_RSS_OPEN=$(jget "$SJ" rss_kb_open)
S_RSS_END=$(jget "$SJ" rss_kb_end)
S_HWM=$(jget "$SJ" hwm_kb_end)
S_EVENTS=$(jget "$SJ" events_total)
S_SECS=$(jget "$SJ" open_seconds)
S_STATUSES=$(jget "$SJ" statuses)
log "event streams: $SJ; event_clients gauge $GAUGE"
((S_READY == STREAMS)) || log "WARNING: only $S_READY of $STREAMS event streams got their first event ($S_STATUSES)"

# ---- 9. Spotify calls over the server's whole life --------------------------------------
T_END=$(date +%s.%N)
CALLS_END=$(mock_stats)
ELAPSED=$(awk -v a="$T_SERVER_START" -v b="$T_END" 'BEGIN { printf "%.1f", b - a }')
read -r -a c0 <<<"$CALLS_START"
read -r -a c1 <<<"$CALLS_END"
TOTAL_TOKEN=$((c1[0] - c0[0]))
TOTAL_CP=$((c1[1] - c0[1]))
TOTAL_RECENT=$((c1[2] - c0[2]))
TOTAL_IMAGE=$((c1[3] - c0[3]))
ALLOWED_CP=$(awk -v e="$ELAPSED" -v t="$TTL" 'BEGIN { print int(e / t) + 1 }')
# Smallest gap between two currently-playing calls, from the mock's call log.
MIN_GAP=$(curl -sS --max-time 5 "$MOCK/_mock/calls" | python3 -c '
import json, sys
t0 = float(sys.argv[1])
ts = [t for t, e in json.load(sys.stdin) if e == "currently_playing" and t >= t0]
gaps = [b - a for a, b in zip(ts, ts[1:])]
print("%.2f" % min(gaps) if gaps else "-")' "$T_SERVER_START")
METRICS_CP=$(curl -sS --max-time 5 "$BASE/metrics" |
    awk '/^now_playing_spotify_calls_total\{/ && /endpoint="currently_playing"/ { n += $NF } END { print n + 0 }')
CALLS_PASS=$(passfail "$TOTAL_CP <= $ALLOWED_CP && $TOTAL_TOKEN <= 1")
WARN_LINES=$(grep -c -E ' (WARN|ERROR) ' "$RES/server.log" || true)
stop_pid "$SERVER_PID"
SERVER_PID=

# ---- 10. RUST_LOG=info (informational) --------------------------------------------------
declare -A IRPS=() IP99=() IHZ=() IRATIO=() ICPU=()
if [[ "$INFO_LOG" == 1 ]]; then
    start_server info "$RES/server-info.log"
    log "RUST_LOG=info server: first /healthz 200 after $STARTUP_MS ms"
    curl -sS -o /dev/null --max-time 10 "$BASE/now-playing" || true
    LOG_BYTES_0=$(stat -c %s "$RES/server-info.log")
    INFO_REQS=0
    for path in "${INFO_ROUTES[@]}"; do
        name=${path#/}
        name=${name//\//-}
        wrk_run "info-healthz-before-$name" "$CONNS" /healthz
        IHZ[$path]=$W_RPS
        wrk_run "info-$name" "$CONNS" "$path"
        IRPS[$path]=$W_RPS
        IP99[$path]=$W_P99
        ICPU[$path]=$W_CPU
        IRATIO[$path]=$(awk -v a="$W_RPS" -v b="${IHZ[$path]}" 'BEGIN { printf "%.3f", a / b }')
        INFO_REQS=$((INFO_REQS + $(awk '/requests in/ { print $1 }' "$RES/info-$name.txt")))
    done
    LOG_BYTES=$(($(stat -c %s "$RES/server-info.log") - LOG_BYTES_0))
    stop_pid "$SERVER_PID"
    SERVER_PID=
    # the log is large; keep its head only
    head -n 50 "$RES/server-info.log" >"$RES/server-info.head.log" && rm -f "$RES/server-info.log"
fi

# ---- 11. report -------------------------------------------------------------------------
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rev=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
{
    printf '## Benchmark run %s\n\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf -- '- machine: %s cores (`nproc`), %s, %s, kernel %s\n' "$(nproc)" "$cpu_model" \
        "$(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1000000 }' /proc/meminfo)" "$(uname -r)"
    printf -- '- source: `%s` (git describe --always --dirty)\n' "$rev"
    printf -- '- binary: `%s`, %s bytes (%s MB), %s; build: `%s` (%s s)\n' "${BIN#"$ROOT"/}" \
        "$BIN_BYTES" "$(mb "$BIN_BYTES")" "$BIN_KIND" "$BUILD_CMD" "$BUILD_SECS"
    printf -- '- server: CACHE_TTL=%s, RUST_LOG=warn, LOG_FORMAT=pretty, MAX_EVENT_CLIENTS=%s, METRICS=true, against scripts/mock_spotify.py --advance-progress (JPEG cover %s bytes)\n' \
        "$TTL" "$((STREAMS + 100))" "$IMAGE_BYTES"
    printf -- '- load: `wrk -t%s -c%s -d%s --latency URL`, %s rounds; in each round every route runs right after a /healthz run, and its ratio is to that run; the ratio shown is the median over rounds (per-round ratios in brackets). wrk and the server share the cores. Load average %s before the rounds, %s after.\n\n' \
        "$THREADS" "$CONNS" "$DURATION" "$ROUNDS" "$LOAD_BEFORE" "$LOAD_AFTER"

    printf '### Targets\n\n'
    printf '| measure | result | target | |\n| --- | --- | --- | --- |\n'
    printf '| static binary size | %s bytes (%s MB) | < 12 MB | %s |\n' "$BIN_BYTES" "$(mb "$BIN_BYTES")" \
        "$(passfail "$BIN_BYTES < $T_BINARY_BYTES")"
    printf '| startup to first `/healthz` 200 | %s ms median of %s starts (max %s; all: %s) | < %s ms | %s |\n' \
        "$(fmt "$STARTUP_MED" 1)" "$STARTUPS" "$(fmt "$STARTUP_MAX" 1)" "${STARTUP_ALL[*]}" "$T_STARTUP_MS" \
        "$(passfail "$STARTUP_MED < $T_STARTUP_MS")"
    for path in "${ROUTES[@]}"; do
        ratios=()
        for r in $(seq "$ROUNDS"); do ratios+=("${RATIO[$path,$r]}"); done
        med=$(median "${ratios[@]}")
        if [[ "$path" == /now-playing ]]; then want=$T_JSON_RATIO; else want=$T_HTML_RATIO; fi
        printf '| `%s` req/s ÷ `/healthz` req/s | **%s** [%s] | ≥ %s | %s |\n' "$path" "$(fmt "$med" 3)" \
            "${ratios[*]}" "$want" "$(passfail "$med >= $want")"
    done
    printf '| Spotify calls over the server'"'"'s %s s | currently-playing %s (allowed %s = ⌊%s/%s⌋+1; smallest gap %s s; /metrics says %s), token %s, recently-played %s, image %s | ≤ 1 per CACHE_TTL + 1 token | %s |\n' \
        "$ELAPSED" "$TOTAL_CP" "$ALLOWED_CP" "$ELAPSED" "$TTL" "$MIN_GAP" "$METRICS_CP" "$TOTAL_TOKEN" \
        "$TOTAL_RECENT" "$TOTAL_IMAGE" "$CALLS_PASS"
    printf '| peak RSS (VmHWM) with %s connections on `/now-playing` | %s kB (%s MB) | < 25 MB | %s |\n' \
        "$BIG_CONNS" "$HWM_256_KB" "$(kb_mb "$HWM_256_KB")" "$(passfail "$HWM_256_KB * 1024 < $T_RSS_256_BYTES")"
    s_worst=$S_HWM
    [[ -n "$s_worst" ]] || s_worst=$S_RSS_END
    printf '| RSS with %s open event streams | VmHWM %s kB (%s MB); VmRSS %s kB when all were open, %s kB after %s s | < 60 MB | %s |\n\n' \
        "$S_READY" "$s_worst" "$(kb_mb "$s_worst")" "$S_RSS_OPEN" "$S_RSS_END" "$HOLD" \
        "$(if ((S_READY < STREAMS)); then echo "FAIL (only $S_READY streams)"; else passfail "$s_worst * 1024 < $T_RSS_STREAMS_BYTES"; fi)"

    printf '### Routes (`-c%s`, RUST_LOG=warn, no Accept-Encoding: uncompressed)\n\n' "$CONNS"
    printf '| route | body bytes | req/s (median) | p99 ms (median) | paired `/healthz` req/s (median) | `/healthz` p99 ms | ratio (median) | per round | server CPU µs/req user+sys (median): route, `/healthz` | Spotify calls during each run | non-2xx + socket errors |\n'
    printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
    for path in "${ROUTES[@]}"; do
        rps=() p99=() hz=() hzp=() ratios=() calls=() cpu_u=() cpu_s=() hcpu_u=() hcpu_s=()
        for r in $(seq "$ROUNDS"); do
            rps+=("${RPS[$path,$r]}")
            p99+=("${P99[$path,$r]}")
            hz+=("${HZ_RPS[$path,$r]}")
            hzp+=("${HZ_P99[$path,$r]}")
            ratios+=("${RATIO[$path,$r]}")
            calls+=("${CALLS[$path,$r]}")
            cpu_u+=("${CPU[$path,$r]%+*}")
            cpu_s+=("${CPU[$path,$r]#*+}")
            hcpu_u+=("${HZ_CPU[$path,$r]%+*}")
            hcpu_s+=("${HZ_CPU[$path,$r]#*+}")
        done
        printf '| `%s` | %s | %s | %s | %s | %s | %s | %s | %s+%s, %s+%s | %s | %s |\n' "$path" "${BODY_BYTES[$path]}" \
            "$(fmt "$(median "${rps[@]}")")" "$(fmt "$(median "${p99[@]}")" 2)" \
            "$(fmt "$(median "${hz[@]}")")" "$(fmt "$(median "${hzp[@]}")" 2)" \
            "$(fmt "$(median "${ratios[@]}")" 3)" "${ratios[*]}" \
            "$(fmt "$(median "${cpu_u[@]}")" 1)" "$(fmt "$(median "${cpu_s[@]}")" 1)" \
            "$(fmt "$(median "${hcpu_u[@]}")" 1)" "$(fmt "$(median "${hcpu_s[@]}")" 1)" \
            "$(printf '%s; ' "${calls[@]}" | sed 's/; $//')" "${BAD[$path]}"
    done
    printf '\n`/healthz` runs made %s Spotify calls in total (it never calls Spotify). SVG cover art: %s.\n\n' \
        "$HZ_CALLS_SUM" "$ART"

    if [[ "$COMPRESSED" == 1 ]]; then
        printf '### Informational: with a browser'"'"'s `Accept-Encoding: %s` (one round)\n\n' "$BROWSER_AE"
        printf '| route | bytes sent, encoding | req/s | p99 ms | paired `/healthz` req/s | ratio | server CPU µs/req user+sys |\n| --- | --- | --- | --- | --- | --- | --- |\n'
        for path in "${ROUTES[@]}"; do
            read -r size enc <<<"${BODY_BR[$path]}"
            printf '| `%s` | %s %s | %s | %s | %s | %s | %s |\n' "$path" "$size" "${enc:-identity}" \
                "$(fmt "${CRPS[$path]}")" "${CP99[$path]}" "$(fmt "${CHZ[$path]}")" "${CRATIO[$path]}" "${CCPU[$path]}"
        done
        printf '\nPeak RSS (VmHWM) during these compressed runs: %s kB (%s MB).\n\n' "$GZ_HWM_KB" "$(kb_mb "$GZ_HWM_KB")"
    fi

    printf '### Memory and event streams\n\n'
    printf -- '- RSS after start and warm-up: %s kB (%s MB); peak during the `-c%s` rounds: %s kB (%s MB)\n' \
        "$IDLE_RSS_KB" "$(kb_mb "$IDLE_RSS_KB")" "$CONNS" "$HWM_64_KB" "$(kb_mb "$HWM_64_KB")"
    printf -- '- `wrk -t%s -c%s -d%s --latency %s/now-playing`: %s req/s, p99 %s ms, %s non-2xx/errors, server CPU %s µs/req, Spotify calls: %s; VmHWM %s\n' \
        "$THREADS" "$BIG_CONNS" "$DURATION" "http://127.0.0.1:PORT" "$(fmt "$BIG_RPS")" "$BIG_P99" "$BIG_BAD" "$BIG_CPU" "$BIG_CALLS" "$HWM_SCOPE"
    printf -- '- %s event streams (asyncio client, HTTP/1.1): %s got their first event within %s s, %s still open after %s s; statuses %s; `now_playing_event_clients` gauge %s; %s events received in total; Spotify calls while open: %s\n' \
        "$STREAMS" "$S_READY" "$S_SECS" "$S_OPEN" "$HOLD" "$S_STATUSES" "${GAUGE:-?}" "$S_EVENTS" "$STREAMS_CALLS"
    if [[ -n "$S_RSS_OPEN" && -n "$RSS_BEFORE_STREAMS_KB" && "$S_READY" -gt 0 ]]; then
        printf -- '- RSS %s kB before the streams, %s kB with them open: %s kB per stream\n' \
            "$RSS_BEFORE_STREAMS_KB" "$S_RSS_OPEN" \
            "$(awk -v a="$RSS_BEFORE_STREAMS_KB" -v b="$S_RSS_OPEN" -v n="$S_READY" 'BEGIN { printf "%.1f", (b - a) / n }')"
    fi
    printf -- '- first `/now-playing` after start (cold cache: token and currently-playing from the mock): %s ms\n' "$FIRST_NP_MS"
    printf -- '- WARN/ERROR lines in the server log: %s\n\n' "$WARN_LINES"

    if [[ "$INFO_LOG" == 1 ]]; then
        printf '### Informational: RUST_LOG=info (one log line per request, to a file; `/healthz` logs at debug)\n\n'
        printf '| route | req/s | p99 ms | paired `/healthz` req/s | ratio | server CPU µs/req user+sys |\n| --- | --- | --- | --- | --- | --- |\n'
        for path in "${INFO_ROUTES[@]}"; do
            printf '| `%s` | %s | %s | %s | %s | %s |\n' "$path" "$(fmt "${IRPS[$path]}")" "${IP99[$path]}" \
                "$(fmt "${IHZ[$path]}")" "${IRATIO[$path]}" "${ICPU[$path]}"
        done
        printf '\n%s bytes of log for %s logged requests (%s bytes per request).\n\n' "$LOG_BYTES" "$INFO_REQS" \
            "$(awk -v b="$LOG_BYTES" -v n="$INFO_REQS" 'BEGIN { printf "%.0f", n ? b / n : 0 }')"
    fi
    printf 'Raw wrk outputs and logs: `%s`.\n' "$RES"
} >"$RES/report.md"
cat "$RES/report.md"
log "report written to $RES/report.md"
