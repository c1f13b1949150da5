//! Request heads are small: at most [`MAX_HEAD`] bytes in all, of which the request target at
//! most [`MAX_TARGET`]. The connection (hyper's `max_header_size`) refuses a longer head while
//! reading it, with 431 and without buffering the rest; [`limit`] answers 414 to a head that
//! arrived whole with a longer target.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The request line and every header line together, in bytes: beyond it, hyper answers 431.
pub(crate) const MAX_HEAD: usize = 32 * 1024;

/// The request target (path and query) in bytes: beyond it, 414. As long as the request
/// line nginx and Apache accept by default; no route of this server needs a tenth of it.
pub(crate) const MAX_TARGET: usize = 8 * 1024;

/// A layer that answers 414 for a request target longer than [`MAX_TARGET`], and closes the
/// connection after it.
pub(crate) async fn limit(request: Request, next: Next) -> Response {
    if target_len(request.uri()) > MAX_TARGET {
        return refusal();
    }
    next.run(request).await
}

/// The length of the target as the client sent it: `/path?query`, or the absolute form
/// `http://host/path?query` a proxy may send.
fn target_len(uri: &Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + "://".len());
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let path = uri.path_and_query().map_or(0, |p| p.as_str().len());
    scheme + authority + path
}

fn refusal() -> Response {
    (
        StatusCode::URI_TOO_LONG,
        [
            // What else this client sent on the connection is not worth reading.
            (header::CONNECTION, HeaderValue::from_static("close")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        "the request target is longer than 8 KiB",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(target: &str) -> usize {
        target_len(&target.parse().unwrap())
    }

    #[test]
    fn an_ordinary_target_is_within_the_limit() {
        assert!(len("/now-playing.svg?theme=dark") <= MAX_TARGET);
    }

    #[test]
    fn a_target_longer_than_8_kib_is_over_the_limit() {
        let at_limit = format!("/{}", "a".repeat(MAX_TARGET - 1));
        assert_eq!(len(&at_limit), MAX_TARGET);
        let beyond = format!("/{}", "a".repeat(MAX_TARGET));
        assert!(len(&beyond) > MAX_TARGET);
        let query = format!("/now-playing?accent={}", "a".repeat(MAX_TARGET));
        assert!(len(&query) > MAX_TARGET);
        let absolute = format!("http://np.example.com/{}", "a".repeat(MAX_TARGET - 10));
        assert!(len(&absolute) > MAX_TARGET);
    }
}
