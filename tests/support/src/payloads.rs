//! Bodies shaped like Spotify's: the project's fixtures (`tests/fixtures/spotify`, modelled on
//! payloads others published) for the player, and a small catalogue from which
//! recently-played and the top lists are built, with cover art as a valid JPEG.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The project's fixtures, as the simulator serves them.
pub mod fixtures {
    pub const TRACK: &str = include_str!("../../fixtures/spotify/currently_playing_track.json");
    pub const EPISODE: &str = include_str!("../../fixtures/spotify/currently_playing_episode.json");
    pub const LOCAL: &str = include_str!("../../fixtures/spotify/currently_playing_local.json");
    pub const AD: &str = include_str!("../../fixtures/spotify/currently_playing_ad.json");
    pub const UNKNOWN: &str = include_str!("../../fixtures/spotify/currently_playing_unknown.json");
    pub const ERROR_401: &str = include_str!("../../fixtures/spotify/error_401.json");
    pub const ERROR_429: &str = include_str!("../../fixtures/spotify/error_429.json");
    pub const INVALID_GRANT: &str = include_str!("../../fixtures/spotify/error_invalid_grant.json");
    pub const INVALID_CLIENT: &str =
        include_str!("../../fixtures/spotify/error_invalid_client.json");

    /// The track fixture's title and artists, and the episode fixture's title.
    pub const TRACK_TITLE: &str = "Digital Love";
    pub const TRACK_ARTISTS: &str = "Daft Punk, Todd Edwards";
    pub const EPISODE_TITLE: &str = "The Giant Beastcast: Episode 0";
}

/// The markup of [`crate::Scenario::Hostile`].
pub const HOSTILE_TITLE: &str = "</title><script>alert(1)</script><img src=x onerror=alert(2)>";
pub const HOSTILE_ARTIST: &str = "<img src=x onerror=alert(6)>";
pub const HOSTILE_ALBUM: &str = "<script>alert(7)</script>";

/// A copy of the track fixture with `change` applied.
pub fn track_with(change: impl FnOnce(&mut Value)) -> String {
    let mut value: Value =
        serde_json::from_str(fixtures::TRACK).expect("the track fixture is JSON");
    change(&mut value);
    value.to_string()
}

pub fn error(status: u16, message: &str) -> String {
    json!({"error": {"status": status, "message": message}}).to_string()
}

// ---------------------------------------------------------------------------------------
// The catalogue

struct Artist {
    name: &'static str,
    id: &'static str,
    genres: &'static [&'static str],
    followers: u64,
}

struct Track {
    name: &'static str,
    id: &'static str,
    artists: &'static [usize],
    album: &'static str,
    album_id: &'static str,
    released: &'static str,
    duration_ms: u64,
}

// Ids of the fixtures where they exist; the others are made up in Spotify's format.
#[rustfmt::skip]
const ARTISTS: [Artist; 8] = [
    Artist { name: "Daft Punk", id: "4tZwfgrHOc3mvqYlEYSvVi", genres: &["french house", "electro"], followers: 9_800_000 },
    Artist { name: "Todd Edwards", id: "1gR0gsQYfi6joyO1dlp76N", genres: &["uk garage", "house"], followers: 61_000 },
    Artist { name: "Maceo Plex", id: "3TXQ1ddouwQAI78hV4hXDj", genres: &["minimal techno"], followers: 210_000 },
    Artist { name: "Gabriel Ananda", id: "3YpEUCjdLuPmBspkmoPYnX", genres: &["minimal techno"], followers: 48_000 },
    Artist { name: "ABBA", id: "0LcJLqbBmaGUft1e9Mm8HV", genres: &["europop", "swedish pop"], followers: 11_200_000 },
    Artist { name: "Björk", id: "7w29UYBi0qsHi5RTcv3lmA", genres: &["art pop", "icelandic experimental"], followers: 2_900_000 },
    Artist { name: "坂本龍一", id: "1tcgfoMTT1szjUeaikxRjA", genres: &["japanese soundtrack", "ambient"], followers: 1_100_000 },
    Artist { name: "Khruangbin", id: "2mVVjNmdjXZZDvhgQWiakk", genres: &["psychedelic soul"], followers: 1_700_000 },
];

