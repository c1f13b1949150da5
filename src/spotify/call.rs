//! What every call to Spotify shares: the page size of the list calls, reading
//! `Retry-After`, and the log line and metric of each call.

use std::time::Duration;

use super::error::SpotifyError;
use crate::metrics::Metrics;

/// The `limit` of every list call: the most one page holds, so one call serves every
/// `limit` a viewer asks for.
pub(crate) const PAGE: u8 = 50;

/// The `Retry-After` header in seconds, when present and readable.
pub(crate) fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    parse_retry_after(value.to_str().ok()?)
}

/// A `Retry-After` value of whole seconds, capped at [`super::lifetime::MAX_WAIT`]; `None` for
/// anything else (an HTTP date included).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|secs| Duration::from_secs(secs).min(super::lifetime::MAX_WAIT))
}

/// One log line per Spotify call, with its outcome and duration.
pub(crate) fn log_call<T>(
    metrics: &Metrics,
    endpoint: &'static str,
    result: &Result<T, SpotifyError>,
    elapsed: Duration,
) {
    log_call_ref(metrics, endpoint, result.as_ref().map(|_| ()), elapsed);
}

pub(crate) fn log_call_ref(
    metrics: &Metrics,
    endpoint: &'static str,
    result: Result<(), &SpotifyError>,
    elapsed: Duration,
) {
    metrics.spotify_call(
        endpoint,
        result.err().map_or("ok", SpotifyError::outcome),
        elapsed,
    );
    let elapsed_ms = elapsed.as_millis() as u64;
    match result {
        Ok(()) => tracing::info!(endpoint, outcome = "ok", elapsed_ms, "spotify call"),
        Err(e) => {
            let unreachable = e.unreachable();
            tracing::warn!(
                endpoint,
                outcome = e.outcome(),
                elapsed_ms,
                host = unreachable.map(|u| u.host.as_str()),
                cause = unreachable.map(|u| u.cause.label()),
                error = %e,
                "spotify call failed"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spotify::lifetime::MAX_WAIT;

    #[test]
    fn retry_after_reads_whole_seconds() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_is_capped_at_the_longest_wait() {
        let max = MAX_WAIT.as_secs();
        assert_eq!(
            parse_retry_after(&(max - 1).to_string()),
            Some(MAX_WAIT - Duration::from_secs(1))
        );
        assert_eq!(parse_retry_after(&(max + 1).to_string()), Some(MAX_WAIT));
        assert_eq!(parse_retry_after("9999999999"), Some(MAX_WAIT));
    }

    #[test]
    fn retry_after_that_is_not_whole_seconds_is_ignored() {
        for value in [
            "",
            " ",
            "-1",
            "1.5",
            "soon",
            "12s",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(value), None, "{value:?}");
        }
    }
}
