//! Demo mode's lists: plausible sample data for every list, recently played relative to
//! the clock, each top range in its own order. Nothing here touches the network.

use chrono::{DateTime, Utc};

use super::model::{Artist, Entry, List, ListId, Position, Subject};
use crate::now_playing::model::{Item, ItemKind};
use crate::spotify::lists::{TopKind, TopRange};

/// Title, artists, album, Spotify track id, duration, explicit.
type Track = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    u64,
    bool,
);

#[rustfmt::skip]
const TRACKS: [Track; 11] = [
    ("Digital Love", &["Daft Punk"], "Discovery", "2VEZx7NWsZ1D0eJ4uv5Fym", 301_000, false),
    ("Solitary Daze", &["Maceo Plex", "Gabriel Ananda"], "Solitary Daze", "7vqcDtNvoJn5pXhktc8qe8", 463_405, false),
    ("Cappadocia", &["Ben Böhmer", "Romain Garcia"], "Cappadocia", "4rERaNiKlILD603GJvdEvm", 282_063, false),
    ("Strobe", &["deadmau5"], "For Lack of a Better Name", "6B5SJ7Eu2wpN9r9jxfLS9z", 637_000, false),
    ("Dancing Queen", &["ABBA"], "Arrival", "01iyCAUm8EvOFqVWYJ3dVX", 230_400, false),
    ("More Than You Know", &["Axwell /\\ Ingrosso"], "More Than You Know", "71bBFbfn2OBK5QwUJSLS44", 203_000, false),
    ("If Only (Mega Collab)", &["San Holo", "Eastghost", "Analogue Dear", "Taska Black"], "Gouldian Finch #02", "2Z3VSZWHJ7dxGIfhxv7dFD", 372_728, false),
    ("Piece of Art", &["Mykket Morton"], "New World", "0gdt7dB9T58MzldUxy6Hu5", 257_626, false),
    ("Unforgettable", &["French Montana", "Swae Lee"], "Jungle Rules", "3B54sVLJ402zGa6Xm4YGNe", 233_901, true),
    ("Man's Not Hot", &["Big Shaq"], "Man's Not Hot", "2nUJvBO87SkxCViQsLc9Zr", 186_026, false),
    ("Studiogangster", &["Kollegah", "Farid Bang"], "Jung Brutal Gutaussehend 3", "1Rn0dmvcmrkM16ImY8TObH", 183_040, true),
];

/// Name, Spotify artist id (empty when not known), genres.
type SampleArtist = (&'static str, &'static str, &'static [&'static str]);

#[rustfmt::skip]
const ARTISTS: [SampleArtist; 10] = [
    ("San Holo", "0jNDKefhfSbLR9sFvcPLHo", &["future bass", "edm"]),
    ("Maceo Plex", "3TXQ1ddouwQAI78hV4hXDj", &["minimal techno", "deep house"]),
    ("Ben Böhmer", "5tDjiBYUsTqzd0RkTZxK7u", &["melodic house", "progressive house"]),
    ("Daft Punk", "", &["french house", "electro"]),
    ("Avicii", "1vCWHaC5f2uS3yhpwWbIA6", &["edm", "pop", "tropical house"]),
    ("Tiësto", "2o5jDhtHVPhrJdv3cEQ99Z", &["big room", "edm", "trance"]),
    ("Linkin Park", "6XyY86QOPPrYVGvF9ch6wz", &["alternative metal", "nu metal", "rock"]),
    ("ABBA", "", &["europop", "swedish pop"]),
    ("Don Diablo", "1l2ekx5skC4gJH8djERwh1", &["electro house", "future house"]),
    ("Eminem", "7dGJo4pcD2V6oG8kP0tJRR", &["hip hop", "rap", "detroit hip hop"]),
];

/// Minutes ago each recently played track was played, newest first.
const PLAYED_MINUTES_AGO: [i64; 10] = [3, 8, 15, 21, 44, 67, 125, 131, 262, 1_390];

/// The sample list `id` as fetched at `now`.
pub(crate) fn list(id: ListId, now: DateTime<Utc>) -> List {
    let entries: Vec<Entry> = match id {
        ListId::RecentlyPlayed => PLAYED_MINUTES_AGO
            .iter()
            .enumerate()
            .map(|(i, minutes)| Entry {
                position: Position::PlayedAt(Some(now - chrono::Duration::minutes(*minutes))),
                subject: Subject::Track(track(&TRACKS[(i * 4) % TRACKS.len()])),
                row_image_url: None,
            })
            .collect(),
        ListId::Top(TopKind::Tracks, range) => rotated(&TRACKS, range, 10)
            .map(|t| Subject::Track(track(t)))
            .zip(1..)
            .map(ranked)
            .collect(),
        ListId::Top(TopKind::Artists, range) => rotated(&ARTISTS, range, 8)
            .map(|a| Subject::Artist(artist(a)))
            .zip(1..)
            .map(ranked)
            .collect(),
    };
    List {
        id,
        entries: entries.into(),
        fetched_at: now,
        stale: false,
    }
}

/// `count` samples in an order of their own for each range.
fn rotated<T>(all: &[T], range: TopRange, count: usize) -> impl Iterator<Item = &T> {
    let start = match range {
        TopRange::Short => 0,
        TopRange::Medium => 3,
        TopRange::Long => 6,
    };
    all.iter().cycle().skip(start).take(count.min(all.len()))
}

fn ranked((subject, rank): (Subject, u32)) -> Entry {
    Entry {
        position: Position::Rank(rank),
        subject,
        row_image_url: None,
    }
}

fn track(&(title, artists, album, id, duration_ms, explicit): &Track) -> Item {
    Item {
        kind: ItemKind::Track,
        title: title.into(),
        artists: artists.iter().map(|a| (*a).to_owned()).collect(),
        album: Some(album.into()),
        url: Some(format!("https://open.spotify.com/track/{id}")),
        image_url: None,
        duration_ms: Some(duration_ms),
        explicit,
        is_local: false,
    }
}

fn artist(&(name, id, genres): &SampleArtist) -> Artist {
    Artist {
        name: name.into(),
        url: Some(format!("https://open.spotify.com/artist/{id}")).filter(|_| !id.is_empty()),
        image_url: None,
        genres: genres.iter().map(|g| (*g).to_owned()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_list_has_at_least_five_entries_and_ranges_differ() {
        let now = "2026-11-29T03:00:00Z".parse().unwrap();
        for id in ListId::ALL {
            assert!(list(id, now).entries.len() >= 5, "{id:?}");
        }
        let first = |range| {
            list(ListId::Top(TopKind::Tracks, range), now).entries[0]
                .title()
                .to_owned()
        };
        assert_ne!(first(TopRange::Short), first(TopRange::Medium));
        assert_ne!(first(TopRange::Medium), first(TopRange::Long));
        let recent = list(ListId::RecentlyPlayed, now);
        assert_eq!(
            recent.entries[0].played_at(),
            Some(now - chrono::Duration::minutes(3))
        );
    }
}