#[rustfmt::skip]
const TRACKS: [Track; 10] = [
    Track { name: "Digital Love", id: "2VEZx7NWsZ1D0eJ4uv5Fym", artists: &[0, 1], album: "Discovery", album_id: "2noRn2Aes5aoNVsU6iWThc", released: "2001-03-12", duration_ms: 301_000 },
    Track { name: "Solitary Daze", id: "5jF3KF4oREdHMM3iIE59tA", artists: &[2, 3], album: "Solitary Daze", album_id: "3xnVNXlMAWyeiC3pbZVMlW", released: "2013-05-20", duration_ms: 412_466 },
    Track { name: "Dancing Queen", id: "01iyCAUm8EvOFqVWYJ3dVX", artists: &[4], album: "Arrival", album_id: "79ZX48114T8NH36MnOTtl7", released: "1976-10-11", duration_ms: 230_400 },
    Track { name: "Jóga", id: "6x5ytAyX4ZIVVqRXu0g0qy", artists: &[5], album: "Homogenic", album_id: "3Ee9Wm3qnTSmSqfA1rzNfd", released: "1997-09-20", duration_ms: 305_173 },
    Track { name: "Merry Christmas Mr. Lawrence", id: "4IbQd9Kp1HH4f4ZQHkBvu4", artists: &[6], album: "戦場のメリークリスマス", album_id: "1Nnq2Am2WJMUPdjZqzT4TV", released: "1983-05-01", duration_ms: 277_026 },
    Track { name: "Time (You and I)", id: "4cJnE0uXT1CPmhpaX1vw2Q", artists: &[7], album: "Mordechai", album_id: "6WAfHwnG2pUy8JXXyaVOYe", released: "2020-06-26", duration_ms: 252_053 },
    Track { name: "One More Time", id: "0DiWol3AO6WpXZgp0goxAV", artists: &[0], album: "Discovery", album_id: "2noRn2Aes5aoNVsU6iWThc", released: "2001-03-12", duration_ms: 320_357 },
    Track { name: "Hyperballad", id: "3Cxf6dAXcRgyD9MxQ9Dxto", artists: &[5], album: "Post", album_id: "3jZpI4ra5BMvqrgRvCNEE6", released: "1995-06-13", duration_ms: 321_333 },
    Track { name: "Harder, Better, Faster, Stronger", id: "5W3cjX2J3tjhG8zb6u0qHn", artists: &[0], album: "Discovery", album_id: "2noRn2Aes5aoNVsU6iWThc", released: "2001-03-12", duration_ms: 224_693 },
    Track { name: "Maria También", id: "6Pnb1Z2H6GL59ToDPZdcJq", artists: &[7], album: "Con Todo El Mundo", album_id: "6vxgPoH8rgIYPEIINIyDrp", released: "2018-01-26", duration_ms: 196_760 },
];

/// The number of items a top list has in total.
pub const TOP_TOTAL: usize = TRACKS.len();

/// Cover art in Spotify's three sizes, on `i.scdn.co` (the service maps that host through
/// `SPOTIFY_IMAGES_URL`); the id is made from `seed`, so each album has its own.
fn images(kind: &str, seed: &str) -> Value {
    let hash = hex_id(seed);
    let sizes = [(640, "0000b273"), (300, "00001e02"), (64, "00004851")];
    Value::Array(
        sizes
            .iter()
            .map(|(px, code)| {
                json!({"height": px, "width": px,
                       "url": format!("https://i.scdn.co/image/{kind}{code}{hash}")})
            })
            .collect(),
    )
}

