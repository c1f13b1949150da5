//! Owner-only re-authorization in a running server: `/auth/login` (HTTP Basic with
//! `ADMIN_TOKEN`) sends the owner to Spotify, `/auth/callback` swaps in the new refresh token
//! and keeps it in `TOKEN_FILE`. Both are 404 without `ADMIN_TOKEN`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, ClientOf};
use crate::forwarded::{Client, looks_like_a_proxy};
use crate::reauth::{Reauth, STATE_LIFETIME};
use crate::render::html::message_page;
use crate::spotify::authorize;
use crate::spotify::lifetime::refresh_token_expires_at;
use crate::state::AppState;

/// The cookie that ties a `state` to the browser that asked for it.
const COOKIE: &str = "np_auth";

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

/// The cookie is `Secure` when `PUBLIC_URL` is https or a trusted proxy says the client
/// came in over https.
fn nonce_cookie(reauth: &Reauth, nonce: &str, max_age: u64, client: Client) -> HeaderValue {
    let secure = if reauth.secure_cookie() || client.https == Some(true) {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={nonce}; Path=/auth/callback; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("hex and fixed text are a valid header value")
}

/// Asks for the admin password, then sends the owner to Spotify's consent page.
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    headers: HeaderMap,
) -> Response {
    let Some(admin) = &state.reauth else {
        return not_found();
    };
    if let Some(wait) = admin.locked_out(client.ip) {
        return ApiError::TooManyAttempts { wait }.into_response();
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !admin.password_ok(authorization) {
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
    let (url, nonce) = admin.start();
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::SET_COOKIE,
                    nonce_cookie(admin, &nonce, STATE_LIFETIME.as_secs(), client),
                ),
            ],
        )
            .into_response(),
        Err(_) => ApiError::Internal("could not build the authorize URL").into_response(),
    }
}

/// Spotify's redirect: a known, unused `state` and a code become the new refresh token.
pub(crate) async fn callback(
    State(state): State<AppState>,
    Query(query): Query<authorize::CallbackQuery>,
    ClientOf(client): ClientOf,
    headers: HeaderMap,
) -> Response {
    let (Some(admin), Some(spotify)) = (&state.reauth, state.service.spotify()) else {
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
        .insert(header::SET_COOKIE, nonce_cookie(admin, "", 0, client));
    response
}

async fn finish(
    state: &AppState,
    admin: &Reauth,
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
    let tokens = match admin.exchange(&code).await {
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
    let obtained_at = state.service.clock().utc();
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
            tracing::error!(
                "the new refresh token is in use but could not be saved: {e}; trying again at every use and every minute"
            );
            message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Authorized, not saved",
                &format!(
                    "The new authorization is in use, but could not be saved ({e}). The server tries again at every use and every minute, and /readyz says \"token_file\": \"unsaved\" until it succeeds; a restart before then would use the old token. Fix TOKEN_FILE."
                ),
            )
        }
    }
}

fn not_found() -> Response {
    ApiError::NotFound.into_response()
}
