//! The landing page at `/`: a live preview of `/embed` and copy-paste snippets for this
//! server's own address, with a theme picker (a plain form, improved by `landing.js`).

use askama::Template;

use super::Rendered;
use super::params::{Background, Layout, Theme, WidgetParams};
use crate::render::assets;

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    demo: bool,
    base: &'a str,
    query: String,
    frame_height: u32,
    css_href: String,
    js_href: String,
    favicon_href: String,
    themes: Vec<(&'static str, bool)>,
    layouts: Vec<(&'static str, bool)>,
    bgs: Vec<(&'static str, bool)>,
    accent: &'a str,
    art: bool,
    progress: bool,
    iframe_snippet: String,
    fetch_snippet: String,
    markdown_snippet: String,
    lists: Vec<ListSnippets>,
    list_height: u32,
    now_page_snippet: String,
}

/// One list widget on the landing page: its live preview and its snippets.
struct ListSnippets {
    id: &'static str,
    title: &'static str,
    /// `/embed/...` with the picked widget parameters.
    embed: String,
    iframe_snippet: String,
    markdown_snippet: String,
    json_url: String,
}

/// The lists the landing page shows: id, heading, path.
const LISTS: [(&str, &str, &str); 3] = [
    ("recently-played", "Recently played", "/recently-played"),
    (
        "top-tracks",
        "Top tracks of the last 4 weeks",
        "/top/tracks",
    ),
    (
        "top-artists",
        "Top artists of the last 4 weeks",
        "/top/artists",
    ),
];

/// The iframe height that fits five rows of a list in the layout.
fn list_height(params: &WidgetParams) -> u32 {
    match params.layout {
        Layout::Card => 300,
        Layout::Compact => 190,
    }
}

/// The widget query string for `params`, only what differs from the defaults (`?...` or empty).
pub(crate) fn query_string(params: &WidgetParams) -> String {
    let d = WidgetParams::default();
    let mut pairs = Vec::new();
    if params.theme != d.theme {
        pairs.push(format!("theme={}", params.theme_name()));
    }
    if params.layout != d.layout {
        pairs.push(format!("layout={}", params.layout_name()));
    }
    if params.bg != d.bg {
        pairs.push(format!("bg={}", params.bg_name()));
    }
    if let Some(accent) = &params.accent {
        pairs.push(format!("accent={accent}"));
    }
    if !params.art {
        pairs.push("art=false".into());
    }
    if !params.progress {
        pairs.push("progress=false".into());
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// The iframe height that fits the layout.
pub(crate) fn frame_height(params: &WidgetParams) -> u32 {
    match params.layout {
        Layout::Card => 100,
        Layout::Compact => 68,
    }
}

pub(crate) fn page(base: &str, params: &WidgetParams, demo: bool) -> Rendered {
    let query = query_string(params);
    let height = frame_height(params);
    let body = Landing {
        demo,
        base,
        frame_height: height,
        css_href: assets::href("landing.css"),
        js_href: assets::href("landing.js"),
        favicon_href: assets::href("favicon.svg"),
        themes: [("auto", Theme::Auto), ("light", Theme::Light), ("dark", Theme::Dark)]
            .map(|(name, value)| (name, params.theme == value))
            .to_vec(),
        layouts: [("card", Layout::Card), ("compact", Layout::Compact)].map(|(name, value)| (name, params.layout == value)).to_vec(),
        bgs: [("theme", Background::Theme), ("transparent", Background::Transparent)]
            .map(|(name, value)| (name, params.bg == value))
            .to_vec(),
        accent: params.accent.as_deref().unwrap_or("1db954"),
        art: params.art,
        progress: params.progress,
        iframe_snippet: format!(
            "<iframe src=\"{base}/embed{query}\" title=\"Now playing on Spotify\"\n        width=\"100%\" height=\"{height}\" style=\"border:0;max-width:440px\" loading=\"lazy\"></iframe>"
        ),
        fetch_snippet: format!(
            "fetch(\"{base}/now-playing\")\n  .then((r) => r.json())\n  .then((np) => {{\n    document.getElementById(\"np\").textContent = np.item\n      ? `${{np.item.title}} — ${{np.item.artists.join(\", \")}}`\n      : \"Not listening right now\";\n  }});"
        ),
        markdown_snippet: format!("[![Now playing on Spotify]({base}/now-playing.svg{query})]({base}/now-playing/open)"),
        lists: LISTS
            .iter()
            .map(|(id, title, path)| {
                let list_height = list_height(params);
                ListSnippets {
                    id,
                    title,
                    embed: format!("/embed{path}{query}"),
                    iframe_snippet: format!(
                        "<iframe src=\"{base}/embed{path}{query}\" title=\"{title} on Spotify\"\n        width=\"100%\" height=\"{list_height}\" style=\"border:0;max-width:440px\" loading=\"lazy\"></iframe>"
                    ),
                    markdown_snippet: format!("![{title} on Spotify]({base}{path}.svg{query})"),
                    json_url: format!("{base}{path}"),
                }
            })
            .collect(),
        list_height: list_height(params),
        now_page_snippet: {
            let lh = list_height(params);
            format!(
                "<h2>Now</h2>\n<iframe src=\"{base}/embed{query}\" title=\"Now playing on Spotify\"\n        width=\"100%\" height=\"{height}\" style=\"border:0;max-width:440px\" loading=\"lazy\"></iframe>\n<h2>This month</h2>\n<iframe src=\"{base}/embed/top/tracks{query}\" title=\"My top tracks of the last 4 weeks\"\n        width=\"100%\" height=\"{lh}\" style=\"border:0;max-width:440px\" loading=\"lazy\"></iframe>\n<h2>Lately</h2>\n<iframe src=\"{base}/embed/recently-played{query}\" title=\"What I played lately\"\n        width=\"100%\" height=\"{lh}\" style=\"border:0;max-width:440px\" loading=\"lazy\"></iframe>"
            )
        },
        query,
    }
    .render();
    let csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    Rendered::ok_or_failed(
        "the landing page",
        "text/html; charset=utf-8",
        body,
        Some(csp.to_owned()),
    )
}
