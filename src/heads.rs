//! Request heads are small: at most [`MAX_HEAD`] bytes in all, of which the request target at
//! most [`MAX_TARGET`]. The connection refuses a longer head while reading it (431, without
//! buffering the rest); [`limit`] answers a head that arrived whole but breaks either rule.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The request line and every header line together, in bytes: beyond it, 431.
pub(crate) const MAX_HEAD: usize = 32 * 1024;

/// The request target (path and query) in bytes: beyond it, 414. As long as the request
/// line nginx and Apache accept by default; no route of this server needs a tenth of it.
pub(crate) const MAX_TARGET: usize = 8 * 1024;

/// A layer that answers 414 for a request target longer than [`MAX_TARGET`] and 431 for a
/// head longer than [`MAX_HEAD`], and closes the connection after either answer.
pub(crate) async fn limit(request: Request, next: Next) -> Response {
    match verdict(request.method(), request.uri(), request.headers()) {
        Some(status) => refusal(status),
        None => next.run(request).await,
    }
}

/// 414, 431, or `None` for a head within the limits.
fn verdict(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<StatusCode> {
    let target = target_len(uri);
    if target > MAX_TARGET {
        return Some(StatusCode::URI_TOO_LONG);
    }
    (head_len(method, target, headers) > MAX_HEAD)
        .then_some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
}

/// The length of the target as the client sent it: `/path?query`, or the absolute form
/// `http://host/path?query` a proxy may send.
fn target_len(uri: &Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + "://".len());
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let path = uri.path_and_query().map_or(0, |p| p.as_str().len());
    scheme + authority + path
}

/// The length of the head as HTTP/1.1 writes it: `METHOD target HTTP/1.1\r\n`, each header
/// as `name: value\r\n`, and the empty line that ends it.
fn head_len(method: &Method, target: usize, headers: &HeaderMap) -> usize {
    let request_line = method.as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let header_lines: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + ": ".len() + value.len() + "\r\n".len())
        .sum();
    request_line + header_lines + "\r\n".len()
}

fn refusal(status: StatusCode) -> Response {
    let reason = if status == StatusCode::URI_TOO_LONG {
        "the request target is longer than 8 KiB"
    } else {
        "the request head is larger than 32 KiB"
    };
    (
        status,
        [
            // What else this client sent on the connection is not worth reading.
            (header::CONNECTION, HeaderValue::from_static("close")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        reason,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderName;

    fn headers(lines: &[(&str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn judge(target: &str, lines: &[(&str, String)]) -> Option<StatusCode> {
        verdict(&Method::GET, &target.parse().unwrap(), &headers(lines))
    }

    #[test]
    fn an_ordinary_request_passes() {
        let lines = [
            ("host", "np.example.com".to_owned()),
            ("accept-encoding", "gzip, deflate, br, zstd".to_owned()),
        ];
        assert_eq!(judge("/now-playing.svg?theme=dark", &lines), None);
    }

    #[test]
    fn a_target_longer_than_8_kib_is_414() {
        let at_limit = format!("/{}", "a".repeat(MAX_TARGET - 1));
        assert_eq!(judge(&at_limit, &[]), None);
        let beyond = format!("/{}", "a".repeat(MAX_TARGET));
        assert_eq!(judge(&beyond, &[]), Some(StatusCode::URI_TOO_LONG));
        let query = format!("/now-playing?accent={}", "a".repeat(MAX_TARGET));
        assert_eq!(judge(&query, &[]), Some(StatusCode::URI_TOO_LONG));
        let absolute = format!("http://np.example.com/{}", "a".repeat(MAX_TARGET - 10));
        assert_eq!(judge(&absolute, &[]), Some(StatusCode::URI_TOO_LONG));
    }

    #[test]
    fn a_head_larger_than_32_kib_is_431_however_it_is_spread() {
        // "GET / HTTP/1.1\r\n" and the closing "\r\n": 18 bytes; "x-pad: …\r\n": 9 more.
        let fits = MAX_HEAD - 18 - 9;
        assert_eq!(judge("/", &[("x-pad", "a".repeat(fits))]), None);
        assert_eq!(
            judge("/", &[("x-pad", "a".repeat(fits + 1))]),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let many: Vec<_> = (0..50).map(|_| ("cookie", "c".repeat(800))).collect();
        assert_eq!(
            judge("/", &many),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }

    #[test]
    fn the_target_counts_toward_the_head() {
        let target = format!("/{}", "a".repeat(MAX_TARGET - 1));
        let pad = "a".repeat(MAX_HEAD - MAX_TARGET);
        assert_eq!(
            judge(&target, &[("x-pad", pad)]),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }
}
