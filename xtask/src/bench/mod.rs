//! `cargo xtask bench`: the load benchmark. Builds the shipped binary (or takes `--binary`),
//! starts the mock Spotify in this process and the server as a child, drives it with `wrk`
//! and other clients, and writes a markdown report to `target/bench/<time>/report.md`.
//!
//! Each measurement is a [`Case`]; `--only` and `--skip` choose them. A new case is a
//! variant here and a function in `cases.rs` or `edge.rs` that adds its rows to the report.
//! The machine has 2 cores shared by `wrk` and the server: compare ratios within one run,
//! never absolute numbers across runs.

mod cases;
mod edge;
mod hostile;
mod report;
mod server;
mod streams;
mod wrk;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mock_spotify::{Counts, MockSpotify, Options};

use crate::bail;
use crate::util::{self, Result, log};
use report::Report;
use server::{Launch, Server};

/// The measurements, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Case {
    /// The binary's size.
    Size,
    /// Time to the first `/healthz` 200, median of `--startups` starts.
    Startup,
    /// Each route's throughput as a ratio to `/healthz` on the same server, rounds interleaved.
    Ratio,
    /// The same with a browser's `Accept-Encoding`; issue 11: `/now-playing` and `/embed` in
    /// rounds, each encoded run paired with an identity run right before it.
    Compressed,
    /// Peak RSS with `--big-connections` connections, and their p99.
    Rss,
    /// RSS with `--event-streams` open event streams.
    Streams,
    /// A server with `RUST_LOG=info` (a log line per request, to a file); issue 11: against
    /// the main server at `RUST_LOG=warn`, and every request logged.
    Info,
    /// Issue 8: cached `/now-playing` while Spotify answers in 400 ms and `CACHE_TTL=2`.
    Swr,
    /// Issue 8: 1,100 half-open connections under a 1024 open-files limit.
    Halfopen,
    /// Issue 15: `--slow-readers` clients pipeline card requests and never read.
    SlowReaders,
    /// Issue 15: `--unique-accents` requests, each with an `accent` of its own.
    UniqueParams,
    /// Issue 11: own `/healthz` against a bare axum hello-world (`examples/hello.rs`), the
    /// ceiling of this machine, rounds interleaved.
    Hello,
}

/// Cases measured on the one long-lived server whose Spotify calls are counted.
const MAIN_SERVER: [Case; 5] = [
    Case::Startup,
    Case::Ratio,
    Case::Compressed,
    Case::Rss,
    Case::Streams,
];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Benchmark this binary, skip the build (an older build gives "before" numbers).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Cargo target to build: the shipped static binary by default.
    #[arg(long, default_value = "x86_64-unknown-linux-musl")]
    target: String,
    /// Run only these cases (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Case>,
    /// Leave these cases out (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    skip: Vec<Case>,
    /// Duration of every wrk run, in seconds.
    #[arg(long, default_value = "10", value_parser = seconds)]
    duration: Duration,
    /// wrk connections of the ratio runs.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Rounds of (`/healthz`, route) pairs; ratios are the median.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Routes of the ratio rounds.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "/now-playing,/now-playing.html,/embed,/now-playing.svg"
    )]
    routes: Vec<String>,
    /// Routes of the `RUST_LOG=info` round.
    #[arg(long, value_delimiter = ',', default_value = "/now-playing,/embed")]
    info_routes: Vec<String>,
    /// Connections of the peak-RSS run on `/now-playing`.
    #[arg(long, default_value_t = 256)]
    big_connections: u32,
    /// Event streams held open for the memory measure.
    #[arg(long, default_value_t = 1000)]
    event_streams: usize,
    /// Seconds the streams stay open (more than CACHE_TTL: one poll happens).
    #[arg(long, default_value = "12", value_parser = seconds)]
    event_hold: Duration,
    /// CACHE_TTL of the main server, in seconds.
    #[arg(long, default_value_t = 10)]
    cache_ttl: u64,
    /// Size of the mock's cover JPEG (inlined in the SVG card).
    #[arg(long, default_value_t = 24_000)]
    image_bytes: usize,
    /// Server starts timed (the last one is the benchmarked server).
    #[arg(long, default_value_t = 5)]
    startups: usize,
    /// Spotify's answer time in the swr case, in milliseconds.
    #[arg(long, default_value_t = 400)]
    swr_latency_ms: u64,
    /// CACHE_TTL of the swr case, in seconds.
    #[arg(long, default_value_t = 2)]
    swr_cache_ttl: u64,
    /// wrk connections of the swr case.
    #[arg(long, default_value_t = 32)]
    swr_connections: u32,
    /// Duration of the swr case's wrk runs, in seconds.
    #[arg(long, default_value = "12", value_parser = seconds)]
    swr_duration: Duration,
    /// Half-open connections held.
    #[arg(long, default_value_t = 1100)]
    halfopen_held: usize,
    /// The server's open-files limit in the half-open case (`prlimit --nofile=N:N`).
    #[arg(long, default_value_t = 1024)]
    halfopen_open_files: u64,
    /// HEADER_TIMEOUT in the half-open case, in seconds.
    #[arg(long, default_value_t = 3)]
    header_timeout: u64,
    /// How long the half-open case waits for another client and for the held connections
    /// to be closed, in seconds (a server that never closes them is reported as such).
    #[arg(long, default_value = "20", value_parser = seconds)]
    halfopen_wait: Duration,
    /// Clients of the slow-readers case; also its MAX_CONNECTIONS.
    #[arg(long, default_value_t = 50)]
    slow_readers: usize,
    /// Requests of the unique-params case.
    #[arg(long, default_value_t = 200)]
    unique_accents: usize,
    /// RENDER_CACHE_MB of the unique-params case.
    #[arg(long, default_value_t = 16)]
    render_cache_mb: u64,
    /// The hello-world of the `hello` case (default: built from this tree for --target).
    #[arg(long)]
    hello_binary: Option<PathBuf>,
    /// Where raw outputs, logs and report.md go (default target/bench/<date>-<time>).
    #[arg(long)]
    results: Option<PathBuf>,
}

