//! What every browser test needs: the mock Spotify, whose answer can be switched at once, the
//! application on its own port (real clock, `CACHE_TTL` = 1 s), a second origin serving the
//! pages that embed it, and headless Chromium driven through its own chromedriver.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{OriginalUri, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fantoccini::{Client, ClientBuilder};
use mock_spotify::MockSpotify;
use now_playing::clock::Clock;
use now_playing::config::{Config, Source, SpotifySettings};
use now_playing::startup::Application;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

pub(crate) use mock_spotify::fixtures::{
    EPISODE, EPISODE_TITLE, TRACK, TRACK_ARTISTS, TRACK_TITLE,
};
pub(crate) use mock_spotify::payloads::track_with;

/// `CACHE_TTL` of the application under test.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(1);

/// How long a first page load may take to show the widget (a cold Chromium is slow).
pub(crate) const LOAD_DEADLINE: Duration = Duration::from_secs(15);

/// How often a condition in the page is looked at again.
const POLL: Duration = Duration::from_millis(100);

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

// ---------------------------------------------------------------------------------------
// Spotify

/// The mock Spotify (`tests/support`), answering `playing` to `currently-playing` until
/// told otherwise with `set_playing`, which takes effect at once.
pub(crate) async fn spotify_playing(playing: &str) -> MockSpotify {
    let spotify = MockSpotify::start().await;
    spotify.set_playing(playing);
    spotify
}

// ---------------------------------------------------------------------------------------
// The application

/// The application on a port of its own, stopped when dropped.
pub(crate) struct App {
    port: u16,
    shutdown: CancellationToken,
}

impl App {
    pub(crate) async fn spawn(spotify: &MockSpotify) -> App {
        // Through the settings, as `serve` reads them: fields added later keep their
        // defaults here.
        let uri = spotify.url();
        let spotify_config = SpotifySettings {
            client_id: Some("test-client-id".into()),
            client_secret: Some("test-client-secret-5e1f0a".parse().unwrap()),
            refresh_token: Some("test-refresh-token-c47d29".parse().unwrap()),
            accounts_url: Some(uri.clone()),
            api_url: Some(uri),
            ..SpotifySettings::default()
        }
        .resolve()
        .expect("the Spotify settings are valid");
        let config = Config {
            source: Source::Spotify(spotify_config),
            port: 0,
            cache_ttl: CACHE_TTL,
            ..Config::default()
        };
        let app = Application::build_with_clock(config, Clock::system())
            .await
            .expect("the app builds");
        let port = app.port();
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(shutdown.clone().cancelled_owned()));
        App { port, shutdown }
    }

    pub(crate) fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

// ---------------------------------------------------------------------------------------
// Another origin

/// Path and HTML of each page the other origin serves.
type Pages = Arc<Mutex<Vec<(String, String)>>>;

/// A tiny web server on another port, hence another origin (`127.0.0.1:A` and
/// `127.0.0.1:B` are different origins), serving fixed HTML pages: a blog embedding the
/// widget.
pub(crate) struct OtherOrigin {
    port: u16,
    pages: Pages,
    shutdown: CancellationToken,
}

impl OtherOrigin {
    pub(crate) async fn start() -> OtherOrigin {
        let pages = Pages::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let router = axum::Router::new()
            .fallback(serve_page)
            .with_state(pages.clone());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone().cancelled_owned();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
        });
        OtherOrigin {
            port,
            pages,
            shutdown,
        }
    }

    /// Serves `html` at `path` (exact path, no query).
    pub(crate) fn page(&self, path: &str, html: &str) -> String {
        self.pages
            .lock()
            .unwrap()
            .push((path.to_owned(), html.to_owned()));
        self.url(path)
    }

    pub(crate) fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

impl Drop for OtherOrigin {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn serve_page(State(pages): State<Pages>, OriginalUri(uri): OriginalUri) -> Response {
    let pages = pages.lock().unwrap();
    match pages.iter().find(|(path, _)| path == uri.path()) {
        Some((_, html)) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

/// A blog page on another origin with the widget in an `<iframe id="np">`.
pub(crate) fn blog_with_iframe(app: &App, query: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A blog on another origin</title></head>
<body style="font-family: sans-serif; margin: 16px; background: #f4f1ea">
<h1>A blog post</h1>
<p>Embedded below from {origin}:</p>
<iframe id="np" src="{origin}/embed{query}" width="440" height="110" style="border: 0"
 title="Now playing on Spotify"></iframe>
</body></html>"#,
        origin = app.origin()
    )
}

// ---------------------------------------------------------------------------------------
// The browser

/// One chromedriver process with one headless Chromium session.
///
/// chromedriver runs in a process group of its own, so that dropping this (test over,
/// or a failed assertion unwinding) kills chromedriver and every Chromium process it
/// started.
pub(crate) struct Browser {
    pub client: Client,
    driver: Driver,
}

struct Driver {
    child: tokio::process::Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // The group's id is chromedriver's pid (process_group(0)).
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// Chromium with JavaScript on.
    pub(crate) async fn start() -> Browser {
        Browser::start_with_prefs(json!({})).await
    }

