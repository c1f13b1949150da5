//! Logging: a `tracing` subscriber writing to stderr, human-readable or JSON lines, filtered
//! by `RUST_LOG` (default `info`). The server's lines go through a queue bounded in bytes to
//! a thread of their own, so a request never waits for stderr: when the sink is too slow,
//! lines are dropped and counted, never waited for.

mod queue;

use std::borrow::Cow;
use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Bytes of lines waiting for the writer thread; a line that does not fit is dropped (and
/// counted). About five thousand ordinary request lines.
const QUEUED_BYTES: usize = 1024 * 1024;

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
pub(crate) fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The server's log writer: keep it while the server runs; dropping it writes out every line
/// still queued (at shutdown).
pub struct Logs {
    _flush_on_drop: Option<queue::Writer>,
    lines: Option<queue::Lines>,
}

impl Logs {
    /// How many lines were dropped so far because stderr could not keep up.
    pub fn dropped(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let lines = self.lines.clone();
        move || lines.as_ref().map_or(0, queue::Lines::dropped)
    }
}

/// Installs the server's process-wide subscriber, writing to stderr through the queue, with
/// colours only when stderr is a terminal. Later calls install nothing. Should the writer
/// thread not start, lines are written directly.
pub fn init(format: LogFormat) -> Logs {
    let ansi = format == LogFormat::Pretty && std::io::stderr().is_terminal();
    let install = |subscriber| {
        let _ = tracing::subscriber::set_global_default(subscriber);
    };
    let report = |dropped, _: &queue::Lines| {
        tracing::warn!(
            dropped,
            "log lines dropped: the log destination could not keep up"
        );
    };
    match queue::spawn(QUEUED_BYTES, "now-playing-log", std::io::stderr(), report) {
        Ok((lines, writer)) => {
            install(subscriber_with(format, env_filter(), lines.clone(), ansi));
            Logs {
                _flush_on_drop: Some(writer),
                lines: Some(lines),
            }
        }
        Err(e) => {
            install(subscriber_with(format, env_filter(), std::io::stderr, ansi));
            tracing::warn!("no log writer thread ({e}): lines are written as they come");
            Logs {
                _flush_on_drop: None,
                lines: None,
            }
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary, with `…` after the cut: what a
/// client sends costs a log line no more than that.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(cut("/now-playing.svg", 256), "/now-playing.svg");
        let exactly = "a".repeat(256);
        assert_eq!(cut(&exactly, 256), exactly);
    }

    #[test]
    fn long_text_is_cut_and_marked() {
        let long = "a".repeat(65_000);
        assert_eq!(cut(&long, 256), format!("{}…", "a".repeat(256)));
    }

    #[test]
    fn the_cut_falls_on_a_character_boundary() {
        // 'é' is two bytes: the 256th byte is the first half of one.
        let text = format!("/{}", "é".repeat(200));
        let logged = cut(&text, 256);
        assert_eq!(logged, format!("/{}…", "é".repeat(127)));
        let emoji = "🎵".repeat(100);
        assert_eq!(cut(&emoji, 6), "🎵…");
        assert_eq!(cut(&emoji, 3), "…");
    }
}
