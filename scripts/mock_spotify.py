#!/usr/bin/env python3
"""A tiny stand-in for Spotify's accounts service and Web API, for container and load tests.

    python3 scripts/mock_spotify.py [--host 127.0.0.1] [--port 0] [--port-file FILE]
                                    [--rotate-refresh-token NEW] [--advance-progress]
                                    [--image-bytes N] [--quiet]

Serves, on one port (use it as SPOTIFY_ACCOUNTS_URL, SPOTIFY_API_URL and SPOTIFY_IMAGES_URL):
    POST /api/token                          -> {"access_token":"test-access",...}
    GET  /v1/me/player/currently-playing     -> a playing track (needs Bearer test-access)
    GET  /v1/me/player/recently-played       -> one recently played track
    GET  /image/<id>                         -> a small valid JPEG (the cover art; the track's
                                                i.scdn.co/image/<id> URLs map here)
    GET  /_mock/stats                        -> {"token": n, "currently_playing": n, ...}
    GET  /_mock/calls                        -> [[unix_time, endpoint], ...] (the last 10000
                                                Spotify calls, oldest first)

By default the track's progress is always 78810 ms; with --advance-progress it advances with
real time from the mock's start (wrapping at the track's end), as a real player's does.
--image-bytes sets the JPEG's size (default 24000, about a real 300 px cover; padded with
JPEG comment segments of random bytes, so it stays a valid image and compresses as badly as a
real one).

With --port 0 the OS picks a free port; it is printed as `PORT=N` on stdout and, with
--port-file, written to that file once the server listens. Standard library only.
"""

import argparse
import collections
import json
import os
import random
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCESS_TOKEN = "test-access"

_stats = {
    "token": 0,
    "currently_playing": 0,
    "recently_played": 0,
    "image": 0,
    "unauthorized": 0,
    "other": 0,
}
# (unix time, endpoint) of the latest calls, for checks on their spacing.
_calls = collections.deque(maxlen=10000)
_lock = threading.Lock()
_started = time.time()


def count(key):
    with _lock:
        _stats[key] += 1
        if key in ("token", "currently_playing", "recently_played", "image"):
            _calls.append((round(time.time(), 4), key))


def _segment(marker, payload):
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def make_jpeg(size):
    """A valid baseline JPEG (8x8, grey) of about `size` bytes: padded with comment segments."""
    head = b"\xff\xd8"  # SOI
    body = (
        _segment(0xDB, b"\x00" + b"\x01" * 64)  # quantisation table 0: all ones
        + _segment(0xC0, b"\x08" + struct.pack(">HH", 8, 8) + b"\x01\x01\x11\x00")  # 8x8, 1 component
        + _segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")  # DC table: one 1-bit code
        + _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")  # AC table: EOB only
        + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")  # start of scan
        + b"\x3f"  # DC diff 0, EOB, padded with ones
        + b"\xff\xd9"  # EOI
    )
    # Pseudo-random filler (fixed seed): compresses as badly as real JPEG data does.
    filler = random.Random(0)
    padding = b""
    left = size - len(head) - len(body)
    while left >= 4:
        n = min(left - 4, 65533)
        padding += _segment(0xFE, filler.randbytes(n))
        left -= n + 4
    return head + padding + body


ARTIST = {
    "external_urls": {"spotify": "https://open.spotify.com/artist/0LcJLqbBmaGUft1e9Mm8HV"},
    "href": "https://api.spotify.com/v1/artists/0LcJLqbBmaGUft1e9Mm8HV",
    "id": "0LcJLqbBmaGUft1e9Mm8HV",
    "name": "ABBA",
    "type": "artist",
    "uri": "spotify:artist:0LcJLqbBmaGUft1e9Mm8HV",
}

