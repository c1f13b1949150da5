//! Trusted proxies (README: Behind a reverse proxy or CDN): the client address behind them keys the
//! `/auth/login` lockout and appears in the request log; from any other peer `X-Forwarded-*` buys
//! nothing.

use wiremock::MockServer;

use crate::helpers::*;
use crate::token_lifecycle::{admin_config, basic};

async fn login_as(app: &TestApp, forwarded_for: &str, password: &str) -> reqwest::Response {
    app.http
        .get(app.url("/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .header("authorization", basic(password))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn rotating_x_forwarded_for_from_an_untrusted_peer_buys_nothing() {
    let (_guard, logs) = capture_logs();
    let spotify = MockServer::start().await;
    let config = admin_config(&spotify);
    let app = spawn_with_config(spotify, config).await;

    for i in 0..5 {
        let status = login_as(&app, &format!("203.0.113.{i}"), "guess").await;
        assert_eq!(status.status().as_u16(), 401);
    }
    let blocked = login_as(&app, "198.51.100.99", ADMIN_TOKEN).await;
    assert_eq!(blocked.status().as_u16(), 429, "the peer itself is locked");
    assert!(blocked.headers().contains_key("retry-after"));

    let log = logged(&logs);
    let hints: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("set TRUSTED_PROXIES"))
        .collect();
    assert_eq!(hints.len(), 1, "one line naming the setting: {log}");
    assert!(hints[0].contains("127.0.0.1"), "{}", hints[0]);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_lockout() {
    let (_guard, logs) = capture_logs();
    let spotify = MockServer::start().await;
    let mut config = admin_config(&spotify);
    config.trusted_proxies = vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap().into()];
    let app = spawn_with_config(spotify, config).await;

    // The attacker writes its own X-Forwarded-For; the proxy appends the real address.
    for i in 0..5 {
        let hops = format!("10.9.9.{i}, 203.0.113.7");
        assert_eq!(login_as(&app, &hops, "guess").await.status().as_u16(), 401);
    }
    let attacker = login_as(&app, "1.1.1.1, 203.0.113.7", ADMIN_TOKEN).await;
    assert_eq!(attacker.status().as_u16(), 429);
    let mapped = login_as(&app, "::ffff:203.0.113.7", ADMIN_TOKEN).await;
    assert_eq!(
        mapped.status().as_u16(),
        429,
        "IPv4-mapped IPv6 is the same client"
    );

    let owner = login_as(&app, "198.51.100.20", ADMIN_TOKEN).await;
    assert_eq!(owner.status().as_u16(), 302, "the owner is not locked out");

    let log = logged(&logs);
    assert!(
        log.lines()
            .any(|l| l.contains("\"client\":\"198.51.100.20\"") && l.contains("/auth/login")),
        "the request log names the client behind the proxy: {log}"
    );
    assert!(!log.contains("set TRUSTED_PROXIES"), "{log}");
}

#[tokio::test]
async fn the_secure_cookie_follows_the_scheme_a_trusted_proxy_reports() {
    let spotify = MockServer::start().await;
    let mut config = admin_config(&spotify);
    config.public_url = Some("http://127.0.0.1:8080".parse().unwrap());
    config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let app = spawn_with_config(spotify, config).await;

    let cookie = |response: &reqwest::Response| {
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let plain = login_as(&app, "198.51.100.20", ADMIN_TOKEN).await;
    assert!(!cookie(&plain).contains("Secure"), "{}", cookie(&plain));
    let tls = app
        .http
        .get(app.url("/auth/login"))
        .header("x-forwarded-proto", "https")
        .header("authorization", basic(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert!(cookie(&tls).contains("; Secure"), "{}", cookie(&tls));
}

#[tokio::test]
async fn the_request_log_names_the_peer_without_trusted_proxies() {
    let (_guard, logs) = capture_logs();
    let app = spawn_app().await;
    app.http
        .get(app.url("/nowhere"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    let log = logged(&logs);
    let line = log
        .lines()
        .find(|l| l.contains("/nowhere"))
        .unwrap_or_else(|| panic!("no request line: {log}"));
    assert!(line.contains("\"client\":\"127.0.0.1\""), "{line}");
}

#[tokio::test]
async fn a_hop_that_does_not_parse_left_of_the_client_does_not_hide_it() {
    let (_guard, logs) = capture_logs();
    let spotify = MockServer::start().await;
    let mut config = admin_config(&spotify);
    config.trusted_proxies = vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap().into()];
    let app = spawn_with_config(spotify, config).await;

    // The client wrote garbage; the proxy appended its real address.
    for _ in 0..5 {
        let hops = "garbage, 198.51.100.9";
        assert_eq!(login_as(&app, hops, "guess").await.status().as_u16(), 401);
    }
    let same = login_as(&app, "198.51.100.9", ADMIN_TOKEN).await;
    assert_eq!(same.status().as_u16(), 429, "one client, one lockout");
    let owner = login_as(&app, "198.51.100.20", ADMIN_TOKEN).await;
    assert_eq!(
        owner.status().as_u16(),
        302,
        "the proxy itself is not locked"
    );

    let log = logged(&logs);
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"path\":\"/auth/login\""))
        .collect();
    assert_eq!(lines.len(), 7, "{log}");
    assert!(
        lines[..6]
            .iter()
            .all(|l| l.contains("\"client\":\"198.51.100.9\"")),
        "the request log names the client, never the proxy: {log}"
    );
}
