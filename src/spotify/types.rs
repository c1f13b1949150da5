//! Serde mirrors of the parts of Spotify's JSON that are used. Every field is optional or
//! defaulted, `null` is accepted wherever Spotify has been seen to send it, and unknown
//! fields are ignored, so new or removed fields never break parsing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

/// `null` or missing become the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `GET /v1/me/player/currently-playing`.
#[derive(Debug, Deserialize)]
pub struct CurrentlyPlaying {
    #[serde(default, deserialize_with = "nullable")]
    pub is_playing: bool,
    pub progress_ms: Option<u64>,
    pub item: Option<Item>,
    /// `track`, `episode`, `ad` or `unknown`.
    pub currently_playing_type: Option<String>,
}

/// A track or an episode: one flat shape so that an unexpected `type` still parses.
#[derive(Debug, Deserialize, Default)]
pub struct Item {
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
pub struct Artist {
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Album {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub images: Vec<Image>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Show {
    pub name: Option<String>,
    pub publisher: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub images: Vec<Image>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct Image {
    pub url: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// `GET /v1/me/player/recently-played`.
#[derive(Debug, Deserialize)]
pub struct RecentlyPlayed {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<PlayHistory>,
}

#[derive(Debug, Deserialize)]
pub struct PlayHistory {
    pub track: Option<Item>,
    pub played_at: Option<DateTime<Utc>>,
}

/// The token endpoint's answer, for both the refresh and the code grant.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    pub expires_in: Option<u64>,
    /// Present when Spotify rotates the refresh token; absent means keep the old one.
    pub refresh_token: Option<SecretString>,
    pub scope: Option<String>,
}

/// The accounts service's error body: `{"error": "...", "error_description": "..."}`.
#[derive(Debug, Deserialize)]
pub struct AccountsError {
    pub error: String,
    pub error_description: Option<String>,
}
