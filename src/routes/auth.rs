//! Owner-only re-authorization in a running server: `/auth/login` (HTTP Basic with
//! `ADMIN_TOKEN`) sends the owner to Spotify, `/auth/callback` swaps in the new refresh token
//! and keeps it in `TOKEN_FILE`. Both are 404 without `ADMIN_TOKEN`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::error_response;
use crate::clock::Clock;
use crate::config::{AdminConfig, ClientConfig, SpotifyConfig};
use crate::spotify::authorize::{self, DEFAULT_SCOPES};
use crate::spotify::token::{endpoint, refresh_token_expires_at};
use crate::startup::AppState;

/// How long a `state` handed out by `/auth/login` stays valid.
pub const STATE_LIFETIME: Duration = Duration::from_secs(600);
/// Wrong passwords allowed per client and minute before it has to wait.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Bounds on remembered states and clients, so no one can grow them without limit.
const MAX_PENDING: usize = 64;
const MAX_CLIENTS: usize = 10_000;

pub struct Admin {
    password_digest: [u8; 32],
    redirect_uri: Url,
    client: ClientConfig,
    http: reqwest::Client,
    clock: Clock,
    pending: Mutex<HashMap<String, Instant>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Admin {
    pub fn new(
        admin: &AdminConfig,
        public_url: &Url,
        spotify: &SpotifyConfig,
        clock: Clock,
    ) -> Self {
        Self {
            password_digest: Sha256::digest(admin.token.expose_secret().as_bytes()).into(),
            redirect_uri: endpoint(public_url, "auth/callback"),
            client: ClientConfig {
                client_id: spotify.client_id.clone(),
                client_secret: spotify.client_secret.clone(),
                accounts_url: spotify.accounts_url.clone(),
            },
            http: crate::spotify::http_client(),
            clock,
            pending: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The redirect URI to register in the Spotify dashboard for `/auth/login`.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Compares digests in constant time, so neither the password nor its length leaks.
    fn password_ok(&self, headers: &HeaderMap) -> bool {
        let password = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
            })
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                pair.split_once(':')
                    .map(|(_, p)| SecretString::from(p.to_owned()))
            });
        let Some(password) = password else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(password.expose_secret().as_bytes()).into();
        digest.ct_eq(&self.password_digest).into()
    }

    /// Seconds this client must wait after too many wrong passwords, if any.
    fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        let now = self.clock.now();
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = failures.get(&ip)?;
        let ends = *since + FAILURE_WINDOW;
        (*count >= MAX_FAILURES && now < ends).then(|| ends.duration_since(now).as_secs().max(1))
    }

    fn record_failure(&self, ip: IpAddr) {
        let now = self.clock.now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_CLIENTS {
            failures.retain(|_, (_, since)| now < *since + FAILURE_WINDOW);
        }
        let entry = failures.entry(ip).or_insert((0, now));
        if now >= entry.1 + FAILURE_WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    fn issue_state(&self) -> String {
        let state = authorize::random_state();
        let now = self.clock.now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, expires| now < *expires);
        if pending.len() >= MAX_PENDING {
            // Forget the oldest: only the newest logins can still be completed.
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, e)| **e)
                .map(|(s, _)| s.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(state.clone(), now + STATE_LIFETIME);
        state
    }

    /// True once for a state this server issued less than 10 minutes ago.
    fn take_state(&self, state: &str) -> bool {
        let now = self.clock.now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.remove(state).is_some_and(|expires| now < expires)
    }
}

/// Asks for the admin password, then sends the owner to Spotify's consent page.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let Some(admin) = &state.admin else {
        return not_found();
    };
    if let Some(wait) = admin.locked_out(peer.ip()) {
        let mut response = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many wrong passwords; wait a minute",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    if !admin.password_ok(&headers) {
        if headers.contains_key(header::AUTHORIZATION) {
            admin.record_failure(peer.ip());
            tracing::warn!(client = %peer.ip(), "wrong password on /auth/login");
        }
        return (
            StatusCode::UNAUTHORIZED,
            [
                (
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"now-playing owner\", charset=\"UTF-8\"",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            "the password is ADMIN_TOKEN",
        )
            .into_response();
    }
    let url = authorize::authorize_url(
        &admin.client.accounts_url,
        &admin.client.client_id,
        &admin.redirect_uri,
        DEFAULT_SCOPES,
        &admin.issue_state(),
    );
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "could not build the authorize URL",
        ),
    }
}

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Spotify's redirect: a known, unused `state` and a code become the new refresh token.
pub async fn callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let (Some(admin), Some(spotify)) = (&state.admin, state.service.spotify()) else {
        return not_found();
    };
    if !query.state.as_deref().is_some_and(|s| admin.take_state(s)) {
        return page(
            StatusCode::BAD_REQUEST,
            "Link expired",
            "This authorization link is unknown, already used or older than 10 minutes. Start again at /auth/login.",
        );
    }
    if let Some(error) = query.error {
        tracing::warn!(error, "re-authorization declined on Spotify's page");
        return page(
            StatusCode::BAD_REQUEST,
            "Not authorized",
            &format!(
                "Spotify answered `{error}`; nothing was changed. Start again at /auth/login."
            ),
        );
    }
    let Some(code) = query.code else {
        return page(
            StatusCode::BAD_REQUEST,
            "No code",
            "Spotify's answer carried no code; nothing was changed.",
        );
    };
    let tokens = match authorize::exchange_code(
        &admin.http,
        &admin.client,
        &code,
        &admin.redirect_uri,
        &state.metrics,
    )
    .await
    {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::error!("re-authorization failed: {e}");
            return page(
                StatusCode::BAD_GATEWAY,
                "Failed",
                &format!("Nothing was changed: {e}"),
            );
        }
    };
    let obtained_at = admin.clock.utc();
    match spotify.tokens().replace(tokens, obtained_at).await {
        Ok(()) => page(
            StatusCode::OK,
            "Done",
            &format!(
                "now-playing uses the new Spotify authorization from now on. It expires on {}; come back here before then.",
                refresh_token_expires_at(obtained_at).format("%Y-%m-%d")
            ),
        ),
        Err(e) => {
            tracing::error!("the new refresh token is in use but could not be saved: {e}");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Authorized, not saved",
                &format!(
                    "The new authorization is in use, but could not be saved ({e}); after a restart the old token would be used. Fix TOKEN_FILE and authorize again."
                ),
            )
        }
    }
}

fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such page")
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>now-playing: {t}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body class=\"np-admin\"><h1>{t}</h1><p>{m}</p></body></html>",
        t = escape(title),
        m = escape(message),
        css = super::assets::href("widget.css"),
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        ],
        Html(body),
    )
        .into_response()
}
