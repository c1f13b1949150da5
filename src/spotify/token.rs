//! The access-token cache: one refresh token in, a valid access token out. Tokens are
//! reused until 60 s before they expire, concurrent callers share one refresh, and dead
//! credentials are retried at most once a minute.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Months, Utc};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::{AuthFailure, SpotifyError};
use super::types::{AccountsError, TokenResponse};
use crate::clock::Clock;
use crate::config::SpotifyConfig;
use crate::metrics::Metrics;

/// An access token is refreshed this long before Spotify says it expires.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Dead credentials are tried again at most this often, in case the owner fixed them.
pub const DEAD_RETRY: Duration = Duration::from_secs(60);
/// Spotify refresh tokens expire this long after authorization; refreshing does not extend them.
pub const REFRESH_TOKEN_LIFETIME: Months = Months::new(6);

/// When a refresh token authorized at `obtained_at` stops working.
pub fn refresh_token_expires_at(obtained_at: DateTime<Utc>) -> DateTime<Utc> {
    obtained_at
        .checked_add_months(REFRESH_TOKEN_LIFETIME)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub struct TokenManager {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    clock: Clock,
    token_file: Option<PathBuf>,
    metrics: Metrics,
    /// Held across a refresh, so concurrent callers share it.
    state: Mutex<TokenState>,
    /// What `/readyz`, `check` and the expiry watcher read, never held across a call, so
    /// they never wait behind a refresh.
    status: std::sync::Mutex<Status>,
}

struct TokenState {
    refresh_token: SecretString,
    access: Option<Access>,
    dead: Option<Dead>,
    rate_limited_until: Option<Instant>,
}

#[derive(Default, Clone)]
struct Status {
    obtained_at: Option<DateTime<Utc>>,
    last_outcome: Option<TokenOutcome>,
    scope: Option<String>,
    /// Spotify handed out a new refresh token since start.
    rotated: bool,
}

struct Access {
    token: SecretString,
    refresh_at: Instant,
}

struct Dead {
    failure: AuthFailure,
    retry_at: Instant,
}

/// The result of the most recent refresh attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOutcome {
    Ok,
    Rejected(AuthFailure),
    /// Spotify failed, timed out or rate limited: the credentials may still be fine.
    Upstream,
}

/// Longest access-token life and longest `Retry-After` believed: bounds what Spotify can
/// make the service wait for (and keeps time arithmetic from overflowing).
pub const MAX_WAIT: Duration = Duration::from_secs(86_400);

/// When an access token that lives `expires_in` seconds from `now` should be refreshed.
fn refresh_time(now: Instant, expires_in: Option<u64>) -> Instant {
    let lifetime =
        Duration::from_secs(expires_in.unwrap_or(3600)).clamp(EXPIRY_MARGIN * 2, MAX_WAIT);
    now + lifetime - EXPIRY_MARGIN
}

