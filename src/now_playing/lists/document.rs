//! The JSON of the list routes (README: Beyond this minute):
//! `{"kind":..,"range":..,"items":[..],"fetched_at":..,"stale":..}`, where a track is the `item`
//! of `/now-playing` plus `rank` or `played_at` and an artist is
//! `{"kind":"artist","rank":..,"name":..,"url":..,"image_url":..,"genres":[..]}`; and the body of
//! a list's 503, `{"error":{"code":..,"message":..}}`.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::model::{Entry, List, ListErrorCode, ListUnavailable, Position, Subject};
use crate::now_playing::model::{Item, millis, millis_opt};
use crate::spotify::lists::TopRange;

/// The JSON of a list route.
#[derive(Serialize)]
pub(crate) struct ListDocument<'a> {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<&'static str>,
    pub items: &'a [Entry],
    #[serde(serialize_with = "millis")]
    pub fetched_at: DateTime<Utc>,
    pub stale: bool,
}

/// The JSON body of a list's 503.
#[derive(Serialize)]
pub(crate) struct ListErrorDocument<'a> {
    pub error: ListErrorBody<'a>,
}

#[derive(Serialize)]
pub(crate) struct ListErrorBody<'a> {
    pub code: ListErrorCode,
    pub message: &'a str,
}

impl List {
    /// The JSON document showing the first `limit` entries.
    pub(crate) fn document(&self, limit: usize) -> ListDocument<'_> {
        ListDocument {
            kind: self.id.kind(),
            range: self.id.range().map(TopRange::name),
            items: self.first(limit),
            fetched_at: self.fetched_at,
            stale: self.stale,
        }
    }
}

impl ListUnavailable {
    pub(crate) fn document(&self) -> ListErrorDocument<'_> {
        ListErrorDocument {
            error: ListErrorBody {
                code: self.code,
                message: &self.message,
            },
        }
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Ranked<'a> {
            #[serde(flatten)]
            item: &'a Item,
            rank: u32,
        }
        #[derive(Serialize)]
        struct Played<'a> {
            #[serde(flatten)]
            item: &'a Item,
            #[serde(serialize_with = "millis_opt")]
            played_at: Option<DateTime<Utc>>,
        }
        #[derive(Serialize)]
        struct RankedArtist<'a> {
            kind: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            rank: Option<u32>,
            name: &'a str,
            url: Option<&'a str>,
            image_url: Option<&'a str>,
            genres: &'a [String],
        }
        match (&self.subject, self.position) {
            (Subject::Track(item), Position::Rank(rank)) => Ranked { item, rank }.serialize(s),
            (Subject::Track(item), Position::PlayedAt(played_at)) => {
                Played { item, played_at }.serialize(s)
            }
            (Subject::Artist(artist), _) => RankedArtist {
                kind: "artist",
                rank: self.rank(),
                name: &artist.name,
                url: artist.url.as_deref(),
                image_url: artist.image_url.as_deref(),
                genres: &artist.genres,
            }
            .serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::now_playing::lists::model::Artist;
    use crate::now_playing::model::ItemKind;
    use crate::spotify::lists::FullArtist;

    fn track(title: &str) -> Item {
        Item {
            kind: ItemKind::Track,
            title: title.into(),
            artists: vec!["A".into()],
            album: None,
            url: None,
            image_url: None,
            duration_ms: Some(1000),
            explicit: false,
            is_local: false,
        }
    }

    #[test]
    fn a_ranked_track_is_the_item_plus_rank() {
        let entry = Entry {
            position: Position::Rank(3),
            subject: Subject::Track(track("T")),
            row_image_url: None,
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["rank"], 3);
        assert_eq!(json["title"], "T");
        assert_eq!(json["kind"], "track");
        assert!(json.get("played_at").is_none());
    }

    #[test]
    fn an_artist_has_kind_rank_name_url_image_and_genres() {
        let artist = Artist::from_spotify(FullArtist {
            name: Some(" Tiësto\u{0} ".into()),
            external_urls: [(
                "spotify".to_owned(),
                Some("http://open.spotify.com/x".into()),
            )]
            .into(),
            images: Vec::new(),
            genres: vec![Some("edm".into()), None, Some(" ".into())],
        })
        .unwrap();
        let entry = Entry {
            position: Position::Rank(1),
            subject: Subject::Artist(artist),
            row_image_url: None,
        };
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            serde_json::json!({"kind":"artist","rank":1,"name":"Tiësto","url":null,"image_url":null,"genres":["edm"]})
        );
    }
}
