//! Header fields a client may send on several lines (`Accept-Encoding`, `If-None-Match`):
//! read as one list, as if the lines were joined by commas (RFC 9110 section 5.3).

use axum::http::{HeaderMap, HeaderValue, header::AsHeaderName};

/// Every line of `name` as one value: the line itself when there is one (no copy), the lines
/// joined by `", "` when there are more, `None` when there is none.
pub(crate) fn combined(headers: &HeaderMap, name: impl AsHeaderName) -> Option<HeaderValue> {
    let mut lines = headers.get_all(name).into_iter();
    let first = lines.next()?;
    let Some(second) = lines.next() else {
        return Some(first.clone());
    };
    let mut joined = first.as_bytes().to_vec();
    for line in std::iter::once(second).chain(lines) {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(line.as_bytes());
    }
    // Valid lines joined by a comma and a space are a valid value.
    HeaderValue::from_bytes(&joined).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::{ACCEPT_ENCODING, IF_NONE_MATCH};

    fn map(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    #[test]
    fn no_line_is_none() {
        assert_eq!(combined(&map(&[]), ACCEPT_ENCODING), None);
        assert_eq!(combined(&map(&["br"]), IF_NONE_MATCH), None);
    }

    #[test]
    fn one_line_is_itself() {
        assert_eq!(
            combined(&map(&["gzip, br"]), ACCEPT_ENCODING).unwrap(),
            "gzip, br"
        );
    }

    #[test]
    fn several_lines_read_as_one_list() {
        assert_eq!(
            combined(&map(&["deflate", "br;q=0.5", "gzip"]), ACCEPT_ENCODING).unwrap(),
            "deflate, br;q=0.5, gzip"
        );
    }

    #[test]
    fn lines_that_are_not_text_are_kept_as_they_are() {
        let mut headers = map(&["gzip"]);
        headers.append(ACCEPT_ENCODING, HeaderValue::from_bytes(b"\xff").unwrap());
        let joined = combined(&headers, ACCEPT_ENCODING).unwrap();
        assert_eq!(joined.as_bytes(), b"gzip, \xff");
    }
}
