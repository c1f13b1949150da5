//! [`Widget`]: what the now-playing widget shows, in display terms, shared by the HTML
//! fragment, the embed page and the SVG card.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::params::WidgetParams;
use crate::now_playing::model::{ItemKind, PlayingType};
use crate::now_playing::{NowPlaying, State, View};

/// What the widget shows, in display terms.
pub(crate) struct Widget {
    pub state: &'static str,
    pub label: String,
    pub title: String,
    pub subtitle: String,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub progress: Option<Progress>,
    pub stale: bool,
    pub playing: bool,
    /// Placeholder art colour, 0 to 11, derived from the title.
    pub hue: u8,
    pub glyph: &'static str,
}

pub(crate) struct Progress {
    pub value: u64,
    pub max: u64,
    pub playing: bool,
    pub timestamp: String,
}

impl Widget {
    pub(crate) fn new(view: &View, params: &WidgetParams, now: DateTime<Utc>) -> Self {
        let doc = match view {
            View::Ok(doc) => doc,
            View::Unavailable(_) => {
                return Self::bare(
                    "unavailable",
                    "Spotify",
                    "Now playing is unavailable",
                    "Spotify can't be reached right now",
                );
            }
        };
        match (doc.state, &doc.item) {
            (State::Recent, Some(item)) if params.recent => Self {
                label: match doc.played_at {
                    Some(at) => format!("Last played · {}", ago(now, at)),
                    None => "Last played".into(),
                },
                ..Self::item(doc, "recent", params)
            },
            (State::Playing | State::Paused, Some(item)) => {
                let mut label = if doc.is_playing {
                    "Now playing".to_owned()
                } else {
                    "Paused".to_owned()
                };
                if item.is_local {
                    label.push_str(" · local file");
                } else if item.kind == ItemKind::Episode {
                    label.push_str(" · podcast");
                }
                Self {
                    label,
                    ..Self::item(
                        doc,
                        if doc.is_playing { "playing" } else { "paused" },
                        params,
                    )
                }
            }
            (State::Playing | State::Paused, None) => {
                let (title, subtitle) = match doc.playing_type {
                    Some(PlayingType::Ad) => ("Advertisement", "Back to the music soon"),
                    _ => ("Something on Spotify", "Not shown by Spotify"),
                };
                let (state, label) = if doc.is_playing {
                    ("playing", "Now playing")
                } else {
                    ("paused", "Paused")
                };
                Self {
                    playing: doc.is_playing,
                    stale: doc.stale,
                    ..Self::bare(state, label, title, subtitle)
                }
            }
            _ => Self {
                stale: doc.stale,
                ..Self::bare(
                    "idle",
                    "Not playing",
                    "Nothing playing right now",
                    "Spotify",
                )
            },
        }
    }

    fn bare(state: &'static str, label: &str, title: &str, subtitle: &str) -> Self {
        Self {
            state,
            label: label.into(),
            title: title.into(),
            subtitle: subtitle.into(),
            url: None,
            image_url: None,
            progress: None,
            stale: false,
            playing: false,
            hue: hue(title),
            glyph: "♪",
        }
    }

    fn item(doc: &NowPlaying, state: &'static str, params: &WidgetParams) -> Self {
        let Some(item) = &doc.item else {
            return Self::bare(state, "", "", "");
        };
        let title = if item.title.is_empty() {
            "Untitled".to_owned()
        } else {
            item.title.clone()
        };
        let progress = match (
            params.progress && doc.state != State::Recent,
            doc.progress_ms,
            item.duration_ms,
        ) {
            (true, Some(value), Some(max)) if max > 0 => Some(Progress {
                value: value.min(max),
                max,
                playing: doc.is_playing,
                timestamp: doc
                    .timestamp
                    .unwrap_or(doc.fetched_at)
                    .to_rfc3339_opts(SecondsFormat::Millis, true),
            }),
            _ => None,
        };
        Self {
            state,
            label: String::new(),
            hue: hue(&title),
            glyph: if item.kind == ItemKind::Episode {
                "◉"
            } else {
                "♪"
            },
            subtitle: item.artist_line(),
            title,
            url: item.url.clone(),
            image_url: item.image_url.clone(),
            progress,
            stale: doc.stale,
            playing: doc.is_playing,
        }
    }
}

/// "just now", "5 min ago", "2 h ago", "3 d ago".
pub(crate) fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0) as u64;
    let d = Duration::from_secs(secs);
    match d.as_secs() {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

pub(crate) fn hue(text: &str) -> u8 {
    (text
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 12) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ago_secs(secs: i64) -> String {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        ago(now, now - chrono::Duration::seconds(secs))
    }

    #[test]
    fn under_a_minute_is_just_now() {
        assert_eq!(ago_secs(0), "just now");
        assert_eq!(ago_secs(59), "just now");
    }

    #[test]
    fn a_time_in_the_future_is_just_now() {
        // Spotify's clock may run ahead of ours.
        assert_eq!(ago_secs(-30), "just now");
        assert_eq!(ago_secs(-7200), "just now");
    }

    #[test]
    fn minutes_are_whole_and_rounded_down() {
        assert_eq!(ago_secs(60), "1 min ago");
        assert_eq!(ago_secs(119), "1 min ago");
        assert_eq!(ago_secs(5 * 60 + 30), "5 min ago");
        assert_eq!(ago_secs(3599), "59 min ago");
    }

    #[test]
    fn hours_from_one_hour_to_a_day() {
        assert_eq!(ago_secs(3600), "1 h ago");
        assert_eq!(ago_secs(2 * 3600 + 59 * 60), "2 h ago");
        assert_eq!(ago_secs(86_399), "23 h ago");
    }

    #[test]
    fn days_from_one_day_on() {
        assert_eq!(ago_secs(86_400), "1 d ago");
        assert_eq!(ago_secs(3 * 86_400 + 3600), "3 d ago");
        assert_eq!(ago_secs(400 * 86_400), "400 d ago");
    }
}
