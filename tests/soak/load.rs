//! The viewers: concurrent clients looping GETs on `/now-playing` and `/embed`, each response
//! recorded with its time, latency and what it showed.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use mock_spotify::fixtures::TRACK_TITLE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Json,
    Embed,
}

impl Route {
    pub(crate) fn path(self) -> &'static str {
        match self {
            Route::Json => "/now-playing",
            Route::Embed => "/embed",
        }
    }
}

/// `error.code` of a 503 document (README: The JSON document).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    SpotifyAuth,
    RateLimited,
    Upstream,
}

impl Code {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Code::SpotifyAuth => "spotify_auth",
            Code::RateLimited => "rate_limited",
            Code::Upstream => "upstream",
        }
    }
}

/// What one response showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 200, the track, `stale: false` (for `/embed`: the card without `np-stale`).
    Fresh,
    /// 200, the track, `stale: true` (for `/embed`: the card with `np-stale`).
    Stale,
    /// `/now-playing`: 503 `state: unavailable` with this code; `/embed`: 200 with the
    /// neutral "unavailable" card (no code).
    Unavailable(Option<Code>),
    /// Anything the JSON document does not allow, described.
    Bad(String),
}

#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// When the request was sent, from the test's epoch.
    pub at: Duration,
    pub route: Route,
    pub latency: Duration,
    pub status: u16,
    pub outcome: Outcome,
}

/// Longest a client waits for an answer before it records the request as failed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// One viewer: its route, the URL and its own HTTP client (so its own connection).
pub(crate) struct Viewer {
    route: Route,
    url: String,
    http: reqwest::Client,
}

/// `count` viewers, alternately on `/now-playing` and `/embed`.
pub(crate) fn viewers(count: usize, base_url: &str) -> Vec<Viewer> {
    (0..count)
        .map(|i| {
            let route = if i % 2 == 0 {
                Route::Json
            } else {
                Route::Embed
            };
            Viewer {
                route,
                url: format!("{base_url}{}", route.path()),
                http: reqwest::Client::builder()
                    .timeout(CLIENT_TIMEOUT)
                    .build()
                    .unwrap(),
            }
        })
        .collect()
}

/// Starts every viewer, each pausing `pause` (plus a little, so that they do not move in
/// lockstep) between requests, until `stop`; each task returns its samples.
pub(crate) fn spawn(
    viewers: Vec<Viewer>,
    pause: Duration,
    epoch: Instant,
    stop: &CancellationToken,
) -> Vec<JoinHandle<Vec<Sample>>> {
    viewers
        .into_iter()
        .enumerate()
        .map(|(i, viewer)| {
            let pause = pause + Duration::from_millis((i as u64 * 7) % 23);
            tokio::spawn(client(viewer, pause, epoch, stop.clone()))
        })
        .collect()
}

async fn client(
    viewer: Viewer,
    pause: Duration,
    epoch: Instant,
    stop: CancellationToken,
) -> Vec<Sample> {
    let Viewer { route, url, http } = viewer;
    let mut samples = Vec::new();
    while !stop.is_cancelled() {
        let started = Instant::now();
        let (status, outcome) = match http.get(&url).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let content_type = header("content-type").unwrap_or_default();
                let retry_after = header("retry-after");
                let outcome = match response.text().await {
                    Ok(body) => match route {
                        Route::Json => json_outcome(status, retry_after.as_deref(), &body),
                        Route::Embed => embed_outcome(status, &content_type, &body),
                    },
                    Err(e) => Outcome::Bad(format!("HTTP {status}, body unreadable: {e}")),
                };
                (status, outcome)
            }
            Err(e) => (0, Outcome::Bad(format!("no answer: {e}"))),
        };
        samples.push(Sample {
            at: started - epoch,
            route,
            latency: started.elapsed(),
            status,
            outcome,
        });
        tokio::select! {
            () = stop.cancelled() => {},
            () = tokio::time::sleep(pause) => {},
        }
    }
    samples
}

/// What `/now-playing` may answer: 200 with the document, or 503 `unavailable` with a known code
/// (and a `Retry-After` for `rate_limited`).
fn json_outcome(status: u16, retry_after: Option<&str>, body: &str) -> Outcome {
    let short = || body.chars().take(300).collect::<String>();
    let Ok(doc) = serde_json::from_str::<Value>(body) else {
        return Outcome::Bad(format!("HTTP {status}, not JSON: {}", short()));
    };
    match status {
        200 => {
            let state_ok = matches!(
                doc["state"].as_str(),
                Some("playing" | "paused" | "recent" | "idle")
            );
            let title_ok = doc["item"]["title"].as_str() == Some(TRACK_TITLE);
            match doc["stale"].as_bool() {
                Some(stale) if state_ok && title_ok => {
                    if stale {
                        Outcome::Stale
                    } else {
                        Outcome::Fresh
                    }
                }
                _ => Outcome::Bad(format!("HTTP 200, not the track document: {}", short())),
            }
        }
        503 => {
            let code = match doc["error"]["code"].as_str() {
                Some("spotify_auth") => Some(Code::SpotifyAuth),
                Some("rate_limited") => Some(Code::RateLimited),
                Some("upstream") => Some(Code::Upstream),
                _ => None,
            };
            let shape_ok = doc["state"] == "unavailable"
                && doc["is_playing"] == false
                && doc["item"].is_null()
                && doc["error"]["message"].is_string();
            match code {
                Some(Code::RateLimited)
                    if retry_after.is_none_or(|v| v.trim().parse::<u64>().is_err()) =>
                {
                    Outcome::Bad(format!(
                        "HTTP 503 rate_limited without Retry-After: {}",
                        short()
                    ))
                }
                Some(code) if shape_ok => Outcome::Unavailable(Some(code)),
                _ => Outcome::Bad(format!("HTTP 503, not an error document: {}", short())),
            }
        }
        _ => Outcome::Bad(format!("HTTP {status}: {}", short())),
    }
}

/// Always 200 with a complete HTML page; which card it shows.
fn embed_outcome(status: u16, content_type: &str, body: &str) -> Outcome {
    if status != 200 || !content_type.starts_with("text/html") {
        let short = body.chars().take(300).collect::<String>();
        return Outcome::Bad(format!("HTTP {status} {content_type}: {short}"));
    }
    if !body
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("<!doctype html")
    {
        return Outcome::Bad("HTTP 200 but not a complete HTML page".into());
    }
    if body.contains("np-state-unavailable") {
        Outcome::Unavailable(None)
    } else if !body.contains(TRACK_TITLE) {
        Outcome::Bad("HTTP 200 page without the track or the unavailable card".into())
    } else if body.contains(" np-stale") {
        Outcome::Stale
    } else {
        Outcome::Fresh
    }
}
