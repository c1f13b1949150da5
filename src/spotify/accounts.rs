//! Spotify's accounts service: the one POST to `/api/token` that refreshes an access token
//! (for the token cache) or trades an authorization code (for `auth` and `/auth/*`).

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

use super::error::{AuthFailure, SpotifyError};
use super::settings::{ClientConfig, endpoint};
use super::types::{AccountsError, TokenResponse};
use crate::metrics::Metrics;

/// A client of the token endpoint with the app's credentials.
pub(crate) struct Accounts {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    metrics: Metrics,
}

/// Why a code could not be exchanged, with what to fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    #[error(
        "Spotify refused the client id or secret (invalid_client): copy both again from your app's settings at https://developer.spotify.com/dashboard"
    )]
    InvalidClient,
    #[error(
        "Spotify refused the redirect URI (invalid_grant: {0}): the redirect URI must be exactly the one registered in the dashboard and used for the authorize URL"
    )]
    RedirectMismatch(String),
    #[error(
        "Spotify refused the code (invalid_grant{0}): it was already used, has expired (codes last a few minutes) or was copied wrong; run `now-playing auth` again"
    )]
    InvalidCode(String),
    #[error("the token exchange failed: {0}")]
    Spotify(SpotifyError),
}

impl Accounts {
    pub(crate) fn new(http: reqwest::Client, client: &ClientConfig, metrics: Metrics) -> Self {
        Self {
            http,
            token_url: endpoint(&client.accounts_url, "api/token"),
            client_id: client.client_id.clone(),
            client_secret: client.client_secret.clone(),
            metrics,
        }
    }

    /// A new access token for `refresh_token` (`grant_type=refresh_token`).
    pub(crate) async fn refresh(
        &self,
        refresh_token: &SecretString,
    ) -> Result<TokenResponse, SpotifyError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        self.post(&form).await.map_err(|(e, _)| e)
    }

    /// Trades an authorization code for tokens (`grant_type=authorization_code`).
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &Url,
    ) -> Result<TokenResponse, ExchangeError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
        ];
        match self.post(&form).await {
            Ok(tokens) => Ok(tokens),
            Err((SpotifyError::Auth(AuthFailure::InvalidClient), _)) => {
                Err(ExchangeError::InvalidClient)
            }
            Err((SpotifyError::Auth(AuthFailure::InvalidGrant), description)) => {
                Err(invalid_grant(description.unwrap_or_default()))
            }
            Err((e, _)) => Err(ExchangeError::Spotify(e)),
        }
    }

    /// One POST with HTTP Basic client authentication and a form body; Spotify's
    /// `error_description` comes beside the error, for messages that tell a person what to fix.
    async fn post(
        &self,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, (SpotifyError, Option<String>)> {
        let started = std::time::Instant::now();
        let result = async {
            let response = self
                .http
                .post(self.token_url.clone())
                .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
                .form(form)
                .send()
                .await
                .map_err(|e| (SpotifyError::from_reqwest(e), None))?;
            let status = response.status();
            let retry_after = super::call::retry_after(&response);
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
            Err(refusal(status.as_u16(), &body))
        }
        .await;
        let logged = result.as_ref().map(|_| ()).map_err(|(e, _)| e);
        super::call::log_call_ref(&self.metrics, "token", logged, started.elapsed());
        result
    }
}

/// What an error answer of the token endpoint means, with its description.
fn refusal(status: u16, body: &[u8]) -> (SpotifyError, Option<String>) {
    let (code, description) = match serde_json::from_slice::<AccountsError>(body) {
        Ok(e) => (Some(e.error), e.error_description),
        Err(_) => (None, None),
    };
    let error = match code.as_deref() {
        Some("invalid_grant") => SpotifyError::Auth(AuthFailure::InvalidGrant),
        Some("invalid_client") => SpotifyError::Auth(AuthFailure::InvalidClient),
        _ => SpotifyError::Status(status),
    };
    (error, description)
}

/// `invalid_grant` in a code exchange: the error code is the same for a bad redirect URI and
/// a bad code; only the description tells them apart.
fn invalid_grant(description: String) -> ExchangeError {
    if description.to_ascii_lowercase().contains("redirect") {
        ExchangeError::RedirectMismatch(description)
    } else if description.is_empty() {
        ExchangeError::InvalidCode(String::new())
    } else {
        ExchangeError::InvalidCode(format!(": {description}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_read_from_the_error_code() {
        let (e, d) = refusal(
            400,
            br#"{"error":"invalid_grant","error_description":"Refresh token revoked"}"#,
        );
        assert!(matches!(e, SpotifyError::Auth(AuthFailure::InvalidGrant)));
        assert_eq!(d.as_deref(), Some("Refresh token revoked"));
        let (e, _) = refusal(401, br#"{"error":"invalid_client"}"#);
        assert!(matches!(e, SpotifyError::Auth(AuthFailure::InvalidClient)));
        let (e, d) = refusal(502, b"<html>bad gateway</html>");
        assert!(matches!(e, SpotifyError::Status(502)));
        assert_eq!(d, None);
    }

    #[test]
    fn invalid_grant_tells_a_redirect_mismatch_from_a_bad_code() {
        assert!(matches!(
            invalid_grant("Invalid redirect URI".into()),
            ExchangeError::RedirectMismatch(_)
        ));
        assert!(
            matches!(invalid_grant(String::new()), ExchangeError::InvalidCode(s) if s.is_empty())
        );
        assert!(
            matches!(invalid_grant("Invalid authorization code".into()), ExchangeError::InvalidCode(s) if s == ": Invalid authorization code")
        );
    }
}