/// `10`, `10s` or `1.5` seconds.
fn seconds(text: &str) -> std::result::Result<Duration, String> {
    text.trim_end_matches('s')
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("seconds, such as 10 or 2.5, not {text:?}"))
}

const TASK: &str = "bench";

/// What every case works with.
pub struct Bench {
    args: Args,
    cases: Vec<Case>,
    binary: PathBuf,
    mock: MockSpotify,
    /// Raw wrk outputs, logs and the report.
    results: PathBuf,
    /// The servers' working directory: empty, so that no `.env` is read.
    empty_dir: PathBuf,
    report: Report,
    /// Median req/s of each route in the ratio rounds (identity encoding, `RUST_LOG=warn`).
    identity_rps: std::collections::BTreeMap<String, f64>,
}

/// One wrk run on a server, with what it cost the server and the Spotify calls meanwhile.
pub struct Measured {
    run: wrk::Run,
    /// Server CPU per request in µs: user, system.
    cpu: (f64, f64),
    calls: Counts,
}

pub async fn run(args: Args) -> Result<()> {
    let cases: Vec<Case> = [
        Case::Size,
        Case::Startup,
        Case::Ratio,
        Case::Compressed,
        Case::Rss,
        Case::Streams,
        Case::Info,
        Case::Swr,
        Case::Halfopen,
        Case::SlowReaders,
        Case::UniqueParams,
        Case::Hello,
    ]
    .into_iter()
    .filter(|c| args.only.is_empty() || args.only.contains(c))
    .filter(|c| !args.skip.contains(c))
    .collect();
    if cases.is_empty() {
        bail!("no case left to run");
    }
    let mut tools = vec![("wrk", "wrk"), ("prlimit", "util-linux")];
    if args.binary.is_none() && args.target.contains("musl") {
        tools.push(("musl-gcc", "musl-tools"));
    }
    util::apt_install(TASK, &tools)?;
    let open_files = util::raise_open_files_limit();
    let needed = (args.event_streams + 200).max(2 * args.halfopen_held) as u64;
    if open_files < needed {
        bail!("the open-files limit is {open_files}, too low for this run (wants {needed})");
    }

    let (binary, build) = match &args.binary {
        Some(path) => {
            let path = std::fs::canonicalize(path)
                .map_err(|e| util::Error(format!("--binary {}: {e}", path.display())))?;
            (
                path,
                format!(
                    "(none: --binary {})",
                    args.binary.as_ref().unwrap().display()
                ),
            )
        }
        None => {
            let (binary, seconds) = build(&args.target, None)?;
            let command = format!(
                "cargo build --release --locked --target {} -p now-playing",
                args.target
            );
            (binary, format!("`{command}` ({seconds} s)"))
        }
    };
    let results = args
        .results
        .clone()
        .unwrap_or_else(|| util::root().join("target/bench").join(util::stamp()));
    std::fs::create_dir_all(&results)?;
    let empty_dir = std::env::temp_dir().join(format!("np-bench-{}", std::process::id()));
    std::fs::create_dir_all(&empty_dir)?;
    log(
        TASK,
        format!(
            "binary {}; results in {}",
            binary.display(),
            results.display()
        ),
    );

    let mock = MockSpotify::start_with(Options {
        client: Some(("bench-client".into(), "bench-secret".into())),
        refresh_token: Some("bench-refresh".into()),
        advance_progress: true,
        image_bytes: args.image_bytes,
        ..Options::default()
    })
    .await?;
    let mut bench = Bench {
        cases,
        binary,
        mock,
        results,
        empty_dir,
        report: Report::default(),
        identity_rps: Default::default(),
        args,
    };
    bench.header(&build);
    let outcome = bench.run_cases().await;
    let _ = std::fs::remove_dir_all(&bench.empty_dir);
    outcome?;

    let title = format!(
        "Benchmark run {}",
        mock_spotify::payloads::iso8601(std::time::SystemTime::now())
    );
    let text = bench.report.render(&title)
        + &format!("Raw wrk outputs and logs: `{}`.\n", bench.results.display());
    let path = bench.results.join("report.md");
    std::fs::write(&path, &text)?;
    println!("{text}");
    log(TASK, format!("report written to {}", path.display()));
    Ok(())
}

