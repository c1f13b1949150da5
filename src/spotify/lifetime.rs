//! How long Spotify's tokens live, and when to act before they die.

use std::time::Duration;

use chrono::{DateTime, Months, Utc};
use tokio::time::Instant;

/// An access token is refreshed this long before Spotify says it expires.
pub(crate) const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Longest access-token life and longest `Retry-After` believed: bounds what Spotify can
/// make the service wait for (and keeps time arithmetic from overflowing).
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(86_400);
/// Spotify refresh tokens expire this long after authorization; refreshing does not extend them.
pub(crate) const REFRESH_TOKEN_LIFETIME: Months = Months::new(6);
/// How long before the refresh token expires the owner is warned, daily.
pub(crate) const EXPIRY_WARNING: chrono::Duration = chrono::Duration::days(14);

/// When a refresh token authorized at `obtained_at` stops working.
pub(crate) fn refresh_token_expires_at(obtained_at: DateTime<Utc>) -> DateTime<Utc> {
    obtained_at
        .checked_add_months(REFRESH_TOKEN_LIFETIME)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When an access token that lives `expires_in` seconds from `now` should be refreshed.
pub(crate) fn refresh_time(now: Instant, expires_in: Option<u64>) -> Instant {
    let lifetime =
        Duration::from_secs(expires_in.unwrap_or(3600)).clamp(EXPIRY_MARGIN * 2, MAX_WAIT);
    now + lifetime - EXPIRY_MARGIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_lives_six_calendar_months() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            refresh_token_expires_at(at("2026-06-02T10:00:00Z")),
            at("2026-12-02T10:00:00Z")
        );
        // Month ends clamp to the last day of the shorter month.
        assert_eq!(
            refresh_token_expires_at(at("2026-08-31T00:00:00Z")),
            at("2027-02-28T00:00:00Z")
        );
        assert_eq!(
            refresh_token_expires_at(DateTime::<Utc>::MAX_UTC),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn access_tokens_are_refreshed_a_minute_early_within_bounds() {
        let now = Instant::now();
        assert_eq!(
            refresh_time(now, Some(3600)),
            now + Duration::from_secs(3540)
        );
        assert_eq!(refresh_time(now, None), now + Duration::from_secs(3540));
        // A token said to live 5 s is still used for a minute; a year is capped at a day.
        assert_eq!(refresh_time(now, Some(5)), now + Duration::from_secs(60));
        assert_eq!(
            refresh_time(now, Some(u64::MAX)),
            now + MAX_WAIT - EXPIRY_MARGIN
        );
    }
}
