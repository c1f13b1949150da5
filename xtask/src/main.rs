//! Project tasks as programs, run with `cargo xtask TASK` (an alias in `.cargo/config.toml`):
//!
//! - `bench`: the load benchmark (wrk against the release binary and the mock Spotify);
//! - `container`: the container proof (podman build of the Dockerfile, run, checks, stop).

mod bench;
mod container;
mod util;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "now-playing's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Load benchmark: writes target/bench/<time>/report.md (needs wrk; installs it as root).
    Bench(Box<bench::Args>),
    /// Container proof: builds the Dockerfile with podman offline, runs and checks the image.
    Container(container::Args),
}

#[tokio::main]
async fn main() {
    let outcome = match Cli::parse().task {
        Task::Bench(args) => bench::run(*args).await,
        Task::Container(args) => container::run(args).await,
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
