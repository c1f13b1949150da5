//! Spotify's authorization code flow, shared by `now-playing auth` and `/auth/*`: the
//! authorize URL, and the `state` that ties a callback to it. The code exchange is
//! [`super::accounts::Accounts::exchange_code`].

use std::net::IpAddr;

use reqwest::Url;

use super::settings::endpoint;

/// What the widgets need: the current track, the last ones played (the `recent` state and
/// the recently played list), and the top tracks and artists.
pub(crate) const DEFAULT_SCOPES: &str =
    "user-read-currently-playing user-read-recently-played user-top-read";
pub(crate) const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8888/callback";

/// A fresh random `state`: 128 bits, hex.
pub(crate) fn random_state() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The page where the owner grants access; Spotify then redirects to `redirect_uri`.
pub(crate) fn authorize_url(
    accounts_url: &Url,
    client_id: &str,
    redirect_uri: &Url,
    scopes: &str,
    state: &str,
) -> Url {
    let mut url = endpoint(accounts_url, "authorize");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri.as_str())
        .append_pair("scope", scopes)
        .append_pair("state", state)
        .append_pair("show_dialog", "true");
    url
}

/// Checks a redirect URI against Spotify's rules: `https`, or plain `http` only on a
/// loopback IP literal; never `localhost`, which Spotify rejects.
pub(crate) fn check_redirect_uri(uri: &str) -> Result<Url, String> {
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    if host.eq_ignore_ascii_case("localhost") {
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        return Err(format!(
            "Spotify rejects `localhost` in redirect URIs. Use the loopback IP instead: http://127.0.0.1{port}{} (register that exact URI in the Spotify dashboard)",
            url.path()
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_ip(&url) => Ok(url),
        "http" => Err(format!(
            "{uri} uses plain http on a host that is not a loopback IP: Spotify accepts http only for http://127.0.0.1:PORT/... or http://[::1]:PORT/...; use https for anything else"
        )),
        other => Err(format!(
            "{uri} has scheme {other}: a redirect URI must be https (or http on 127.0.0.1)"
        )),
    }
}

pub(crate) fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    }
}

/// The query Spotify sends back to a redirect URI.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}