impl TokenManager {
    pub fn new(
        http: reqwest::Client,
        config: &SpotifyConfig,
        clock: Clock,
        metrics: Metrics,
    ) -> Self {
        Self {
            http,
            metrics,
            token_url: endpoint(&config.accounts_url, "api/token"),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            clock,
            token_file: config.token_file.clone(),
            state: Mutex::new(TokenState {
                refresh_token: config.refresh_token.clone(),
                access: None,
                dead: None,
                rate_limited_until: None,
            }),
            status: std::sync::Mutex::new(Status {
                obtained_at: config.refresh_token_obtained_at,
                ..Status::default()
            }),
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A valid access token: the cached one, or a fresh one from the token endpoint. Callers
    /// that arrive during a refresh wait for it instead of starting their own.
    pub async fn access_token(&self) -> Result<SecretString, SpotifyError> {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        if let Some(access) = state.access.as_ref().filter(|a| now < a.refresh_at) {
            return Ok(access.token.clone());
        }
        if let Some(dead) = state.dead.as_ref().filter(|d| now < d.retry_at) {
            return Err(SpotifyError::Auth(dead.failure));
        }
        if let Some(until) = state.rate_limited_until.filter(|until| now < *until) {
            return Err(SpotifyError::RateLimited {
                retry_after: Some(until - now),
            });
        }
        if state.dead.is_some() {
            self.reload_token_file(&mut state).await;
        }

        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", state.refresh_token.expose_secret()),
        ];
        let result = post_token(
            &self.http,
            &self.token_url,
            &self.client_id,
            &self.client_secret,
            &form,
            &self.metrics,
        )
        .await
        .map_err(|(e, _)| e);
        let now = self.clock.now();
        match result {
            Ok(response) => {
                self.metrics.token_refreshed();
                if state.dead.take().is_some() {
                    tracing::info!("Spotify accepts the credentials again");
                }
                let token = response.access_token.clone();
                state.access = Some(Access {
                    token: response.access_token,
                    refresh_at: refresh_time(now, response.expires_in),
                });
                let rotated = response.refresh_token.is_some();
                if let Some(new_token) = response.refresh_token {
                    tracing::info!("Spotify issued a new refresh token; using it from now on");
                    state.refresh_token = new_token;
                }
                {
                    let mut status = self.status();
                    status.last_outcome = Some(TokenOutcome::Ok);
                    status.scope = response.scope;
                    status.rotated |= rotated;
                }
                if rotated {
                    // The new token keeps the authorization time: refreshing does not extend
                    // a refresh token's life.
                    self.persist(&state).await;
                }
                Ok(token)
            }
            Err(SpotifyError::Auth(failure)) => {
                if state.dead.is_none() {
                    tracing::error!(
                        reason = failure.code(),
                        "Spotify rejected the credentials; not asking again more than once a minute. Fix: {}",
                        failure.advice()
                    );
                }
                state.access = None;
                state.dead = Some(Dead {
                    failure,
                    retry_at: now + DEAD_RETRY,
                });
                self.status().last_outcome = Some(TokenOutcome::Rejected(failure));
                Err(SpotifyError::Auth(failure))
            }
            Err(e) => {
                if let SpotifyError::RateLimited { retry_after } = &e {
                    state.rate_limited_until =
                        Some(now + retry_after.unwrap_or(DEAD_RETRY).min(MAX_WAIT));
                }
                // Credentials known to be dead stay dead until Spotify says otherwise: the
                // retry a minute later failing for another reason proves nothing.
                if let Some(dead) = &mut state.dead {
                    dead.retry_at = now + DEAD_RETRY;
                    return Err(SpotifyError::Auth(dead.failure));
                }
                self.status().last_outcome = Some(TokenOutcome::Upstream);
                Err(e)
            }
        }
    }

    /// Forgets `used` after the API answered 401 to it, so the next call refreshes.
    pub async fn invalidate(&self, used: &SecretString) {
        let mut state = self.state.lock().await;
        if state
            .access
            .as_ref()
            .is_some_and(|a| a.token.expose_secret() == used.expose_secret())
        {
            state.access = None;
        }
    }

    /// Uses a new refresh token (from a fresh authorization) from now on, with the access
    /// token that came with it, and keeps it in `TOKEN_FILE` when one is set.
    pub async fn replace(
        &self,
        authorized: TokenResponse,
        obtained_at: DateTime<Utc>,
    ) -> Result<(), crate::storage::StorageError> {
        let mut state = self.state.lock().await;
        if let Some(refresh_token) = authorized.refresh_token {
            state.refresh_token = refresh_token;
        }
        state.access = Some(Access {
            token: authorized.access_token,
            refresh_at: refresh_time(self.clock.now(), authorized.expires_in),
        });
        state.dead = None;
        state.rate_limited_until = None;
        {
            let mut status = self.status();
            status.obtained_at = Some(obtained_at);
            status.last_outcome = Some(TokenOutcome::Ok);
            status.scope = authorized.scope;
        }
        tracing::info!("authorized again: using the new refresh token");
        match &self.token_file {
            Some(path) => self.write_token_file(path.clone(), &state).await,
            None => Ok(()),
        }
    }

    /// Writes the current refresh token to `TOKEN_FILE`, logging a failure loudly: the
    /// token in memory still works, but a restart would use the old one.
    async fn persist(&self, state: &TokenState) {
        match &self.token_file {
            Some(path) => {
                if let Err(e) = self.write_token_file(path.clone(), state).await {
                    tracing::error!(
                        "could not save the new refresh token: {e}; after a restart the old token will be used and may be refused"
                    );
                }
            }
            None => tracing::warn!(
                "the new refresh token lives in memory only: set TOKEN_FILE so it survives a restart"
            ),
        }
    }

    async fn write_token_file(
        &self,
        path: PathBuf,
        state: &TokenState,
    ) -> Result<(), crate::storage::StorageError> {
        let token = state.refresh_token.clone();
        let obtained_at = self.status().obtained_at;
        let written = tokio::task::spawn_blocking({
            let path = path.clone();
            move || crate::storage::write_token_file(&path, &token, obtained_at)
        })
        .await;
        written.unwrap_or_else(|e| {
            Err(crate::storage::StorageError::Write {
                path,
                source: std::io::Error::other(e.to_string()),
            })
        })
    }

    /// After the credentials were refused, picks up a token the owner put into `TOKEN_FILE`.
    async fn reload_token_file(&self, state: &mut TokenState) {
        let Some(path) = self.token_file.clone() else {
            return;
        };
        let read =
            tokio::task::spawn_blocking(move || crate::storage::read_token_file(&path)).await;
        if let Ok(Ok(Some(stored))) = read
            && stored.refresh_token.expose_secret() != state.refresh_token.expose_secret()
        {
            tracing::info!("TOKEN_FILE holds a different refresh token; trying it");
            state.refresh_token = stored.refresh_token;
            self.status().obtained_at = stored.obtained_at;
        }
    }

    /// When the refresh token expires, if the time it was authorized is known.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.status().obtained_at.map(refresh_token_expires_at)
    }

