//! The command line: `serve` (the default), `healthcheck`; each flag can also come from
//! the environment variable of the same setting.

use clap::{Parser, Subcommand};

use crate::config::Settings;

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
