//! What it takes to talk to Spotify: the app's identity, the refresh token and the base
//! URLs. `config` fills these in from the settings; this module only describes them.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use reqwest::Url;
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct SpotifyConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
    /// When the refresh token was authorized, if known (it expires six months later).
    pub refresh_token_obtained_at: Option<DateTime<Utc>>,
    pub accounts_url: Url,
    pub api_url: Url,
    /// Where the current refresh token is kept and rewritten when a new one arrives.
    pub token_file: Option<PathBuf>,
    /// Replaces scheme, host and port of cover art URLs; `None` fetches them from Spotify's
    /// image hosts as given (for tests).
    pub images_url: Option<Url>,
}

impl SpotifyConfig {
    /// The app's identity alone, for the authorization code flow.
    pub(crate) fn client(&self) -> ClientConfig {
        ClientConfig {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            accounts_url: self.accounts_url.clone(),
        }
    }
}

/// The Spotify app's identity, for `now-playing auth` and `/auth/*`.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub accounts_url: Url,
}

/// `base` joined with `path`, keeping any path prefix of `base`.
pub(crate) fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{}", base.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_the_base_path_prefix() {
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        assert_eq!(
            endpoint(&base, "api/token").as_str(),
            "http://127.0.0.1:9/prefix/api/token"
        );
        let bare = Url::parse("https://accounts.spotify.com").unwrap();
        assert_eq!(
            endpoint(&bare, "api/token").as_str(),
            "https://accounts.spotify.com/api/token"
        );
    }
}
