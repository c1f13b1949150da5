//! The simulator over a real socket: admin endpoints, latency, and a port that refuses and
//! listens again.

use std::time::{Duration, Instant};

use mock_spotify::{Endpoint, Fault, MockSpotify};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.0 exchange: the status and the body.
async fn exchange(port: u16, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connects");
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

const BASIC: &str = "Authorization: Basic aWQ6c2VjcmV0\r\n";

async fn access_token(port: u16) -> String {
    let (status, body) = exchange(
        port,
        "POST",
        "/api/token",
        BASIC,
        "grant_type=refresh_token&refresh_token=r",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    format!(
        "Authorization: Bearer {}\r\n",
        token["access_token"].as_str().unwrap()
    )
}

#[tokio::test]
async fn admin_endpoints_switch_scenario_fault_and_latency_and_count_calls() {
    let mock = MockSpotify::start().await;
    let port = mock.port();
    let bearer = access_token(port).await;
    let playing = "/v1/me/player/currently-playing?additional_types=track,episode";

    assert_eq!(
        exchange(port, "POST", "/_mock/scenario", "", "episode")
            .await
            .0,
        200
    );
    let (_, body) = exchange(port, "GET", playing, &bearer, "").await;
    assert!(body.contains("\"episode\""), "{body}");
    assert_eq!(
        exchange(port, "POST", "/_mock/scenario", "", "nothing")
            .await
            .0,
        200
    );
    assert_eq!(exchange(port, "GET", playing, &bearer, "").await.0, 204);

    assert_eq!(
        exchange(port, "POST", "/_mock/fault", "", "429:3").await.0,
        200
    );
    assert_eq!(exchange(port, "GET", playing, &bearer, "").await.0, 429);
    assert_eq!(
        exchange(port, "POST", "/_mock/fault", "", "none").await.0,
        200
    );
    assert_eq!(
        exchange(port, "POST", "/_mock/fault", "", "sideways")
            .await
            .0,
        400
    );

    assert_eq!(
        exchange(port, "POST", "/_mock/latency", "", "300").await.0,
        200
    );
    let started = Instant::now();
    exchange(port, "GET", playing, &bearer, "").await;
    assert!(started.elapsed() >= Duration::from_millis(300));

    let (_, image) = exchange(port, "GET", "/image/ab67616d0000b273", "", "").await;
    assert!(!image.is_empty());
    let (status, calls) = exchange(port, "GET", "/_mock/calls", "", "").await;
    assert_eq!(status, 200);
    let calls: serde_json::Value = serde_json::from_str(&calls).unwrap();
    assert_eq!(calls["counts"]["currently_playing"], 4);
    assert_eq!(calls["counts"]["token"], 1);
    assert_eq!(calls["counts"]["image"], 1);
    assert_eq!(calls["calls"][1]["answer"], "ok");
    assert_eq!(mock.count(Endpoint::CurrentlyPlaying), 4);
}

#[tokio::test]
async fn a_refused_port_drops_connections_and_listens_again_on_the_same_port() {
    let mock = MockSpotify::start().await;
    let port = mock.port();
    let bearer = access_token(port).await;
    mock.set_fault(Fault::Hang(Duration::from_secs(30))).await;
    let hanging = tokio::spawn(async move {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request = format!("GET /v1/me/player/currently-playing HTTP/1.0\r\n{bearer}\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        rest
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    mock.set_fault(Fault::Refused).await;
    let dropped = tokio::time::timeout(Duration::from_secs(2), hanging).await;
    assert!(
        dropped
            .expect("the hanging connection is closed")
            .unwrap()
            .is_empty()
    );
    let refused = TcpStream::connect(("127.0.0.1", port)).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );

    mock.set_fault(Fault::None).await;
    let bearer = access_token(port).await;
    let (status, _) = exchange(port, "GET", "/v1/me/player/currently-playing", &bearer, "").await;
    assert_eq!(status, 200);
}
