//! Representations of the domain's states: JSON, HTML fragments, embed pages and SVG cards.
//! Each is rendered once per fetched state and kept in a memo keyed by the state's
//! generation ([`Renders`], [`lists::ListRenders`]), with its strong `ETag`.

pub(crate) mod assets;
pub(crate) mod budget;
pub(crate) mod encoding;
pub(crate) mod html;
pub(crate) mod landing;
pub(crate) mod list_params;
pub(crate) mod list_svg;
pub(crate) mod list_widget;
pub(crate) mod lists;
pub(crate) mod memo;
pub(crate) mod params;
pub(crate) mod per_request;
pub(crate) mod svg;
pub(crate) mod widget;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::now_playing::View;
pub(crate) use encoding::{Coding, Encodings};
pub(crate) use memo::Renders;
pub(crate) use params::WidgetParams;

/// A finished response body with what its headers need.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// Strong validator: a hash of the body.
    pub etag: HeaderValue,
    pub csp: Option<HeaderValue>,
    /// The body compressed, once, for clients that accept it: see [`memo`] for when.
    pub encodings: Encodings,
}

impl Rendered {
    pub(crate) fn new(
        status: StatusCode,
        content_type: &'static str,
        body: impl IntoBody,
        csp: Option<String>,
    ) -> Self {
        let body = body.into_body();
        Self {
            status,
            content_type,
            etag: etag(&body),
            csp: csp.and_then(|c| HeaderValue::from_str(&c).ok()),
            body,
            encodings: Encodings::default(),
        }
    }

    /// With its gzip and brotli encodings, for a representation served many times.
    pub(crate) fn compressed(mut self) -> Self {
        self.encodings = Encodings::of(&self.body, &self.etag);
        self
    }

    /// The same representation (its body shared, not copied) with `encodings`.
    pub(crate) fn with_encodings(&self, encodings: Encodings) -> Self {
        Self {
            status: self.status,
            content_type: self.content_type,
            body: self.body.clone(),
            etag: self.etag.clone(),
            csp: self.csp.clone(),
            encodings,
        }
    }

    /// The body and `ETag` of the encoding `coding`, or of the identity when there is none.
    pub(crate) fn encoded(&self, coding: Coding) -> (&Bytes, &HeaderValue) {
        match self.encodings.get(coding) {
            Some(encoded) => (&encoded.body, &encoded.etag),
            None => (&self.body, &self.etag),
        }
    }
}

impl Rendered {
    /// A successful render as a response body, or a logged 500 when the template failed:
    /// never an empty 200 with an `ETag`.
    pub(crate) fn ok_or_failed<E: std::fmt::Display>(
        what: &str,
        content_type: &'static str,
        body: Result<impl IntoBody, E>,
        csp: Option<String>,
    ) -> Self {
        match body {
            Ok(body) => Self::new(StatusCode::OK, content_type, body, csp),
            Err(e) => Self::failed(what, e),
        }
    }

    /// The 500 served when `what` could not be rendered; the cause goes to the log.
    pub(crate) fn failed(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "cannot render {what}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "internal error: this page could not be rendered",
            None,
        )
    }
}

/// A body as [`Rendered`] holds it: its allocation no larger than its length, so that the
/// bytes the render budget counts ([`budget::weight`]) are the bytes it holds. A `String` or
/// `Vec` that grew while it was written has up to twice its length allocated.
pub(crate) trait IntoBody {
    fn into_body(self) -> Bytes;
}

impl IntoBody for Vec<u8> {
    fn into_body(mut self) -> Bytes {
        self.shrink_to_fit();
        Bytes::from(self)
    }
}

impl IntoBody for String {
    fn into_body(self) -> Bytes {
        self.into_bytes().into_body()
    }
}

impl IntoBody for &'static str {
    fn into_body(self) -> Bytes {
        Bytes::from_static(self.as_bytes())
    }
}

/// Static bytes (the assets), or a body made exact already.
impl IntoBody for Bytes {
    fn into_body(self) -> Bytes {
        self
    }
}

/// A strong `ETag`: the first 128 bits of the body's SHA-256.
pub fn etag(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value")
}

/// `'sha256-...'` for a CSP source list.
pub fn csp_hash(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Which representation of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Surface {
    Fragment,
    Embed,
    Svg,
}

/// The JSON document of `/now-playing` (README: The JSON document), or the 503 body.
pub(crate) fn json(view: &View) -> Rendered {
    let (status, body) = match view {
        View::Ok(doc) => (StatusCode::OK, serde_json::to_vec(doc)),
        View::Unavailable(u) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::to_vec(&u.document()),
        ),
    };
    match body {
        Ok(body) => Rendered::new(status, "application/json", body, None),
        Err(e) => Rendered::failed("the JSON document", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes `body` has allocated (it must be the only handle on them).
    pub(crate) fn allocated(body: Bytes) -> usize {
        body.try_into_mut().expect("the only handle").capacity()
    }

    #[test]
    fn a_body_written_piece_by_piece_holds_no_spare_capacity() {
        let mut page = String::new();
        for i in 0..1000 {
            page.push_str(&format!("<li>{i}</li>"));
        }
        assert!(page.capacity() > page.len(), "grown with room to spare");
        let len = page.len();
        let rendered = Rendered::new(StatusCode::OK, "text/html", page, None);
        assert_eq!(allocated(rendered.body), len);

        let mut json = Vec::with_capacity(4096);
        json.extend_from_slice(b"{\"items\":[]}");
        let rendered = Rendered::ok_or_failed::<&str>("a test page", "text/html", Ok(json), None);
        assert_eq!(allocated(rendered.body), 12);
    }

    #[test]
    fn a_failed_render_is_a_500_with_a_body_never_an_empty_200() {
        let failed = Rendered::ok_or_failed::<&str>(
            "a test page",
            "text/html; charset=utf-8",
            Err::<String, _>("boom"),
            None,
        );
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!failed.body.is_empty());
        assert_eq!(failed.content_type, "text/plain; charset=utf-8");

        let ok = Rendered::ok_or_failed::<&str>("a test page", "text/html", Ok("<p>hi</p>"), None);
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(&ok.body[..], b"<p>hi</p>");
        assert_eq!(ok.etag, etag(b"<p>hi</p>"));
    }
}
