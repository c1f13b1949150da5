//! `/healthz`: the process serves. Never calls Spotify.

pub async fn healthz() -> &'static str {
    "ok"
}
