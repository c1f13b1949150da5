//! `spawn_app()`: the application on port 0 with a wiremock Spotify and a manual clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use now_playing::clock::Clock;
use now_playing::config::{Config, Source, SpotifyConfig};
use now_playing::startup::Application;
use reqwest::Url;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use wiremock::MockServer;

pub(crate) const CLIENT_ID: &str = "test-client-id";
pub(crate) const CLIENT_SECRET: &str = "test-client-secret-5e1f0a";
pub(crate) const REFRESH_TOKEN: &str = "test-refresh-token-c47d29";
pub(crate) const ACCESS_TOKEN: &str = "test-access-token-3f9a1c";
pub(crate) const ROTATED_REFRESH_TOKEN: &str = "test-refresh-token-rotated-b81e";
pub(crate) const ROTATED_ACCESS_TOKEN: &str = "test-access-token-rotated-77d2";

/// Every secret the tests use; none may appear in logs or responses.
pub(crate) const AUTHORIZED_REFRESH_TOKEN: &str = "test-refresh-token-authorized-0d4b";
pub(crate) const AUTHORIZED_ACCESS_TOKEN: &str = "test-access-token-authorized-91ce";
pub(crate) const ADMIN_TOKEN: &str = "test-admin-token-5b0c7e1d9a";

pub(crate) const SECRETS: [&str; 8] = [
    CLIENT_SECRET,
    REFRESH_TOKEN,
    ACCESS_TOKEN,
    ROTATED_REFRESH_TOKEN,
    ROTATED_ACCESS_TOKEN,
    AUTHORIZED_REFRESH_TOKEN,
    AUTHORIZED_ACCESS_TOKEN,
    ADMIN_TOKEN,
];

pub(crate) const TRACK: &str = include_str!("../fixtures/spotify/currently_playing_track.json");
pub(crate) const EPISODE: &str = include_str!("../fixtures/spotify/currently_playing_episode.json");
pub(crate) const LOCAL: &str = include_str!("../fixtures/spotify/currently_playing_local.json");
pub(crate) const AD: &str = include_str!("../fixtures/spotify/currently_playing_ad.json");
pub(crate) const UNKNOWN: &str = include_str!("../fixtures/spotify/currently_playing_unknown.json");
pub(crate) const RECENT: &str = include_str!("../fixtures/spotify/recently_played.json");
pub(crate) const TOKEN: &str = include_str!("../fixtures/spotify/token_refresh.json");
pub(crate) const TOKEN_ROTATED: &str =
    include_str!("../fixtures/spotify/token_refresh_rotated.json");
pub(crate) const TOKEN_AUTHORIZED: &str =
    include_str!("../fixtures/spotify/token_authorization_code.json");
pub(crate) const INVALID_GRANT: &str = include_str!("../fixtures/spotify/error_invalid_grant.json");
pub(crate) const INVALID_CLIENT: &str =
    include_str!("../fixtures/spotify/error_invalid_client.json");
pub(crate) const ERROR_401: &str = include_str!("../fixtures/spotify/error_401.json");
pub(crate) const ERROR_429: &str = include_str!("../fixtures/spotify/error_429.json");

pub(crate) const CURRENTLY_PLAYING: &str = "/v1/me/player/currently-playing";
pub(crate) const RECENTLY_PLAYED: &str = "/v1/me/player/recently-played";
pub(crate) const TOKEN_PATH: &str = "/api/token";

/// The manual clock starts here (a multiple of 90 s, so demo mode starts at its first scene).
pub(crate) fn start_time() -> DateTime<Utc> {
    "2026-11-29T03:00:00Z".parse().unwrap()
}

/// The application, bound but started only by the first request, so that tests mount
/// their Spotify mocks before its start-up token refresh.
pub(crate) struct TestApp {
    address: String,
    pub spotify: MockServer,
    pub clock: Clock,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub state: now_playing::startup::AppState,
    pending: std::sync::Mutex<Option<Application>>,
    running: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
}

