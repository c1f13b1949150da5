//! The list widgets (recently played, top tracks, top artists): one view of a list, drawn as
//! the HTML fragment, the `/embed/...` page and the SVG card. A list that cannot be had is a
//! neutral card with a short notice, never an error page.

use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};

use super::Rendered;
use super::html::{EmbedStyle, IMG_SOURCES, PageContext};
use super::params::WidgetParams;
use super::widget::{ago, hue};
use crate::now_playing::lists::{ListId, ListSnapshot, ListView};
use crate::render::assets;

/// One list as the widgets show it.
#[derive(Debug, Clone)]
pub(crate) struct ListWidget {
    /// `recently-played`, `top-tracks` or `top-artists`.
    pub kind: &'static str,
    /// "Recently played", "Top tracks · last 4 weeks"...
    pub heading: String,
    pub rows: Vec<ListRow>,
    /// Spotify is failing and this is the last good list.
    pub stale: bool,
    /// Shown instead of the rows: nothing played yet, the scope is missing, Spotify fails.
    pub notice: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ListRow {
    pub rank: Option<u32>,
    pub title: String,
    /// The artists of a track, the show of an episode, the genres of an artist.
    pub subtitle: String,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub played_at: Option<DateTime<Utc>>,
    /// An artist or an episode: the placeholder art shows another glyph.
    pub glyph: &'static str,
}

impl ListWidget {
    /// The first `limit` entries of a list state, or its notice.
    pub(crate) fn new(snapshot: &ListSnapshot, limit: usize) -> Self {
        let id = snapshot.id;
        let heading = match id.period() {
            Some(period) => format!("{} · {period}", id.title()),
            None => id.title().to_owned(),
        };
        let (rows, stale, notice) = match &snapshot.view {
            ListView::Ok(list) => {
                let rows: Vec<ListRow> = list
                    .first(limit)
                    .iter()
                    .map(|entry| ListRow {
                        rank: entry.rank(),
                        title: entry.title().to_owned(),
                        subtitle: entry.subtitle(),
                        url: entry.url().map(str::to_owned),
                        image_url: entry.row_image_url.clone(),
                        played_at: entry.played_at(),
                        glyph: match entry.item() {
                            None => "★",
                            Some(item)
                                if item.kind == crate::now_playing::model::ItemKind::Episode =>
                            {
                                "◉"
                            }
                            Some(_) => "♪",
                        },
                    })
                    .collect();
                let notice = rows.is_empty().then(|| match id {
                    ListId::RecentlyPlayed => "Nothing played yet".to_owned(),
                    ListId::Top(..) => "Nothing here yet".to_owned(),
                });
                (rows, list.stale, notice)
            }
            ListView::Unavailable(why) => (Vec::new(), false, Some(why.notice().to_owned())),
        };
        Self {
            kind: id.kind(),
            heading,
            rows,
            stale,
            notice,
        }
    }
}

/// A row as the HTML templates need it.
struct RowHtml<'a> {
    rank: Option<u32>,
    title: &'a str,
    subtitle: &'a str,
    url: Option<&'a str>,
    image_url: Option<&'a str>,
    played_at: Option<String>,
    ago: String,
    hue: u8,
    glyph: &'static str,
}

struct ListHtml<'a> {
    kind: &'static str,
    heading: &'a str,
    stale: bool,
    notice: Option<&'a str>,
    rows: Vec<RowHtml<'a>>,
}

#[derive(Template)]
#[template(path = "list.html")]
struct FragmentTemplate<'a> {
    list: ListHtml<'a>,
    layout: &'static str,
    theme: &'static str,
    bg: &'static str,
    show_art: bool,
    demo: bool,
    accent_style: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "list-embed.html")]
struct EmbedTemplate<'a> {
    page_title: &'a str,
    color_scheme: &'static str,
    css_href: &'a str,
    js_href: &'a str,
    inline_css: Option<String>,
    bg: &'static str,
    source: &'a str,
    ttl: u64,
    art: bool,
    demo: bool,
    fragment: String,
}

