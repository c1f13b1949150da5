//! Settings: read from flags, the environment or `.env` (clap `env =`), checked all at once,
//! and turned into a [`Config`] before anything binds. Secrets never show in `Debug`.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use reqwest::Url;
use secrecy::SecretString;

use crate::spotify::settings::endpoint;
pub use crate::spotify::settings::{ClientConfig, SpotifyConfig};

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
        }
    }
}

impl Config {
    pub fn is_demo(&self) -> bool {
        matches!(self.source, Source::Demo)
    }
}

/// A string that must not be printed: `Debug` shows `[redacted]`.
#[derive(Clone)]
pub struct Sensitive(String);

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Sensitive {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The raw settings as given on the command line or in the environment. Every value is
/// taken as text so that all problems can be reported together by [`Settings::resolve`].
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Settings {
    #[command(flatten)]
    pub spotify: SpotifySettings,
    #[command(flatten)]
    pub server: ServerSettings,
}

/// The Spotify app and its credentials: what `serve`, `check` and `auth` share.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SpotifySettings {
    /// Spotify app client id
    #[arg(long, env = "SPOTIFY_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Spotify app client secret
    #[arg(long, env = "SPOTIFY_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<Sensitive>,
    /// Spotify refresh token (see `now-playing auth`)
    #[arg(long, env = "SPOTIFY_REFRESH_TOKEN", hide_env_values = true)]
    pub refresh_token: Option<Sensitive>,
    /// RFC 3339 time the refresh token was authorized, to warn before it expires
    #[arg(long, env = "SPOTIFY_REFRESH_TOKEN_OBTAINED_AT")]
    pub refresh_token_obtained_at: Option<String>,
    /// JSON file holding the current refresh token, rewritten when a new one arrives
    #[arg(long, env = "TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Spotify accounts service base URL
    #[arg(long, env = "SPOTIFY_ACCOUNTS_URL")]
    pub accounts_url: Option<String>,
    /// Spotify Web API base URL
    #[arg(long, env = "SPOTIFY_API_URL")]
    pub api_url: Option<String>,
    /// Base URL that replaces Spotify's image hosts when fetching cover art (for tests)
    #[arg(long, env = "SPOTIFY_IMAGES_URL")]
    pub images_url: Option<String>,
}

/// How the server serves.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerSettings {
    /// Address to bind
    #[arg(long, env = "HOST")]
    pub host: Option<String>,
    /// Port to bind
    #[arg(long, env = "PORT")]
    pub port: Option<String>,
    /// Seconds one Spotify answer is reused for every viewer (1 to 3600)
    #[arg(long, env = "CACHE_TTL")]
    pub cache_ttl: Option<String>,
    /// Seconds a last good answer may be served while Spotify fails (0 to 86400)
    #[arg(long, env = "STALE_MAX")]
    pub stale_max: Option<String>,
    /// Show the last played track when nothing plays (true/false)
    #[arg(long, env = "SHOW_RECENT")]
    pub show_recent: Option<String>,
    /// Comma-separated origins allowed to fetch the JSON, fragment and events, or *
    #[arg(long, env = "CORS_ALLOW_ORIGINS")]
    pub cors_allow_origins: Option<String>,
    /// CSP frame-ancestors sources allowed to embed /embed
    #[arg(long, env = "FRAME_ANCESTORS")]
    pub frame_ancestors: Option<String>,
    /// Open event streams allowed at once
    #[arg(long, env = "MAX_EVENT_CLIENTS")]
    pub max_event_clients: Option<String>,
    /// Serve /metrics (true/false)
    #[arg(long, env = "METRICS")]
    pub metrics: Option<String>,
    /// Password of /auth/login (HTTP Basic); enables re-authorization in the running server
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Sensitive>,
    /// This server's public origin, e.g. https://np.example.com (needed for /auth/*)
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Comma-separated IPs or CIDR ranges of the reverse proxies in front
    #[arg(long, env = "TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Seconds a connection may take to send a request head or sit idle (1 to 300)
    #[arg(long, env = "HEADER_TIMEOUT")]
    pub header_timeout: Option<String>,
    /// Client connections open at once, event streams included
    #[arg(long, env = "MAX_CONNECTIONS")]
    pub max_connections: Option<String>,
    /// Seconds one answer of Spotify's top tracks or artists is reused (60 to 86400)
    #[arg(long, env = "TOP_TTL")]
    pub top_ttl: Option<String>,
    /// Log format: pretty or json
    #[arg(long, env = "LOG_FORMAT")]
    pub log_format: Option<String>,
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

