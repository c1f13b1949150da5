//! `mock-spotify`: the simulator on its own, for the benchmark or by hand. Prints its URL on
//! the first line of stdout and serves until SIGINT or SIGTERM.

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;
use mock_spotify::{Fault, MockSpotify, Options, Scenario};

/// A local stand-in for Spotify's accounts service, Web API and image host.
///
/// Use the printed URL as SPOTIFY_ACCOUNTS_URL, SPOTIFY_API_URL and SPOTIFY_IMAGES_URL.
/// Switch at runtime with `curl -d episode URL/_mock/scenario`, `curl -d 429:6
/// URL/_mock/fault`, `curl -d 400 URL/_mock/latency`; counters at `URL/_mock/calls`.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on (0.0.0.0 to be reachable from a container).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Added to every Spotify answer (not to cover art).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// track, paused, episode, local, ad, unknown, nothing, hostile.
    #[arg(long, default_value = "track", value_parser = parse_scenario)]
    scenario: Scenario,
    /// none, 401[:LIFE_S], 429[:RETRY_AFTER_S], 5xx, hang[:S], garbage, invalid_grant.
    #[arg(long, default_value = "none", value_parser = parse_fault)]
    fault: Fault,
    /// Only this refresh token is accepted (default: any).
    #[arg(long)]
    refresh_token: Option<String>,
    /// Send this new refresh token with every refresh, as Spotify sometimes does.
    #[arg(long)]
    rotate_refresh_token: Option<String>,
    /// Granted scopes; without user-top-read the top lists answer 403.
    #[arg(long, default_value = mock_spotify::ALL_SCOPES)]
    scope: String,
    /// Let the track's progress move with real time.
    #[arg(long)]
    advance_progress: bool,
    /// Size of the cover JPEG.
    #[arg(long, default_value_t = 24_000)]
    image_bytes: usize,
}

fn parse_scenario(text: &str) -> Result<Scenario, String> {
    Scenario::parse(text).ok_or_else(|| format!("one of {}", Scenario::NAMES.join(", ")))
}

fn parse_fault(text: &str) -> Result<Fault, String> {
    match Fault::parse(text) {
        Some(Fault::Refused) | None => Err("see --help for the faults".into()),
        Some(fault) => Ok(fault),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    let mock = MockSpotify::start_with(Options {
        host: cli.host,
        port: cli.port,
        latency: Duration::from_millis(cli.latency_ms),
        scenario: cli.scenario,
        fault: cli.fault,
        refresh_token: cli.refresh_token,
        rotate_refresh_token: cli.rotate_refresh_token,
        scope: cli.scope,
        advance_progress: cli.advance_progress,
        image_bytes: cli.image_bytes,
        ..Options::default()
    })
    .await?;
    let host = if cli.host.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        cli.host.to_string()
    };
    println!("http://{host}:{}", mock.port());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}