TRACK = {
    "album": {
        "album_type": "album",
        "artists": [ARTIST],
        "external_urls": {"spotify": "https://open.spotify.com/album/79ZX48114T8NH36MnOTtl7"},
        "href": "https://api.spotify.com/v1/albums/79ZX48114T8NH36MnOTtl7",
        "id": "79ZX48114T8NH36MnOTtl7",
        "images": [
            {"height": 575, "url": "https://i.scdn.co/image/1cb3d4e9b45c0526655b712e8e7a9154a0367b42", "width": 640},
            {"height": 270, "url": "https://i.scdn.co/image/fa4c64fce8a0daf1fcff03eb967ccd4896a650b7", "width": 300},
            {"height": 58, "url": "https://i.scdn.co/image/99340df6a34261b78cec4fb0e4ac4d6dfccb43cd", "width": 64},
        ],
        "name": "Arrival",
        "type": "album",
        "uri": "spotify:album:79ZX48114T8NH36MnOTtl7",
    },
    "artists": [ARTIST],
    "disc_number": 1,
    "duration_ms": 230400,
    "explicit": False,
    "external_ids": {"isrc": "SEAYD7601020"},
    "external_urls": {"spotify": "https://open.spotify.com/track/01iyCAUm8EvOFqVWYJ3dVX"},
    "href": "https://api.spotify.com/v1/tracks/01iyCAUm8EvOFqVWYJ3dVX",
    "id": "01iyCAUm8EvOFqVWYJ3dVX",
    "is_local": False,
    "is_playable": True,
    "name": "Dancing Queen",
    "popularity": 72,
    "preview_url": None,
    "track_number": 2,
    "type": "track",
    "uri": "spotify:track:01iyCAUm8EvOFqVWYJ3dVX",
}


def now_ms():
    return int(time.time() * 1000)


ADVANCE_PROGRESS = False
IMAGE = make_jpeg(24000)


def currently_playing():
    progress = 78810
    if ADVANCE_PROGRESS:
        progress = int(progress + (time.time() - _started) * 1000) % TRACK["duration_ms"]
    return {
        "timestamp": now_ms() - 500,
        "context": None,
        "progress_ms": progress,
        "is_playing": True,
        "item": TRACK,
        "currently_playing_type": "track",
        "actions": {"disallows": {"resuming": True}},
    }


def recently_played():
    played_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 600))
    return {
        "items": [{"track": TRACK, "played_at": played_at, "context": None}],
        "next": None,
        "cursors": {"after": str(now_ms() - 600000), "before": str(now_ms() - 600000)},
        "limit": 1,
        "href": "https://api.spotify.com/v1/me/player/recently-played?limit=1",
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "mock-spotify/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # one short line per request, on stderr
        if self.server.quiet:
            return
        sys.stderr.write("[mock-spotify] %s %s\n" % (self.address_string(), fmt % args))

    def send_json(self, status, body, extra_headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorized(self):
        if self.headers.get("Authorization") == "Bearer " + ACCESS_TOKEN:
            return True
        count("unauthorized")
        self.send_json(401, {"error": {"status": 401, "message": "Invalid access token"}})
        return False

    def do_POST(self):
        self.read_body()
        path = self.path.split("?", 1)[0]
        if path == "/api/token":
            count("token")
            body = {
                "access_token": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "user-read-currently-playing user-read-recently-played",
            }
            if self.server.rotate_refresh_token:
                body["refresh_token"] = self.server.rotate_refresh_token
            self.send_json(200, body)
        else:
            count("other")
            self.send_json(404, {"error": {"status": 404, "message": "Service not found"}})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/v1/me/player/currently-playing":
            count("currently_playing")
            if self.authorized():
                self.send_json(200, currently_playing())
        elif path == "/v1/me/player/recently-played":
            count("recently_played")
            if self.authorized():
                self.send_json(200, recently_played())
        elif path.startswith("/image/") and len(path) > len("/image/"):
            count("image")
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(IMAGE)))
            self.send_header("Cache-Control", "public, max-age=31536000")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(IMAGE)
        elif path == "/_mock/stats":
            with _lock:
                snapshot = dict(_stats)
            self.send_json(200, snapshot)
        elif path == "/_mock/calls":
            with _lock:
                calls = list(_calls)
            self.send_json(200, calls)
        else:
            count("other")
            self.send_json(404, {"error": {"status": 404, "message": "Service not found"}})

    do_HEAD = do_GET


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument(
        "--rotate-refresh-token",
        metavar="NEW",
        help="include refresh_token=NEW in token responses, as Spotify sometimes does",
    )
    ap.add_argument(
        "--advance-progress",
        action="store_true",
        help="let the track's progress advance with real time (default: always 78810 ms)",
    )
    ap.add_argument(
        "--image-bytes",
        type=int,
        default=24000,
        metavar="N",
        help="size of the JPEG served at /image/<id> (default 24000)",
    )
    ap.add_argument("--quiet", action="store_true", help="no log line per request")
    args = ap.parse_args()

    global ADVANCE_PROGRESS, IMAGE
    ADVANCE_PROGRESS = args.advance_progress
    IMAGE = make_jpeg(args.image_bytes)

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.rotate_refresh_token = args.rotate_refresh_token
    httpd.quiet = args.quiet
    port = httpd.server_address[1]
    print("PORT=%d" % port, flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