pub(crate) fn spotify_config(spotify: &MockServer) -> SpotifyConfig {
    SpotifyConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        refresh_token: REFRESH_TOKEN.into(),
        refresh_token_obtained_at: None,
        accounts_url: Url::parse(&spotify.uri()).unwrap(),
        api_url: Url::parse(&spotify.uri()).unwrap(),
        token_file: None,
        images_url: Some(Url::parse(&spotify.uri()).unwrap()),
    }
}

/// The test configuration: the documented defaults, port 0, the mock Spotify.
pub(crate) fn test_config(spotify: &MockServer) -> Config {
    Config {
        source: Source::Spotify(spotify_config(spotify)),
        port: 0,
        ..Config::default()
    }
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub(crate) async fn spawn_app_with(change: impl FnOnce(&mut Config)) -> TestApp {
    let spotify = MockServer::start().await;
    let mut config = test_config(&spotify);
    change(&mut config);
    spawn_with_config(spotify, config).await
}

/// The server in demo mode; Spotify's stand-in is there only to assert it is never called.
pub(crate) async fn spawn_demo() -> TestApp {
    let spotify = MockServer::start().await;
    let config = Config {
        source: Source::Demo,
        port: 0,
        ..Config::default()
    };
    spawn_with_config(spotify, config).await
}

pub(crate) async fn spawn_with_config(spotify: MockServer, config: Config) -> TestApp {
    let clock = Clock::manual(start_time());
    let app = Application::build_with_clock(config, clock.clone())
        .await
        .expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    TestApp {
        state,
        running: std::sync::Mutex::new(None),
        address,
        spotify,
        clock,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        shutdown: CancellationToken::new(),
        pending: std::sync::Mutex::new(Some(app)),
    }
}

impl TestApp {
    /// The full URL of `path`, starting the server if it is not running yet.
    pub(crate) fn url(&self, path: &str) -> String {
        if let Some(app) = self.pending.lock().unwrap().take() {
            let server =
                tokio::spawn(app.run_until_stopped(self.shutdown.clone().cancelled_owned()));
            *self.running.lock().unwrap() = Some(server);
        }
        format!("{}{path}", self.address)
    }

    /// Starts a graceful shutdown and waits for the server to end; returns how long it took.
    pub(crate) async fn stop(&self) -> Duration {
        let started = std::time::Instant::now();
        self.shutdown.cancel();
        let server = self
            .running
            .lock()
            .unwrap()
            .take()
            .expect("the server was started");
        server
            .await
            .expect("the server task ends")
            .expect("the server ends cleanly");
        started.elapsed()
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers")
    }

    pub(crate) async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    pub(crate) async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub(crate) fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }

    /// Waits until the shared state is fresh again: for the fetch that a request after the
    /// TTL started in the background (stale-while-revalidate) to land, so that the next
    /// request gets its result. Returns at once when no fetch was due.
    pub(crate) async fn refresh_landed(&self) {
        let mut states = self.state.service.subscribe();
        let landed = states.wait_for(|s| self.clock.now() < s.refresh_after);
        tokio::time::timeout(Duration::from_secs(10), landed)
            .await
            .expect("the background fetch lands within 10 s")
            .expect("the service lives");
    }

    /// Calls Spotify received on `path` so far.
    pub(crate) async fn calls_to(&self, path: &str) -> usize {
        self.spotify
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == path)
            .count()
    }
}

/// A copy of the track fixture with `change` applied.
pub(crate) fn track_with(change: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(TRACK).unwrap();
    change(&mut value);
    value.to_string()
}

