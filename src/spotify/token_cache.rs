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
use super::token_store::{FileState, TokenStore};
use super::types::TokenResponse;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::storage::StoredToken;

/// Dead credentials are tried again at most this often, in case the owner fixed them.
pub(crate) const DEAD_RETRY: std::time::Duration = std::time::Duration::from_secs(60);
/// How often `TOKEN_FILE` is looked at between uses: to write a token that could not be
/// saved, or to adopt one the owner put there.
pub(crate) const TOKEN_FILE_CHECK: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) struct TokenManager {
    accounts: Accounts,
    clock: Clock,
    metrics: Metrics,
    /// Held across a refresh, so concurrent callers share it.
    state: Mutex<TokenState>,
    /// What `/readyz`, `check` and the expiry watcher read, never held across a call, so
    /// they never wait behind a refresh.
    status: std::sync::Mutex<Status>,
}

struct TokenState {
    refresh_token: SecretString,
    /// `TOKEN_FILE`, behind the same lock as the token it keeps.
    store: TokenStore,
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
    token_file: Option<FileState>,
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
pub(crate) enum TokenOutcome {
    Ok,
    Rejected(AuthFailure),
    /// Spotify failed, timed out or rate limited: the credentials may still be fine.
    Upstream,
}

impl TokenManager {
    pub(crate) fn new(
        http: reqwest::Client,
        config: &SpotifyConfig,
        clock: Clock,
        metrics: Metrics,
    ) -> Self {
        Self {
            accounts: Accounts::new(http, &config.client(), metrics.clone()),
            metrics,
            clock,
            state: Mutex::new(TokenState {
                refresh_token: config.refresh_token.clone(),
                store: TokenStore::open(config.token_file.clone()),
                access: None,
                dead: None,
                rate_limited_until: None,
            }),
            status: std::sync::Mutex::new(Status {
                obtained_at: config.refresh_token_obtained_at,
                token_file: config.token_file.as_ref().map(|_| FileState::Saved),
                ..Status::default()
            }),
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A valid access token: the cached one, or a fresh one from the token endpoint. Callers
    /// that arrive during a refresh wait for it instead of starting their own.
    pub(crate) async fn access_token(&self) -> Result<SecretString, SpotifyError> {
        let mut state = self.state.lock().await;
        if state.store.is_unsaved() {
            // Every use tries again to save a token that could not be written.
            self.sync_file(&mut state).await;
        }
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
        // The owner may have put a new token into TOKEN_FILE (after `invalid_grant`, or
        // ahead of the old one's expiry): refresh with that one.
        let theirs = state.store.changed().await;
        self.adopt(&mut state, theirs);

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
                    // Unsaved until written, even if this call is dropped during the write.
                    state.store.mark_unsaved();
                    self.adopt(&mut state, None);
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
                    let token = state.refresh_token.clone();
                    let theirs = state.store.keep_rotated(&token, obtained_at).await;
                    self.adopt(&mut state, theirs);
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
    pub(crate) async fn invalidate(&self, used: &SecretString) {
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
    pub(crate) async fn replace(
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
        // Unsaved until written, even if the request goes away during the write.
        state.store.mark_unsaved();
        self.adopt(&mut state, None);
        let token = state.refresh_token.clone();
        let saved = state.store.save_authorized(&token, obtained_at).await;
        self.adopt(&mut state, None);
        saved
    }

    /// Looks at `TOKEN_FILE` every [`TOKEN_FILE_CHECK`], for as long as the server runs:
    /// writes a token that could not be saved, or adopts one the owner put there. Returns
    /// at once without a token file.
    pub(crate) async fn keep_token_file(&self) {
        if self.token_file().is_none() {
            return;
        }
        loop {
            self.clock.sleep(TOKEN_FILE_CHECK).await;
            let mut state = self.state.lock().await;
            self.sync_file(&mut state).await;
        }
    }

    async fn sync_file(&self, state: &mut TokenState) {
        let token = state.refresh_token.clone();
        let obtained_at = self.status().obtained_at;
        let theirs = state.store.sync(&token, obtained_at).await;
        self.adopt(state, theirs);
    }

    /// Uses the token the owner put into `TOKEN_FILE`, if any, with its authorization time,
    /// and shows the file's state to `/readyz`.
    fn adopt(&self, state: &mut TokenState, theirs: Option<StoredToken>) {
        let file = state.store.state();
        let mut status = self.status();
        if let Some(stored) = theirs {
            state.refresh_token = stored.refresh_token;
            status.obtained_at = stored.obtained_at;
        }
        status.token_file = file;
    }

    /// `Unsaved` while the refresh token in use waits to be written to `TOKEN_FILE`; `None`
    /// without one.
    pub(crate) fn token_file(&self) -> Option<FileState> {
        self.status().token_file
    }

    /// When the refresh token expires, if the time it was authorized is known.
    pub(crate) fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.status().obtained_at.map(refresh_token_expires_at)
    }

    pub(crate) fn last_outcome(&self) -> Option<TokenOutcome> {
        self.status().last_outcome
    }

    /// The scopes Spotify listed with the last access token.
    pub(crate) fn scope(&self) -> Option<String> {
        self.status().scope.clone()
    }

    /// The current refresh token, if Spotify replaced the configured one since start: for
    /// `check`, which must show it when there is no `TOKEN_FILE` to keep it.
    pub(crate) async fn rotated_refresh_token(&self) -> Option<SecretString> {
        let rotated = self.status().rotated;
        let state = self.state.lock().await;
        rotated.then(|| state.refresh_token.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::{Context, Waker};

    use super::*;

    fn manager(token_file: std::path::PathBuf) -> TokenManager {
        let unreachable = url::Url::parse("http://127.0.0.1:9/").unwrap();
        let config = SpotifyConfig {
            client_id: "id".into(),
            client_secret: "secret".to_owned().into(),
            refresh_token: "configured".to_owned().into(),
            refresh_token_obtained_at: None,
            accounts_url: unreachable.clone(),
            api_url: unreachable,
            token_file: Some(token_file),
            images_url: None,
        };
        let clock = Clock::manual("2026-11-01T00:00:00Z".parse().unwrap());
        TokenManager::new(reqwest::Client::new(), &config, clock, Metrics::new())
    }

    #[test]
    fn an_authorization_whose_request_goes_away_during_the_write_stays_unsaved_until_written() {
        // One blocking thread, kept busy: the write queues behind it, so the request's
        // future is surely still waiting for the write when it is dropped.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("np-token-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token.json");
        let tokens = manager(file.clone());
        let (release, busy) = std::sync::mpsc::channel::<()>();
        let blocker = runtime.spawn_blocking(move || busy.recv());

        runtime.block_on(async {
            let authorized = TokenResponse {
                access_token: "access".to_owned().into(),
                expires_in: Some(3600),
                refresh_token: Some("authorized".to_owned().into()),
                scope: None,
            };
            let obtained_at = "2026-11-01T00:00:00Z".parse().unwrap();
            let mut request = Box::pin(tokens.replace(authorized, obtained_at));
            let polled = request
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()));
            assert!(polled.is_pending(), "the write waits for the busy thread");
            drop(request);
            assert_eq!(tokens.token_file(), Some(FileState::Unsaved));

            release.send(()).unwrap();
            blocker.await.unwrap().unwrap();
            // The next use writes it (and answers from the access token that came with it).
            let access = tokens.access_token().await.unwrap();
            assert_eq!(access.expose_secret(), "access");
            assert_eq!(tokens.token_file(), Some(FileState::Saved));
        });
        let stored = crate::storage::read_token_file(&file).unwrap().unwrap();
        assert_eq!(stored.refresh_token.expose_secret(), "authorized");
    }
}
