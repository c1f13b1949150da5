//! Calls to the Spotify Web API on behalf of the owner: what plays now, what played last.

use std::sync::Arc;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::call::{PAGE, log_call, retry_after};
use super::error::SpotifyError;
use super::settings::{SpotifyConfig, endpoint};
use super::token_cache::TokenManager;
use super::types::{CurrentlyPlaying, PlayHistory, RecentlyPlayed};
use crate::clock::Clock;
use crate::metrics::Metrics;

#[derive(Clone)]
pub(crate) struct SpotifyClient {
    http: reqwest::Client,
    currently_playing_url: Url,
    recently_played_url: Url,
    /// Base of the list calls in [`super::lists`].
    pub(super) api_url: Url,
    tokens: Arc<TokenManager>,
    metrics: Metrics,
    clock: Clock,
    /// After a 429 from the API: Spotify's limit is per app, so no API call at all before this.
    not_before: Arc<std::sync::Mutex<Option<Instant>>>,
    /// Why the last `currently-playing` round failed, for `/readyz`; `None` after a success.
    last_failure: Arc<std::sync::Mutex<Option<String>>>,
}

impl SpotifyClient {
    pub(crate) fn new(config: &SpotifyConfig, clock: Clock, metrics: Metrics) -> Self {
        let http = super::http_client();
        let mut currently_playing_url = endpoint(&config.api_url, "v1/me/player/currently-playing");
        currently_playing_url
            .query_pairs_mut()
            .append_pair("additional_types", "track,episode");
        let mut recently_played_url = endpoint(&config.api_url, "v1/me/player/recently-played");
        recently_played_url
            .query_pairs_mut()
            .append_pair("limit", &PAGE.to_string());
        Self {
            tokens: Arc::new(TokenManager::new(
                http.clone(),
                config,
                clock.clone(),
                metrics.clone(),
            )),
            metrics,
            clock,
            not_before: Arc::default(),
            last_failure: Arc::default(),
            http,
            currently_playing_url,
            recently_played_url,
            api_url: config.api_url.clone(),
        }
    }

    pub(crate) fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// What plays now; `Ok(None)` when nothing does (HTTP 204 or an empty body).
    pub(crate) async fn currently_playing(&self) -> Result<Option<CurrentlyPlaying>, SpotifyError> {
        let result = self
            .get("currently_playing", &self.currently_playing_url)
            .await;
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) =
            result.as_ref().err().map(ToString::to_string);
        result
    }

    /// Why the last `currently-playing` round failed (the token refresh included), such as
    /// `cannot reach api.spotify.com: connection refused`; `None` once one succeeded. Names
    /// hosts, never secrets.
    pub(crate) fn last_failure(&self) -> Option<String> {
        self.last_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last 50 played tracks, newest first; one call serves both the `recent` state and
    /// the recently played list. Needs the `user-read-recently-played` scope
    /// ([`SpotifyError::Forbidden`] without it).
    pub(crate) async fn recently_played(&self) -> Result<Vec<PlayHistory>, SpotifyError> {
        let page: Option<RecentlyPlayed> = self
            .get("recently_played", &self.recently_played_url)
            .await?;
        Ok(page.map(|p| p.items).unwrap_or_default())
    }

    /// A GET with the access token; on 401 the token is refreshed once and the call retried once.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        name: &'static str,
        url: &Url,
    ) -> Result<Option<T>, SpotifyError> {
        let now = self.clock.now();
        let blocked = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = blocked.filter(|until| now < *until) {
            return Err(SpotifyError::RateLimited {
                retry_after: Some(until - now),
            });
        }
        let token = self.tokens.access_token().await?;
        let result = match self.get_once(name, url, &token).await {
            Err(SpotifyError::Status(401)) => {
                self.tokens.invalidate(&token).await;
                let token = self.tokens.access_token().await?;
                self.get_once(name, url, &token).await
            }
            other => other,
        };
        if let Err(SpotifyError::RateLimited {
            retry_after: Some(wait),
        }) = &result
        {
            *self.not_before.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(self.clock.now() + *wait);
        }
        result
    }

    async fn get_once<T: DeserializeOwned>(
        &self,
        name: &'static str,
        url: &Url,
        token: &SecretString,
    ) -> Result<Option<T>, SpotifyError> {
        let started = std::time::Instant::now();
        let result = async {
            let response = self
                .http
                .get(url.clone())
                .bearer_auth(token.expose_secret())
                .send()
                .await
                .map_err(SpotifyError::from_reqwest)?;
            let status = response.status().as_u16();
            let retry_after = retry_after(&response);
            match status {
                200 => {
                    let body = response.bytes().await.map_err(SpotifyError::from_reqwest)?;
                    if body.iter().all(u8::is_ascii_whitespace) {
                        return Ok(None);
                    }
                    super::types::from_json(&body)
                        .map(Some)
                        .map_err(|e| SpotifyError::malformed(&e))
                }
                204 => Ok(None),
                403 => Err(SpotifyError::Forbidden),
                429 => Err(SpotifyError::RateLimited { retry_after }),
                other => Err(SpotifyError::Status(other)),
            }
        }
        .await;
        log_call(&self.metrics, name, &result, started.elapsed());
        result
    }
}
