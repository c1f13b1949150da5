//! Cover art for the SVG card, inlined as `data:` URIs. Only `https` URLs on Spotify's image
//! hosts are ever fetched (no other URL from a payload), at most 1 MiB, within 3 s, one fetch
//! per image however many cards wait for it, kept in a small in-memory cache.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use reqwest::Url;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::SpotifyError;
use super::unreachable::Deadlines;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::spotify::hosts::is_spotify_image;

pub(crate) const MAX_IMAGE_BYTES: usize = 1024 * 1024;
pub(crate) const IMAGE_TIMEOUT: Duration = Duration::from_secs(3);
/// Total size of the cached `data:` URIs; older images make room for newer ones.
pub(crate) const CACHE_BYTES: usize = 4 * 1024 * 1024;
/// A failed image is not asked for again before this.
pub(crate) const FAILURE_TTL: Duration = Duration::from_secs(60);

/// An image as a `data:` URI, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Art {
    Ready(Arc<str>),
    /// Not on Spotify's hosts, too large, not an image, or the fetch failed: show a placeholder.
    Unavailable,
    /// Still being fetched when the caller's deadline came; a later card will have it.
    Pending,
}

type Slot = Arc<OnceCell<Option<Arc<str>>>>;

pub struct Images {
    http: reqwest::Client,
    /// Replaces scheme, host and port of image URLs (tests point it at a mock).
    base: Option<Url>,
    clock: Clock,
    metrics: Metrics,
    cache: Mutex<Cache>,
}

/// Most images remembered, failed and pending ones included.
const MAX_ENTRIES: usize = 256;

#[derive(Default)]
struct Cache {
    entries: HashMap<String, Entry>,
    /// Oldest first.
    order: VecDeque<String>,
    bytes: usize,
}

struct Entry {
    slot: Slot,
    created: Instant,
    /// Bytes counted against [`CACHE_BYTES`]; 0 until the image is ready.
    size: usize,
}

impl Cache {
    /// Drops the oldest entries other than `keep` while over either bound.
    fn evict(&mut self, keep: &str) {
        let mut skipped = 0;
        while (self.bytes > CACHE_BYTES || self.order.len() > MAX_ENTRIES)
            && skipped < self.order.len()
        {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if oldest == keep {
                self.order.push_back(oldest);
                skipped += 1;
                continue;
            }
            if let Some(entry) = self.entries.remove(&oldest) {
                self.bytes -= entry.size;
            }
        }
    }
}

impl Images {
    pub fn new(base: Option<Url>, clock: Clock, metrics: Metrics) -> Self {
        let http = super::build(
            reqwest::Client::builder()
                .connect_timeout(IMAGE_TIMEOUT)
                .timeout(IMAGE_TIMEOUT),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Self {
            http,
            base,
            clock,
            metrics,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The image at `url`, waiting at most `wait`; the fetch goes on after the wait so that
    /// the next card has it.
    pub async fn get(&self, url: &str, wait: Duration) -> Art {
        if !is_spotify_image(url) {
            return Art::Unavailable;
        }
        let Some(target) = self.target(url) else {
            return Art::Unavailable;
        };
        let slot = self.slot(url);
        let http = self.http.clone();
        let metrics = self.metrics.clone();
        let fetch = tokio::spawn(async move {
            slot.get_or_init(|| fetch(http, target, metrics))
                .await
                .clone()
        });
        match tokio::time::timeout(wait, fetch).await {
            Ok(Ok(Some(data))) => {
                self.account(url, data.len());
                Art::Ready(data)
            }
            Ok(_) => Art::Unavailable,
            Err(_) => Art::Pending,
        }
    }

    fn target(&self, url: &str) -> Option<Url> {
        let original = Url::parse(url).ok()?;
        let Some(base) = &self.base else {
            return Some(original);
        };
        let mut target = base.clone();
        target.set_path(&format!(
            "{}{}",
            base.path().trim_end_matches('/'),
            original.path()
        ));
        target.set_query(original.query());
        Some(target)
    }

    /// The shared slot for `url`: one fetch for everyone asking; a failed one is retried
    /// after [`FAILURE_TTL`].
    fn slot(&self, url: &str) -> Slot {
        let now = self.clock.now();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = cache.entries.get(url) {
            let failed = matches!(entry.slot.get(), Some(None));
            if !(failed && now >= entry.created + FAILURE_TTL) {
                return Arc::clone(&entry.slot);
            }
        }
        let slot: Slot = Arc::new(OnceCell::new());
        let entry = Entry {
            slot: Arc::clone(&slot),
            created: now,
            size: 0,
        };
        if cache.entries.insert(url.to_owned(), entry).is_none() {
            cache.order.push_back(url.to_owned());
        }
        cache.evict(url);
        slot
    }

    /// Counts a ready image against [`CACHE_BYTES`] once, making room for it.
    fn account(&self, url: &str, size: usize) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = cache.entries.get_mut(url) else {
            return;
        };
        if entry.size == 0 {
            entry.size = size;
            cache.bytes += size;
            cache.evict(url);
        }
    }
}

async fn fetch(http: reqwest::Client, url: Url, metrics: Metrics) -> Option<Arc<str>> {
    let started = std::time::Instant::now();
    let result = download(&http, url).await;
    super::call::log_call(&metrics, "image", &result, started.elapsed());
    result.ok()
}

/// Image fetches have their own, shorter deadlines.
const DEADLINES: Deadlines = Deadlines {
    connect: IMAGE_TIMEOUT,
    call: IMAGE_TIMEOUT,
};

fn from_reqwest(e: reqwest::Error) -> SpotifyError {
    SpotifyError::from_reqwest_within(e, DEADLINES)
}

async fn download(http: &reqwest::Client, url: Url) -> Result<Arc<str>, SpotifyError> {
    let mut response = http.get(url).send().await.map_err(from_reqwest)?;
    if response.status().as_u16() != 200 {
        return Err(SpotifyError::Status(response.status().as_u16()));
    }
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    // Raster images only: an SVG could carry script.
    if !matches!(
        kind.as_str(),
        "image/jpeg" | "image/png" | "image/webp" | "image/gif"
    ) {
        return Err(SpotifyError::Malformed(format!(
            "not a raster image: {kind:?}"
        )));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_IMAGE_BYTES as u64)
    {
        return Err(SpotifyError::Malformed("image larger than 1 MiB".into()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(from_reqwest)? {
        if body.len() + chunk.len() > MAX_IMAGE_BYTES {
            return Err(SpotifyError::Malformed("image larger than 1 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
    Ok(Arc::from(format!("data:{kind};base64,{encoded}")))
}
