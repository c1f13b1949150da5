//! The log queue: formatted lines wait in one buffer, bounded in bytes, for a thread of
//! their own that writes them out, so that a request never waits for stderr and a stalled
//! stderr costs at most the budget.
//!
//! Why not `tracing-appender`'s non-blocking writer: it bounds its channel by lines, and a
//! line is as long as what a client put in it, so its memory had no useful bound. Here one
//! mutex guards one `Vec<u8>`: a line is appended whole when it fits in the budget and is
//! dropped (and counted) when it does not. The writer thread swaps the buffer for an empty
//! one and writes the lot outside the lock, so at most two budgets are ever held: the lines
//! waiting and the batch being written. After lines were dropped, the writer thread reports
//! how many in one line of its own, which is let in over the budget (one per batch), so that
//! the report of a full queue is never itself dropped.

use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// What the writer thread keeps between batches: one ordinary burst of lines.
const KEPT_CAPACITY: usize = 64 * 1024;

/// How long shutdown waits for the lines still queued; a destination that stalls longer
/// (a pipe nobody reads) must not keep the process from exiting.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

thread_local! {
    /// Set on the writer thread while it reports dropped lines.
    static REPORTING: Cell<bool> = const { Cell::new(false) };
}

/// The writing end, for the subscriber: every event is one `write` of one whole line.
#[derive(Clone)]
pub struct Lines(Arc<Shared>);

/// The reading end: the writer thread. Dropping it writes out the lines still queued
/// (waiting at most [`FLUSH_AT_EXIT`]).
pub(super) struct Writer {
    shared: Arc<Shared>,
    finished: mpsc::Receiver<()>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when the queue stops being empty, and at close.
    ready: Condvar,
    budget: usize,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    closed: bool,
}

/// A queue of at most `budget` bytes of lines, written to `sink` by a thread named `name`,
/// which calls `report` with the number of lines dropped since its last call and the queue
/// to write its report to, before it writes out the lines that were waiting meanwhile.
pub(super) fn spawn<W, R>(
    budget: usize,
    name: &str,
    sink: W,
    report: R,
) -> std::io::Result<(Lines, Writer)>
where
    W: Write + Send + 'static,
    R: Fn(u64, &Lines) + Send + 'static,
{
    let shared = Arc::new(Shared {
        queue: Mutex::default(),
        ready: Condvar::new(),
        budget,
        dropped: AtomicU64::new(0),
    });
    let (done, finished) = mpsc::channel::<()>();
    let worker = Lines(Arc::clone(&shared));
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            write_out(&worker, sink, report);
            drop(done);
        })?;
    Ok((Lines(Arc::clone(&shared)), Writer { shared, finished }))
}