/// Collects problems while values are parsed, so all are reported in one message.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn parse<T>(
        &mut self,
        var: &str,
        raw: Option<&str>,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => default,
            Some(value) => parse(value).unwrap_or_else(|| {
                self.0
                    .push(format!("{var}={value:?} is not valid: expected {expected}"));
                default
            }),
        }
    }

    fn required(&mut self, var: &str, raw: Option<&str>, what: &str) -> String {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            Some(value) => value.to_owned(),
            None => {
                self.0.push(format!(
                    "{var} is missing: set it to {what} (or run `now-playing serve --demo` to try the widget without Spotify)"
                ));
                String::new()
            }
        }
    }
}

pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_seconds(min: u64, max: u64) -> impl FnOnce(&str) -> Option<Duration> {
    move |value| {
        value
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(Duration::from_secs)
    }
}

fn parse_base_url(value: &str) -> Option<Url> {
    let url = Url::parse(value).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.username().is_empty();
    ok.then_some(url)
}

fn parse_origins(value: &str) -> Option<AllowedOrigins> {
    if value == "*" {
        return Some(AllowedOrigins::Any);
    }
    let origins: Option<Vec<String>> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|origin| parse_origin(origin).map(|url| origin_of(&url)))
        .collect();
    origins.filter(|o| !o.is_empty()).map(AllowedOrigins::List)
}

/// An origin, `scheme://host[:port]`, optionally with a trailing `/` and nothing else.
fn parse_origin(value: &str) -> Option<Url> {
    let url = parse_base_url(value)?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    bare.then_some(url)
}

/// The normalised form of an origin, as browsers send it in `Origin`: lower-case scheme and
/// host, no default port, no trailing `/`.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// IP addresses and CIDR ranges; a bare address is a range of one.
fn parse_networks(value: &str) -> Option<Vec<IpNet>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .ok()
                .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
                .map(|n| n.trunc())
        })
        .collect()
}

