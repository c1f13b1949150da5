//! The `now-playing` binary: parses the command line, starts logging and runs the command.

use std::process::ExitCode;

use clap::Parser;
use now_playing::cli::{Cli, Command, HealthcheckArgs, ServeArgs};
use now_playing::startup::{Application, shutdown_signal};
use now_playing::telemetry;

// The shipped static build: musl's allocator is the bottleneck there (BENCHMARKS.md).
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc keeps freed memory for reuse: at its defaults the server held 30 to 50 MB where
/// musl's allocator held 8. Committing arena memory only as it is used, and returning free
/// pages after 100 ms, brings it to about 18 MB with no cost this machine can measure; at
/// 0 ms it was 16 MB and a few percent slower (BENCHMARKS.md, issue 11).
#[cfg(target_env = "musl")]
fn tune_allocator() {
    // mimalloc's own setter, linked in with it; the numbers are `mi_option_t` of mimalloc
    // v3's `mimalloc.h` (the version the `mimalloc` crate builds by default).
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    const ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
    const PURGE_DELAY: std::ffi::c_int = 15;
    // SAFETY: plain setters of mimalloc's option table, valid at any time.
    unsafe {
        mi_option_set(ARENA_EAGER_COMMIT, 0);
        mi_option_set(PURGE_DELAY, 100);
    }
}

fn main() -> ExitCode {
    #[cfg(target_env = "musl")]
    tune_allocator();
    if let Err(e) = dotenvy::from_path(now_playing::config::dotenv_path())
        && !e.not_found()
    {
        eprintln!("now-playing cannot start: .env could not be read: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("now-playing cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match Cli::parse().command() {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Auth(args) => {
            telemetry::init_quiet();
            runtime.block_on(now_playing::auth::run(args))
        }
        Command::Check(args) => {
            telemetry::init_quiet();
            runtime.block_on(now_playing::check::run(args))
        }
        Command::Healthcheck(args) => runtime.block_on(healthcheck(args)),
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let mut config = match args.settings.resolve(args.demo) {
        Ok(config) => config,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    // Kept to the end: dropping it writes out the lines still buffered.
    let logs = telemetry::init(config.log_format);
    now_playing::metrics::count_dropped_log_lines(logs.dropped());
    config.max_connections = now_playing::limits::fit_connections(config.max_connections);
    config.max_event_clients =
        now_playing::limits::fit_event_clients(config.max_event_clients, config.max_connections);
    // Without CA certificates (a bare container) no call to Spotify could ever succeed.
    if !config.is_demo()
        && let Err(e) = now_playing::spotify::try_http_client()
    {
        tracing::error!("cannot start: {e}");
        eprintln!("now-playing cannot start: {e}");
        return ExitCode::FAILURE;
    }
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            eprintln!("now-playing cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck(args: HealthcheckArgs) -> ExitCode {
    let url = args
        .url
        .unwrap_or_else(|| format!("http://127.0.0.1:{}/healthz", args.port));
    match now_playing::startup::healthcheck(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}
