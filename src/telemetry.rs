//! Logging: a `tracing` subscriber writing to stderr, human-readable or JSON lines, filtered
//! by `RUST_LOG` (default `info`).

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// A subscriber with the given format, filter and writer. Tests pass their own writer.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    match format {
        LogFormat::Pretty => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
    }
}

/// The filter from `RUST_LOG`, `info` when unset or unreadable.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the process-wide subscriber; later calls are ignored.
pub fn init(format: LogFormat) {
    let _ =
        tracing::subscriber::set_global_default(subscriber(format, env_filter(), std::io::stderr));
}

/// For the commands a person runs in a terminal: warnings and errors only, unless `RUST_LOG` says otherwise.
pub fn init_quiet() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing::subscriber::set_global_default(subscriber(
        LogFormat::Pretty,
        filter,
        std::io::stderr,
    ));
}
