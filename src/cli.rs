//! The command line: `serve` (the default), `healthcheck`; each flag can also come from
//! the environment variable of the same setting.

use clap::{Parser, Subcommand};

use std::path::PathBuf;

use crate::config::{Settings, SpotifySettings};
use crate::spotify::authorize::{DEFAULT_REDIRECT_URI, DEFAULT_SCOPES};

#[derive(Debug, Parser)]
#[command(
    name = "now-playing",
    version,
    about = "What you are listening to on Spotify, for your blog's footer"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

// Parsed once at start-up; the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default command)
    Serve(ServeArgs),
    /// Get a Spotify refresh token: opens Spotify's consent page and catches the redirect
    Auth(AuthArgs),
    /// Refresh the token and ask Spotify once; print what works and what to fix
    Check(CheckArgs),
    /// GET /healthz of a running server; exit 0 when it answers 200 (for container HEALTHCHECK)
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, clap::Args, Default)]
pub struct ServeArgs {
    /// Serve built-in sample data: no Spotify account or credentials needed
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// Redirect URI registered in the Spotify dashboard; plain http only on 127.0.0.1 or [::1]
    #[arg(long, default_value = DEFAULT_REDIRECT_URI)]
    pub redirect_uri: String,
    /// Scopes to ask for, space separated
    #[arg(long, default_value = DEFAULT_SCOPES)]
    pub scopes: String,
    /// Print the authorize URL without opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Seconds to wait for the browser to come back
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// The `code` from the redirected address bar, for a machine without a browser
    #[arg(long)]
    pub code: Option<String>,
    /// Update SPOTIFY_REFRESH_TOKEN and SPOTIFY_REFRESH_TOKEN_OBTAINED_AT in this .env file
    #[arg(long, value_name = "PATH")]
    pub write_env: Option<PathBuf>,
    #[command(flatten)]
    pub spotify: SpotifySettings,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// URL to check; defaults to http://127.0.0.1:$PORT/healthz
    #[arg(long)]
    pub url: Option<String>,
    /// Port of the local server, when --url is not given
    #[arg(long, env = "PORT", default_value = "8080")]
    pub port: u16,
}

impl Cli {
    /// The subcommand, `serve` when none is given.
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Serve(ServeArgs::default()))
    }
}
