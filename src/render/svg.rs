//! The SVG card for README images: the widget drawn in SVG 1.1, cover art inlined as a
//! `data:` URI, every string escaped for XML, and a neutral card when Spotify fails.

use askama::Template;
use chrono::{DateTime, Utc};

use super::Rendered;
use super::html::Widget;
use super::params::{Background, Layout, WidgetParams};
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

/// Cuts `text` to `max` characters, ending with an ellipsis when cut (SVG cannot ellipsise).
pub(crate) fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

pub fn card(
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
    // Roughly how many characters fit: about 0.55 em per character.
    let chars = |size: u32| (bar_width * 100 / (size * 55)) as usize;
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
        label: fit(&widget.label.to_uppercase(), chars(11)),
        title: fit(&widget.title, chars(title_size)),
        subtitle: fit(&widget.subtitle, chars(14)),
        summary,
        progress,
    }
    .render();
    let csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:".to_owned();
    Rendered::ok_or_failed("the SVG card", "image/svg+xml", body, Some(csp))
}
