//! Content codings. A representation is compressed once, when its memo keeps it and it is
//! asked for a second time (gzip at level 9 and brotli at quality 11, in the background:
//! each is made once per state, so the best ratio is worth its milliseconds), and every
//! request picks one by its `Accept-Encoding`. Each encoding has its own strong `ETag`.

use std::io::Write;

use axum::body::Bytes;
use axum::http::HeaderValue;

use super::IntoBody;

/// Bodies shorter than this are sent as they are: compression would not pay for its header.
const MIN_SIZE: usize = 200;

/// A content coding this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    /// The `Content-Encoding` value, `None` for identity.
    pub(crate) fn header(self) -> Option<HeaderValue> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some(HeaderValue::from_static("gzip")),
            Self::Brotli => Some(HeaderValue::from_static("br")),
        }
    }
}

/// One compressed form of a body.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub body: Bytes,
    pub etag: HeaderValue,
}

/// The compressed forms of a body that are smaller than it.
#[derive(Debug, Default)]
pub(crate) struct Encodings {
    pub gzip: Option<Encoded>,
    pub br: Option<Encoded>,
}

impl Encodings {
    /// Whether a body of `len` bytes is worth compressing at all.
    pub(crate) fn worth_trying(len: usize) -> bool {
        len >= MIN_SIZE
    }

    /// gzip and brotli of `body`, each kept when it is smaller; their ETags are `etag` with
    /// the coding added inside the quotes (`"…-gzip"`, `"…-br"`).
    pub(crate) fn of(body: &[u8], etag: &HeaderValue) -> Self {
        if !Self::worth_trying(body.len()) {
            return Self::default();
        }
        let smaller = |compressed: Option<Vec<u8>>, suffix: &str| {
            let compressed = compressed.filter(|c| c.len() < body.len())?;
            Some(Encoded {
                body: compressed.into_body(),
                etag: tagged(etag, suffix),
            })
        };
        Self {
            gzip: smaller(compress(Coding::Gzip, body, Effort::Best), "gzip"),
            br: smaller(compress(Coding::Brotli, body, Effort::Best), "br"),
        }
    }

    pub(crate) fn get(&self, coding: Coding) -> Option<&Encoded> {
        match coding {
            Coding::Identity => None,
            Coding::Gzip => self.gzip.as_ref(),
            Coding::Brotli => self.br.as_ref(),
        }
    }

    /// The coding to answer a request with `accept_encoding`, among those at hand.
    pub(crate) fn negotiate(&self, accept_encoding: Option<&HeaderValue>) -> Coding {
        if self.gzip.is_none() && self.br.is_none() {
            return Coding::Identity;
        }
        let accept = accept_encoding.and_then(|v| v.to_str().ok());
        negotiate(accept, self.gzip.is_some(), self.br.is_some())
    }
}

/// `etag` with `suffix` added inside the quotes: the `ETag` of one coding of a body.
pub(crate) fn tagged(etag: &HeaderValue, suffix: &str) -> HeaderValue {
    let plain = etag.to_str().unwrap_or_default().trim_matches('"');
    HeaderValue::from_str(&format!("\"{plain}-{suffix}\"")).expect("hex and a coding name")
}

/// How hard to compress: at the best levels for what is kept and served many times, at the
/// fastest for what is made per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effort {
    Best,
    Fastest,
}

/// `body` in `coding` (`None` for identity, or if the encoder failed).
pub(crate) fn compress(coding: Coding, body: &[u8], effort: Effort) -> Option<Vec<u8>> {
    match coding {
        Coding::Identity => None,
        Coding::Gzip => gzip(body, effort),
        Coding::Brotli => brotli(body, effort),
    }
}

fn gzip(body: &[u8], effort: Effort) -> Option<Vec<u8>> {
    let level = match effort {
        Effort::Best => flate2::Compression::best(),
        Effort::Fastest => flate2::Compression::fast(),
    };
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

fn brotli(body: &[u8], effort: Effort) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let params = match effort {
        Effort::Best => brotli::enc::BrotliEncoderParams {
            quality: 11,
            // A window as large as the body, at least the smallest brotli allows: less memory.
            lgwin: (usize::BITS - body.len().leading_zeros()).clamp(10, 22) as i32,
            ..Default::default()
        },
        Effort::Fastest => brotli::enc::BrotliEncoderParams {
            quality: 0,
            ..Default::default()
        },
    };
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
    Some(out)
}

/// The coding to send, by RFC 9110 section 12.5.3: the acceptable coding with the highest
/// `q` among brotli, gzip (each when available) and identity, ties going in that order.
/// `identity` is acceptable unless `identity;q=0`, or `*;q=0` without an `identity` entry,
/// says otherwise; unless the client ranks it, it comes after every coding it accepts.
/// When nothing is acceptable, identity is sent all the same.
pub(crate) fn negotiate(accept_encoding: Option<&str>, gzip: bool, br: bool) -> Coding {
    let Some(accept) = accept_encoding else {
        return Coding::Identity;
    };
    let (mut q_gzip, mut q_br, mut q_identity, mut q_any) = (None, None, None, None);
    for element in accept.split(',') {
        let mut parts = element.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let Some(q) = quality(parts) else {
            continue;
        };
        // Compared without lower-casing a copy: this runs on every request.
        let is = |coding: &str| name.eq_ignore_ascii_case(coding);
        let slot = if is("gzip") || is("x-gzip") {
            &mut q_gzip
        } else if is("br") {
            &mut q_br
        } else if is("identity") {
            &mut q_identity
        } else if name == "*" {
            &mut q_any
        } else {
            continue;
        };
        *slot = Some(q);
    }
    // Unnamed, identity is the fallback: acceptable, below any coding the client ranks.
    let q_identity = q_identity.unwrap_or(if q_any == Some(0) { 0 } else { 1 });
    let candidates = [
        (
            Coding::Brotli,
            if br { q_br.or(q_any).unwrap_or(0) } else { 0 },
        ),
        (
            Coding::Gzip,
            if gzip {
                q_gzip.or(q_any).unwrap_or(0)
            } else {
                0
            },
        ),
        (Coding::Identity, q_identity),
    ];
    let mut best = (Coding::Identity, 0);
    for (coding, q) in candidates {
        if q > best.1 {
            best = (coding, q);
        }
    }
    best.0
}

