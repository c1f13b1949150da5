//! Compression once per state, from a representation's second request on: every
//! representation in every coding a client may ask for decodes to the identity body, with its
//! own `ETag`, `Vary: Accept-Encoding`, and a `304` only for the coding the client holds.

use std::io::Read;

use crate::helpers::*;

/// Every route whose representation is kept and compressed once (the static files at start,
/// the others once asked for twice).
const ROUTES: [&str; 16] = [
    "/now-playing",
    "/now-playing.html",
    "/embed",
    "/now-playing.svg",
    "/recently-played",
    "/recently-played.html",
    "/recently-played.svg",
    "/embed/recently-played",
    "/top/tracks?range=long&limit=50",
    "/top/tracks.html",
    "/top/artists.svg?theme=dark",
    "/embed/top/artists",
    "/static/widget.css",
    "/static/embed.js",
    "/static/landing.js",
    "/static/favicon.svg",
];

async fn fetch(app: &TestApp, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header("accept-encoding", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path} with {accept:?}");
    response
}

/// Asks for `path` a second time, which has it compressed in the background, and waits for
/// the compressed forms to be kept.
async fn asked_again(app: &TestApp, path: &str) {
    fetch(app, path, None).await;
    app.state.render_budget.compressions_done().await;
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
        "br" => brotli::Decompressor::new(body, 4096).read_to_end(&mut out),
        other => panic!("unexpected content-encoding {other}"),
    }
    .unwrap_or_else(|e| panic!("{coding} does not decode: {e}"));
    out
}

#[tokio::test]
async fn every_encoding_decodes_to_the_identity_body() {
    let app = spawn_demo().await;
    for path in ROUTES {
        let identity = fetch(&app, path, None).await;
        assert_eq!(header(&identity, "content-encoding"), None, "{path}");
        assert_eq!(
            header(&identity, "vary").as_deref(),
            Some("accept-encoding"),
            "{path}"
        );
        let identity_etag = header(&identity, "etag").unwrap();
        let plain = identity.bytes().await.unwrap();
        asked_again(&app, path).await;
        let mut etags = vec![identity_etag.clone()];
        for (accept, coding) in [
            ("gzip", "gzip"),
            ("br", "br"),
            ("gzip, deflate, br, zstd", "br"),
            ("br;q=0.5, gzip", "gzip"),
            ("*", "br"),
        ] {
            let response = fetch(&app, path, Some(accept)).await;
            assert_eq!(
                header(&response, "content-encoding").as_deref(),
                Some(coding),
                "{path} with Accept-Encoding: {accept}"
            );
            assert_eq!(
                header(&response, "vary").as_deref(),
                Some("accept-encoding")
            );
            let etag = header(&response, "etag").unwrap();
            assert_eq!(
                etag,
                format!("\"{}-{coding}\"", identity_etag.trim_matches('"')),
                "{path}: the ETag names the coding"
            );
            let body = response.bytes().await.unwrap();
            assert!(body.len() < plain.len(), "{path}: {coding} is smaller");
            assert_eq!(
                decode(coding, &body),
                plain,
                "{path}: {coding} decodes to the body"
            );
            etags.push(etag);
        }
        etags.sort();
        etags.dedup();
        assert_eq!(etags.len(), 3, "{path}: one ETag per coding: {etags:?}");
    }
}