    /// Chromium with JavaScript switched off by policy.
    pub(crate) async fn start_without_javascript() -> Browser {
        Browser::start_with_prefs(json!({
            "profile.managed_default_content_settings.javascript": 2
        }))
        .await
    }

    async fn start_with_prefs(prefs: Value) -> Browser {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
        let chromium_bin = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        for bin in [&driver_bin, &chromium_bin] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: the browser tests need Chromium and chromedriver \
                 (apt-get install -y chromium chromium-driver)"
            );
        }
        let profile = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chromium-profile-{}", unique()));
        std::fs::create_dir_all(&profile).unwrap();

        // --port=0: chromedriver picks a free port and prints it, no race for the port.
        let mut child = tokio::process::Command::new(&driver_bin)
            .args(["--port=0", "--log-level=WARNING"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let driver = Driver {
            child,
            profile: profile.clone(),
        };
        let port = tokio::time::timeout(Duration::from_secs(20), async move {
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    // Keep reading (and dropping) its output so that it never blocks on a
                    // full pipe.
                    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                    return rest.trim_end_matches('.').parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .expect("chromedriver starts within 20 s")
        .expect("chromedriver tells its port");
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_until_ready(&webdriver).await;

        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        // Leave alerts open so that a test can see them (the default dismisses them).
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium_bin,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=800,600",
                    // Hermetic: no name resolves except the loopback addresses the tests
                    // use (cover art on i.scdn.co fails at once instead of hanging).
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": prefs,
            }),
        );
        let client = ClientBuilder::rustls()
            .expect("rustls loads")
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("no Chromium session from chromedriver: {e}"));
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(10)),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts set");
        Browser { client, driver }
    }

    /// Runs `script` (a function body: `return ...`) in the current frame.
    pub(crate) async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Saves a PNG of the viewport as `target/browser-screenshots/{name}`.
    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is a PNG"
        );
        let dir = screenshot_dir();
        let file = dir.join(name);
        std::fs::write(&file, png).expect("the screenshot is saved");
        eprintln!("screenshot: {}", file.display());
        file
    }

    /// Fails if a JavaScript dialog (alert, confirm, prompt) is open.
    pub(crate) async fn assert_no_alert(&self) {
        match self.client.get_alert_text().await {
            Ok(text) => panic!("a JavaScript dialog is open, saying {text:?}: a script ran"),
            Err(e) if e.is_no_such_alert() => {}
            Err(e) => panic!("unexpected answer to Get Alert Text: {e}"),
        }
    }

    /// Ends the session, then chromedriver and its Chromium.
    pub(crate) async fn close(self) {
        let Browser { client, driver } = self;
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        drop(driver);
    }
}

async fn wait_until_ready(webdriver: &str) {
    let http = reqwest::Client::new();
    let status = format!("{webdriver}/status");
    eventually(
        "chromedriver answers /status",
        Duration::from_secs(20),
        || {
            let request = http.get(&status).send();
            async move {
                let response = request.await.map_err(|e| e.to_string())?;
                let body: Value = response.json().await.map_err(|e| e.to_string())?;
                if body["value"]["ready"] == json!(true) {
                    Ok(())
                } else {
                    Err(body.to_string())
                }
            }
        },
    )
    .await;
}

/// `target/browser-screenshots/`, created if needed.
pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory can be created");
    dir
}

/// Looks at `probe` every 100 ms until it gives `Ok`, and returns that with how long it
/// took; after `deadline` fails with `what` and the last thing seen.
pub(crate) async fn eventually<T, F, Fut>(
    what: &str,
    deadline: Duration,
    mut probe: F,
) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        let last = match probe().await {
            Ok(value) => return (value, started.elapsed()),
            Err(seen) => seen,
        };
        if started.elapsed() >= deadline {
            panic!("{what}: not within {deadline:?}; last seen: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A JSON string's text, or the whole value printed.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What the widget in the current frame shows.
pub(crate) const WIDGET_JS: &str = r#"
    var np = document.querySelector("div.np[data-np]");
    if (!np) return null;
    var title = np.querySelector(".np-title");
    var artists = np.querySelector(".np-artists");
    return {
        classes: np.className,
        title: title ? title.textContent : null,
        artists: artists ? artists.textContent : null,
        background: getComputedStyle(np).backgroundColor,
        color: title ? getComputedStyle(title).color : null,
        ready: document.readyState
    };
"#;

/// Waits until the widget in the current frame shows `title`; returns what it shows and
/// how long that took.
pub(crate) async fn wait_for_title(
    browser: &Browser,
    title: &str,
    deadline: Duration,
) -> (Value, Duration) {
    eventually(&format!("the widget shows {title:?}"), deadline, || async {
        let widget = browser.js(WIDGET_JS).await;
        if widget["title"] == json!(title) {
            Ok(widget)
        } else {
            Err(widget.to_string())
        }
    })
    .await
}
