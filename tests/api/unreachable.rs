//! When Spotify cannot be reached, `check`, the logs and `/readyz` name the host and the
//! cause: name not resolved, connection refused, timed out, or TLS failed with the
//! certificate problem; never just "error sending request".

use std::sync::Arc;
use std::time::Duration;

use now_playing::config::Source;
use serde_json::Value;
use tokio_rustls::rustls;
use wiremock::MockServer;

use crate::helpers::*;
use crate::spotify_mock::*;

/// A certificate for 127.0.0.1 and localhost that no CA signed, valid until 2126
/// (`openssl req -x509`, see `fixtures/README.md`).
const SELF_SIGNED_CERT: &[u8] = include_bytes!("fixtures/self_signed.cert.pem");
const SELF_SIGNED_KEY: &[u8] = include_bytes!("fixtures/self_signed.key.pem");

/// The server process and `check` with the given Spotify URLs.
fn env_with(accounts_url: &str, api_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SPOTIFY_CLIENT_ID", CLIENT_ID.to_owned()),
        ("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("SPOTIFY_REFRESH_TOKEN", REFRESH_TOKEN.to_owned()),
        ("SPOTIFY_ACCOUNTS_URL", accounts_url.to_owned()),
        ("SPOTIFY_API_URL", api_url.to_owned()),
        // `.invalid` never resolves; should the resolver itself be unreachable, glibc gives
        // up after one second instead of retrying for ten.
        ("RES_OPTIONS", "timeout:1 attempts:1".to_owned()),
    ]
}

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}

/// Runs `now-playing check`; it must fail, print `verdict` on its credentials line, and
/// leak nothing. Returns everything it printed.
async fn check_says(env: &[(&'static str, String)], verdict: &str) -> String {
    let output = binary(&["check"], &as_env(env)).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{all}");
    let line = stdout
        .lines()
        .find(|l| l.contains("✗ credentials"))
        .unwrap_or_else(|| panic!("no verdict on the credentials:\n{all}"));
    assert_eq!(
        line.trim(),
        format!("✗ credentials: could not be checked: {verdict}"),
        "{all}"
    );
    assert!(all.contains("    fix: "), "says what to do:\n{all}");
    assert!(!all.contains("error sending request"), "{all}");
    assert_no_secret(&all);
    all
}

/// Starts the server and asks `/readyz` until the first round has failed; the reason is
/// `upstream` and its detail, like the call's log line, is `detail`.
async fn server_says(env: &[(&'static str, String)], detail: &str) {
    let mut server = Server::start(&as_env(env)).await;
    let response = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["reason"], "upstream");
    assert_eq!(body["detail"], detail, "{body}");
    assert_no_secret(&body.to_string());

    let (status, doc) = {
        let response = reqwest::get(server.url("/now-playing")).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(status, 503);
    assert!(
        !doc.contains("cannot reach"),
        "viewers get a generic message, the operator the detail: {doc}"
    );

    let logged = || server.log_text().contains(detail);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !logged() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.signal("TERM");
    server.child.wait().await.unwrap();
    let logs = server.log_text();
    let line: Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "spotify call failed" && l["endpoint"] == "token")
        .unwrap_or_else(|| panic!("the failed token call is logged:\n{logs}"));
    assert_eq!(line["error"], detail, "{logs}");
    assert_no_secret(&logs);
    assert!(!logs.contains("error sending request"), "{logs}");
}

#[tokio::test]
async fn an_unresolvable_host_is_named_by_check_and_readyz() {
    let env = env_with("http://spotify.invalid", "http://spotify.invalid");
    let started = std::time::Instant::now();
    check_says(&env, "cannot reach spotify.invalid: name not resolved").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a name that cannot resolve fails fast: {:?}",
        started.elapsed()
    );
    server_says(&env, "cannot reach spotify.invalid: name not resolved").await;
}

#[tokio::test]
async fn a_refused_connection_is_named_by_check_readyz_and_the_log() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let expected = format!("cannot reach 127.0.0.1:{port}: connection refused");
    let output = check_says(&env_with(&url, &url), &expected).await;
    assert!(output.contains("SPOTIFY_ACCOUNTS_URL"), "{output}");
    server_says(&env_with(&url, &url), &expected).await;
}

#[tokio::test]
async fn a_refused_api_host_is_named_by_check() {
    let spotify = MockServer::start().await;
    mount_token(&spotify, 1).await;
    let port = free_port();
    let env = env_with(&spotify.uri(), &format!("http://127.0.0.1:{port}/"));
    let output = binary(&["check"], &as_env(&env)).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "✗ Spotify's currently-playing failed: cannot reach 127.0.0.1:{port}: connection refused"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("SPOTIFY_API_URL"), "{stdout}");
}

