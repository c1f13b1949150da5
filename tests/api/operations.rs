//! The real binary: graceful shutdown, logs (one line per request and per Spotify call,
//! JSON format) that never contain a secret, and the healthcheck command.

use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::spotify_mock::*;

/// The one-time code of the authorization code flow: a secret too.
const AUTHORIZATION_CODE: &str = "test-authorization-code-6a1f";

#[tokio::test]
async fn sigterm_and_ctrl_c_let_in_flight_requests_finish_and_exit_zero() {
    for signal in ["TERM", "INT"] {
        let spotify = MockServer::start().await;
        mount_token(&spotify, 1).await;
        on_playing(&spotify)
            .respond(json(TRACK).set_delay(Duration::from_millis(1500)))
            .expect(1)
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
    // The owner re-authorizes through /auth/login: a code exchanged for new tokens.
    on_token(&spotify)
        .form("grant_type", "authorization_code")
        .respond(json(TOKEN_AUTHORIZED))
        .await;
    // A refresh that rotates the refresh token; a 401 that forces another refresh; a server
    // error whose body quotes the token; another 401, whose refresh finds the credentials dead.
    on_token(&spotify)
        .respond(json(TOKEN_ROTATED))
        .up_to_n_times(1)
        .await;
    on_token(&spotify)
        .respond(json(TOKEN))
        .up_to_n_times(1)
        .await;
    on_token(&spotify)
        .respond(json_status(400, INVALID_GRANT))
        .await;
    on_playing(&spotify)
        .respond(json_status(401, ERROR_401))
        .up_to_n_times(1)
        .await;
    on_playing(&spotify)
        .respond(
            ResponseTemplate::new(500)
                .set_body_string(format!("upstream broke, token was {ACCESS_TOKEN}")),
        )
        .up_to_n_times(1)
        .await;
    on_playing(&spotify)
        .respond(json_status(401, ERROR_401))
        .await;
    let mut env = spotify_env(&spotify);
    env.push(("RUST_LOG", "trace".into()));
    env.push(("CACHE_TTL", "1".into()));
    env.push(("STALE_MAX", "0".into()));
    env.push(("ADMIN_TOKEN", ADMIN_TOKEN.into()));
    env.push(("PUBLIC_URL", "https://np.example.com".into()));
    let token_file = scratch_dir("secrets").join("token.json");
    env.push(("TOKEN_FILE", token_file.to_str().unwrap().to_owned()));
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
    // A wrong password, then the owner's login and Spotify's redirect back with a code.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let wrong = http
        .get(server.url("/auth/login"))
        .basic_auth("owner", Some("not-the-token"))
        .send()
        .await
        .unwrap();
    bodies.push_str(&format!("{:?}", wrong.headers()));
    bodies.push_str(&wrong.text().await.unwrap());
    let login = http
        .get(server.url("/auth/login"))
        .basic_auth("owner", Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 302);
    bodies.push_str(&format!("{:?}", login.headers()));
    let location = reqwest::Url::parse(login.headers()["location"].to_str().unwrap()).unwrap();
    let state = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let callback = http
        .get(server.url(&format!(
            "/auth/callback?code={AUTHORIZATION_CODE}&state={state}"
        )))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status().as_u16(), 200);
    bodies.push_str(&format!("{:?}", callback.headers()));
    bodies.push_str(&callback.text().await.unwrap());
    assert!(
        std::fs::read_to_string(&token_file)
            .unwrap()
            .contains(AUTHORIZED_REFRESH_TOKEN)
    );
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
    for secret in SECRETS.iter().chain([&AUTHORIZATION_CODE]) {
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

    // Bound but never answering, so no other test's server can take the port meanwhile.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = silent.local_addr().unwrap().port();
    let down = binary(&["healthcheck"], &[("PORT", &closed.to_string())])
        .output()
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("unhealthy"));
}
