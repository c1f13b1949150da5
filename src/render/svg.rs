//! The SVG card for README images: the widget drawn in SVG 1.1, cover art inlined as a
//! `data:` URI, every string escaped for XML, and a neutral card when Spotify fails.

use askama::Template;
use chrono::{DateTime, Utc};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::Rendered;
use super::params::{Background, Layout, WidgetParams};
use super::widget::Widget;
use crate::now_playing::View;
use crate::spotify::images::Art;

struct Progress {
    done: u32,
    remaining_s: u64,
}

#[derive(Template)]
#[template(path = "card.svg", escape = "html")]
struct Card<'a> {
    width: u32,
    height: u32,
    pad: u32,
    art_size: u32,
    text_x: u32,
    label_y: u32,
    title_y: u32,
    sub_y: u32,
    bar_y: u32,
    bar_width: u32,
    title_size: u32,
    theme: &'static str,
    transparent: bool,
    accent: &'a str,
    show_art: bool,
    show_subtitle: bool,
    art: Option<&'a str>,
    ph_from: &'static str,
    ph_to: &'static str,
    glyph: &'static str,
    playing: bool,
    demo: bool,
    summary: String,
    label: String,
    title: String,
    subtitle: String,
    progress: Option<Progress>,
}

/// Placeholder gradients, as in `widget.css` (`.np-hue-N`).
pub(crate) const GRADIENTS: [(&str, &str); 12] = [
    ("1db954", "0d5b2b"),
    ("e91e63", "6a1b9a"),
    ("ff9800", "d84315"),
    ("3f51b5", "0d47a1"),
    ("00bcd4", "00695c"),
    ("8bc34a", "33691e"),
    ("9c27b0", "311b92"),
    ("f44336", "880e4f"),
    ("607d8b", "263238"),
    ("ffc107", "ef6c00"),
    ("009688", "1b5e20"),
    ("795548", "3e2723"),
];

const ELLIPSIS: &str = "…";

/// Cuts `text` to `max` display columns, ending with an ellipsis when cut (SVG cannot
/// ellipsise). A column is about one Latin letter; CJK and emoji take two, combining marks
/// none. The cut falls between grapheme clusters, so an accent or a ZWJ emoji stays whole.
/// The result, ellipsis included, is never wider than `max`.
pub(crate) fn fit(text: &str, max: usize) -> String {
    if columns(text) <= max {
        return text.to_owned();
    }
    let Some(room) = max.checked_sub(ELLIPSIS.width()) else {
        return String::new();
    };
    let mut used = 0;
    let end = text
        .grapheme_indices(true)
        .find_map(|(at, grapheme)| {
            used += grapheme.width();
            (used > room).then_some(at)
        })
        .unwrap_or(text.len());
    format!("{}{ELLIPSIS}", text[..end].trim_end())
}

/// Display columns of `text`, counted one grapheme cluster at a time as [`fit`] cuts it.
fn columns(text: &str) -> usize {
    text.graphemes(true).map(UnicodeWidthStr::width).sum()
}

