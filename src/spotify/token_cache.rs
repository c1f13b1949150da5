//! The access-token cache: one refresh token in, a valid access token out. Tokens are
//! reused until 60 s before they expire, concurrent callers share one refresh, and dead
//! credentials are retried at most once a minute.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::accounts::Accounts;
use super::error::{AuthFailure, SpotifyError};
use super::lifetime::{MAX_WAIT, refresh_time, refresh_token_expires_at};
use super::settings::SpotifyConfig;
use super::token_store::TokenStore;
use super::types::TokenResponse;
use crate::clock::Clock;
use crate::metrics::Metrics;

/// Dead credentials are tried again at most this often, in case the owner fixed them.
pub const DEAD_RETRY: std::time::Duration = std::time::Duration::from_secs(60);

pub struct TokenManager {
    accounts: Accounts,
    clock: Clock,
    store: TokenStore,
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

impl TokenManager {
    pub fn new(
        http: reqwest::Client,
        config: &SpotifyConfig,
        clock: Clock,
        metrics: Metrics,
    ) -> Self {
        Self {
            accounts: Accounts::new(http, &config.client(), metrics.clone()),
            metrics,
            clock,
            store: TokenStore::new(config.token_file.clone()),
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

        let result = self.accounts.refresh(&state.refresh_token).await;
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
                    let obtained_at = self.status().obtained_at;
                    self.store
                        .keep_rotated(state.refresh_token.clone(), obtained_at)
                        .await;
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
        self.store
            .save(state.refresh_token.clone(), Some(obtained_at))
            .await
    }

    /// After the credentials were refused, picks up a token the owner put into `TOKEN_FILE`.
    async fn reload_token_file(&self, state: &mut TokenState) {
        if let Some(stored) = self.store.replacement_for(&state.refresh_token).await {
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
