//! The HTML fragment and the `/embed` page, rendered with askama (every value escaped) from
//! the [`Widget`] view model, so templates never see Spotify's shapes or our JSON.

use std::time::Duration;

use askama::Template;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use super::params::{Theme, WidgetParams};
use super::widget::Widget;
use super::{Rendered, csp_hash};
use crate::now_playing::View;
use crate::render::assets;

/// Image sources the widget may show: Spotify's image hosts only.
pub(crate) const IMG_SOURCES: &str = "https://i.scdn.co https://*.scdn.co https://*.spotifycdn.com";

#[derive(Template)]
#[template(path = "fragment.html")]
struct FragmentTemplate<'a> {
    w: &'a Widget,
    layout: &'static str,
    theme: &'static str,
    bg: &'static str,
    show_art: bool,
    demo: bool,
    accent_style: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "embed.html")]
struct EmbedTemplate<'a> {
    page_title: String,
    color_scheme: &'static str,
    css_href: &'a str,
    js_href: &'a str,
    inline_css: Option<String>,
    bg: &'static str,
    ttl: u64,
    params: &'a WidgetParams,
    demo: bool,
    fragment: String,
}

/// What a page needs besides the state.
pub(crate) struct PageContext<'a> {
    pub now: DateTime<Utc>,
    pub demo: bool,
    pub ttl: Duration,
    pub frame_ancestors: &'a str,
}

fn fragment_markup(
    widget: &Widget,
    params: &WidgetParams,
    ctx: &PageContext<'_>,
    inline_accent: bool,
) -> askama::Result<String> {
    FragmentTemplate {
        w: widget,
        layout: params.layout_name(),
        theme: params.theme_name(),
        bg: params.bg_name(),
        show_art: params.art,
        demo: ctx.demo,
        accent_style: params.accent.as_deref().filter(|_| inline_accent),
    }
    .render()
}

/// The bare fragment, for includes and `fetch` + insert.
pub(crate) fn fragment(view: &View, params: &WidgetParams, ctx: &PageContext<'_>) -> Rendered {
    let widget = Widget::new(view, params, ctx.now);
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data: {IMG_SOURCES}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    Rendered::ok_or_failed(
        "the fragment",
        "text/html; charset=utf-8",
        fragment_markup(&widget, params, ctx, true),
        Some(csp),
    )
}

/// What every iframe page (`/embed` and the list embeds) shares: the accent colour as inline
/// CSS allowed by its hash, the colour scheme of the theme, and the page's CSP.
pub(crate) struct EmbedStyle {
    pub inline_css: Option<String>,
    pub color_scheme: &'static str,
    pub csp: String,
}

impl EmbedStyle {
    pub(crate) fn new(params: &WidgetParams, ctx: &PageContext<'_>) -> Self {
        let inline_css = params
            .accent
            .as_ref()
            .map(|hex| format!(".np{{--np-accent:#{hex}}}"));
        let style_hash = inline_css
            .as_deref()
            .map(|css| format!(" {}", csp_hash(css)))
            .unwrap_or_default();
        Self {
            color_scheme: match params.theme {
                Theme::Auto => "light dark",
                Theme::Light => "light",
                Theme::Dark => "dark",
            },
            csp: format!(
                "default-src 'none'; script-src 'self'; style-src 'self'{style_hash}; img-src 'self' data: {IMG_SOURCES}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {}",
                ctx.frame_ancestors
            ),
            inline_css,
        }
    }
}

/// The complete `/embed` page: styled, readable without JavaScript, kept live by `embed.js`.
pub(crate) fn embed(view: &View, params: &WidgetParams, ctx: &PageContext<'_>) -> Rendered {
    let widget = Widget::new(view, params, ctx.now);
    let style = EmbedStyle::new(params, ctx);
    let page_title = match widget.state {
        "playing" | "paused" | "recent" if !widget.subtitle.is_empty() => {
            format!("{}: {} — {}", widget.label, widget.title, widget.subtitle)
        }
        _ => "Now playing on Spotify".to_owned(),
    };
    let body = EmbedTemplate {
        page_title,
        color_scheme: style.color_scheme,
        css_href: &assets::href("widget.css"),
        js_href: &assets::href("embed.js"),
        inline_css: style.inline_css,
        bg: params.bg_name(),
        ttl: ctx.ttl.as_secs(),
        params,
        demo: ctx.demo,
        fragment: match fragment_markup(&widget, params, ctx, false) {
            Ok(markup) => markup,
            Err(e) => return Rendered::failed("the embed page", e),
        },
    }
    .render();
    Rendered::ok_or_failed(
        "the embed page",
        "text/html; charset=utf-8",
        body,
        Some(style.csp),
    )
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A small page that tells a person one thing (the `auth` callbacks), every word escaped.
pub(crate) fn message_page(
    status: StatusCode,
    title: &str,
    message: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (status, body) = match (MessagePage { title, message }.render()) {
        Ok(body) => (status, body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the message page {title:?}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: this page could not be rendered".to_owned(),
            )
        }
    };
    (
        status,
        [
            (axum::http::header::CACHE_CONTROL, "no-store"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
        ],
        axum::response::Html(body),
    )
        .into_response()
}
