//! The lists beyond this minute (recently played, top tracks and artists) in our own model: which
//! list ([`ListId`]), its entries (a track with the time it was played or its rank, or a ranked
//! artist), and the normalisation from Spotify's shapes, with the same text cleaning and URL rules
//! as the now-playing item. Their JSON is in [`super::document`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::now_playing::model::{Item, best_image, clean, image_near};
use crate::spotify::hosts::is_spotify_page;
use crate::spotify::lists::{FullArtist, TopKind, TopRange};
use crate::spotify::types::{self, PlayHistory};

/// Most genres kept per artist.
const MAX_GENRES: usize = 10;

/// Width of the image a widget row shows (at 40 px, 64 px is sharp on a 1.5x screen): Spotify
/// offers 64 px, a tenth of the bytes of the 300 px one the JSON names.
const ROW_IMAGE_WIDTH: u32 = 64;

/// One of the seven lists: recently played, or a top list of one kind over one range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListId {
    RecentlyPlayed,
    Top(TopKind, TopRange),
}

impl ListId {
    pub const ALL: [ListId; 7] = [
        ListId::RecentlyPlayed,
        ListId::Top(TopKind::Tracks, TopRange::Short),
        ListId::Top(TopKind::Tracks, TopRange::Medium),
        ListId::Top(TopKind::Tracks, TopRange::Long),
        ListId::Top(TopKind::Artists, TopRange::Short),
        ListId::Top(TopKind::Artists, TopRange::Medium),
        ListId::Top(TopKind::Artists, TopRange::Long),
    ];

    /// Its place in [`ListId::ALL`], for per-list tables.
    pub fn index(self) -> usize {
        match self {
            Self::RecentlyPlayed => 0,
            Self::Top(kind, range) => {
                let kind = match kind {
                    TopKind::Tracks => 0,
                    TopKind::Artists => 1,
                };
                let range = match range {
                    TopRange::Short => 0,
                    TopRange::Medium => 1,
                    TopRange::Long => 2,
                };
                1 + kind * 3 + range
            }
        }
    }

    /// The `kind` of the JSON document: `recently-played`, `top-tracks` or `top-artists`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::RecentlyPlayed => "recently-played",
            Self::Top(TopKind::Tracks, _) => "top-tracks",
            Self::Top(TopKind::Artists, _) => "top-artists",
        }
    }

    pub fn range(self) -> Option<TopRange> {
        match self {
            Self::RecentlyPlayed => None,
            Self::Top(_, range) => Some(range),
        }
    }

    /// The Spotify scope without which Spotify answers 403.
    pub fn scope(self) -> &'static str {
        match self {
            Self::RecentlyPlayed => "user-read-recently-played",
            Self::Top(..) => "user-top-read",
        }
    }

    /// The list's name in a sentence: `recently played`, `top tracks`, `top artists`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RecentlyPlayed => "recently played",
            Self::Top(TopKind::Tracks, _) => "top tracks",
            Self::Top(TopKind::Artists, _) => "top artists",
        }
    }

    /// The list's heading: `Recently played`, `Top tracks`, `Top artists`.
    pub fn title(self) -> &'static str {
        match self {
            Self::RecentlyPlayed => "Recently played",
            Self::Top(TopKind::Tracks, _) => "Top tracks",
            Self::Top(TopKind::Artists, _) => "Top artists",
        }
    }

    /// The period in words, for top lists: `last 4 weeks`, `last 6 months`, `last year`.
    pub(crate) fn period(self) -> Option<&'static str> {
        self.range().map(|range| match range {
            TopRange::Short => "last 4 weeks",
            TopRange::Medium => "last 6 months",
            TopRange::Long => "last year",
        })
    }
}

/// A fetched list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct List {
    pub id: ListId,
    /// Everything Spotify gave (up to 50), newest or highest ranked first; viewers' `limit`
    /// only cuts what is shown.
    pub entries: Arc<[Entry]>,
    pub fetched_at: DateTime<Utc>,
    /// True while Spotify fails and this is the last good list.
    pub stale: bool,
}

impl List {
    /// The first `limit` entries.
    pub(crate) fn first(&self, limit: usize) -> &[Entry] {
        &self.entries[..limit.min(self.entries.len())]
    }
}

/// One line of a list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub position: Position,
    pub subject: Subject,
    /// The image closest to 64 px wide, on Spotify's image hosts, for a widget's row; the
    /// JSON names the subject's own `image_url`.
    pub row_image_url: Option<String>,
}

