//! The owner's lists beyond this minute, as Spotify serves them: top tracks and top artists
//! per time range (`/v1/me/top/{type}`), with the serde mirrors of their pages. Recently
//! played tracks are asked by [`SpotifyClient::recently_played`].

use std::collections::HashMap;

use serde::Deserialize;

use super::call::PAGE;
use super::client::SpotifyClient;
use super::error::SpotifyError;
use super::settings::endpoint;
use super::types::{Image, Item, nullable};

/// Which top list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopKind {
    Tracks,
    Artists,
}

/// The period a top list covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopRange {
    /// About the last four weeks (`short_term`).
    Short,
    /// About the last six months (`medium_term`).
    Medium,
    /// About the last year (`long_term`).
    Long,
}

impl TopKind {
    pub const ALL: [TopKind; 2] = [TopKind::Tracks, TopKind::Artists];

    /// The last segment of Spotify's path, and of ours: `tracks` or `artists`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Tracks => "tracks",
            Self::Artists => "artists",
        }
    }

    /// The `endpoint` label of the call in logs and metrics.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::Tracks => "top_tracks",
            Self::Artists => "top_artists",
        }
    }
}

impl TopRange {
    pub const ALL: [TopRange; 3] = [TopRange::Short, TopRange::Medium, TopRange::Long];

    /// Our name, as in `?range=`: `short`, `medium` or `long`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Short => "short",
            Self::Medium => "medium",
            Self::Long => "long",
        }
    }

    /// Spotify's `time_range`.
    pub fn time_range(self) -> &'static str {
        match self {
            Self::Short => "short_term",
            Self::Medium => "medium_term",
            Self::Long => "long_term",
        }
    }
}

/// A page of `/v1/me/top/tracks`. An entry that is not an object is skipped, not fatal.
#[derive(Debug, Deserialize)]
pub(crate) struct TopTracks {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<Option<Item>>,
}

/// A page of `/v1/me/top/artists`.
#[derive(Debug, Deserialize)]
pub(crate) struct TopArtists {
    #[serde(default, deserialize_with = "nullable")]
    pub items: Vec<Option<FullArtist>>,
}

/// An artist as the top list has it.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct FullArtist {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_urls: HashMap<String, Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub images: Vec<Image>,
    #[serde(default, deserialize_with = "nullable")]
    pub genres: Vec<Option<String>>,
}

impl SpotifyClient {
    /// The owner's top tracks over `range`, most listened first (at most [`PAGE`]). Needs
    /// the `user-top-read` scope ([`SpotifyError::Forbidden`] without it).
    pub(crate) async fn top_tracks(&self, range: TopRange) -> Result<Vec<Item>, SpotifyError> {
        let page: Option<TopTracks> = self
            .get(
                TopKind::Tracks.endpoint(),
                &self.top_url(TopKind::Tracks, range),
            )
            .await?;
        Ok(page
            .map(|p| p.items.into_iter().flatten().collect())
            .unwrap_or_default())
    }

    /// The owner's top artists over `range`, most listened first (at most [`PAGE`]). Needs
    /// the `user-top-read` scope ([`SpotifyError::Forbidden`] without it).
    pub(crate) async fn top_artists(
        &self,
        range: TopRange,
    ) -> Result<Vec<FullArtist>, SpotifyError> {
        let page: Option<TopArtists> = self
            .get(
                TopKind::Artists.endpoint(),
                &self.top_url(TopKind::Artists, range),
            )
            .await?;
        Ok(page
            .map(|p| p.items.into_iter().flatten().collect())
            .unwrap_or_default())
    }

    fn top_url(&self, kind: TopKind, range: TopRange) -> reqwest::Url {
        let mut url = endpoint(&self.api_url, &format!("v1/me/top/{}", kind.path()));
        url.query_pairs_mut()
            .append_pair("time_range", range.time_range())
            .append_pair("limit", &PAGE.to_string());
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_with_nulls_and_unknown_fields_still_parses() {
        let body = br#"{"items":[null,{"name":"Avicii","genres":null,"images":[{"url":"https://i.scdn.co/image/a","width":320,"height":320}],"popularity":86,"followers":{"total":1}}],"total":2,"next":null}"#;
        let page: TopArtists = super::super::types::from_json(body).unwrap();
        let artists: Vec<FullArtist> = page.items.into_iter().flatten().collect();
        assert_eq!(artists.len(), 1);
        assert_eq!(artists[0].name.as_deref(), Some("Avicii"));
        assert!(artists[0].genres.is_empty());
    }

    #[test]
    fn ranges_map_to_spotify_time_ranges() {
        let names: Vec<_> = TopRange::ALL
            .iter()
            .map(|r| (r.name(), r.time_range()))
            .collect();
        assert_eq!(
            names,
            [
                ("short", "short_term"),
                ("medium", "medium_term"),
                ("long", "long_term")
            ]
        );
    }
}
