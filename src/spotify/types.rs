//! Serde mirrors of the parts of Spotify's JSON that are used. Every field is optional or
//! defaulted, `null` is accepted wherever Spotify has been seen to send it, and unknown
//! fields are ignored, so new or removed fields never break parsing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

/// `null` or missing become the type's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parses a Spotify body. A lone UTF-16 surrogate escape (`\ud800` without its pair) is not
/// valid JSON text for serde, and one such title must not fail the whole answer: when parsing
/// fails and the body has one, each lone surrogate becomes a space and the body is parsed again.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> serde_json::Result<T> {
    serde_json::from_slice(body).or_else(|e| {
        let repaired = replace_lone_surrogates(body);
        if repaired == body {
            return Err(e);
        }
        // Through an owned `Value`: the repaired text does not live as long as `body`.
        serde_json::from_slice::<serde_json::Value>(&repaired)
            .and_then(T::deserialize)
            .map_err(|_| e)
    })
}

/// `\uD800`-`\uDFFF` escapes that are not a high surrogate followed by a low one become `\u0020`.
fn replace_lone_surrogates(body: &[u8]) -> Vec<u8> {
    let escape_at = |i: usize| -> Option<u16> {
        let hex = body.get(i..i + 6)?;
        if &hex[..2] != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let is_high = |u: u16| (0xD800..0xDC00).contains(&u);
    let is_low = |u: u16| (0xDC00..0xE000).contains(&u);
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        match escape_at(i) {
            Some(high) if is_high(high) && escape_at(i + 6).is_some_and(is_low) => {
                out.extend_from_slice(&body[i..i + 12]);
                i += 12;
            }
            Some(unit) if is_high(unit) || is_low(unit) => {
                out.extend_from_slice(b"\\u0020");
                i += 6;
            }
            // Any other escape, `\\` included, is copied whole so its second byte is not
            // mistaken for the start of another escape.
            _ => {
                out.extend_from_slice(&body[i..(i + 2).min(body.len())]);
                i += 2;
            }
        }
    }
    out
}

/// `GET /v1/me/player/currently-playing`.
#[derive(Debug, Deserialize)]
pub(crate) struct CurrentlyPlaying {
    #[serde(default, deserialize_with = "nullable")]
    pub is_playing: bool,
    pub progress_ms: Option<u64>,
    pub item: Option<Item>,
    /// `track`, `episode`, `ad` or `unknown`.
    pub currently_playing_type: Option<String>,
}