fn fragment_markup(
    list: &ListWidget,
    params: &WidgetParams,
    ctx: &PageContext<'_>,
    inline_accent: bool,
) -> askama::Result<String> {
    let rows = list
        .rows
        .iter()
        .map(|row| RowHtml {
            rank: row.rank,
            title: &row.title,
            subtitle: &row.subtitle,
            url: row.url.as_deref(),
            image_url: row.image_url.as_deref(),
            played_at: row
                .played_at
                .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            ago: row.played_at.map(|at| ago(ctx.now, at)).unwrap_or_default(),
            hue: hue(&row.title),
            glyph: row.glyph,
        })
        .collect();
    FragmentTemplate {
        list: ListHtml {
            kind: list.kind,
            heading: &list.heading,
            stale: list.stale,
            notice: list.notice.as_deref(),
            rows,
        },
        layout: params.layout_name(),
        theme: params.theme_name(),
        bg: params.bg_name(),
        show_art: params.art,
        demo: ctx.demo,
        accent_style: params.accent.as_deref().filter(|_| inline_accent),
    }
    .render()
}

/// The bare list fragment, for includes and `fetch` + insert.
pub(crate) fn fragment(
    list: &ListWidget,
    params: &WidgetParams,
    ctx: &PageContext<'_>,
) -> Rendered {
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data: {IMG_SOURCES}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    Rendered::ok_or_failed(
        "the list fragment",
        "text/html; charset=utf-8",
        fragment_markup(list, params, ctx, true),
        Some(csp),
    )
}

/// The `/embed/...` page of a list: styled, readable without JavaScript, refreshed by
/// `embed.js` from `source` (the list's JSON) once per `ttl`.
pub(crate) fn embed(
    list: &ListWidget,
    params: &WidgetParams,
    ctx: &PageContext<'_>,
    source: &str,
) -> Rendered {
    let style = EmbedStyle::new(params, ctx);
    let fragment = match fragment_markup(list, params, ctx, false) {
        Ok(markup) => markup,
        Err(e) => return Rendered::failed("the list embed page", e),
    };
    let body = EmbedTemplate {
        page_title: &list.heading,
        color_scheme: style.color_scheme,
        css_href: &assets::href("widget.css"),
        js_href: &assets::href("embed.js"),
        inline_css: style.inline_css,
        bg: params.bg_name(),
        source,
        ttl: ctx.ttl.as_secs(),
        art: params.art,
        demo: ctx.demo,
        fragment,
    }
    .render();
    Rendered::ok_or_failed(
        "the list embed page",
        "text/html; charset=utf-8",
        body,
        Some(style.csp),
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::time::Duration;

    /// A list with a title that needs escaping; the SVG card's tests use it too.
    pub(in crate::render) fn sample() -> ListWidget {
        let now = Utc::now();
        ListWidget {
            kind: "recently-played",
            heading: "Recently played".into(),
            rows: vec![
                ListRow {
                    rank: None,
                    title: "</text><script>alert(1)</script> & \"quotes\"".into(),
                    subtitle: "Daft Punk, Todd Edwards".into(),
                    url: Some("https://open.spotify.com/track/x".into()),
                    image_url: Some("https://i.scdn.co/image/ab67616d0000b273".into()),
                    played_at: Some(now - chrono::Duration::hours(2)),
                    glyph: "♪",
                },
                ListRow {
                    rank: None,
                    title: "東京の夜 🎧".into(),
                    subtitle: "".into(),
                    url: None,
                    image_url: None,
                    played_at: Some(now - chrono::Duration::minutes(5)),
                    glyph: "♪",
                },
            ],
            stale: false,
            notice: None,
        }
    }

    fn ctx() -> PageContext<'static> {
        PageContext {
            now: Utc::now(),
            demo: false,
            ttl: Duration::from_secs(60),
            frame_ancestors: "*",
        }
    }

    #[test]
    fn the_fragment_escapes_titles_and_shows_when_each_was_played() {
        let html = fragment(&sample(), &WidgetParams::default(), &ctx());
        let body = std::str::from_utf8(&html.body).unwrap();
        assert!(!body.contains("<script>"), "{body}");
        assert!(body.contains("&#60;/text&#62;&#60;script&#62;"), "{body}");
        assert!(body.contains(">2 h ago</time>"), "{body}");
        assert!(body.contains(">5 min ago</time>"), "{body}");
        assert!(body.contains("aria-label=\"Recently played\""), "{body}");
    }

    #[test]
    fn a_notice_replaces_the_rows() {
        let list = ListWidget {
            rows: Vec::new(),
            notice: Some("Needs the user-top-read scope".into()),
            ..sample()
        };
        let html = fragment(&list, &WidgetParams::default(), &ctx());
        let body = std::str::from_utf8(&html.body).unwrap();
        assert!(
            body.contains("np-list-notice") && !body.contains("<ol"),
            "{body}"
        );
    }
}