/// 24 hex digits derived from `seed` (FNV-1a, twice).
fn hex_id(seed: &str) -> String {
    let fnv = |salt: u64| {
        seed.bytes().fold(0xcbf2_9ce4_8422_2325 ^ salt, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!("{:016x}{:08x}", fnv(0), fnv(1) as u32)
}

fn link(kind: &str, id: &str) -> Value {
    json!({"spotify": format!("https://open.spotify.com/{kind}/{id}")})
}

fn simple_artist(a: &Artist) -> Value {
    json!({
        "external_urls": link("artist", a.id),
        "href": format!("https://api.spotify.com/v1/artists/{}", a.id),
        "id": a.id,
        "name": a.name,
        "type": "artist",
        "uri": format!("spotify:artist:{}", a.id),
    })
}

fn full_artist(a: &Artist) -> Value {
    let mut value = simple_artist(a);
    value["followers"] = json!({"href": null, "total": a.followers});
    value["genres"] = json!(a.genres);
    value["images"] = images("ab676161", a.id);
    value
}

fn track_object(t: &Track, number: usize) -> Value {
    let artists: Vec<Value> = t
        .artists
        .iter()
        .map(|&i| simple_artist(&ARTISTS[i]))
        .collect();
    json!({
        "album": {
            "album_type": "album",
            "artists": [artists[0].clone()],
            "external_urls": link("album", t.album_id),
            "href": format!("https://api.spotify.com/v1/albums/{}", t.album_id),
            "id": t.album_id,
            "images": images("ab67616d", t.album_id),
            "name": t.album,
            "release_date": t.released,
            "release_date_precision": "day",
            "total_tracks": 12,
            "type": "album",
            "uri": format!("spotify:album:{}", t.album_id),
        },
        "artists": artists,
        "disc_number": 1,
        "duration_ms": t.duration_ms,
        "explicit": false,
        "external_urls": link("track", t.id),
        "href": format!("https://api.spotify.com/v1/tracks/{}", t.id),
        "id": t.id,
        "is_local": false,
        "is_playable": true,
        "name": t.name,
        "preview_url": null,
        "track_number": number % 12 + 1,
        "type": "track",
        "uri": format!("spotify:track:{}", t.id),
    })
}

/// `GET /v1/me/player/recently-played?limit=N`: the catalogue, newest first, one play every
/// 4 minutes ending 10 minutes before `now`.
pub fn recently_played(limit: usize, now: SystemTime) -> String {
    let played = |i: usize| now - Duration::from_secs(600 + 240 * i as u64);
    let items: Vec<Value> = (0..limit.min(TRACKS.len()))
        .map(|i| {
            json!({"track": track_object(&TRACKS[(i + 1) % TRACKS.len()], i),
                   "played_at": iso8601(played(i)), "context": null})
        })
        .collect();
    let millis = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let newest = millis(played(0));
    let oldest = millis(played(items.len().saturating_sub(1)));
    json!({
        "items": items,
        "next": format!("https://api.spotify.com/v1/me/player/recently-played?before={oldest}&limit={limit}"),
        "cursors": {"after": newest.to_string(), "before": oldest.to_string()},
        "limit": limit,
        "href": format!("https://api.spotify.com/v1/me/player/recently-played?limit={limit}"),
    })
    .to_string()
}

/// Which way a top list is ordered: each `time_range` has its own order, so that a test
/// sees which one it got.
fn rotation(time_range: &str) -> Option<usize> {
    match time_range {
        "short_term" => Some(0),
        "medium_term" => Some(3),
        "long_term" => Some(6),
        _ => None,
    }
}

/// `GET /v1/me/top/{tracks|artists}` as a paging object, or `None` for a `time_range`
/// Spotify would refuse.
pub fn top(kind: TopKind, time_range: &str, limit: usize, offset: usize) -> Option<String> {
    let turn = rotation(time_range)?;
    let (path, items): (&str, Vec<Value>) = match kind {
        TopKind::Tracks => (
            "tracks",
            (0..TRACKS.len())
                .map(|i| track_object(&TRACKS[(i + turn) % TRACKS.len()], i))
                .collect(),
        ),
        // Artists repeat to fill as many places as the tracks have.
        TopKind::Artists => (
            "artists",
            (0..TRACKS.len())
                .map(|i| full_artist(&ARTISTS[(i + turn) % ARTISTS.len()]))
                .collect(),
        ),
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let url = |offset: usize| {
        format!(
            "https://api.spotify.com/v1/me/top/{path}?time_range={time_range}&limit={limit}&offset={offset}"
        )
    };
    let next = (offset + limit < total).then(|| url(offset + limit));
    let previous = (offset > 0).then(|| url(offset.saturating_sub(limit)));
    Some(
        json!({"href": url(offset), "items": page, "limit": limit, "next": next,
               "offset": offset, "previous": previous, "total": total})
        .to_string(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopKind {
    Tracks,
    Artists,
}

/// `2026-11-29T01:00:00.000Z`: Spotify's format for `played_at`.
pub fn iso8601(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

// ---------------------------------------------------------------------------------------
// Cover art

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xff, marker];
    out.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A valid baseline JPEG (8x8, grey) of about `size` bytes, padded with comment segments
/// of pseudo-random bytes, so that it compresses as badly as a real cover does.
pub fn jpeg(size: usize) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(segment(0xdb, &[&[0u8][..], &[1u8; 64]].concat())); // quantisation: all ones
    body.extend(segment(0xc0, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0])); // 8x8, one component
    let mut dc = vec![0x00, 1];
    dc.extend([0u8; 15]);
    dc.push(0);
    body.extend(segment(0xc4, &dc)); // DC table: one 1-bit code
    dc[0] = 0x10;
    body.extend(segment(0xc4, &dc)); // AC table: end of block only
    body.extend(segment(0xda, &[1, 1, 0, 0, 0x3f, 0])); // start of scan
    body.extend([0x3f, 0xff, 0xd9]); // DC diff 0, end of block, padded; end of image

    let mut out = vec![0xff, 0xd8];
    let mut left = size.saturating_sub(out.len() + body.len());
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while left >= 4 {
        let n = (left - 4).min(65_533);
        let filler: Vec<u8> = (0..n)
            .map(|_| {
                // xorshift64
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        out.extend(segment(0xfe, &filler));
        left -= n + 4;
    }
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jpeg_has_the_size_asked_for_and_jpeg_markers() {
        for size in [200, 24_000, 150_000] {
            let image = jpeg(size);
            assert!(
                image.len() <= size && image.len() + 4 > size,
                "{size}: {}",
                image.len()
            );
            assert_eq!(&image[..2], &[0xff, 0xd8]);
            assert_eq!(&image[image.len() - 2..], &[0xff, 0xd9]);
        }
    }

    #[test]
    fn dates_are_iso_8601_in_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_378_000_123);
        assert_eq!(iso8601(t), "2025-11-29T01:00:00.123Z");
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn top_lists_page_and_order_by_time_range() {
        let short: Value =
            serde_json::from_str(&top(TopKind::Tracks, "short_term", 3, 0).unwrap()).unwrap();
        let long: Value =
            serde_json::from_str(&top(TopKind::Tracks, "long_term", 3, 0).unwrap()).unwrap();
        assert_eq!(short["items"].as_array().unwrap().len(), 3);
        assert_eq!(short["total"], TOP_TOTAL);
        assert_eq!(short["items"][0]["name"], "Digital Love");
        assert_ne!(short["items"][0]["name"], long["items"][0]["name"]);
        assert!(short["next"].is_string() && short["previous"].is_null());
        let artists: Value =
            serde_json::from_str(&top(TopKind::Artists, "medium_term", 50, 0).unwrap()).unwrap();
        assert_eq!(artists["items"].as_array().unwrap().len(), TOP_TOTAL);
        assert!(artists["items"][0]["genres"].is_array());
        assert!(artists["next"].is_null());
        assert!(top(TopKind::Artists, "forever", 5, 0).is_none());
    }

    #[test]
    fn recently_played_is_newest_first() {
        let body: Value = serde_json::from_str(&recently_played(3, SystemTime::now())).unwrap();
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0]["played_at"].as_str() > items[1]["played_at"].as_str());
    }
}
