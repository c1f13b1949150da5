//! The settings as given: clap flags, each also read from the environment or `.env`. Every
//! value is taken as text so that all problems can be reported together by
//! [`Settings::resolve`](super::Settings).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A string that must not be printed: `Debug` shows `[redacted]`.
#[derive(Clone)]
pub struct Sensitive(String);

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Sensitive {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
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
    /// Mebibytes every kept render together may hold (1 to 4096)
    #[arg(long, env = "RENDER_CACHE_MB")]
    pub render_cache_mb: Option<String>,
    /// Log format: pretty or json
    #[arg(long, env = "LOG_FORMAT")]
    pub log_format: Option<String>,
}
