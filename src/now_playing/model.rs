//! Our own model of what plays, the JSON document of `/now-playing`
//! (README: The JSON document), and the normalisation
//! from Spotify's shapes into it. JSON, HTML, SVG and events all read this, never Spotify's JSON.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

use crate::spotify::hosts::{is_spotify_image, is_spotify_page};
use crate::spotify::types::{self, CurrentlyPlaying, Image};

/// Longest title, artist or album name kept; longer ones are cut (and ellipsised on screen).
const MAX_TEXT: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct NowPlaying {
    pub state: State,
    pub is_playing: bool,
    /// Spotify's `currently_playing_type`; `None` when nothing plays.
    pub playing_type: Option<PlayingType>,
    pub item: Option<Item>,
    pub progress_ms: Option<u64>,
    /// When `progress_ms` was measured, so clients can extrapolate progress.
    #[serde(serialize_with = "millis_opt")]
    pub timestamp: Option<DateTime<Utc>>,
    #[serde(serialize_with = "millis_opt")]
    pub played_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "millis")]
    pub fetched_at: DateTime<Utc>,
    /// True while Spotify fails and this is the last good answer.
    pub stale: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    Playing,
    Paused,
    Recent,
    Idle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PlayingType {
    Track,
    Episode,
    Ad,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ItemKind {
    Track,
    Episode,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Item {
    pub kind: ItemKind,
    pub title: String,
    pub artists: Vec<String>,
    pub album: Option<String>,
    /// Only `https` on Spotify's hosts, else `None`.
    pub url: Option<String>,
    /// Only `https` on Spotify's image hosts, else `None`; the image closest to 300 px wide.
    pub image_url: Option<String>,
    pub duration_ms: Option<u64>,
    pub explicit: bool,
    pub is_local: bool,
}

/// What a route serves: a state, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum View {
    Ok(NowPlaying),
    Unavailable(Unavailable),
}

/// Nothing can be served: credentials rejected, or Spotify failing past `STALE_MAX`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unavailable {
    pub code: ErrorCode,
    pub message: String,
    /// When the refresh token expires, if the time it was authorized is known.
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorCode {
    SpotifyAuth,
    RateLimited,
    Upstream,
}

impl View {
    pub(crate) fn now_playing(&self) -> Option<&NowPlaying> {
        match self {
            Self::Ok(doc) => Some(doc),
            Self::Unavailable(_) => None,
        }
    }
}

impl NowPlaying {
    /// Nothing plays and nothing recent is shown.
    pub(crate) fn idle(fetched_at: DateTime<Utc>) -> Self {
        Self {
            state: State::Idle,
            is_playing: false,
            playing_type: None,
            item: None,
            progress_ms: None,
            timestamp: None,
            played_at: None,
            fetched_at,
            stale: false,
        }
    }

    /// The last played track, when nothing plays.
    pub(crate) fn recent(
        item: Item,
        played_at: Option<DateTime<Utc>>,
        fetched_at: DateTime<Utc>,
    ) -> Self {
        Self {
            state: State::Recent,
            item: Some(item),
            played_at,
            ..Self::idle(fetched_at)
        }
    }

    /// Spotify's answer as our document; `None` when it says nothing plays.
    ///
    /// `fetched_at` is also the `timestamp`: Spotify's own `timestamp` field is when the
    /// playback state last changed, not when `progress_ms` was measured, so extrapolating
    /// from it would run ahead after every pause or seek.
    pub(crate) fn from_spotify(
        answer: CurrentlyPlaying,
        fetched_at: DateTime<Utc>,
    ) -> Option<Self> {
        let playing_type = answer.currently_playing_type.as_deref().map(|t| match t {
            "track" => PlayingType::Track,
            "episode" => PlayingType::Episode,
            "ad" => PlayingType::Ad,
            _ => PlayingType::Unknown,
        });
        let item = answer.item.and_then(Item::from_spotify);
        let something_loaded =
            item.is_some() || matches!(playing_type, Some(PlayingType::Ad | PlayingType::Unknown));
        if !something_loaded {
            return None;
        }
        Some(Self {
            state: if answer.is_playing {
                State::Playing
            } else {
                State::Paused
            },
            is_playing: answer.is_playing,
            playing_type: playing_type.or(item.as_ref().map(|i| match i.kind {
                ItemKind::Track => PlayingType::Track,
                ItemKind::Episode => PlayingType::Episode,
            })),
            progress_ms: answer.progress_ms,
            timestamp: Some(fetched_at),
            item,
            played_at: None,
            fetched_at,
            stale: false,
        })
    }

    /// Progress at `now`, extrapolated from `timestamp` while playing, capped at the duration.
    pub(crate) fn progress_at(&self, now: DateTime<Utc>) -> Option<u64> {
        let progress = self.progress_ms?;
        let elapsed = match (self.is_playing, self.timestamp) {
            (true, Some(ts)) => (now - ts).num_milliseconds().max(0) as u64,
            _ => 0,
        };
        let duration = self
            .item
            .as_ref()
            .and_then(|i| i.duration_ms)
            .unwrap_or(u64::MAX);
        Some(progress.saturating_add(elapsed).min(duration))
    }
}

impl Item {
    /// The images Spotify gives for a track or episode, largest first: an episode's own or
    /// its show's, a track's album's, none for a local file.
    pub(crate) fn images(item: &types::Item) -> &[Image] {
        match item.kind.as_deref() {
            Some("episode") if item.images.is_empty() => {
                item.show.as_ref().map_or(&[], |show| &show.images)
            }
            Some("episode") => &item.images,
            _ if item.is_local => &[],
            _ => item.album.as_ref().map_or(&[], |album| &album.images),
        }
    }

    /// A track or episode from Spotify; `None` for a shape that is neither.
    pub(crate) fn from_spotify(item: types::Item) -> Option<Self> {
        let image_url = best_image(Self::images(&item));
        let url = item
            .external_urls
            .get("spotify")
            .cloned()
            .flatten()
            .filter(|u| is_spotify_page(u));
        match item.kind.as_deref() {
            Some("episode") => {
                let show = item.show.unwrap_or_default();
                let show_name = show.name.as_deref().map(clean).filter(|s| !s.is_empty());
                let publisher = show
                    .publisher
                    .as_deref()
                    .map(clean)
                    .filter(|s| !s.is_empty());
                let mut artists: Vec<String> = show_name.iter().cloned().collect();
                if let Some(p) = publisher.filter(|p| Some(p) != show_name.as_ref()) {
                    artists.push(p);
                }
                Some(Self {
                    kind: ItemKind::Episode,
                    title: clean(item.name.as_deref().unwrap_or("")),
                    artists,
                    album: show_name,
                    url,
                    image_url,
                    duration_ms: item.duration_ms,
                    explicit: item.explicit,
                    is_local: false,
                })
            }
            Some("track") | None => {
                let album = item.album.unwrap_or_default();
                Some(Self {
                    kind: ItemKind::Track,
                    title: clean(item.name.as_deref().unwrap_or("")),
                    artists: item
                        .artists
                        .iter()
                        .filter_map(|a| a.name.as_deref().map(clean))
                        .filter(|n| !n.is_empty())
                        .collect(),
                    album: album.name.as_deref().map(clean).filter(|s| !s.is_empty()),
                    url: if item.is_local { None } else { url },
                    image_url,
                    duration_ms: item.duration_ms,
                    explicit: item.explicit,
                    is_local: item.is_local,
                })
            }
            Some(_) => None,
        }
    }

    /// Artists joined for display.
    pub(crate) fn artist_line(&self) -> String {
        self.artists.join(", ")
    }
}

/// Control characters and the other characters XML 1.0 forbids out, length bounded: text
/// from Spotify goes on one line and into every output, the SVG card included.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') {
                ' '
            } else {
                c
            }
        })
        .take(MAX_TEXT)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The image closest to 300 px wide, among those on Spotify's image hosts.
