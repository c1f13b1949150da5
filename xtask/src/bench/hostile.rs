//! Issue 15's measurements: clients that pipeline requests and never read the answers, and
//! a client that sends a unique `accent` on every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use super::report::{Verdict, table};
use super::{Bench, TASK};
use crate::util::{self, Result, kib_mb, log, median};

/// Issue 15's targets: another client is served at once, and every connection whose client
/// reads nothing is closed within HEADER_TIMEOUT and a little more.
const T_OTHER_CLIENT: Duration = Duration::from_secs(1);
const T_CLOSE_SLACK: Duration = Duration::from_secs(3);

impl Bench {
    /// `--slow-readers` clients, each with a 4 KiB receive buffer, pipeline 30 card requests
    /// and never read, against `MAX_CONNECTIONS` = their number.
    pub(super) async fn slow_readers(&mut self) -> Result<()> {
        let clients = self.args.slow_readers;
        let timeout = self.args.header_timeout;
        let wait = self.args.halfopen_wait;
        let env = self.env(
            self.args.cache_ttl,
            "info",
            &[
                ("MAX_CONNECTIONS", clients.to_string()),
                ("HEADER_TIMEOUT", timeout.to_string()),
            ],
        );
        let server = self.start(env, "server-slow-readers.log", None).await?;
        let address = server.address();
        // A first answer, so that every pipelined one is a cached card with its cover.
        let card = util::get(&address, "/recently-played.svg", &[], wait).await?;
        let kernel_before = tcp_memory_kib();
        let mut hogs = Vec::with_capacity(clients);
        let request = format!("GET /recently-played.svg HTTP/1.1\r\nHost: {address}\r\n\r\n");
        for _ in 0..clients {
            hogs.push(never_reading(&address, &request.repeat(30)).await?);
        }
        let all_open = Instant::now();
        // Long enough for every buffer on the way to fill, and for the server to take these
        // clients for ones that stopped reading (a second), not ones on a slow link.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let kernel = tcp_memory_kib().saturating_sub(kernel_before);

        let asked = Instant::now();
        let other = util::get(&address, "/healthz", &[], wait).await;
        let served = other
            .as_ref()
            .ok()
            .filter(|r| r.status == 200)
            .map(|_| asked.elapsed());
        let mut closed: Vec<Option<Duration>> = vec![None; hogs.len()];
        while all_open.elapsed() < wait && closed.iter().any(Option::is_none) {
            for (hog, closed) in hogs.iter().zip(&mut closed) {
                if closed.is_none() && !established(hog) {
                    *closed = Some(all_open.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.stop().await;

        let still_open = closed.iter().filter(|c| c.is_none()).count();
        let last_closed = closed.iter().flatten().max().copied().unwrap_or_default();
        let served_text = match served {
            Some(t) => format!("{} ms", util::ms(t)),
            None => format!("not within {} s", wait.as_secs()),
        };
        let closed_text = if still_open == 0 {
            format!("all {clients} within {:.2} s", last_closed.as_secs_f64())
        } else {
            format!(
                "{still_open} of {clients} still open after {} s",
                wait.as_secs()
            )
        };
        log(
            TASK,
            format!(
                "slow readers: another client {served_text}; {closed_text}; kernel TCP memory +{}",
                kib_mb(kernel)
            ),
        );
        self.report.target(
            format!(
                "another client's `/healthz` while {clients} clients read nothing, at MAX_CONNECTIONS (issue 15)"
            ),
            served_text.clone(),
            format!("< {} s", T_OTHER_CLIENT.as_secs()),
            Verdict::of(served.is_some_and(|t| t < T_OTHER_CLIENT)),
        );
        let limit = Duration::from_secs(timeout) + T_CLOSE_SLACK;
        self.report.target(
            "connections of clients that read nothing, closed by the server (issue 15)",
            closed_text.clone(),
            format!("≤ HEADER_TIMEOUT + {} s", T_CLOSE_SLACK.as_secs()),
            Verdict::of(still_open == 0 && last_closed <= limit),
        );
        let body = table(
            &["measure", "result"],
            &[
                vec![
                    "clients (4 KiB receive buffer, 30 pipelined requests, never read)".into(),
                    format!("{clients}, MAX_CONNECTIONS={clients}, HEADER_TIMEOUT={timeout}"),
                ],
                vec![
                    "one card `/recently-played.svg`".into(),
                    format!("{} bytes", card.body.len()),
                ],
                vec![
                    "kernel TCP memory after 1 s (`/proc/net/sockstat`, all sockets)".into(),
                    format!(
                        "+{} ({} per client)",
                        kib_mb(kernel),
                        kib_mb(kernel / clients.max(1) as u64)
                    ),
                ],
                vec!["another client's `/healthz`".into(), served_text],
                vec![
                    "closed by the server, from when all were open".into(),
                    closed_text,
                ],
            ],
        );
        self.report
            .section("Clients that never read (issue 15)", body);
        Ok(())
    }

    /// `--unique-accents` requests, each with an `accent` of its own, on two list cards,
    /// while another client asks `/healthz` in a loop: what they cost in memory and CPU, and
    /// whether `/healthz` slows down.
    pub(super) async fn unique_params(&mut self) -> Result<()> {
        let requests = self.args.unique_accents;
        let cache_mb = self.args.render_cache_mb;
        let env = self.env(
            self.args.cache_ttl,
            "warn",
            &[("RENDER_CACHE_MB", cache_mb.to_string())],
        );
        let server = self.start(env, "server-unique.log", None).await?;
        let address = server.address();
        let timeout = Duration::from_secs(30);
        for path in ["/recently-played.svg", "/top/tracks.svg?limit=50"] {
            util::get(&address, path, &[], timeout).await?;
        }
        let idle = healthz_latencies(&address, 50).await?;
        let (rss_before, _) = util::memory(server.pid).unwrap_or_default();
        let cpu_before = util::cpu_time(server.pid).unwrap_or_default();
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let prober = {
            let address = address.clone();
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let asked = Instant::now();
                    if util::get(&address, "/healthz", &[], timeout).await.is_err() {
                        break;
                    }
                    latencies.push(asked.elapsed().as_secs_f64() * 1e3);
                    if latencies.len() % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                latencies
            })
        };
        // Eight at a time, with a browser's Accept-Encoding, as a crawler would.
        let mut failed = 0;
        let mut asked = 0;
        while asked < requests {
            let batch: Vec<_> = (asked..requests.min(asked + 8))
                .map(|i| {
                    let path = if i % 2 == 0 {
                        "/recently-played.svg"
                    } else {
                        "/top/tracks.svg?limit=50"
                    };
                    let separator = if path.contains('?') { '&' } else { '?' };
                    let url = format!("{path}{separator}accent=%23{:06x}", 0x10_0000 + i);
                    let address = address.clone();
                    tokio::spawn(async move {
                        let headers = [("Accept-Encoding", super::cases::BROWSER_ENCODING)];
                        util::get(&address, &url, &headers, timeout).await
                    })
                })
                .collect();
            asked += batch.len();
            for answer in batch {
                match answer.await {
                    Ok(Ok(r)) if r.status == 200 => {}
                    _ => failed += 1,
                }
            }
        }
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let during = prober.await.unwrap_or_default();
        // Work the requests left behind (compression off the request threads) counts too.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss_after, peak) = util::memory(server.pid).unwrap_or_default();
        let cpu_after = util::cpu_time(server.pid).unwrap_or_default();
        server.stop().await;
        let cpu = (cpu_after.0 + cpu_after.1).saturating_sub(cpu_before.0 + cpu_before.1);
        let p50 = |v: &[f64]| median(v);
        let p99 = |v: &[f64]| {
            let mut sorted = v.to_vec();
            sorted.sort_by(f64::total_cmp);
            sorted
                .get((sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1)))
                .copied()
                .unwrap_or(f64::NAN)
        };
        log(
            TASK,
            format!(
                "unique accents: {requests} in {:.1} s ({failed} failed); RSS {} -> {} (peak {}); server CPU {:.2} s; /healthz p50 {:.2} ms idle, {:.2} ms during (p99 {:.2} ms; {} probes)",
                took.as_secs_f64(),
                kib_mb(rss_before),
                kib_mb(rss_after),
                kib_mb(peak),
                cpu.as_secs_f64(),
                p50(&idle),
                p50(&during),
                p99(&during),
                during.len()
            ),
        );
        let body = table(
            &["measure", "result"],
            &[
                vec![
                    "requests, each with its own `accent`".into(),
                    format!(
                        "{requests} alternating `/recently-played.svg` and `/top/tracks.svg?limit=50`, eight at a time with a browser's `Accept-Encoding`, {:.1} s, {failed} not 200; RENDER_CACHE_MB={cache_mb} (ignored by a build without it)",
                        took.as_secs_f64()
                    ),
                ],
                vec![
                    "RSS growth".into(),
                    format!(
                        "{} -> {} (+{}; peak {})",
                        kib_mb(rss_before),
                        kib_mb(rss_after),
                        kib_mb(rss_after.saturating_sub(rss_before)),
                        kib_mb(peak)
                    ),
                ],
                vec![
                    "server CPU (user + system), until 2 s after the last".into(),
                    format!("{:.2} s", cpu.as_secs_f64()),
                ],
                vec![
                    "`/healthz` p50 from another client".into(),
                    format!(
                        "{:.2} ms idle, {:.2} ms meanwhile (p99 {:.2} ms; {} probes)",
                        p50(&idle),
                        p50(&during),
                        p99(&during),
                        during.len()
                    ),
                ],
            ],
        );
        self.report
            .section("A unique `accent` on every request (issue 15)", body);
        Ok(())
    }
}

async fn never_reading(address: &str, requests: &str) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let mut stream = socket
        .connect(address.parse().map_err(|e| util::Error(format!("{e}")))?)
        .await?;
    stream.write_all(requests.as_bytes()).await?;
    Ok(stream)
}

/// `count` sequential `/healthz` latencies, in milliseconds.
async fn healthz_latencies(address: &str, count: usize) -> Result<Vec<f64>> {
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let asked = Instant::now();
        util::get(address, "/healthz", &[], Duration::from_secs(10)).await?;
        latencies.push(asked.elapsed().as_secs_f64() * 1e3);
    }
    Ok(latencies)
}

/// Memory held by every TCP socket of the machine, in KiB (`/proc/net/sockstat`, pages).
fn tcp_memory_kib() -> u64 {
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    let pages = sockstat
        .lines()
        .find_map(|l| l.strip_prefix("TCP:"))
        .and_then(|l| l.split_whitespace().skip_while(|w| *w != "mem").nth(1))
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    pages * page / 1024
}

/// Whether the kernel still sees `stream` as established (`TCP_INFO`), which tells that the
/// server closed it without reading from it.
fn established(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes into it.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let got = libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        );
        got == 0 && info.tcpi_state == 1
    }
}
