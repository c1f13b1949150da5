//! Owner-only re-authorization in a running server, without HTTP: the admin password, the
//! lockout after wrong guesses and the one-time `state` store. `routes::auth` turns it into
//! `/auth/login` and `/auth/callback`.

mod lockout;
mod password;
mod states;

use std::net::IpAddr;

use reqwest::Url;
use secrecy::SecretString;

pub(crate) use states::STATE_LIFETIME;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::spotify::accounts::{Accounts, ExchangeError};
use crate::spotify::authorize::{self, DEFAULT_SCOPES};
use crate::spotify::settings::{ClientConfig, endpoint};
use crate::spotify::types::TokenResponse;

pub(crate) struct Reauth {
    password: password::Password,
    lockout: lockout::Lockout,
    states: states::StateStore,
    redirect_uri: Url,
    client: ClientConfig,
    accounts: Accounts,
    secure_cookie: bool,
}

impl Reauth {
    /// `password` is `ADMIN_TOKEN`; Spotify sends the owner back to
    /// `public_url/auth/callback`.
    pub(crate) fn new(
        password: &SecretString,
        public_url: &Url,
        client: &ClientConfig,
        clock: Clock,
        metrics: Metrics,
    ) -> Self {
        Self {
            password: password::Password::new(password),
            lockout: lockout::Lockout::new(clock.clone()),
            states: states::StateStore::new(clock),
            redirect_uri: endpoint(public_url, "auth/callback"),
            accounts: Accounts::new(crate::spotify::http_client(), client, metrics),
            client: client.clone(),
            secure_cookie: public_url.scheme() == "https",
        }
    }

    /// The redirect URI to register in the Spotify dashboard for `/auth/login`.
    pub(crate) fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Whether the public URL is https, so the browser cookie must be `Secure`.
    pub(crate) fn secure_cookie(&self) -> bool {
        self.secure_cookie
    }

    /// Whether an `Authorization` header value carries the admin password (HTTP Basic).
    pub(crate) fn password_ok(&self, authorization: Option<&str>) -> bool {
        self.password.matches(authorization)
    }

    /// Seconds this client must wait after too many wrong passwords, if any.
    pub(crate) fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        self.lockout.locked_out(ip)
    }

    /// Counts a wrong password; true when this one locks the client out.
    pub(crate) fn record_failure(&self, ip: IpAddr) -> bool {
        self.lockout.record_failure(ip)
    }

    /// Spotify's consent page for a new login, and the nonce the owner's browser must
    /// present at the callback.
    pub(crate) fn start(&self) -> (Url, String) {
        let (state, nonce) = self.states.issue();
        let url = authorize::authorize_url(
            &self.client.accounts_url,
            &self.client.client_id,
            &self.redirect_uri,
            DEFAULT_SCOPES,
            &state,
        );
        (url, nonce)
    }

    /// True once for a state issued less than 10 minutes ago to the browser with `nonce`.
    pub(crate) fn take_state(&self, state: &str, nonce: Option<&str>) -> bool {
        self.states.take(state, nonce)
    }

    /// Trades the code Spotify sent to the callback for tokens.
    pub(crate) async fn exchange(&self, code: &str) -> Result<TokenResponse, ExchangeError> {
        self.accounts.exchange_code(code, &self.redirect_uri).await
    }
}