#[tokio::test]
async fn a_host_that_never_answers_is_named_after_the_five_second_deadline() {
    // Connections complete in the kernel's backlog; nothing ever reads or answers them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    check_says(
        &env_with(&url, &url),
        &format!("cannot reach 127.0.0.1:{port}: timed out after 5 s"),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(4900) && took < Duration::from_secs(8),
        "{took:?}"
    );
    drop(silent);
}

/// A TLS server on 127.0.0.1 with the self-signed certificate; every handshake is tried
/// and dropped.
async fn self_signed_tls_server() -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(SELF_SIGNED_CERT).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            // The client refuses the certificate, so the handshake fails: that is the point.
            tokio::spawn(async move { drop(acceptor.accept(stream).await) });
        }
    });
    port
}

#[tokio::test]
async fn a_certificate_no_ca_signed_is_named_by_check_readyz_and_the_log() {
    let port = self_signed_tls_server().await;
    let url = format!("https://127.0.0.1:{port}");
    let expected = format!(
        "cannot reach 127.0.0.1:{port}: TLS failed: invalid peer certificate: UnknownIssuer"
    );
    let output = check_says(&env_with(&url, &url), &expected).await;
    assert!(output.contains("CA certificates"), "{output}");
    server_says(&env_with(&url, &url), &expected).await;
}

#[tokio::test]
async fn without_any_ca_certificate_check_says_so_instead_of_panicking() {
    let mut env = env_with(
        "https://accounts.spotify.invalid",
        "https://api.spotify.invalid",
    );
    env.push((
        "SSL_CERT_FILE",
        "/nonexistent/ca-certificates.crt".to_owned(),
    ));
    let output = binary(&["check"], &as_env(&env)).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "✗ TLS: cannot set up TLS for Spotify: unexpected error: No CA certificates were loaded from the system"
        ) && stdout.contains("SSL_CERT_FILE"),
        "{stdout}{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn without_any_ca_certificate_serve_stops_before_binding_and_says_why() {
    let mut env = env_with(
        "https://accounts.spotify.invalid",
        "https://api.spotify.invalid",
    );
    env.push((
        "SSL_CERT_FILE",
        "/nonexistent/ca-certificates.crt".to_owned(),
    ));
    env.push(("PORT", "0".to_owned()));
    let output = binary(&["serve"], &as_env(&env)).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("now-playing cannot start")
            && stderr.contains("No CA certificates were loaded")
            && stderr.contains("SSL_CERT_FILE"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}

#[tokio::test]
async fn the_auth_command_names_the_cause_when_the_code_exchange_fails() {
    let port = free_port();
    let env = [
        ("SPOTIFY_CLIENT_ID", CLIENT_ID.to_owned()),
        ("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("SPOTIFY_ACCOUNTS_URL", format!("http://127.0.0.1:{port}")),
    ];
    let output = binary(&["auth", "--code", "pasted-code"], &as_env(&env))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.lines().any(|l| l
            == format!(
                "error: the token exchange failed: cannot reach 127.0.0.1:{port}: connection refused"
            )),
        "{stderr}"
    );
    assert_no_secret(&stderr);
}

#[tokio::test]
async fn an_image_host_that_refuses_is_named_in_the_log() {
    let (_guard, logs) = capture_logs();
    let port = free_port();
    let app = spawn_app_with(|c| {
        if let Source::Spotify(s) = &mut c.source {
            s.images_url = Some(format!("http://127.0.0.1:{port}").parse().unwrap());
        }
    })
    .await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    let response = app.get("/now-playing.svg").await;
    assert_eq!(response.status().as_u16(), 200, "a placeholder instead");

    let expected = format!("cannot reach 127.0.0.1:{port}: connection refused");
    for _ in 0..500 {
        if logged(&logs).contains(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = logged(&logs);
    let line: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["endpoint"] == "image" && l["message"] == "spotify call failed")
        .unwrap_or_else(|| panic!("the image fetch is logged:\n{text}"));
    assert_eq!(line["error"], expected);
    assert_eq!(line["cause"], "connection_refused");
    assert_eq!(line["host"], format!("127.0.0.1:{port}"));
}
