//! The static files (CSS, JavaScript, icons), compiled into the binary, each with its ETag
//! a content hash for cache-busting URLs and its gzip and brotli encodings. `routes::assets`
//! serves them.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::StatusCode;

use super::Rendered;

pub(crate) struct Asset {
    pub name: &'static str,
    /// Short content hash, for cache-busting URLs.
    pub version: String,
    /// The file as a response body with its `ETag`, and its gzip and brotli encodings.
    pub rendered: Rendered,
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        (
            $name,
            $type,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/", $name)).as_slice(),
        )
    };
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        asset!("widget.css", "text/css; charset=utf-8"),
        asset!("embed.js", "text/javascript; charset=utf-8"),
        asset!("favicon.svg", "image/svg+xml"),
        asset!("landing.css", "text/css; charset=utf-8"),
        asset!("landing.js", "text/javascript; charset=utf-8"),
    ]
    .into_iter()
    .map(|(name, content_type, bytes)| {
        let rendered = Rendered::new(
            StatusCode::OK,
            content_type,
            Bytes::from_static(bytes),
            None,
        );
        let etag = rendered.etag.to_str().unwrap_or_default();
        let version = etag.trim_matches('"')[..10].to_owned();
        Asset {
            name,
            version,
            rendered: rendered.compressed(),
        }
    })
    .collect()
});

/// Compresses every asset on a thread of its own, started with the server: the first visitor
/// does not wait for brotli, and neither does readiness (a request that comes sooner waits
/// for the table).
pub(crate) fn prepare() {
    std::thread::spawn(|| LazyLock::force(&ASSETS));
}

pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The versioned URL of an asset, e.g. `/static/widget.css?v=1a2b3c4d5e`.
pub(crate) fn href(name: &str) -> String {
    match find(name) {
        Some(asset) => format!("/static/{}?v={}", asset.name, asset.version),
        None => format!("/static/{name}"),
    }
}