    pub fn last_outcome(&self) -> Option<TokenOutcome> {
        self.status().last_outcome
    }

    /// The scopes Spotify listed with the last access token.
    pub fn scope(&self) -> Option<String> {
        self.status().scope.clone()
    }

    /// The current refresh token, if Spotify replaced the configured one since start: for
    /// `check`, which must show it when there is no `TOKEN_FILE` to keep it.
    pub async fn rotated_refresh_token(&self) -> Option<SecretString> {
        let rotated = self.status().rotated;
        let state = self.state.lock().await;
        rotated.then(|| state.refresh_token.clone())
    }
}

/// `base` joined with `path`, keeping any path prefix of `base`.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{}", base.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url
}

/// One POST to the token endpoint with HTTP Basic client authentication and a form body;
/// Spotify's `error_description` comes beside the error, for messages that tell a person what
/// to fix.
pub(crate) async fn post_token(
    http: &reqwest::Client,
    token_url: &Url,
    client_id: &str,
    client_secret: &SecretString,
    form: &[(&str, &str)],
    metrics: &Metrics,
) -> Result<TokenResponse, (SpotifyError, Option<String>)> {
    let started = std::time::Instant::now();
    let result = async {
        let response = http
            .post(token_url.clone())
            .basic_auth(client_id, Some(client_secret.expose_secret()))
            .form(form)
            .send()
            .await
            .map_err(|e| (SpotifyError::from_reqwest(e), None))?;
        let status = response.status();
        let retry_after = super::client::retry_after(&response);
        let body = response
            .bytes()
            .await
            .map_err(|e| (SpotifyError::from_reqwest(e), None))?;
        if status.is_success() {
            return serde_json::from_slice::<TokenResponse>(&body)
                .map_err(|e| (SpotifyError::malformed(&e), None));
        }
        if status.as_u16() == 429 {
            return Err((SpotifyError::RateLimited { retry_after }, None));
        }
        let (code, description) = match serde_json::from_slice::<AccountsError>(&body) {
            Ok(e) => (Some(e.error), e.error_description),
            Err(_) => (None, None),
        };
        let error = match code.as_deref() {
            Some("invalid_grant") => SpotifyError::Auth(AuthFailure::InvalidGrant),
            Some("invalid_client") => SpotifyError::Auth(AuthFailure::InvalidClient),
            _ => SpotifyError::Status(status.as_u16()),
        };
        Err((error, description))
    }
    .await;
    let logged = result.as_ref().map(|_| ()).map_err(|(e, _)| e);
    super::client::log_call_ref(metrics, "token", logged, started.elapsed());
    result
}
