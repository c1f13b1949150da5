//! Many clients on the server at once: event streams held open (memory per stream), and
//! half-open connections that send half a request head and nothing more (README: Slow clients
//! and connection limits).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

/// Event streams open at one moment.
pub struct Held {
    tasks: JoinSet<()>,
    pub statuses: BTreeMap<String, usize>,
    /// Streams that got their first event.
    pub ready: usize,
    pub opened_in: Duration,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    ready: AtomicUsize,
    settled: AtomicUsize,
    ended: AtomicUsize,
    events: AtomicUsize,
    statuses: Mutex<BTreeMap<String, usize>>,
}

const MARKER: &[u8] = b"event: now-playing";

/// Opens `count` event streams on `address` (at most 100 connecting at once, to stay under
/// the listen backlog) and waits up to 60 s until each has its first event or has failed.
pub async fn open_event_streams(address: &str, count: usize) -> Held {
    let shared = Arc::new(Shared::default());
    let gate = Arc::new(Semaphore::new(100));
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for _ in 0..count {
        let (shared, gate, address) = (Arc::clone(&shared), Arc::clone(&gate), address.to_owned());
        tasks.spawn(async move {
            let status = stream(&address, &gate, &shared).await;
            *shared.statuses.lock().await.entry(status).or_default() += 1;
            shared.ended.fetch_add(1, Ordering::Relaxed);
        });
    }
    let deadline = started + Duration::from_secs(60);
    while shared.settled.load(Ordering::Relaxed) < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Held {
        tasks,
        statuses: BTreeMap::new(),
        ready: shared.ready.load(Ordering::Relaxed),
        opened_in: started.elapsed(),
        shared,
    }
}

impl Held {
    /// Streams that got their first event and are still open.
    pub fn still_open(&self) -> usize {
        self.ready
            .saturating_sub(self.shared.ended.load(Ordering::Relaxed))
    }

    pub fn events(&self) -> usize {
        self.shared.events.load(Ordering::Relaxed)
    }

    /// Closes every stream; returns the answers' status codes (or errors) with their counts.
    pub async fn close(mut self) -> BTreeMap<String, usize> {
        self.tasks.shutdown().await;
        let mut statuses = self.shared.statuses.lock().await.clone();
        let open = self.ready.saturating_sub(statuses.values().sum());
        if open > 0 {
            *statuses.entry("200".into()).or_default() += open;
        }
        self.statuses = statuses.clone();
        statuses
    }
}

/// One stream: returns how it ended (its status code, or the error).
async fn stream(address: &str, gate: &Semaphore, shared: &Shared) -> String {
    let settle = || shared.settled.fetch_add(1, Ordering::Relaxed);
    let opened = async {
        let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
        let mut connection =
            tokio::time::timeout(Duration::from_secs(15), TcpStream::connect(address))
                .await
                .map_err(|_| "connect timeout".to_owned())?
                .map_err(|e| format!("connect: {}", e.kind()))?;
        connection
            .write_all(b"GET /now-playing/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            .await
            .map_err(|e| format!("write: {}", e.kind()))?;
        let mut reader = BufReader::new(connection);
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(15), reader.read_line(&mut line))
            .await
            .map_err(|_| "no status line".to_owned())?
            .map_err(|e| format!("read: {}", e.kind()))?;
        let status = line.split(' ').nth(1).unwrap_or("no-answer").to_owned();
        Ok::<_, String>((reader, status))
    };
    let (mut reader, status) = match opened.await {
        Ok(opened) => opened,
        Err(e) => {
            settle();
            return format!("error: {e}");
        }
    };
    let mut buffer = vec![0u8; 65_536];
    let mut tail: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        let n = match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut window = std::mem::take(&mut tail);
        window.extend_from_slice(&buffer[..n]);
        let found = window
            .windows(MARKER.len())
            .filter(|w| *w == MARKER)
            .count();
        shared.events.fetch_add(found, Ordering::Relaxed);
        if found > 0 && first {
            first = false;
            shared.ready.fetch_add(1, Ordering::Relaxed);
            settle();
        }
        tail = window[window.len().saturating_sub(MARKER.len() - 1)..].to_vec();
    }
    if first {
        settle();
    }
    status
}

/// A request head without its final blank line: the server waits for the rest.
const HALF_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

/// Half-open connections, each watched until the server closes it.
pub struct HalfOpen {
    /// Connections that could be opened.
    pub opened: usize,
    pub failed: usize,
    /// From the first connect to the last connection's half head sent.
    pub opening: Duration,
    /// When the last one was open.
    pub all_open: Instant,
    /// When each connection was open, and its watcher, which returns when the server
    /// closed it.
    watchers: Vec<(Instant, tokio::task::JoinHandle<Instant>)>,
}

/// Opens `count` connections on `address`, fifty at a time, each sending half a request
/// head, and watches each until the server closes it.
pub async fn open_half(address: &str, count: usize) -> HalfOpen {
    let started = Instant::now();
    let mut watchers = Vec::with_capacity(count);
    let mut failed = 0;
    for batch in 0..count.div_ceil(50) {
        let size = 50.min(count - batch * 50);
        let mut connecting = JoinSet::new();
        for _ in 0..size {
            let address = address.to_owned();
            connecting.spawn(async move {
                let connect = TcpStream::connect(&address);
                let mut stream = tokio::time::timeout(Duration::from_secs(3), connect)
                    .await
                    .ok()?
                    .ok()?;
                // Past its limit the server may already have closed it.
                let _ = stream.write_all(HALF_HEAD).await;
                Some(stream)
            });
        }
        while let Some(joined) = connecting.join_next().await {
            let Some(mut stream) = joined.ok().flatten() else {
                failed += 1;
                continue;
            };
            let opened = Instant::now();
            watchers.push((
                opened,
                tokio::spawn(async move {
                    let mut buffer = [0u8; 256];
                    while let Ok(n) = stream.read(&mut buffer).await {
                        if n == 0 {
                            break;
                        }
                    }
                    Instant::now()
                }),
            ));
        }
    }
    let all_open = Instant::now();
    HalfOpen {
        opened: watchers.len(),
        failed,
        opening: all_open - started,
        all_open,
        watchers,
    }
}

impl HalfOpen {
    /// Waits until `all_open + watch` at most; returns, for each connection the server
    /// closed, when (from when all were open) and how long it had lived (`None`: still open
    /// then, and now closed by us).
    pub async fn closed(self, watch: Duration) -> Vec<Option<(Duration, Duration)>> {
        let until = tokio::time::Instant::from_std(self.all_open + watch);
        let mut closed = Vec::with_capacity(self.watchers.len());
        for (opened, mut watcher) in self.watchers {
            match tokio::time::timeout_at(until, &mut watcher).await {
                Ok(Ok(at)) => closed.push(Some((
                    at.saturating_duration_since(self.all_open),
                    at.saturating_duration_since(opened),
                ))),
                _ => {
                    watcher.abort();
                    closed.push(None);
                }
            }
        }
        closed
    }
}