pub(crate) fn card(
    view: &View,
    params: &WidgetParams,
    art: &Art,
    now: DateTime<Utc>,
    demo: bool,
) -> Rendered {
    let widget = Widget::new(view, params, now);
    let compact = params.layout == Layout::Compact;
    let (width, height, pad, art_size) = if compact {
        (400, 64, 8, 48)
    } else {
        (480, 120, 12, 96)
    };
    let text_x = if params.art {
        pad + art_size + 14
    } else {
        pad + 6
    };
    let bar_width = width - text_x - pad - 6;
    // Roughly how many display columns fit: about 0.55 em per column (a Latin letter; a CJK
    // glyph of 1 em takes two).
    let columns_at = |size: u32| (bar_width * 100 / (size * 55)) as usize;
    let title_size = if compact { 14 } else { 16 };
    let progress = widget.progress.as_ref().map(|p| {
        let done = ((p.value as f64 / p.max as f64) * f64::from(bar_width)).round() as u32;
        Progress {
            done: done.min(bar_width),
            remaining_s: if p.playing {
                (p.max - p.value) / 1000
            } else {
                0
            },
        }
    });
    let (ph_from, ph_to) = GRADIENTS[usize::from(widget.hue) % GRADIENTS.len()];
    let summary = if widget.subtitle.is_empty() {
        format!("{}: {}", widget.label, widget.title)
    } else {
        format!("{}: {} — {}", widget.label, widget.title, widget.subtitle)
    };
    let body = Card {
        width,
        height,
        pad,
        art_size,
        text_x,
        label_y: if compact { 22 } else { 34 },
        title_y: if compact { 42 } else { 60 },
        sub_y: 82,
        bar_y: if compact { 52 } else { 100 },
        bar_width,
        title_size,
        theme: params.theme_name(),
        transparent: params.bg == Background::Transparent,
        accent: params.accent.as_deref().unwrap_or("1db954"),
        show_art: params.art,
        show_subtitle: !compact,
        art: match art {
            Art::Ready(data) => Some(data),
            Art::Unavailable | Art::Pending => None,
        },
        ph_from,
        ph_to,
        glyph: widget.glyph,
        playing: widget.playing && widget.state == "playing",
        demo,
        label: fit(&widget.label.to_uppercase(), columns_at(11)),
        title: fit(&widget.title, columns_at(title_size)),
        subtitle: fit(&widget.subtitle, columns_at(14)),
        summary,
        progress,
    }
    .render();
    let csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:".to_owned();
    Rendered::ok_or_failed("the SVG card", "image/svg+xml", body, Some(csp))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILY: &str = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";

    #[test]
    fn ascii_within_the_budget_is_kept_whole() {
        assert_eq!(fit("Digital Love", 12), "Digital Love");
        assert_eq!(fit("Digital Love", 40), "Digital Love");
    }

    #[test]
    fn ascii_over_the_budget_ends_with_an_ellipsis_within_it() {
        assert_eq!(fit("abcdef", 5), "abcd…");
        assert_eq!(fit("Harder, Better, Faster, Stronger", 10), "Harder, B…");
        // The space before the cut goes, so the ellipsis follows the last word.
        assert_eq!(fit("Digital Love", 9), "Digital…");
    }

    #[test]
    fn empty_text_stays_empty() {
        assert_eq!(fit("", 0), "");
        assert_eq!(fit("", 10), "");
    }

    #[test]
    fn a_budget_too_small_for_the_ellipsis_gives_nothing() {
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit("abc", 1), "…");
    }

    #[test]
    fn cjk_counts_two_columns_a_glyph() {
        let title = "戦場のメリークリスマス"; // 11 glyphs, 22 columns
        assert_eq!(fit(title, 22), title);
        assert_eq!(fit(title, 21), "戦場のメリークリスマ…");
        // 11 chars would pass a count of chars; 11 columns hold 5 glyphs and the ellipsis.
        assert_eq!(fit(title, 11), "戦場のメリ…");
        assert_eq!(fit(title, 12), "戦場のメリ…");
    }

    #[test]
    fn combining_accents_take_no_column_and_stay_on_their_letter() {
        let decomposed = "Cafe\u{301} de\u{301}ja\u{300} vu"; // "Café déjà vu", 12 columns
        assert_eq!(decomposed.chars().count(), 15);
        assert_eq!(fit(decomposed, 12), decomposed);
        assert_eq!(fit("e\u{301}e\u{301}e\u{301}", 2), "e\u{301}…");
        assert_eq!(fit("Jo\u{301}ga", 3), "Jo\u{301}…");
    }

    #[test]
    fn a_zwj_emoji_family_is_two_columns_and_never_split() {
        assert_eq!(FAMILY.chars().count(), 7);
        assert_eq!(fit(FAMILY, 2), FAMILY);
        assert_eq!(fit(&FAMILY.repeat(3), 5), format!("{FAMILY}{FAMILY}…"));
        // Not enough room for the whole family after "ab": it goes, none of its people stays.
        assert_eq!(fit(&format!("ab{FAMILY}c"), 4), "ab…");
    }

    #[test]
    fn emoji_with_a_skin_tone_is_one_cluster() {
        let thumbs = "\u{1F44D}\u{1F3FD}";
        assert_eq!(
            fit(&format!("{thumbs}{thumbs}{thumbs}"), 5),
            format!("{thumbs}{thumbs}…")
        );
    }

    #[test]
    fn the_result_never_exceeds_the_budget_and_is_cut_between_clusters() {
        let texts = [
            "Merry Christmas Mr. Lawrence",
            "坂本龍一 - 戦場のメリークリスマス",
            "Bjo\u{308}rk \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} Jo\u{301}ga",
            "\u{1F1EF}\u{1F1F5} flags \u{1F1EB}\u{1F1F7}",
            "مرحبا بالعالم",
        ];
        for text in texts {
            let clusters: Vec<&str> = text.graphemes(true).collect();
            for max in 0..=columns(text) + 1 {
                let shown = fit(text, max);
                assert!(columns(&shown) <= max, "{text:?} in {max}: {shown:?}");
                let kept = shown.strip_suffix(ELLIPSIS).unwrap_or(&shown);
                let kept_clusters: Vec<&str> = kept.graphemes(true).collect();
                assert_eq!(
                    kept_clusters[..],
                    clusters[..kept_clusters.len()],
                    "{text:?} in {max}: {shown:?}"
                );
            }
        }
    }
}