impl Lines {
    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere while holding the lock leaves whole lines behind: keep going.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Write for &Lines {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let shared = &self.0;
        let mut queue = shared.queue();
        let fits = queue.lines.len() + line.len() <= shared.budget;
        if !fits && !REPORTING.get() {
            drop(queue);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(line.len());
        }
        let was_empty = queue.lines.is_empty();
        queue.lines.extend_from_slice(line);
        drop(queue);
        // The writer thread waits only on an empty queue; otherwise it is busy and will look.
        if was_empty {
            shared.ready.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = &'a Lines;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// The writer thread: takes every waiting line at once, reports the lines dropped while they
/// waited, and writes them out (outside the lock).
fn write_out(lines: &Lines, mut sink: impl Write, report: impl Fn(u64, &Lines)) {
    let shared = &lines.0;
    let mut batch = Vec::new();
    let mut reported = 0;
    loop {
        {
            let mut queue = shared.queue();
            while queue.lines.is_empty() && !queue.closed {
                queue = shared
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if queue.lines.is_empty() {
                return;
            }
            std::mem::swap(&mut queue.lines, &mut batch);
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if dropped > reported {
            REPORTING.set(true);
            report(dropped - reported, lines);
            REPORTING.set(false);
            reported = dropped;
        }
        // Nowhere to report a failing stderr: the lines are lost either way.
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        batch.clear();
        batch.shrink_to(KEPT_CAPACITY);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.queue().closed = true;
        self.shared.ready.notify_one();
        let _ = self.finished.recv_timeout(FLUSH_AT_EXIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that says when a write starts and then waits until the test lets it go on.
    struct Gate {
        entered: mpsc::Sender<()>,
        open: mpsc::Receiver<()>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gate {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let _ = self.open.recv();
            self.written.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn line(n: usize) -> Vec<u8> {
        format!("line {n:03}\n").into_bytes()
    }

    /// A gated sink, what passed through it, the signal that a write started and the key
    /// that opens the gate (dropping it opens it for good).
    struct Gated {
        sink: Gate,
        written: Arc<Mutex<Vec<u8>>>,
        started: mpsc::Receiver<()>,
        release: mpsc::Sender<()>,
    }

    fn gated() -> Gated {
        let (entered, started) = mpsc::channel();
        let (release, open) = mpsc::channel();
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = Gate {
            entered,
            open,
            written: Arc::clone(&written),
        };
        Gated {
            sink,
            written,
            started,
            release,
        }
    }

    fn report_as_a_line(dropped: u64, lines: &Lines) {
        let report = format!("dropped {dropped}\n");
        lines.make_writer().write_all(report.as_bytes()).unwrap();
    }

    #[test]
    fn lines_beyond_the_byte_budget_are_dropped_counted_and_reported_while_the_sink_stalls() {
        let Gated {
            sink,
            written,
            started,
            release,
        } = gated();
        let length = line(0).len();
        let (lines, writer) = spawn(3 * length, "test-log", sink, report_as_a_line).unwrap();
        let mut input = lines.make_writer();

        // The first line is taken at once; the writer thread then stalls on the sink.
        input.write_all(&line(0)).unwrap();
        started.recv().unwrap();
        // Three more fit in the budget; the next ones are dropped, each counted.
        for n in 1..=6 {
            input.write_all(&line(n)).unwrap();
        }
        assert_eq!(lines.dropped(), 3);
        assert_eq!(writer.shared.queue().lines.len(), 3 * length);

        // The sink moves again: the queue drains, the drops are reported after the lines
        // that were waiting, and there is room once more.
        drop(release);
        drop(writer);
        let mut expected: Vec<u8> = (0..=3).flat_map(line).collect();
        expected.extend_from_slice(b"dropped 3\n");
        assert_eq!(*written.lock().unwrap(), expected);
        input.write_all(&line(7)).unwrap();
        assert_eq!(lines.dropped(), 3);
    }

    #[test]
    fn the_report_of_dropped_lines_is_let_in_over_the_budget() {
        let Gated {
            sink,
            written,
            started,
            release,
        } = gated();
        let length = line(0).len();
        let filled = std::sync::atomic::AtomicBool::new(false);
        let report = move |dropped, lines: &Lines| {
            // Once, other threads fill the queue again before the report is written.
            if !filled.swap(true, Ordering::Relaxed) {
                std::thread::scope(|scope| {
                    scope.spawn(|| {
                        for n in 10..14 {
                            lines.make_writer().write_all(&line(n)).unwrap();
                        }
                    });
                });
            }
            report_as_a_line(dropped, lines);
        };
        let (lines, writer) = spawn(3 * length, "test-log", sink, report).unwrap();
        lines.make_writer().write_all(&line(0)).unwrap();
        started.recv().unwrap();
        for n in 1..=4 {
            lines.make_writer().write_all(&line(n)).unwrap();
        }
        drop(release);
        drop(writer);
        // Line 4 was dropped while the sink stalled, line 13 while the report was made.
        assert_eq!(lines.dropped(), 2);
        let mut expected: Vec<u8> = [0, 1, 2, 3, 10, 11, 12]
            .into_iter()
            .flat_map(line)
            .collect();
        expected.extend_from_slice(b"dropped 1\ndropped 1\n");
        assert_eq!(
            String::from_utf8_lossy(&written.lock().unwrap()),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn a_line_longer_than_the_budget_is_dropped_whole() {
        let Gated {
            sink,
            written,
            release,
            ..
        } = gated();
        drop(release);
        let (lines, writer) = spawn(64, "test-log", sink, |_, _: &Lines| {}).unwrap();
        lines.make_writer().write_all(&[b'x'; 65]).unwrap();
        lines.make_writer().write_all(b"short\n").unwrap();
        drop(writer);
        assert_eq!(lines.dropped(), 1);
        assert_eq!(*written.lock().unwrap(), b"short\n");
    }

    #[test]
    fn closing_writes_out_every_queued_line() {
        let Gated {
            sink,
            written,
            release,
            ..
        } = gated();
        drop(release);
        let (lines, writer) = spawn(1 << 20, "test-log", sink, |_, _: &Lines| {}).unwrap();
        for n in 0..1000 {
            lines.make_writer().write_all(&line(n)).unwrap();
        }
        drop(writer);
        let expected: Vec<u8> = (0..1000).flat_map(line).collect();
        assert_eq!(*written.lock().unwrap(), expected);
    }
}
