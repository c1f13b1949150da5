//! The real binary: graceful shutdown, logs (one line per request and per Spotify call,
//! JSON format) that never contain a secret, and the healthcheck command.

use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn sigterm_and_ctrl_c_let_in_flight_requests_finish_and_exit_zero() {
    for signal in ["TERM", "INT"] {
        let spotify = MockServer::start().await;
        mount_token(&spotify, 1).await;
        Mock::given(method("GET"))
            .and(path(CURRENTLY_PLAYING))
            .respond_with(json(TRACK).set_delay(Duration::from_millis(1500)))
            .expect(1)
            .mount(&spotify)
            .await;
        let env = spotify_env(&spotify);
        let mut server = Server::start(&as_env(&env)).await;

        let in_flight = tokio::spawn(reqwest::get(server.url("/now-playing")));
        while spotify
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.url.path() != CURRENTLY_PLAYING)
        {
            tokio::task::yield_now().await;
        }
        let stopped_at = Instant::now();
        server.signal(signal);

        let response = in_flight
            .await
            .unwrap()
            .expect("the in-flight request is answered");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap()["item"]["title"],
            "Digital Love"
        );
        let status = tokio::time::timeout(Duration::from_secs(5), server.child.wait())
            .await
            .expect("exits within 5 s")
            .unwrap();
        assert_eq!(status.code(), Some(0), "SIG{signal}: {}", server.log_text());
        assert!(stopped_at.elapsed() < Duration::from_secs(5));
        assert!(
            reqwest::get(server.url("/healthz")).await.is_err(),
            "no longer accepting"
        );
    }
}

#[tokio::test]
async fn logs_and_responses_never_contain_a_secret() {
    let spotify = MockServer::start().await;
    // A refresh that rotates the refresh token; a 401 that forces another refresh; a server
    // error whose body quotes the token; another 401, whose refresh finds the credentials dead.
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json(TOKEN_ROTATED))
        .up_to_n_times(1)
        .mount(&spotify)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json(TOKEN))
        .up_to_n_times(1)
        .mount(&spotify)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_status(400, INVALID_GRANT))
        .mount(&spotify)
        .await;
    Mock::given(method("GET"))
        .and(path(CURRENTLY_PLAYING))
        .respond_with(json_status(401, ERROR_401))
        .up_to_n_times(1)
        .mount(&spotify)
        .await;
    Mock::given(method("GET"))
        .and(path(CURRENTLY_PLAYING))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_string(format!("upstream broke, token was {ACCESS_TOKEN}")),
        )
        .up_to_n_times(1)
        .mount(&spotify)
        .await;
    Mock::given(method("GET"))
        .and(path(CURRENTLY_PLAYING))
        .respond_with(json_status(401, ERROR_401))
        .mount(&spotify)
        .await;
    let mut env = spotify_env(&spotify);
    env.push(("RUST_LOG", "trace".into()));
    env.push(("CACHE_TTL", "1".into()));
    env.push(("STALE_MAX", "0".into()));
    let mut server = Server::start(&as_env(&env)).await;

    let mut bodies = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    // CACHE_TTL is real time in a real process: ask until the second fetch has happened.
    while !server
        .log_text()
        .contains("Spotify rejected the credentials")
        && Instant::now() < deadline
    {
        for route in ["/now-playing", "/embed", "/now-playing.html"] {
            let response = reqwest::get(server.url(route)).await.unwrap();
            bodies.push_str(&format!("{:?}", response.headers()));
            bodies.push_str(&response.text().await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.signal("TERM");
    server.child.wait().await.unwrap();

    let logs = server.log_text();
    assert!(
        logs.contains("\"endpoint\":\"token\""),
        "token calls are logged:\n{logs}"
    );
    assert!(
        logs.contains("\"outcome\":\"status\""),
        "the failure is logged:\n{logs}"
    );
    assert!(
        logs.contains("invalid_grant"),
        "the dead credentials are logged:\n{logs}"
    );
    for secret in SECRETS {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
        assert!(!bodies.contains(secret), "{secret} leaked into a response");
    }
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_and_per_spotify_call() {
    let spotify = MockServer::start().await;
    mount_token(&spotify, 1).await;
    mount_playing(&spotify, TRACK, 1).await;
    let env = spotify_env(&spotify);
    let mut server = Server::start(&as_env(&env)).await;

    reqwest::get(server.url("/now-playing")).await.unwrap();
    reqwest::get(server.url("/healthz")).await.unwrap();
    server.signal("TERM");
    server.child.wait().await.unwrap();

    let lines: Vec<Value> = server
        .logs
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(requests.len(), 1, "health checks are logged at debug only");
    assert_eq!(requests[0]["path"], "/now-playing");
    assert_eq!(requests[0]["status"], 200);
    let calls: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "spotify call")
        .collect();
    assert_eq!(
        calls.len(),
        2,
        "one token call and one currently-playing call"
    );
    assert!(
        calls
            .iter()
            .all(|c| c["outcome"] == "ok" && c["elapsed_ms"].is_u64())
    );
}

#[tokio::test]
async fn the_healthcheck_command_reports_the_server() {
    let app = spawn_app().await;
    let url = app.url("/healthz");
    let ok = binary(&["healthcheck", "--url", &url], &[])
        .output()
        .await
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = binary(&["healthcheck"], &[("PORT", &closed.to_string())])
        .output()
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("unhealthy"));
}
