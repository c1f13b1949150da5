//! Our own model of what plays, the JSON document of SPEC section 5, and the normalisation
//! from Spotify's shapes into it. JSON, HTML, SVG and events all read this, never Spotify's JSON.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

use crate::spotify::hosts::{is_spotify_image, is_spotify_page};
use crate::spotify::types::{self, CurrentlyPlaying, Image};

/// Longest title, artist or album name kept; longer ones are cut (and ellipsised on screen).
const MAX_TEXT: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NowPlaying {
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
pub enum State {
    Playing,
    Paused,
    Recent,
    Idle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlayingType {
    Track,
    Episode,
    Ad,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Track,
    Episode,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
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
pub enum View {
    Ok(NowPlaying),
    Unavailable(Unavailable),
}

/// Nothing can be served: credentials rejected, or Spotify failing past `STALE_MAX`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unavailable {
    pub code: ErrorCode,
    pub message: String,
    /// When the refresh token expires, if the time it was authorized is known.
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    SpotifyAuth,
    RateLimited,
    Upstream,
}

impl View {
    pub fn now_playing(&self) -> Option<&NowPlaying> {
        match self {
            Self::Ok(doc) => Some(doc),
            Self::Unavailable(_) => None,
        }
    }
}

impl NowPlaying {
    /// Nothing plays and nothing recent is shown.
    pub fn idle(fetched_at: DateTime<Utc>) -> Self {
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
    pub fn recent(item: Item, played_at: Option<DateTime<Utc>>, fetched_at: DateTime<Utc>) -> Self {
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
    pub fn from_spotify(answer: CurrentlyPlaying, fetched_at: DateTime<Utc>) -> Option<Self> {
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
    pub fn progress_at(&self, now: DateTime<Utc>) -> Option<u64> {
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
    /// A track or episode from Spotify; `None` for a shape that is neither.
    pub fn from_spotify(item: types::Item) -> Option<Self> {
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
                let images = if item.images.is_empty() {
                    &show.images
                } else {
                    &item.images
                };
                Some(Self {
                    kind: ItemKind::Episode,
                    title: clean(item.name.as_deref().unwrap_or("")),
                    artists,
                    album: show_name,
                    url,
                    image_url: best_image(images),
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
                    image_url: if item.is_local {
                        None
                    } else {
                        best_image(&album.images)
                    },
                    duration_ms: item.duration_ms,
                    explicit: item.explicit,
                    is_local: item.is_local,
                })
            }
            Some(_) => None,
        }
    }

    /// Artists joined for display.
    pub fn artist_line(&self) -> String {
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
    images
        .iter()
        .filter_map(|i| Some((i.url.as_deref().filter(|u| is_spotify_image(u))?, i.width)))
        .min_by_key(|(_, width)| width.map_or(u32::MAX, |w| w.abs_diff(300)))
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
pub struct UnavailableDocument<'a> {
    pub state: &'static str,
    pub is_playing: bool,
    pub item: Option<()>,
    pub error: ErrorBody<'a>,
    #[serde(serialize_with = "millis_opt", skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub code: ErrorCode,
    pub message: &'a str,
}

impl Unavailable {
    pub fn document(&self) -> UnavailableDocument<'_> {
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
pub const SEEK_THRESHOLD_MS: u64 = 3000;

impl View {
    /// Whether `next` is worth an event for a client that last saw `self`: another item,
    /// playing/paused, another state, staleness, or a seek of more than 3 s against the
    /// progress extrapolated from `timestamp`. Progress moving on as expected is not.
    pub fn changed_to(&self, next: &View) -> bool {
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
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn fetched_at() -> DateTime<Utc> {
        at("2026-11-29T12:00:00Z")
    }

    /// A body as Spotify sends it, through the same parser as the client's.
    fn normalise(payload: &Value) -> Option<NowPlaying> {
        let body = payload.to_string();
        let answer: CurrentlyPlaying = types::from_json(body.as_bytes()).unwrap();
        NowPlaying::from_spotify(answer, fetched_at())
    }

    fn item_of(payload: &Value) -> Item {
        normalise(payload).unwrap().item.unwrap()
    }

    fn images(widths: &[u32]) -> Value {
        widths
            .iter()
            .map(|w| json!({"url": format!("https://i.scdn.co/image/w{w}"), "width": w, "height": w}))
            .collect()
    }

    fn track() -> Value {
        json!({
            "timestamp": 1_764_385_200_000_u64,
            "context": null,
            "progress_ms": 42_000,
            "is_playing": true,
            "currently_playing_type": "track",
            "item": {
                "type": "track",
                "id": "2VEZx7NWsZ1D0eJ4uv5Fym",
                "name": "Digital Love",
                "artists": [{"name": "Daft Punk"}, {"name": "Todd Edwards"}],
                "album": {"name": "Discovery", "images": images(&[640, 300, 64])},
                "external_urls": {"spotify": "https://open.spotify.com/track/2VEZx7NWsZ1D0eJ4uv5Fym"},
                "duration_ms": 301_000,
                "explicit": true,
                "is_local": false,
                "popularity": 71
            }
        })
    }

    fn episode() -> Value {
        json!({
            "progress_ms": 3_636_145,
            "is_playing": true,
            "currently_playing_type": "episode",
            "item": {
                "type": "episode",
                "name": "The Giant Beastcast: Episode 0",
                "images": [
                    {"url": "https://i.scdn.co/image/e580", "width": 580, "height": 327},
                    {"url": "https://i.scdn.co/image/e300", "width": 300, "height": 169}
                ],
                "show": {
                    "name": "The Giant Beastcast",
                    "publisher": "Giant Bomb",
                    "images": [{"url": "https://i.scdn.co/image/s640", "width": 640, "height": 640}]
                },
                "external_urls": {"spotify": "https://open.spotify.com/episode/4GI3dxEafwap1sFiTGPKd1"},
                "duration_ms": 8_052_140,
                "explicit": false
            }
        })
    }

    fn with(mut payload: Value, change: impl FnOnce(&mut Value)) -> Value {
        change(&mut payload);
        payload
    }

    #[test]
    fn a_playing_track_is_normalised() {
        let doc = normalise(&track()).unwrap();
        assert_eq!(doc.state, State::Playing);
        assert!(doc.is_playing && !doc.stale);
        assert_eq!(doc.playing_type, Some(PlayingType::Track));
        assert_eq!(doc.progress_ms, Some(42_000));
        // Spotify's `timestamp` is when playback last changed; ours is when we measured.
        assert_eq!(doc.timestamp, Some(fetched_at()));
        assert_eq!(doc.fetched_at, fetched_at());
        assert_eq!(doc.played_at, None);
        assert_eq!(
            doc.item.unwrap(),
            Item {
                kind: ItemKind::Track,
                title: "Digital Love".into(),
                artists: vec!["Daft Punk".into(), "Todd Edwards".into()],
                album: Some("Discovery".into()),
                url: Some("https://open.spotify.com/track/2VEZx7NWsZ1D0eJ4uv5Fym".into()),
                image_url: Some("https://i.scdn.co/image/w300".into()),
                duration_ms: Some(301_000),
                explicit: true,
                is_local: false,
            }
        );
    }

    #[test]
    fn a_paused_track_is_paused_with_its_item() {
        let doc = normalise(&with(track(), |v| v["is_playing"] = json!(false))).unwrap();
        assert_eq!(doc.state, State::Paused);
        assert!(!doc.is_playing);
        assert_eq!(doc.item.unwrap().title, "Digital Love");
    }

    #[test]
    fn an_item_without_a_type_is_a_track_and_gives_the_playing_type() {
        let payload = with(track(), |v| {
            v["item"].as_object_mut().unwrap().remove("type");
            v.as_object_mut().unwrap().remove("currently_playing_type");
        });
        let doc = normalise(&payload).unwrap();
        assert_eq!(doc.item.unwrap().kind, ItemKind::Track);
        assert_eq!(doc.playing_type, Some(PlayingType::Track));
    }

    #[test]
    fn an_episode_shows_its_show_and_publisher() {
        let doc = normalise(&episode()).unwrap();
        assert_eq!(doc.playing_type, Some(PlayingType::Episode));
        let item = doc.item.unwrap();
        assert_eq!(item.kind, ItemKind::Episode);
        assert_eq!(item.title, "The Giant Beastcast: Episode 0");
        assert_eq!(item.artists, ["The Giant Beastcast", "Giant Bomb"]);
        assert_eq!(item.album.as_deref(), Some("The Giant Beastcast"));
        assert_eq!(
            item.image_url.as_deref(),
            Some("https://i.scdn.co/image/e300")
        );
        assert_eq!(item.duration_ms, Some(8_052_140));
        assert!(!item.is_local);
    }

    #[test]
    fn an_episode_by_its_own_show_names_it_once() {
        let item = item_of(&with(episode(), |v| {
            v["item"]["show"]["publisher"] = json!("The Giant Beastcast")
        }));
        assert_eq!(item.artists, ["The Giant Beastcast"]);
    }

    #[test]
    fn an_episode_without_images_takes_its_shows() {
        let item = item_of(&with(episode(), |v| v["item"]["images"] = json!([])));
        assert_eq!(
            item.image_url.as_deref(),
            Some("https://i.scdn.co/image/s640")
        );
        let item = item_of(&with(episode(), |v| v["item"]["images"] = json!(null)));
        assert_eq!(
            item.image_url.as_deref(),
            Some("https://i.scdn.co/image/s640")
        );
    }

    #[test]
    fn a_local_file_keeps_its_text_but_no_link_or_art() {
        // As Spotify sends it: no id, no link, nulls in the album; an https link or art on a
        // local file would not be the owner's file either, so both are dropped.
        let payload = json!({
            "progress_ms": 2270,
            "is_playing": true,
            "currently_playing_type": "track",
            "item": {
                "type": "track",
                "id": null,
                "name": "929",
                "artists": [{"name": "Halsey", "id": null}],
                "album": {"name": "Manic (Deluxe)", "images": images(&[300]), "id": null},
                "external_urls": {"spotify": "https://open.spotify.com/track/x"},
                "duration_ms": 174_000,
                "is_local": true,
                "uri": "spotify:local:Halsey:Manic+%28Deluxe%29:929:174"
            }
        });
        let item = item_of(&payload);
        assert!(item.is_local);
        assert_eq!(item.kind, ItemKind::Track);
        assert_eq!(item.title, "929");
        assert_eq!(item.artists, ["Halsey"]);
        assert_eq!(item.album.as_deref(), Some("Manic (Deluxe)"));
        assert_eq!((item.url, item.image_url), (None, None));
    }

    #[test]
    fn an_ad_plays_without_an_item() {
        let doc = normalise(&json!({
            "progress_ms": 14_544,
            "is_playing": true,
            "currently_playing_type": "ad",
            "item": null
        }))
        .unwrap();
        assert_eq!(doc.state, State::Playing);
        assert_eq!(doc.playing_type, Some(PlayingType::Ad));
        assert_eq!(doc.item, None);
    }

    #[test]
    fn an_unknown_type_plays_something_not_shown() {
        for kind in ["unknown", "audiobook"] {
            let doc = normalise(&json!({
                "progress_ms": 0,
                "is_playing": true,
                "currently_playing_type": kind,
                "item": null
            }))
            .unwrap();
            assert_eq!(doc.playing_type, Some(PlayingType::Unknown), "{kind}");
            assert_eq!(doc.item, None);
        }
    }

    #[test]
    fn an_item_of_an_unknown_type_is_not_shown() {
        let payload = with(track(), |v| {
            v["currently_playing_type"] = json!("chapter");
            v["item"]["type"] = json!("chapter");
        });
        let doc = normalise(&payload).unwrap();
        assert_eq!(doc.playing_type, Some(PlayingType::Unknown));
        assert_eq!(doc.item, None);
        // Announced as a track but shaped as something else: nothing known plays.
        let payload = with(track(), |v| v["item"]["type"] = json!("chapter"));
        assert_eq!(normalise(&payload), None);
    }

    #[test]
    fn nothing_playing_is_none() {
        for payload in [
            json!({}),
            json!({"is_playing": false, "item": null, "currently_playing_type": "track"}),
            json!({"is_playing": true, "item": null, "progress_ms": null}),
            json!({"is_playing": null, "item": null, "currently_playing_type": null}),
        ] {
            assert_eq!(normalise(&payload), None, "{payload}");
        }
    }

    #[test]
    fn hostile_and_long_text_is_cleaned_and_bounded_but_not_escaped() {
        let hostile = "</title><script>alert(1)</script><img src=x onerror=alert(2)>";
        let payload = with(track(), |v| {
            v["item"]["name"] = json!(format!("{hostile}\n\u{0}{}", "x".repeat(600)));
            v["item"]["artists"] = json!([{"name": " "}, {"name": null}, {"name": "A\u{7}B"}]);
            v["item"]["album"]["name"] = json!("\t");
        });
        let item = item_of(&payload);
        // Escaping is the renderers' job; the model keeps the text as it is.
        assert!(item.title.starts_with(hostile), "{}", item.title);
        assert!(!item.title.contains(['\n', '\0']));
        assert_eq!(item.title.chars().count(), MAX_TEXT);
        assert_eq!(item.artists, ["A B"]);
        assert_eq!(item.album, None);
    }

    #[test]
    fn an_item_without_a_name_has_an_empty_title() {
        let item = item_of(&with(track(), |v| v["item"]["name"] = json!(null)));
        assert_eq!(item.title, "");
    }

    #[test]
    fn the_image_closest_to_300_px_is_chosen() {
        let pick = |widths: &[u32]| {
            let item = item_of(&with(track(), |v| {
                v["item"]["album"]["images"] = images(widths)
            }));
            item.image_url
        };
        let url = |w: u32| Some(format!("https://i.scdn.co/image/w{w}"));
        assert_eq!(pick(&[640, 300, 64]), url(300));
        assert_eq!(pick(&[64, 320, 640]), url(320));
        assert_eq!(pick(&[640, 64]), url(64));
        assert_eq!(pick(&[640]), url(640));
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn images_off_spotifys_hosts_or_without_https_are_never_chosen() {
        let list: Vec<Image> = serde_json::from_value(json!([
            {"url": "http://i.scdn.co/image/plain", "width": 300},
            {"url": "https://evil.example/image/x", "width": 300},
            {"url": "https://i.scdn.co.evil.example/x", "width": 300},
            {"url": null, "width": 300},
            {"url": "https://i.scdn.co/image/far", "width": 2000},
        ]))
        .unwrap();
        assert_eq!(
            best_image(&list).as_deref(),
            Some("https://i.scdn.co/image/far")
        );
        assert_eq!(best_image(&list[..4]), None);
    }

    #[test]
    fn an_image_without_a_width_is_chosen_last() {
        let list: Vec<Image> = serde_json::from_value(json!([
            {"url": "https://i.scdn.co/image/unknown", "width": null},
            {"url": "https://mosaic.scdn.co/640/x", "width": 640},
        ]))
        .unwrap();
        assert_eq!(
            best_image(&list).as_deref(),
            Some("https://mosaic.scdn.co/640/x")
        );
        assert_eq!(
            best_image(&list[..1]).as_deref(),
            Some("https://i.scdn.co/image/unknown")
        );
    }

    #[test]
    fn only_https_links_on_spotify_are_kept() {
        for kept in [
            "https://open.spotify.com/track/2VEZx7NWsZ1D0eJ4uv5Fym",
            "https://OPEN.SPOTIFY.COM/track/x",
            "https://spotify.com/",
        ] {
            assert!(is_spotify_page(kept), "{kept}");
        }
        for dropped in [
            "http://open.spotify.com/track/x",
            "javascript:alert(1)",
            "https://evil.example/?u=open.spotify.com",
            "https://open.spotify.com.evil.example/track/x",
            "https://notspotify.com/track/x",
            "https://user@open.spotify.com/track/x",
            "https://open.spotify.com:8443/track/x",
            "//open.spotify.com/track/x",
            "not a url",
        ] {
            assert!(!is_spotify_page(dropped), "{dropped}");
        }
        let item = item_of(&with(track(), |v| {
            v["item"]["external_urls"]["spotify"] = json!("http://open.spotify.com/track/x")
        }));
        assert_eq!(item.url, None);
        let item = item_of(&with(track(), |v| v["item"]["external_urls"] = json!(null)));
        assert_eq!(item.url, None);
    }

    #[test]
    fn image_hosts_are_spotifys_cdns_only() {
        for kept in [
            "https://i.scdn.co/image/x",
            "https://mosaic.scdn.co/640/x",
            "https://image-cdn-ak.spotifycdn.com/image/x",
        ] {
            assert!(is_spotify_image(kept), "{kept}");
        }
        for dropped in [
            "http://i.scdn.co/image/x",
            "https://open.spotify.com/image/x",
            "https://scdn.co.evil.example/x",
            "https://evilscdn.co/x",
            "data:image/png;base64,AAAA",
        ] {
            assert!(!is_spotify_image(dropped), "{dropped}");
        }
    }

    fn playing(progress_ms: u64, at_time: &str) -> NowPlaying {
        let mut doc = normalise(&track()).unwrap();
        doc.progress_ms = Some(progress_ms);
        doc.timestamp = Some(at(at_time));
        doc.fetched_at = at(at_time);
        doc
    }

    #[test]
    fn progress_runs_on_while_playing_up_to_the_duration() {
        let doc = playing(10_000, "2026-11-29T12:00:00Z");
        assert_eq!(doc.progress_at(at("2026-11-29T12:00:05Z")), Some(15_000));
        assert_eq!(doc.progress_at(at("2026-11-29T13:00:00Z")), Some(301_000));
        // A clock that went back does not rewind.
        assert_eq!(doc.progress_at(at("2026-11-29T11:59:00Z")), Some(10_000));
        let paused = NowPlaying {
            is_playing: false,
            state: State::Paused,
            ..doc
        };
        assert_eq!(paused.progress_at(at("2026-11-29T12:00:05Z")), Some(10_000));
    }

    #[test]
    fn progress_moving_on_as_expected_is_no_change() {
        let before = View::Ok(playing(10_000, "2026-11-29T12:00:00Z"));
        let after = View::Ok(playing(15_000, "2026-11-29T12:00:05Z"));
        assert!(!before.changed_to(&after));
        assert!(!before.changed_to(&before.clone()));
    }

    #[test]
    fn a_jump_of_more_than_three_seconds_is_a_seek() {
        let before = View::Ok(playing(10_000, "2026-11-29T12:00:00Z"));
        let at_5s = |progress| View::Ok(playing(progress, "2026-11-29T12:00:05Z"));
        assert!(!before.changed_to(&at_5s(15_000 + SEEK_THRESHOLD_MS)));
        assert!(!before.changed_to(&at_5s(15_000 - SEEK_THRESHOLD_MS)));
        assert!(before.changed_to(&at_5s(15_000 + SEEK_THRESHOLD_MS + 1)));
        assert!(before.changed_to(&at_5s(15_000 - SEEK_THRESHOLD_MS - 1)));
        assert!(before.changed_to(&at_5s(0)));
    }

    #[test]
    fn what_plays_changing_is_a_change() {
        let before = playing(10_000, "2026-11-29T12:00:00Z");
        let later = || playing(15_000, "2026-11-29T12:00:05Z");
        let other_item = NowPlaying {
            item: Some(Item {
                title: "One More Time".into(),
                ..before.item.clone().unwrap()
            }),
            ..later()
        };
        let paused = NowPlaying {
            is_playing: false,
            state: State::Paused,
            ..later()
        };
        let stale = NowPlaying {
            stale: true,
            ..later()
        };
        let ad = NowPlaying {
            playing_type: Some(PlayingType::Ad),
            item: None,
            ..later()
        };
        let idle = NowPlaying::idle(at("2026-11-29T12:00:05Z"));
        for (name, after) in [
            ("another item", other_item),
            ("paused", paused),
            ("stale", stale),
            ("an ad", ad),
            ("idle", idle),
        ] {
            assert!(
                View::Ok(before.clone()).changed_to(&View::Ok(after)),
                "{name}"
            );
        }
    }

    #[test]
    fn another_last_played_time_is_a_change() {
        let item = normalise(&track()).unwrap().item.unwrap();
        let recent = |played_at: &str| {
            View::Ok(NowPlaying::recent(
                item.clone(),
                Some(at(played_at)),
                fetched_at(),
            ))
        };
        let before = recent("2026-11-29T11:50:00Z");
        assert!(!before.changed_to(&recent("2026-11-29T11:50:00Z")));
        assert!(before.changed_to(&recent("2026-11-29T11:55:00Z")));
    }

    #[test]
    fn availability_changing_is_a_change_but_the_same_failure_is_not() {
        let failure = |code| {
            View::Unavailable(Unavailable {
                code,
                message: format!("{code:?}"),
                refresh_token_expires_at: None,
            })
        };
        let ok = View::Ok(playing(10_000, "2026-11-29T12:00:00Z"));
        assert!(ok.changed_to(&failure(ErrorCode::Upstream)));
        assert!(failure(ErrorCode::Upstream).changed_to(&ok));
        assert!(!failure(ErrorCode::Upstream).changed_to(&failure(ErrorCode::Upstream)));
        assert!(failure(ErrorCode::Upstream).changed_to(&failure(ErrorCode::RateLimited)));
        assert!(failure(ErrorCode::RateLimited).changed_to(&failure(ErrorCode::SpotifyAuth)));
    }

    #[test]
    fn progress_appearing_or_going_is_a_change() {
        let before = playing(10_000, "2026-11-29T12:00:00Z");
        let without = NowPlaying {
            progress_ms: None,
            ..playing(15_000, "2026-11-29T12:00:05Z")
        };
        assert!(View::Ok(before.clone()).changed_to(&View::Ok(without.clone())));
        assert!(View::Ok(without.clone()).changed_to(&View::Ok(before)));
        assert!(!View::Ok(without.clone()).changed_to(&View::Ok(without)));
    }

    #[test]
    fn clean_removes_what_xml_forbids_and_keeps_the_rest() {
        let dirty = "a\u{0}b\u{1f}c\td\ne\u{FFFE}f\u{FFFF}g\u{7f}h \u{1F600} 東京 <&>";
        assert_eq!(clean(dirty), "a b c d e f g h \u{1F600} 東京 <&>");
    }

    #[test]
    fn clean_trims_and_bounds_length() {
        assert_eq!(clean("  title \u{0} "), "title");
        assert_eq!(clean(&"x".repeat(MAX_TEXT + 50)).chars().count(), MAX_TEXT);
    }
}