#[tokio::test]
async fn a_304_is_only_for_the_coding_the_client_holds() {
    let app = spawn_demo().await;
    fetch(&app, "/embed", None).await;
    asked_again(&app, "/embed").await;
    let br = fetch(&app, "/embed", Some("br")).await;
    let br_etag = header(&br, "etag").unwrap();
    let again = app
        .http
        .get(app.url("/embed"))
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .header("if-none-match", &br_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag").as_deref(), Some(br_etag.as_str()));
    assert_eq!(header(&again, "vary").as_deref(), Some("accept-encoding"));
    // The same validator from a client that now takes identity only: the full body.
    let identity = app
        .http
        .get(app.url("/embed"))
        .header("accept-encoding", "identity")
        .header("if-none-match", &br_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(identity.status(), 200);
    assert_eq!(header(&identity, "content-encoding"), None);
}

#[tokio::test]
async fn refused_codings_are_not_sent() {
    let app = spawn_demo().await;
    for accept in ["identity", "br;q=0, gzip;q=0", "deflate, zstd", "*;q=0", ""] {
        let response = fetch(&app, "/now-playing.svg", Some(accept)).await;
        assert_eq!(header(&response, "content-encoding"), None, "{accept:?}");
    }
    app.state.render_budget.compressions_done().await;
    let response = fetch(&app, "/now-playing.svg", Some("br;q=0, *")).await;
    assert_eq!(
        header(&response, "content-encoding").as_deref(),
        Some("gzip")
    );
}

#[tokio::test]
async fn pages_compressed_per_request_have_an_etag_per_coding() {
    let app = spawn_demo().await;
    for path in ["/", "/metrics"] {
        let identity = fetch(&app, path, None).await;
        assert_eq!(header(&identity, "content-encoding"), None, "{path}");
        let identity_etag = header(&identity, "etag").expect("an ETag");
        let plain = identity.bytes().await.unwrap();
        for coding in ["gzip", "br"] {
            let response = fetch(&app, path, Some(coding)).await;
            assert_eq!(
                header(&response, "content-encoding").as_deref(),
                Some(coding),
                "{path}"
            );
            assert_eq!(
                header(&response, "vary").as_deref(),
                Some("accept-encoding")
            );
            let etag = header(&response, "etag").unwrap();
            assert!(etag.ends_with(&format!("-{coding}\"")), "{path}: {etag}");
            let decoded = decode(coding, &response.bytes().await.unwrap());
            if path == "/" {
                assert_eq!(
                    etag,
                    format!("\"{}-{coding}\"", identity_etag.trim_matches('"'))
                );
                assert_eq!(decoded, plain, "{path}: {coding} decodes to the body");
            } else {
                // Every request moves a counter: the text differs, not its kind.
                assert!(String::from_utf8(decoded).unwrap().contains("# TYPE"));
            }
        }
    }

    // The landing page is the same for the same host: a client that holds one coding gets a
    // 304 for it, and the full body in any other.
    let identity_etag = header(&fetch(&app, "/", None).await, "etag").unwrap();
    let gzip_etag = header(&fetch(&app, "/", Some("gzip")).await, "etag").unwrap();
    let conditional = |accept: &'static str, etag: String| {
        app.http
            .get(app.url("/"))
            .header("accept-encoding", accept)
            .header("if-none-match", etag)
            .send()
    };
    let other_coding = conditional("gzip", identity_etag.clone()).await.unwrap();
    assert_eq!(other_coding.status(), 200);
    assert_eq!(
        header(&other_coding, "content-encoding").as_deref(),
        Some("gzip")
    );
    let brotli = conditional("br", gzip_etag.clone()).await.unwrap();
    assert_eq!(brotli.status(), 200);
    assert_eq!(header(&brotli, "content-encoding").as_deref(), Some("br"));
    let same = conditional("gzip", gzip_etag.clone()).await.unwrap();
    assert_eq!(same.status(), 304);
    assert_eq!(header(&same, "etag"), Some(gzip_etag));
    let same = conditional("identity", identity_etag.clone())
        .await
        .unwrap();
    assert_eq!(same.status(), 304);
    assert_eq!(header(&same, "etag"), Some(identity_etag));
}

#[tokio::test]
async fn accept_encoding_and_if_none_match_are_read_across_all_their_lines() {
    let app = spawn_demo().await;
    // `/embed` is kept and compressed from its second request on; `/` per request.
    fetch(&app, "/embed", None).await;
    asked_again(&app, "/embed").await;
    for path in ["/embed", "/"] {
        // reqwest sends a header given twice on two lines.
        let response = app
            .http
            .get(app.url(path))
            .header("accept-encoding", "deflate")
            .header("accept-encoding", "br")
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&response, "content-encoding").as_deref(),
            Some("br"),
            "{path}"
        );
        let etag = header(&response, "etag").unwrap();
        let again = app
            .http
            .get(app.url(path))
            .header("accept-encoding", "br")
            .header("if-none-match", "\"something-else\"")
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
}
