//! Compression of the representations made per request (the landing page, `/metrics`): only
//! the coding this request gets, at the fastest level (the best levels took milliseconds per
//! response, BENCHMARKS.md), with that coding's own `ETag`, so that `respond` sends a `304`
//! only to a client that holds the same coding.

use axum::body::Bytes;
use axum::http::HeaderValue;

use super::Rendered;
use super::encoding::{self, Coding, Effort, Encoded, Encodings};

/// `rendered` with the coding the client's `Accept-Encoding` prefers among gzip, brotli and
/// identity, when it is smaller than the body: its `ETag` is the identity's with the coding
/// added inside the quotes, as for the memoised representations.
pub(crate) fn compressed(
    mut rendered: Rendered,
    accept_encoding: Option<&HeaderValue>,
) -> Rendered {
    let accept = accept_encoding.and_then(|v| v.to_str().ok());
    let coding = encoding::negotiate(accept, true, true);
    let body = encoding::compress(coding, &rendered.body, Effort::Fastest);
    let Some(body) = body.filter(|b| b.len() < rendered.body.len()) else {
        return rendered;
    };
    let suffix = if coding == Coding::Gzip { "gzip" } else { "br" };
    let encoded = Some(Encoded {
        body: Bytes::from(body),
        etag: encoding::tagged(&rendered.etag, suffix),
    });
    rendered.encodings = if coding == Coding::Gzip {
        Encodings {
            gzip: encoded,
            br: None,
        }
    } else {
        Encodings {
            gzip: None,
            br: encoded,
        }
    };
    rendered
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use std::io::Read;

    fn page() -> Rendered {
        let body = "<p>Digital Love · Daft Punk</p>\n".repeat(40);
        Rendered::new(StatusCode::OK, "text/html", body, None)
    }

    fn accept(value: &str) -> Option<HeaderValue> {
        Some(HeaderValue::from_str(value).unwrap())
    }

    #[test]
    fn only_the_coding_the_client_prefers_is_made_with_its_own_etag() {
        let plain = page();
        let br = compressed(page(), accept("gzip, deflate, br").as_ref());
        let encoded = br.encodings.br.as_ref().expect("brotli");
        assert!(br.encodings.gzip.is_none());
        assert_eq!(
            encoded.etag,
            format!("\"{}-br\"", plain.etag.to_str().unwrap().trim_matches('"'))
        );
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&encoded.body[..], 4096)
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, plain.body);

        let gzip = compressed(page(), accept("gzip").as_ref());
        let encoded = gzip.encodings.gzip.as_ref().expect("gzip");
        assert!(gzip.encodings.br.is_none());
        assert!(encoded.etag.to_str().unwrap().ends_with("-gzip\""));
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&encoded.body[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, plain.body);
    }

    #[test]
    fn identity_or_a_body_that_does_not_shrink_stays_as_it_is() {
        for value in [None, accept("identity"), accept("deflate")] {
            let same = compressed(page(), value.as_ref());
            assert!(same.encodings.gzip.is_none() && same.encodings.br.is_none());
        }
        let tiny = Rendered::new(StatusCode::OK, "text/plain", "ok", None);
        let tiny = compressed(tiny, accept("br").as_ref());
        assert!(tiny.encodings.br.is_none());
    }
}
