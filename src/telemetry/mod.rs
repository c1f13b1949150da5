//! Logging: a `tracing` subscriber writing to stderr, human-readable or JSON lines, filtered
//! by `RUST_LOG` (default `info`). The server's lines go through a buffered writer on its own
//! thread, so a request never waits for stderr: when the sink is too slow, lines are dropped
//! and counted, never waited for.

use std::io::{BufWriter, IsTerminal};

use tracing::Subscriber;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Lines waiting for the writer thread; beyond it new lines are dropped (and counted).
const QUEUED_LINES: usize = 128_000;
/// Bytes gathered before one write to stderr; the writer thread also writes out whenever it
/// has taken every waiting line.
const WRITE_BUFFER: usize = 64 * 1024;

/// A subscriber with the given format, filter and writer, without colours. Tests pass their
/// own writer.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    subscriber_with(format, filter, writer, false)
}

fn subscriber_with<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
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

/// The server's log writer: keep it while the server runs; dropping it writes out every line
/// still buffered (at shutdown).
pub struct Logs {
    _flush_on_drop: WorkerGuard,
    dropped: ErrorCounter,
}

impl Logs {
    /// Lines dropped so far because stderr could not keep up.
    pub fn dropped(&self) -> ErrorCounter {
        self.dropped.clone()
    }
}

/// Installs the server's process-wide subscriber, writing to stderr through the non-blocking
/// buffered writer, with colours only when stderr is a terminal. Later calls install nothing.
pub fn init(format: LogFormat) -> Logs {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("now-playing-log")
        .finish(BufWriter::with_capacity(WRITE_BUFFER, std::io::stderr()));
    let dropped = writer.error_counter();
    let ansi = format == LogFormat::Pretty && std::io::stderr().is_terminal();
    let _ = tracing::subscriber::set_global_default(subscriber_with(
        format,
        env_filter(),
        writer,
        ansi,
    ));
    Logs {
        _flush_on_drop: guard,
        dropped,
    }
}

/// For the commands a person runs in a terminal: warnings and errors only, unless `RUST_LOG`
/// says otherwise, written at once.
pub fn init_quiet() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing::subscriber::set_global_default(subscriber_with(
        LogFormat::Pretty,
        filter,
        std::io::stderr,
        std::io::stderr().is_terminal(),
    ));
}