pub(crate) fn best_image(images: &[Image]) -> Option<String> {
    image_near(images, 300)
}

/// The image closest to `width` px wide, among those on Spotify's image hosts.
pub(crate) fn image_near(images: &[Image], width: u32) -> Option<String> {
    images
        .iter()
        .filter_map(|i| Some((i.url.as_deref().filter(|u| is_spotify_image(u))?, i.width)))
        .min_by_key(|(_, w)| w.map_or(u32::MAX, |w| w.abs_diff(width)))
        .map(|(url, _)| url.to_owned())
}

pub(crate) fn millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub(crate) fn millis_opt<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => millis(t, s),
        None => s.serialize_none(),
    }
}

/// The JSON body of a 503.
#[derive(Serialize)]
pub(crate) struct UnavailableDocument<'a> {
    pub state: &'static str,
    pub is_playing: bool,
    pub item: Option<()>,
    pub error: ErrorBody<'a>,
    #[serde(serialize_with = "millis_opt", skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub code: ErrorCode,
    pub message: &'a str,
}

impl Unavailable {
    pub(crate) fn document(&self) -> UnavailableDocument<'_> {
        UnavailableDocument {
            state: "unavailable",
            is_playing: false,
            item: None,
            error: ErrorBody {
                code: self.code,
                message: &self.message,
            },
            refresh_token_expires_at: self.refresh_token_expires_at,
        }
    }
}

/// A jump of more than this against the extrapolated progress counts as a seek.
pub(crate) const SEEK_THRESHOLD_MS: u64 = 3000;

impl View {
    /// Whether `next` is worth an event for a client that last saw `self`: another item,
    /// playing/paused, another state, staleness, or a seek of more than 3 s against the
    /// progress extrapolated from `timestamp`. Progress moving on as expected is not.
    pub(crate) fn changed_to(&self, next: &View) -> bool {
        match (self, next) {
            (View::Ok(a), View::Ok(b)) => {
                a.state != b.state
                    || a.is_playing != b.is_playing
                    || a.playing_type != b.playing_type
                    || a.stale != b.stale
                    || a.item != b.item
                    || a.played_at != b.played_at
                    || seeked(a, b)
            }
            (View::Unavailable(a), View::Unavailable(b)) => a.code != b.code,
            _ => true,
        }
    }
}

fn seeked(before: &NowPlaying, after: &NowPlaying) -> bool {
    let measured_at = after.timestamp.unwrap_or(after.fetched_at);
    match (before.progress_at(measured_at), after.progress_ms) {
        (Some(expected), Some(actual)) => expected.abs_diff(actual) > SEEK_THRESHOLD_MS,
        (None, None) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests;
