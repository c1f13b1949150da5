//! Settings: read from flags, the environment or `.env` (clap `env =`), checked all at once,
//! and turned into a [`Config`] before anything binds. Secrets never show in `Debug`.

mod flags;
mod parse;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::Url;
use secrecy::SecretString;

pub(crate) use crate::spotify::settings::ClientConfig;
pub use crate::spotify::settings::SpotifyConfig;
use crate::spotify::settings::endpoint;
pub use flags::{Sensitive, ServerSettings, Settings, SpotifySettings};

use parse::Problems;
pub(crate) use parse::parse_bool;

/// Everything the server needs, already validated. Tests build it literally.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub host: IpAddr,
    pub port: u16,
    /// How long one Spotify answer is reused for every viewer.
    pub cache_ttl: Duration,
    /// How long a last good answer may still be served while Spotify fails.
    pub stale_max: Duration,
    pub show_recent: bool,
    pub cors_allow_origins: AllowedOrigins,
    /// CSP `frame-ancestors` sources for `/embed`, space separated.
    pub frame_ancestors: String,
    pub max_event_clients: usize,
    pub metrics: bool,
    pub log_format: LogFormat,
    /// Owner-only re-authorization (`/auth/*`), when `ADMIN_TOKEN` is set.
    pub admin: Option<AdminConfig>,
    /// The server's public origin, for `/auth/*` and the landing page's snippets.
    pub public_url: Option<Url>,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// How long a connection may take to send a request head, or sit idle between requests.
    pub header_timeout: Duration,
    /// Client connections open at once, event streams included.
    pub max_connections: usize,
    /// How long one answer of Spotify's top tracks or artists is reused.
    pub top_ttl: Duration,
    /// Mebibytes that every kept render together may hold.
    pub render_cache_mb: usize,
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The HTTP Basic password of `/auth/login`; Spotify redirects to
    /// `PUBLIC_URL/auth/callback`, so [`Config::public_url`] is set too.
    pub token: SecretString,
}

