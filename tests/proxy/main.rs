//! The real binary behind a real nginx (Debian's `nginx-light`), configured with
//! `deploy/nginx.conf` as the README shows it: the event stream passes with nginx's default
//! buffering, a `proxy_cache` absorbs `/now-playing` by the service's `Cache-Control` and
//! `ETag`, and `X-Forwarded-For` reaches the `/auth/login` lockout. Every test is
//! `#[ignore]`d so that `cargo test` passes without nginx; `.ci/run` installs it and runs them.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use helpers::*;
use wiremock::MockServer;

/// An nginx in front of `origin`, from the committed configuration.
struct Nginx {
    child: tokio::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Nginx {
    async fn start(origin: u16) -> Nginx {
        let dir = scratch_dir("nginx");
        let port = free_port();
        let site = include_str!("../../deploy/nginx.conf")
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{origin}"))
            .replace(
                "/var/cache/nginx/now-playing",
                &dir.join("cache").display().to_string(),
            );
        let d = dir.display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{site}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), config).unwrap();
        let child = tokio::process::Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .kill_on_drop(true)
            .spawn()
            .expect("nginx is installed (apt-get install nginx-light)");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not start: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Nginx { child, port, dir }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(self.dir.join("cache"));
    }
}

/// A client whose connections come from `source`, a loopback address of its own.
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Request log lines of the origin for exactly `path`.
fn origin_requests(server: &Server, path: &str) -> Vec<serde_json::Value> {
    server
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["message"] == "request" && v["path"] == path)
        .collect()
}

/// [`origin_requests`] once at least `at_least` are logged, or after 5 s: the log is written
/// by a background thread, so the last lines may arrive a moment after the responses.
async fn logged_requests(server: &Server, path: &str, at_least: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logged = origin_requests(server, path);
        if logged.len() >= at_least || Instant::now() >= deadline {
            return logged;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
#[ignore = "needs nginx: run by .ci/run"]
async fn the_event_stream_passes_through_nginx_default_buffering() {
    let origin = Server::start_with(&["serve", "--demo"], &[("CACHE_TTL", "1")], None).await;
    let nginx = Nginx::start(origin.port).await;

    let started = Instant::now();
    let response = reqwest::get(nginx.url("/now-playing/events"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = EventReader::from(response);
    let (name, first) = events.next().await.expect("the first event");
    let first_after = started.elapsed();
    assert_eq!(name, "now-playing");
    assert!(first["state"].is_string(), "{first}");
    // Buffered, a ~1 KB event would sit in nginx's 4-8 KB buffer until the stream ended.
    assert!(
        first_after < Duration::from_secs(2),
        "first event through nginx after {first_after:?}"
    );
    println!("first event through nginx after {first_after:?}");
}

#[tokio::test]
#[ignore = "needs nginx: run by .ci/run"]
async fn nginx_proxy_cache_absorbs_the_json_route() {
    let origin = Server::start_with(&["serve", "--demo"], &[("CACHE_TTL", "1")], None).await;
    let nginx = Nginx::start(origin.port).await;
    let http = reqwest::Client::new();

    let window = Duration::from_secs(4);
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < window {
        let batch = (0..16).map(|_| {
            let http = http.clone();
            let url = nginx.url("/now-playing");
            async move { http.get(url).send().await.unwrap().status().as_u16() }
        });
        for status in futures_util::future::join_all(batch).await {
            assert_eq!(status, 200);
            sent += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let hits = logged_requests(&origin, "/now-playing", 2).await.len();
    println!("{sent} requests through nginx in {elapsed:.1} s; the origin saw {hits}");
    assert!(sent >= 200, "only {sent} requests sent");
    // One per TTL (1 s) while the window lasts, plus the first and one in flight at the end.
    assert!(
        hits as f64 <= elapsed.ceil() + 2.0,
        "{hits} origin requests in {elapsed:.1} s"
    );
    assert!(
        hits >= 2,
        "the cache expired with the TTL: {hits} origin requests"
    );
}

#[tokio::test]
#[ignore = "needs nginx: run by .ci/run"]
async fn x_forwarded_for_from_nginx_keys_the_lockout() {
    let spotify = MockServer::start().await;
    let token_file = scratch_dir("proxy-lockout").join("token.json");
    let mut env = spotify_env(&spotify);
    env.extend([
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("PUBLIC_URL", "https://np.example.com".to_owned()),
        ("TOKEN_FILE", token_file.display().to_string()),
        ("TRUSTED_PROXIES", "127.0.0.1".to_owned()),
    ]);
    let origin = Server::start(&as_env(&env)).await;
    let nginx = Nginx::start(origin.port).await;

    let login = |client: reqwest::Client, forwarded_for: Option<&'static str>, password: &str| {
        let mut request = client
            .get(nginx.url("/auth/login"))
            .basic_auth("owner", Some(password));
        if let Some(hops) = forwarded_for {
            request = request.header("x-forwarded-for", hops);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let attacker = client_from("127.0.0.2");
    for _ in 0..5 {
        // Writing its own X-Forwarded-For does not help: nginx appends the real address.
        let status = login(attacker.clone(), Some("198.51.100.1"), "guess").await;
        assert_eq!(status, 401);
    }
    assert_eq!(login(attacker.clone(), None, ADMIN_TOKEN).await, 429);
    assert_eq!(
        login(client_from("127.0.0.3"), None, ADMIN_TOKEN).await,
        302,
        "the owner, another client behind the same proxy, is not locked out"
    );

    let clients: Vec<String> = logged_requests(&origin, "/auth/login", 7)
        .await
        .iter()
        .map(|v| v["client"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(clients.len(), 7, "{clients:?}");
    assert!(clients[..6].iter().all(|c| c == "127.0.0.2"), "{clients:?}");
    assert_eq!(clients[6], "127.0.0.3");
}
