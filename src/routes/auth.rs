//! Owner-only re-authorization in a running server: `/auth/login` (HTTP Basic with
//! `ADMIN_TOKEN`) sends the owner to Spotify, `/auth/callback` swaps in the new refresh token
//! and keeps it in `TOKEN_FILE`. Both are 404 without `ADMIN_TOKEN`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::{ClientOf, error_response};
use crate::clock::Clock;
use crate::config::{AdminConfig, ClientConfig, SpotifyConfig};
use crate::forwarded::{Client, looks_like_a_proxy};
use crate::render::html::message_page;
use crate::spotify::authorize::{self, DEFAULT_SCOPES};
use crate::spotify::token::{endpoint, refresh_token_expires_at};
use crate::startup::AppState;

/// The cookie that ties a `state` to the browser that asked for it.
const COOKIE: &str = "np_auth";

/// Failures are counted per IPv4 address and per IPv6 /64 (one host's usual allocation);
/// an IPv4-mapped IPv6 address is its IPv4 address.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

/// The value of cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

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
    /// Issued states: when each expires, and the digest of the browser nonce it belongs to.
    pending: Mutex<HashMap<String, (Instant, [u8; 32])>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    secure_cookie: bool,
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
            client: spotify.client(),
            http: crate::spotify::http_client(),
            clock,
            pending: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            secure_cookie: public_url.scheme() == "https",
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
        let (count, since) = failures.get(&client_key(ip))?;
        let ends = *since + FAILURE_WINDOW;
        (*count >= MAX_FAILURES && now < ends).then(|| ends.duration_since(now).as_secs().max(1))
    }

    /// Counts a wrong password; true when this one locks the client out.
    fn record_failure(&self, ip: IpAddr) -> bool {
        let now = self.clock.now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_CLIENTS {
            failures.retain(|_, (_, since)| now < *since + FAILURE_WINDOW);
            // Still full: the oldest record goes, so the map never grows past its bound.
            if failures.len() >= MAX_CLIENTS
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (_, since))| *since)
                    .map(|(ip, _)| *ip)
            {
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(client_key(ip)).or_insert((0, now));
        if now >= entry.1 + FAILURE_WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.0 == MAX_FAILURES
    }

    /// A new `state` for Spotify and the nonce for the owner's browser (a cookie): the
    /// callback needs both, so a leaked authorize URL is useless in another browser.
    fn issue_state(&self) -> (String, String) {
        let state = authorize::random_state();
        let nonce = authorize::random_state();
        let now = self.clock.now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, (expires, _)| now < *expires);
        if pending.len() >= MAX_PENDING {
            // Forget the oldest: only the newest logins can still be completed.
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, (e, _))| *e)
                .map(|(s, _)| s.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(
            state.clone(),
            (
                now + STATE_LIFETIME,
                Sha256::digest(nonce.as_bytes()).into(),
            ),
        );
        (state, nonce)
    }

    /// True once for a state this server issued less than 10 minutes ago to the browser
    /// that presents `nonce`.
    fn take_state(&self, state: &str, nonce: Option<&str>) -> bool {
        let now = self.clock.now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some((expires, digest)) = pending.remove(state) else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(nonce.unwrap_or_default().as_bytes()).into();
        now < expires && bool::from(presented.ct_eq(&digest))
    }

    /// The cookie is `Secure` when `PUBLIC_URL` is https or a trusted proxy says the client
    /// came in over https.
    fn nonce_cookie(&self, nonce: &str, max_age: u64, client: Client) -> HeaderValue {
        let secure = if self.secure_cookie || client.https == Some(true) {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!("{COOKIE}={nonce}; Path=/auth/callback; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"))
            .expect("hex and fixed text are a valid header value")
    }
}

/// Asks for the admin password, then sends the owner to Spotify's consent page.
pub async fn login(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    headers: HeaderMap,
) -> Response {
    let Some(admin) = &state.admin else {
        return not_found();
    };
    if let Some(wait) = admin.locked_out(client.ip) {
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
            tracing::warn!(client = %client.ip, "wrong password on /auth/login");
            let locked = admin.record_failure(client.ip);
            if locked && state.config.trusted_proxies.is_empty() && looks_like_a_proxy(client.ip) {
                tracing::warn!(
                    client = %client.ip,
                    "/auth/login locked for {}, a loopback or private address: if a reverse proxy is in front, every client shares its address and its lockout; set TRUSTED_PROXIES to the proxy's address so that each client is counted by its own",
                    client.ip
                );
            }
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
    let (state_param, nonce) = admin.issue_state();
    let url = authorize::authorize_url(
        &admin.client.accounts_url,
        &admin.client.client_id,
        &admin.redirect_uri,
        DEFAULT_SCOPES,
        &state_param,
    );
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::SET_COOKIE,
                    admin.nonce_cookie(&nonce, STATE_LIFETIME.as_secs(), client),
                ),
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

/// Spotify's redirect: a known, unused `state` and a code become the new refresh token.
pub async fn callback(
    State(state): State<AppState>,
    Query(query): Query<authorize::CallbackQuery>,
    ClientOf(client): ClientOf,
    headers: HeaderMap,
) -> Response {
    let (Some(admin), Some(spotify)) = (&state.admin, state.service.spotify()) else {
        return not_found();
    };
    let nonce = cookie(&headers, COOKIE);
    if !query
        .state
        .as_deref()
        .is_some_and(|s| admin.take_state(s, nonce))
    {
        return message_page(
            StatusCode::BAD_REQUEST,
            "Link expired",
            "This authorization link is unknown, already used, older than 10 minutes, or was opened in another browser than the one that started at /auth/login. Start again there.",
        );
    }
    let mut response = finish(&state, admin, spotify, query).await;
    response
        .headers_mut()
        .insert(header::SET_COOKIE, admin.nonce_cookie("", 0, client));
    response
}

async fn finish(
    state: &AppState,
    admin: &Admin,
    spotify: &crate::spotify::SpotifyClient,
    query: authorize::CallbackQuery,
) -> Response {
    if let Some(error) = query.error {
        tracing::warn!(error, "re-authorization declined on Spotify's page");
        return message_page(
            StatusCode::BAD_REQUEST,
            "Not authorized",
            &format!(
                "Spotify answered `{error}`; nothing was changed. Start again at /auth/login."
            ),
        );
    }
    let Some(code) = query.code else {
        return message_page(
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
            return message_page(
                StatusCode::BAD_GATEWAY,
                "Failed",
                &format!("Nothing was changed: {e}"),
            );
        }
    };
    let obtained_at = admin.clock.utc();
    match spotify.tokens().replace(tokens, obtained_at).await {
        Ok(()) => message_page(
            StatusCode::OK,
            "Done",
            &format!(
                "now-playing uses the new Spotify authorization from now on. It expires on {}; come back here before then.",
                refresh_token_expires_at(obtained_at).format("%Y-%m-%d")
            ),
        ),
        Err(e) => {
            tracing::error!("the new refresh token is in use but could not be saved: {e}");
            message_page(
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