/// CSP source expressions: `*`, `'self'`, `'none'`, schemes and hosts (with `*.` and ports).
fn parse_frame_ancestors(value: &str) -> Option<String> {
    let sources: Vec<&str> = value.split([',', ' ']).filter(|s| !s.is_empty()).collect();
    let valid = |s: &&str| {
        matches!(*s, "*" | "'self'" | "'none'")
            || s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:/*".contains(c))
    };
    (!sources.is_empty() && sources.iter().all(valid)).then(|| sources.join(" "))
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
    pub fn resolve_client(&self) -> Result<ClientConfig, ConfigError> {
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
            self.client_secret.as_ref().map(|s| s.0.as_str()),
            "your Spotify app's client secret",
        );
        let accounts_url = p.parse(
            "SPOTIFY_ACCOUNTS_URL",
            self.accounts_url.as_deref(),
            Url::parse("https://accounts.spotify.com").expect("a valid default"),
            "an http(s) base URL such as https://accounts.spotify.com",
            parse_base_url,
        );
        ClientConfig {
            client_id,
            client_secret: client_secret.into(),
            accounts_url,
        }
    }

    fn collect(&self, p: &mut Problems) -> SpotifyConfig {
        let client = self.client(p);
        let api_url = p.parse(
            "SPOTIFY_API_URL",
            self.api_url.as_deref(),
            Url::parse("https://api.spotify.com").expect("a valid default"),
            "an http(s) base URL such as https://api.spotify.com",
            parse_base_url,
        );
        let mut obtained_at = p.parse(
            "SPOTIFY_REFRESH_TOKEN_OBTAINED_AT",
            self.refresh_token_obtained_at.as_deref(),
            None,
            "an RFC 3339 time such as 2026-11-29T03:00:00Z",
            |v| {
                DateTime::parse_from_rfc3339(v)
                    .ok()
                    .map(|t| Some(t.with_timezone(&Utc)))
            },
        );
        let images_url = p.parse(
            "SPOTIFY_IMAGES_URL",
            self.images_url.as_deref(),
            None,
            "an http(s) base URL, or unset to fetch cover art from Spotify's image hosts",
            |v| parse_base_url(v).map(Some),
        );
        let token_file = self
            .token_file
            .clone()
            .filter(|f| !f.as_os_str().is_empty());
        let stored = match &token_file {
            Some(path) => match crate::storage::read_token_file(path) {
                Ok(stored) => stored,
                Err(e) => {
                    p.0.push(format!("TOKEN_FILE: {e}; fix or delete the file, or run `now-playing auth --token-file {}`", path.display()));
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
                    self.refresh_token.as_ref().map(|s| s.0.as_str()),
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
        let d = Config::default();
        let host = p.parse(
            "HOST",
            self.host.as_deref(),
            d.host,
            "an IP address such as 127.0.0.1 or 0.0.0.0",
            |v| v.parse().ok(),
        );
        let port = p.parse(
            "PORT",
            self.port.as_deref(),
            d.port,
            "a port number from 0 to 65535",
            |v| v.parse().ok(),
        );
        let cache_ttl = p.parse(
            "CACHE_TTL",
            self.cache_ttl.as_deref(),
            d.cache_ttl,
            "a whole number of seconds from 1 to 3600",
            parse_seconds(1, 3600),
        );
        let stale_max = p.parse(
            "STALE_MAX",
            self.stale_max.as_deref(),
            d.stale_max,
            "a whole number of seconds from 0 to 86400",
            parse_seconds(0, 86_400),
        );
        let show_recent = p.parse(
            "SHOW_RECENT",
            self.show_recent.as_deref(),
            d.show_recent,
            "true or false",
            parse_bool,
        );
        let metrics = p.parse(
            "METRICS",
            self.metrics.as_deref(),
            d.metrics,
            "true or false",
            parse_bool,
        );
        let cors_allow_origins = p.parse(
            "CORS_ALLOW_ORIGINS",
            self.cors_allow_origins.as_deref(),
            d.cors_allow_origins,
            "* or a comma-separated list of origins such as https://blog.example.com",
            parse_origins,
        );
        let frame_ancestors = p.parse(
            "FRAME_ANCESTORS",
            self.frame_ancestors.as_deref(),
            d.frame_ancestors,
            "* or CSP sources such as 'self' https://blog.example.com",
            parse_frame_ancestors,
        );
        let max_event_clients = p.parse(
            "MAX_EVENT_CLIENTS",
            self.max_event_clients.as_deref(),
            d.max_event_clients,
            "a whole number from 1 to 1000000",
            |v| v.parse().ok().filter(|n| (1..=1_000_000).contains(n)),
        );
        let log_format = p.parse(
            "LOG_FORMAT",
            self.log_format.as_deref(),
            d.log_format,
            "pretty or json",
            |v| match v {
                "pretty" => Some(LogFormat::Pretty),
                "json" => Some(LogFormat::Json),
                _ => None,
            },
        );
        let public_url = p.parse(
            "PUBLIC_URL",
            self.public_url.as_deref(),
            None,
            "this server's public origin, scheme://host[:port] with no path, query or fragment, such as https://np.example.com",
            |v| parse_origin(v).map(Some),
        );
        let trusted_proxies = p.parse(
            "TRUSTED_PROXIES",
            self.trusted_proxies.as_deref(),
            d.trusted_proxies,
            "a comma-separated list of IP addresses or CIDR ranges, such as 127.0.0.1,10.0.0.0/8",
            parse_networks,
        );
        let header_timeout = p.parse(
            "HEADER_TIMEOUT",
            self.header_timeout.as_deref(),
            d.header_timeout,
            "a whole number of seconds from 1 to 300",
            parse_seconds(1, 300),
        );
        let max_connections = p.parse(
            "MAX_CONNECTIONS",
            self.max_connections.as_deref(),
            d.max_connections,
            "a whole number from 1 to 1000000",
            |v| v.parse().ok().filter(|n| (1..=1_000_000).contains(n)),
        );
        let top_ttl = p.parse(
            "TOP_TTL",
            self.top_ttl.as_deref(),
            d.top_ttl,
            "a whole number of seconds from 60 to 86400",
            parse_seconds(60, 86_400),
        );
        let admin_token = self
            .admin_token
            .as_ref()
            .map(|t| t.0.trim())
            .filter(|t| !t.is_empty());
        let admin = match (admin_token, &public_url) {
            (None, _) => None,
            (Some(token), _) if token.chars().count() < ADMIN_TOKEN_MIN => {
                p.0.push(format!(
                    "ADMIN_TOKEN is too short: use at least {ADMIN_TOKEN_MIN} characters (for example the output of `openssl rand -hex 24`)"
                ));
                None
            }
            (Some(_), _) if matches!(&source, Source::Spotify(spotify) if spotify.token_file.is_none()) =>
            {
                p.0.push("TOKEN_FILE is missing: ADMIN_TOKEN lets /auth/login renew the refresh token, which must be written to TOKEN_FILE to survive a restart (for example TOKEN_FILE=/data/token.json)".into());
                None
            }
            (Some(_), None) => {
                p.0.push("PUBLIC_URL is missing: ADMIN_TOKEN enables /auth/login, which needs this server's public base URL, such as https://np.example.com".into());
                None
            }
            (Some(_), Some(url))
                if let Err(why) = crate::spotify::authorize::check_redirect_uri(
                    endpoint(url, "auth/callback").as_str(),
                ) =>
            {
                p.0.push(format!("PUBLIC_URL cannot carry /auth/login: {why}"));
                None
            }
            (Some(token), Some(_)) => Some(AdminConfig {
                token: token.to_owned().into(),
            }),
        };
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
        }
    }
}

impl Problems {
    fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError(self.0))
        }
    }
}

/// Where a `.env` file is looked for: the working directory.
pub fn dotenv_path() -> PathBuf {
    PathBuf::from(".env")
}