/// A track or an episode: one flat shape so that an unexpected `type` still parses.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct Item {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub artists: Vec<Artist>,
    pub album: Option<Album>,
    pub show: Option<Show>,
    /// Episodes carry their own images.
    #[serde(default, deserialize_with = "nullable")]
    pub images: Vec<Image>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_urls: HashMap<String, Option<String>>,
    pub duration_ms: Option<u64>,
    #[serde(default, deserialize_with = "nullable")]
    pub explicit: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub is_local: bool,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Artist {
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Album {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub images: Vec<Image>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Show {
    pub name: Option<String>,
    pub publisher: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub images: Vec<Image>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct Image {
    pub url: Option<String>,
    pub width: Option<u32>,
}

/// `GET /v1/me/player/recently-played`.
#[derive(Debug, Deserialize)]
pub(crate) struct RecentlyPlayed {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<PlayHistory>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PlayHistory {
    pub track: Option<Item>,
    pub played_at: Option<DateTime<Utc>>,
}

/// The token endpoint's answer, for both the refresh and the code grant.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: SecretString,
    pub expires_in: Option<u64>,
    /// Present when Spotify rotates the refresh token; absent means keep the old one.
    pub refresh_token: Option<SecretString>,
    pub scope: Option<String>,
}

/// The accounts service's error body: `{"error": "...", "error_description": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct AccountsError {
    pub error: String,
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Named {
        name: String,
    }

    #[test]
    fn lone_surrogates_become_spaces_and_the_rest_parses() {
        for (body, want) in [
            (r#"{"name":"a\ud800b"}"#, "a b"),
            (r#"{"name":"a\udc00b"}"#, "a b"),
            (r#"{"name":"\ud83d\ude00 ok \uD800"}"#, "\u{1F600} ok  "),
            (r#"{"name":"back\\ud800slash"}"#, "back\\ud800slash"),
        ] {
            let parsed: Named = from_json(body.as_bytes()).unwrap();
            assert_eq!(parsed.name, want, "{body}");
        }
    }

    #[test]
    fn other_malformed_bodies_still_fail() {
        assert!(from_json::<Named>(br#"{"name":"#).is_err());
        assert!(from_json::<Named>(br#"{"name":"\ud800"#).is_err());
    }

    #[test]
    fn nulls_everywhere_become_defaults() {
        let body = br#"{
            "is_playing": null, "progress_ms": null, "currently_playing_type": null,
            "item": {
                "type": null, "name": null, "artists": null, "images": null,
                "external_urls": null, "duration_ms": null, "explicit": null, "is_local": null,
                "album": {"name": null, "images": null},
                "show": {"name": null, "publisher": null, "images": null}
            }
        }"#;
        let answer: CurrentlyPlaying = from_json(body).unwrap();
        assert!(!answer.is_playing);
        assert_eq!(answer.progress_ms, None);
        let item = answer.item.unwrap();
        assert!(item.artists.is_empty() && item.images.is_empty());
        assert!(item.external_urls.is_empty());
        assert!(!item.explicit && !item.is_local);
        assert!(item.album.unwrap().images.is_empty());
        assert!(item.show.unwrap().images.is_empty());
    }

    #[test]
    fn missing_and_unknown_fields_are_fine() {
        let answer: CurrentlyPlaying =
            from_json(br#"{"device": {"id": "1"}, "shuffle_state": true, "actions": {}}"#).unwrap();
        assert!(!answer.is_playing);
        assert!(answer.item.is_none() && answer.currently_playing_type.is_none());
        let item: Item =
            from_json(br#"{"type": "track", "linked_from": {}, "popularity": 3}"#).unwrap();
        assert_eq!(item.kind.as_deref(), Some("track"));
    }

    #[test]
    fn a_null_link_is_kept_as_none() {
        let item: Item = from_json(br#"{"external_urls": {"spotify": null}}"#).unwrap();
        assert_eq!(item.external_urls.get("spotify"), Some(&None));
    }

    #[test]
    fn a_lone_surrogate_in_a_title_does_not_fail_the_answer() {
        let body =
            br#"{"is_playing": true, "item": {"type": "track", "name": "Half \ud83d a smile"}}"#;
        let answer: CurrentlyPlaying = from_json(body).unwrap();
        assert!(answer.is_playing);
        assert_eq!(answer.item.unwrap().name.as_deref(), Some("Half   a smile"));
    }

    #[test]
    fn recently_played_with_null_items_is_empty() {
        let page: RecentlyPlayed = from_json(br#"{"items": null, "next": null}"#).unwrap();
        assert!(page.items.is_empty());
        let page: RecentlyPlayed =
            from_json(br#"{"items": [{"track": null, "played_at": "2026-11-29T11:50:00.000Z"}]}"#)
                .unwrap();
        assert!(page.items[0].track.is_none());
        assert_eq!(
            page.items[0].played_at.map(|t| t.timestamp()),
            Some(1_795_953_000)
        );
    }

    #[test]
    fn a_wrong_type_still_fails() {
        assert!(from_json::<CurrentlyPlaying>(br#"{"is_playing": "yes"}"#).is_err());
        // An empty body is not JSON: the client takes it for "nothing plays" before parsing.
        assert!(from_json::<CurrentlyPlaying>(b"").is_err());
    }
}