/// The real binary, run in an empty directory (no `.env`) with only the given environment.
pub(crate) fn binary(args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("run-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    binary_in(&dir, args, env)
}

pub(crate) fn binary_in(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_now-playing"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A unique name for scratch directories.
pub(crate) fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A server process, its log lines collected as they come.
pub(crate) struct Server {
    pub child: tokio::process::Child,
    pub port: u16,
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `now-playing serve` with JSON logs and waits for its "listening" line.
    pub(crate) async fn start(env: &[(&str, &str)]) -> Server {
        Self::start_with(&["serve"], env, None).await
    }

    /// Starts `now-playing ARGS` with JSON logs, under an open-files limit (soft and hard)
    /// when one is given, and waits for its "listening" line.
    pub(crate) async fn start_with(
        args: &[&str],
        env: &[(&str, &str)],
        open_files: Option<u64>,
    ) -> Server {
        use tokio::io::AsyncBufReadExt;
        let mut all = vec![("PORT", "0"), ("LOG_FORMAT", "json")];
        all.extend_from_slice(env);
        let mut command = binary(args, &all);
        if let Some(limit) = open_files {
            let limit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            // SAFETY: runs in the forked child before exec and only calls setrlimit, which is
            // async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().expect("the binary runs");
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let collected = logs.clone();
        tokio::spawn(async move {
            let mut port_tx = Some(port_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(value) = serde_json::from_str::<Value>(&line)
                    && let Some(address) = value["address"].as_str()
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(address.rsplit(':').next().unwrap().parse::<u16>().unwrap());
                }
                collected.lock().unwrap().push(line);
            }
        });
        let port = tokio::time::timeout(Duration::from_secs(10), port_rx)
            .await
            .expect("the server starts within 10 s")
            .expect("the server logs its address");
        Server { child, port, logs }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub(crate) fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

/// Environment for a server process pointed at the mock Spotify.
pub(crate) fn spotify_env(spotify: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("SPOTIFY_CLIENT_ID", CLIENT_ID.to_owned()),
        ("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("SPOTIFY_REFRESH_TOKEN", REFRESH_TOKEN.to_owned()),
        ("SPOTIFY_ACCOUNTS_URL", spotify.uri()),
        ("SPOTIFY_API_URL", spotify.uri()),
    ]
}

pub(crate) fn as_env<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A free loopback port (bound, then released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh scratch directory under the target directory.
pub(crate) fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Log lines written while the returned guard lives, on this thread: use with the
/// current-thread test runtime, where the app's tasks run on the test's thread.
pub(crate) fn capture_logs() -> (
    tracing::subscriber::DefaultGuard,
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    #[derive(Clone)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = Buffer(buffer.clone());
    let subscriber = now_playing::telemetry::subscriber(
        now_playing::config::LogFormat::Json,
        tracing_subscriber::EnvFilter::new("info"),
        move || writer.clone(),
    );
    (tracing::subscriber::set_default(subscriber), buffer)
}

pub(crate) fn logged(buffer: &std::sync::Arc<std::sync::Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

/// Reads a `text/event-stream` response one event at a time, skipping comments.
pub(crate) struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl From<reqwest::Response> for EventReader {
    fn from(response: reqwest::Response) -> Self {
        EventReader {
            response,
            buffer: String::new(),
        }
    }
}

impl EventReader {
    pub(crate) async fn connect(app: &TestApp) -> EventReader {
        let response = app
            .http
            .get(app.url("/now-playing/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        EventReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event's name and data; `None` when the stream ended.
    pub(crate) async fn next(&mut self) -> Option<(String, Value)> {
        tokio::time::timeout(Duration::from_secs(10), self.read())
            .await
            .expect("an event within 10 s")
    }

    async fn read(&mut self) -> Option<(String, Value)> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !data.is_empty() {
                    return Some((
                        name,
                        serde_json::from_str(&data).expect("event data is JSON"),
                    ));
                }
            }
            let chunk = self.response.chunk().await.ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// Waits (on real time, up to 5 s) until `done` holds: for effects in the server that
/// follow a client's action, such as a dropped connection being noticed.
pub(crate) async fn eventually<F, Fut>(what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