/// `cargo build --release --locked --target TARGET -p now-playing [--example NAME]`; the
/// binary and how many seconds the build took.
fn build(target: &str, example: Option<&str>) -> Result<(PathBuf, u64)> {
    let installed = util::output("rustup", &["target", "list", "--installed"])?;
    if !installed.lines().any(|l| l.trim() == target) {
        log(TASK, format!("rustup target add {target}"));
        util::output("rustup", &["target", "add", target])?;
    }
    let mut args = vec![
        "build",
        "--release",
        "--locked",
        "--target",
        target,
        "-p",
        "now-playing",
    ];
    if let Some(name) = example {
        args.extend(["--example", name]);
    }
    log(TASK, format!("cargo {}", args.join(" ")));
    let started = Instant::now();
    let status = std::process::Command::new("cargo")
        .args(&args)
        .current_dir(util::root())
        .status()?;
    if !status.success() {
        bail!("the release build failed");
    }
    let metadata = util::output("cargo", &["metadata", "--format-version", "1", "--no-deps"])?;
    let metadata: serde_json::Value = serde_json::from_str(&metadata)?;
    let target_dir = metadata["target_directory"].as_str().unwrap_or("target");
    let release = Path::new(target_dir).join(target).join("release");
    let binary = match example {
        Some(name) => release.join("examples").join(name),
        None => release.join("now-playing"),
    };
    if !binary.is_file() {
        bail!("no binary at {} after the build", binary.display());
    }
    Ok((binary, started.elapsed().as_secs()))
}

impl Bench {
    fn selected(&self, case: Case) -> bool {
        self.cases.contains(&case)
    }

    async fn run_cases(&mut self) -> Result<()> {
        if self.selected(Case::Size) {
            self.size()?;
        }
        if MAIN_SERVER.iter().any(|c| self.selected(*c)) {
            self.main_server().await?;
        }
        if self.selected(Case::Info) {
            self.info().await?;
        }
        if self.selected(Case::Swr) {
            self.swr().await?;
        }
        if self.selected(Case::Halfopen) {
            self.halfopen().await?;
        }
        if self.selected(Case::SlowReaders) {
            self.slow_readers().await?;
        }
        if self.selected(Case::UniqueParams) {
            self.unique_params().await?;
        }
        if self.selected(Case::Hello) {
            self.hello().await?;
        }
        Ok(())
    }

