//! The static files (CSS, JavaScript, icons), compiled into the binary, each with its ETag
//! and a content hash for cache-busting URLs. `routes::assets` serves them.

use std::sync::LazyLock;

use axum::http::HeaderValue;

pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    pub etag: HeaderValue,
    /// Short content hash, for cache-busting URLs.
    pub version: String,
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
        let etag = super::etag(bytes);
        let version = etag.to_str().unwrap_or_default().trim_matches('"')[..10].to_owned();
        Asset {
            name,
            content_type,
            bytes,
            etag,
            version,
        }
    })
    .collect()
});

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The versioned URL of an asset, e.g. `/static/widget.css?v=1a2b3c4d5e`.
pub fn href(name: &str) -> String {
    match find(name) {
        Some(asset) => format!("/static/{}?v={}", asset.name, asset.version),
        None => format!("/static/{name}"),
    }
}