/// Where the now-playing state comes from.
// Built once at start-up; the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Source {
    /// Built-in sample data; no Spotify credentials, no network.
    Demo,
    Spotify(SpotifyConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    List(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Config {
    /// The documented defaults, serving demo data.
    fn default() -> Self {
        Self {
            source: Source::Demo,
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            cache_ttl: Duration::from_secs(10),
            stale_max: Duration::from_secs(300),
            show_recent: true,
            cors_allow_origins: AllowedOrigins::Any,
            frame_ancestors: "*".to_owned(),
            max_event_clients: 1000,
            metrics: true,
            log_format: LogFormat::Pretty,
            admin: None,
            public_url: None,
            trusted_proxies: Vec::new(),
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            top_ttl: Duration::from_secs(3600),
            render_cache_mb: 64,
        }
    }
}

impl Config {
    pub fn is_demo(&self) -> bool {
        matches!(self.source, Source::Demo)
    }
}

/// Every problem found in the settings, each naming the variable to set.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "now-playing cannot start: {n} setting{} to fix (flags, environment or .env):",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// Minimum length of `ADMIN_TOKEN`: it guards the owner's Spotify account.
const ADMIN_TOKEN_MIN: usize = 16;

impl Settings {
    /// Checks every setting and returns the [`Config`], or every problem at once.
    pub fn resolve(&self, demo: bool) -> Result<Config, ConfigError> {
        let mut p = Problems::default();
        let source = if demo {
            Source::Demo
        } else {
            Source::Spotify(self.spotify.collect(&mut p))
        };
        let config = self.server.collect(&mut p, source);
        p.finish(config)
    }
}

impl SpotifySettings {
    /// The client id, secret and accounts URL only (for `now-playing auth`).
    pub(crate) fn resolve_client(&self) -> Result<ClientConfig, ConfigError> {
        let mut p = Problems::default();
        let client = self.client(&mut p);
        p.finish(client)
    }

    /// Everything needed to call Spotify (for `now-playing check`).
    pub fn resolve(&self) -> Result<SpotifyConfig, ConfigError> {
        let mut p = Problems::default();
        let config = self.collect(&mut p);
        p.finish(config)
    }

    fn client(&self, p: &mut Problems) -> ClientConfig {
        let client_id = p.required(
            "SPOTIFY_CLIENT_ID",
            self.client_id.as_deref(),
            "your Spotify app's client id (developer.spotify.com/dashboard)",
        );
        let client_secret = p.required(
            "SPOTIFY_CLIENT_SECRET",
            self.client_secret.as_ref().map(Sensitive::as_str),
            "your Spotify app's client secret",
        );
        let accounts = Url::parse("https://accounts.spotify.com").expect("a valid default");
        let accounts_url = p.get(
            "SPOTIFY_ACCOUNTS_URL",
            &self.accounts_url,
            accounts.clone(),
            parse::base_url(accounts.as_str().trim_end_matches('/')),
        );
        ClientConfig {
            client_id,
            client_secret: client_secret.into(),
            accounts_url,
        }
    }

    fn collect(&self, p: &mut Problems) -> SpotifyConfig {
        let client = self.client(p);
        let api = Url::parse("https://api.spotify.com").expect("a valid default");
        let api_url = p.get(
            "SPOTIFY_API_URL",
            &self.api_url,
            api.clone(),
            parse::base_url(api.as_str().trim_end_matches('/')),
        );
        let mut obtained_at = p.get(
            "SPOTIFY_REFRESH_TOKEN_OBTAINED_AT",
            &self.refresh_token_obtained_at,
            None,
            parse::time().optional(),
        );
        let images_url = p.get(
            "SPOTIFY_IMAGES_URL",
            &self.images_url,
            None,
            parse::base_url("").optional().described(
                "an http(s) base URL, or unset to fetch cover art from Spotify's image hosts",
            ),
        );
        let token_file = self
            .token_file
            .clone()
            .filter(|f| !f.as_os_str().is_empty());
        let stored = match &token_file {
            Some(path) => match crate::storage::read_token_file(path) {
                Ok(stored) => stored,
                Err(e) => {
                    p.push(format!("TOKEN_FILE: {e}; fix or delete the file, or run `now-playing auth --token-file {}`", path.display()));
                    None
                }
            },
            None => None,
        };
        // The token file wins over the environment: it holds the newest token.
        let refresh_token = match stored {
            Some(stored) => {
                obtained_at = stored.obtained_at.or(obtained_at);
                stored.refresh_token
            }
            None => p
                .required(
                    "SPOTIFY_REFRESH_TOKEN",
                    self.refresh_token.as_ref().map(Sensitive::as_str),
                    "a refresh token from `now-playing auth` (or point TOKEN_FILE at a token file)",
                )
                .into(),
        };
        SpotifyConfig {
            client_id: client.client_id,
            client_secret: client.client_secret,
            refresh_token,
            refresh_token_obtained_at: obtained_at,
            accounts_url: client.accounts_url,
            api_url,
            token_file,
            images_url,
        }
    }
}

impl ServerSettings {
    fn collect(&self, p: &mut Problems, source: Source) -> Config {
        use parse::{count, flag, seconds};
        let d = Config::default();
        let host = p.get("HOST", &self.host, d.host, parse::ip());
        let port = p.get("PORT", &self.port, d.port, parse::port());
        let cache_ttl = p.get("CACHE_TTL", &self.cache_ttl, d.cache_ttl, seconds(1, 3600));
        let stale_max = p.get(
            "STALE_MAX",
            &self.stale_max,
            d.stale_max,
            seconds(0, 86_400),
        );
        let show_recent = p.get("SHOW_RECENT", &self.show_recent, d.show_recent, flag());
        let metrics = p.get("METRICS", &self.metrics, d.metrics, flag());
        let cors_allow_origins = p.get(
            "CORS_ALLOW_ORIGINS",
            &self.cors_allow_origins,
            d.cors_allow_origins,
            parse::origins(),
        );
        let frame_ancestors = p.get(
            "FRAME_ANCESTORS",
            &self.frame_ancestors,
            d.frame_ancestors,
            parse::frame_ancestors(),
        );
        let max_event_clients = p.get(
            "MAX_EVENT_CLIENTS",
            &self.max_event_clients,
            d.max_event_clients,
            count(1, 1_000_000),
        );
        let log_format = p.get(
            "LOG_FORMAT",
            &self.log_format,
            d.log_format,
            parse::log_format(),
        );
        let public_url = p.get(
            "PUBLIC_URL",
            &self.public_url,
            None,
            parse::origin().optional().described(
                "this server's public origin, scheme://host[:port] with no path, query or fragment, such as https://np.example.com",
            ),
        );
        let trusted_proxies = p.get(
            "TRUSTED_PROXIES",
            &self.trusted_proxies,
            d.trusted_proxies,
            parse::networks(),
        );
        let header_timeout = p.get(
            "HEADER_TIMEOUT",
            &self.header_timeout,
            d.header_timeout,
            seconds(1, 300),
        );
        let max_connections = p.get(
            "MAX_CONNECTIONS",
            &self.max_connections,
            d.max_connections,
            count(1, 1_000_000),
        );
        let top_ttl = p.get("TOP_TTL", &self.top_ttl, d.top_ttl, seconds(60, 86_400));
        let render_cache_mb = p.get(
            "RENDER_CACHE_MB",
            &self.render_cache_mb,
            d.render_cache_mb,
            count(1, 4096),
        );
        let admin = self.admin(p, &source, public_url.as_ref());
        Config {
            source,
            host,
            port,
            cache_ttl,
            stale_max,
            show_recent,
            cors_allow_origins,
            frame_ancestors,
            max_event_clients,
            metrics,
            log_format,
            admin,
            public_url,
            trusted_proxies,
            header_timeout,
            max_connections,
            top_ttl,
            render_cache_mb,
        }
    }

    /// `ADMIN_TOKEN`, when it is set and everything `/auth/login` needs is there too.
    fn admin(
        &self,
        p: &mut Problems,
        source: &Source,
        public_url: Option<&Url>,
    ) -> Option<AdminConfig> {
        let token = self
            .admin_token
            .as_ref()
            .map(|t| t.as_str().trim())
            .filter(|t| !t.is_empty())?;
        let problem = if token.chars().count() < ADMIN_TOKEN_MIN {
            format!(
                "ADMIN_TOKEN is too short: use at least {ADMIN_TOKEN_MIN} characters (for example the output of `openssl rand -hex 24`)"
            )
        } else if matches!(source, Source::Spotify(spotify) if spotify.token_file.is_none()) {
            "TOKEN_FILE is missing: ADMIN_TOKEN lets /auth/login renew the refresh token, which must be written to TOKEN_FILE to survive a restart (for example TOKEN_FILE=/data/token.json)".into()
        } else if let Some(url) = public_url {
            match crate::spotify::authorize::check_redirect_uri(
                endpoint(url, "auth/callback").as_str(),
            ) {
                Ok(_) => {
                    return Some(AdminConfig {
                        token: token.to_owned().into(),
                    });
                }
                Err(why) => format!("PUBLIC_URL cannot carry /auth/login: {why}"),
            }
        } else {
            "PUBLIC_URL is missing: ADMIN_TOKEN enables /auth/login, which needs this server's public base URL, such as https://np.example.com".into()
        };
        p.push(problem);
        None
    }
}

/// Where a `.env` file is looked for: the working directory.
pub fn dotenv_path() -> PathBuf {
    PathBuf::from(".env")
}