/// Where an entry stands: its rank in a top list, or when it was played.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Position {
    /// 1 for the most listened.
    Rank(u32),
    PlayedAt(Option<DateTime<Utc>>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Subject {
    /// A track as the `item` of `/now-playing` shows it.
    Track(Item),
    Artist(Artist),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Artist {
    pub name: String,
    /// Only `https` on Spotify's hosts, else `None`.
    pub url: Option<String>,
    /// Only `https` on Spotify's image hosts, else `None`; the image closest to 300 px wide.
    pub image_url: Option<String>,
    pub genres: Vec<String>,
}

impl Entry {
    pub(crate) fn rank(&self) -> Option<u32> {
        match self.position {
            Position::Rank(rank) => Some(rank),
            Position::PlayedAt(_) => None,
        }
    }

    pub(crate) fn played_at(&self) -> Option<DateTime<Utc>> {
        match self.position {
            Position::PlayedAt(at) => at,
            Position::Rank(_) => None,
        }
    }

    /// The track, when this entry is one.
    pub(crate) fn item(&self) -> Option<&Item> {
        match &self.subject {
            Subject::Track(item) => Some(item),
            Subject::Artist(_) => None,
        }
    }

    /// The track's title or the artist's name.
    pub(crate) fn title(&self) -> &str {
        match &self.subject {
            Subject::Track(item) => &item.title,
            Subject::Artist(artist) => &artist.name,
        }
    }

    /// The track's artists, or the artist's first genres, for the line under the title.
    pub(crate) fn subtitle(&self) -> String {
        match &self.subject {
            Subject::Track(item) => item.artist_line(),
            Subject::Artist(artist) => artist
                .genres
                .iter()
                .take(3)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    pub(crate) fn url(&self) -> Option<&str> {
        match &self.subject {
            Subject::Track(item) => item.url.as_deref(),
            Subject::Artist(artist) => artist.url.as_deref(),
        }
    }

    /// Recently played tracks, newest first; entries that are not tracks are left out.
    pub(crate) fn from_history(history: Vec<PlayHistory>) -> Vec<Entry> {
        let mut entries: Vec<Entry> = history
            .into_iter()
            .filter_map(|h| {
                let track = h.track?;
                Some(Entry {
                    position: Position::PlayedAt(h.played_at),
                    row_image_url: image_near(Item::images(&track), ROW_IMAGE_WIDTH),
                    subject: Subject::Track(Item::from_spotify(track)?),
                })
            })
            .collect();
        // Spotify sends them newest first; a stable sort keeps that when times tie or lack.
        entries.sort_by_key(|e| std::cmp::Reverse(e.played_at()));
        entries
    }

    /// Top tracks in Spotify's order, ranked from 1.
    pub(crate) fn from_top_tracks(items: Vec<types::Item>) -> Vec<Entry> {
        items
            .into_iter()
            .filter_map(|track| {
                let row_image_url = image_near(Item::images(&track), ROW_IMAGE_WIDTH);
                Some((Subject::Track(Item::from_spotify(track)?), row_image_url))
            })
            .zip(1..)
            .map(|((subject, row_image_url), rank)| Entry {
                position: Position::Rank(rank),
                subject,
                row_image_url,
            })
            .collect()
    }

    /// Top artists in Spotify's order, ranked from 1; an artist without a name is left out.
    pub(crate) fn from_top_artists(artists: Vec<FullArtist>) -> Vec<Entry> {
        artists
            .into_iter()
            .filter_map(|artist| {
                let row_image_url = image_near(&artist.images, ROW_IMAGE_WIDTH);
                Some((
                    Subject::Artist(Artist::from_spotify(artist)?),
                    row_image_url,
                ))
            })
            .zip(1..)
            .map(|((subject, row_image_url), rank)| Entry {
                position: Position::Rank(rank),
                subject,
                row_image_url,
            })
            .collect()
    }
}

impl Artist {
    pub(crate) fn from_spotify(artist: FullArtist) -> Option<Self> {
        let name = clean(artist.name.as_deref().unwrap_or(""));
        if name.is_empty() {
            return None;
        }
        Some(Self {
            name,
            url: artist
                .external_urls
                .get("spotify")
                .cloned()
                .flatten()
                .filter(|u| is_spotify_page(u)),
            image_url: best_image(&artist.images),
            genres: artist
                .genres
                .iter()
                .flatten()
                .map(|g| clean(g))
                .filter(|g| !g.is_empty())
                .take(MAX_GENRES)
                .collect(),
        })
    }
}

/// What a list route serves: the list, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListView {
    Ok(List),
    Unavailable(ListUnavailable),
}

/// No list can be served: the scope is missing, the credentials are dead, or Spotify has
/// failed past `STALE_MAX`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListUnavailable {
    pub code: ListErrorCode,
    /// For the owner: what failed and, for a missing scope, the command that grants it.
    pub message: String,
}

/// The `error.code` of a list's 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ListErrorCode {
    /// Spotify answered 403: the owner did not grant the list's scope.
    MissingScope,
    SpotifyAuth,
    RateLimited,
    Upstream,
}

impl ListUnavailable {
    /// A short line for viewers of a widget (a neutral card with HTTP 200), naming no
    /// command: they are not the owner.
    pub(crate) fn notice(&self) -> &'static str {
        match self.code {
            ListErrorCode::MissingScope => "Not shared from Spotify yet",
            _ => "Spotify can't be reached right now",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_has_its_own_index() {
        let mut seen: Vec<usize> = ListId::ALL.iter().map(|id| id.index()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..ListId::ALL.len()).collect::<Vec<_>>());
    }

    #[test]
    fn history_is_newest_first_and_skips_what_is_not_a_track() {
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        let history = vec![
            PlayHistory {
                track: None,
                played_at: at("2026-11-29T02:00:00Z"),
            },
            PlayHistory {
                track: Some(types::Item {
                    name: Some("older".into()),
                    ..Default::default()
                }),
                played_at: at("2026-11-29T01:00:00Z"),
            },
            PlayHistory {
                track: Some(types::Item {
                    name: Some("newer".into()),
                    ..Default::default()
                }),
                played_at: at("2026-11-29T01:30:00Z"),
            },
        ];
        let titles: Vec<String> = Entry::from_history(history)
            .iter()
            .map(|e| e.title().to_owned())
            .collect();
        assert_eq!(titles, ["newer", "older"]);
    }
}