/// The `q` of one element in thousandths (1000 without a `q`); `None` when it is malformed.
fn quality<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    for param in params {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("q") {
            continue;
        }
        let q: f32 = value.trim().parse().ok()?;
        return (0.0..=1.0)
            .contains(&q)
            .then(|| (q * 1000.0).round() as u16);
    }
    Some(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pick(accept: &str) -> Coding {
        negotiate(Some(accept), true, true)
    }

    #[test]
    fn no_header_means_identity() {
        assert_eq!(negotiate(None, true, true), Coding::Identity);
        assert_eq!(pick(""), Coding::Identity);
    }

    #[test]
    fn a_browser_gets_brotli() {
        assert_eq!(pick("gzip, deflate, br, zstd"), Coding::Brotli);
        assert_eq!(pick("gzip, deflate"), Coding::Gzip);
        assert_eq!(pick("GZIP"), Coding::Gzip);
        assert_eq!(pick("x-gzip"), Coding::Gzip);
        assert_eq!(pick("deflate, zstd"), Coding::Identity);
    }

    #[test]
    fn q_values_rank_the_codings() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Coding::Gzip);
        assert_eq!(
            pick("br;q=0.8, gzip;q=0.8"),
            Coding::Brotli,
            "ties go to brotli"
        );
        assert_eq!(pick("gzip;q=0.2, identity;q=0.9"), Coding::Identity);
        assert_eq!(pick("br ; Q=0.001, gzip;q=0"), Coding::Brotli);
        assert_eq!(pick("br;q=1.0"), Coding::Brotli);
    }

    #[test]
    fn q_zero_refuses_a_coding() {
        assert_eq!(pick("br;q=0, gzip"), Coding::Gzip);
        assert_eq!(pick("br;q=0, gzip;q=0"), Coding::Identity);
        assert_eq!(pick("gzip;q=0.000"), Coding::Identity);
    }

    #[test]
    fn the_wildcard_stands_for_codings_not_named() {
        assert_eq!(pick("*"), Coding::Brotli);
        assert_eq!(pick("gzip, *;q=0"), Coding::Gzip);
        assert_eq!(pick("br;q=0, *"), Coding::Gzip);
        assert_eq!(pick("*;q=0.5, identity"), Coding::Identity);
    }

    #[test]
    fn identity_is_sent_when_nothing_is_acceptable() {
        assert_eq!(pick("identity;q=0"), Coding::Identity);
        assert_eq!(pick("*;q=0"), Coding::Identity);
        assert_eq!(pick("identity;q=0, gzip;q=0.1"), Coding::Gzip);
    }

    #[test]
    fn malformed_q_values_drop_their_element_only() {
        assert_eq!(pick("br;q=high, gzip"), Coding::Gzip);
        assert_eq!(pick("br;q=2, gzip;q=0.5"), Coding::Gzip);
        assert_eq!(pick("br;q=-1"), Coding::Identity);
        assert_eq!(pick(",, ;, br"), Coding::Brotli);
    }

    #[test]
    fn only_available_codings_are_chosen() {
        assert_eq!(negotiate(Some("br"), true, false), Coding::Identity);
        assert_eq!(negotiate(Some("br, gzip"), true, false), Coding::Gzip);
        assert_eq!(negotiate(Some("gzip"), false, true), Coding::Identity);
    }

    #[test]
    fn every_encoding_decodes_to_the_body_and_has_its_own_etag() {
        let body = "<p>Digital Love · Daft Punk</p>\n".repeat(40);
        let etag = HeaderValue::from_static("\"0123abcd\"");
        let encodings = Encodings::of(body.as_bytes(), &etag);
        let gzip = encodings.gzip.as_ref().expect("gzip is smaller");
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&gzip.body[..])
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        let br = encodings.br.as_ref().expect("brotli is smaller");
        let mut decoded = String::new();
        brotli::Decompressor::new(&br.body[..], 4096)
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        assert_eq!(gzip.etag, "\"0123abcd-gzip\"");
        assert_eq!(br.etag, "\"0123abcd-br\"");
    }

    #[test]
    fn a_compressed_form_holds_no_spare_capacity() {
        let body = "<p>Digital Love · Daft Punk</p>\n".repeat(400);
        let Encodings { gzip, br } =
            Encodings::of(body.as_bytes(), &HeaderValue::from_static("\"x\""));
        for encoded in [gzip, br] {
            let encoded = encoded.expect("smaller");
            let len = encoded.body.len();
            assert_eq!(crate::render::tests::allocated(encoded.body), len);
        }
    }

    #[test]
    fn small_or_incompressible_bodies_stay_as_they_are() {
        let etag = HeaderValue::from_static("\"x\"");
        let small = Encodings::of(b"{\"ok\":true}", &etag);
        assert!(small.gzip.is_none() && small.br.is_none());
        assert_eq!(
            small.negotiate(Some(&HeaderValue::from_static("br"))),
            Coding::Identity
        );
        // Random bytes do not shrink.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let noisy = Encodings::of(&noise, &etag);
        assert!(noisy.gzip.is_none() && noisy.br.is_none());
    }
}