    fn header(&mut self, build: &str) {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_default();
        let ram = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(String::new, |kb| format!("{:.0} GB RAM", kb as f64 / 1e6));
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let source = util::output(
            "git",
            &[
                "-C",
                &util::root().display().to_string(),
                "describe",
                "--always",
                "--dirty",
            ],
        )
        .unwrap_or_else(|_| "unknown".into());
        let names: Vec<String> = self
            .cases
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect();
        let a = &self.args;
        self.report.header = vec![
            format!(
                "machine: {cores} cores, {cpu}, {ram}, kernel {}",
                read("/proc/sys/kernel/osrelease").trim()
            ),
            format!(
                "source: `{}` (git describe --always --dirty)",
                source.trim()
            ),
            format!("binary: `{}`; build: {build}", self.binary.display()),
            format!("cases: {}", names.join(", ")),
            format!(
                "server: CACHE_TTL={}, RUST_LOG=warn, LOG_FORMAT=pretty, MAX_EVENT_CLIENTS={}, METRICS=true, against the mock Spotify of tests/support (in this process; progress advancing, JPEG cover {} bytes)",
                a.cache_ttl,
                a.event_streams + 100,
                a.image_bytes
            ),
            format!(
                "load: `wrk -t{} -c{} -d{}s --latency URL`, {} rounds; in each round every route runs right after a `/healthz` run, and its ratio is to that run; the ratio shown is the median over rounds. wrk and the server share the cores.",
                a.threads,
                a.connections,
                a.duration.as_secs_f64(),
                a.rounds
            ),
        ];
    }

    /// The settings every server gets; `extra` adds or overrides.
    fn env(
        &self,
        cache_ttl: u64,
        rust_log: &str,
        extra: &[(&str, String)],
    ) -> Vec<(String, String)> {
        let url = self.mock.url();
        let mut env: Vec<(String, String)> = [
            ("SPOTIFY_CLIENT_ID", "bench-client".to_owned()),
            ("SPOTIFY_CLIENT_SECRET", "bench-secret".to_owned()),
            ("SPOTIFY_REFRESH_TOKEN", "bench-refresh".to_owned()),
            ("SPOTIFY_ACCOUNTS_URL", url.clone()),
            ("SPOTIFY_API_URL", url.clone()),
            ("SPOTIFY_IMAGES_URL", url),
            ("CACHE_TTL", cache_ttl.to_string()),
            ("RUST_LOG", rust_log.to_owned()),
            ("LOG_FORMAT", "pretty".to_owned()),
            (
                "MAX_EVENT_CLIENTS",
                (self.args.event_streams + 100).to_string(),
            ),
            ("METRICS", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), value.clone()));
        }
        env
    }

    async fn start(
        &self,
        env: Vec<(String, String)>,
        log_name: &str,
        open_files: Option<u64>,
    ) -> Result<Server> {
        Server::start(Launch {
            binary: &self.binary,
            env,
            log: self.results.join(log_name),
            dir: &self.empty_dir,
            open_files,
        })
        .await
    }

    fn load(&self, connections: u32, headers: &[&str]) -> wrk::Load {
        wrk::Load {
            threads: self.args.threads,
            connections,
            duration: self.args.duration,
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    /// One wrk run on `server`, saved as `<label>.txt`, logged in one line.
    fn wrk(&self, label: &str, server: &Server, path: &str, load: &wrk::Load) -> Result<Measured> {
        let calls_before = self.mock.counts();
        let cpu_before = util::cpu_time(server.pid);
        let run = wrk::run(
            load,
            &server.url(path),
            &self.results.join(format!("{label}.txt")),
        )?;
        let cpu_after = util::cpu_time(server.pid);
        let calls = self.mock.counts().since(&calls_before);
        let cpu = match (cpu_before, cpu_after) {
            (Some((u0, s0)), Some((u1, s1))) if run.requests > 0 => {
                let per =
                    |a: Duration, b: Duration| (b - a).as_secs_f64() * 1e6 / run.requests as f64;
                (per(u0, u1), per(s0, s1))
            }
            _ => (f64::NAN, f64::NAN),
        };
        log(
            TASK,
            format!(
                "{label:<30} c={:<4} {:>10.0} req/s  p99 {:>8.2} ms  bad {}  server cpu {:.1}+{:.1} us/req  spotify: {calls}  load {}",
                load.connections,
                run.rps,
                run.p99,
                run.bad,
                cpu.0,
                cpu.1,
                util::load_average()
            ),
        );
        Ok(Measured { run, cpu, calls })
    }
}
