//! Request heads are small: a head larger than 32 KiB is answered 431, a request
//! target longer than 8 KiB 414, and the connection is closed after either; heads within
//! the limits are served as ever.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Sends `head` on a new connection: the status of the answer, and the connection.
async fn send(app: &TestApp, head: &str) -> (u16, TcpStream) {
    let address = app.url("").trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer within 5 s")
            .expect("an answer before the connection closes");
        assert!(n > 0, "closed without an answer");
        read.extend_from_slice(&buffer[..n]);
        if read.windows(4).any(|w| w == b"\r\n\r\n") {
            let status = std::str::from_utf8(&read[9..12]).unwrap().parse().unwrap();
            return (status, stream);
        }
    }
}

/// The status of the answer to `head`, after which the server must close the connection.
async fn refused(app: &TestApp, head: &str) -> u16 {
    let (status, mut stream) = send(app, head).await;
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
            Err(_) => panic!("the connection is still open 5 s after {status}"),
            Ok(Ok(0) | Err(_)) => return status,
            Ok(Ok(_)) => {}
        }
    }
}

fn request(target: &str, headers: &[(&str, String)]) -> String {
    let mut head = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head + "\r\n"
}

#[tokio::test]
async fn a_head_larger_than_32_kib_is_431_and_the_connection_closed() {
    let app = spawn_app().await;
    let one_header = request("/healthz", &[("x-pad", "a".repeat(40 * 1024))]);
    assert_eq!(refused(&app, &one_header).await, 431);
    let many: Vec<_> = (0..50)
        .map(|i| ("cookie", format!("{i}={}", "c".repeat(800))))
        .collect();
    assert_eq!(refused(&app, &request("/healthz", &many)).await, 431);
}

#[tokio::test]
async fn a_head_of_exactly_32_kib_is_served_and_one_byte_more_is_431() {
    let app = spawn_app().await;
    let padded = |len: usize| request("/healthz", &[("x-pad", "a".repeat(len))]);
    let fits = 32 * 1024 - padded(0).len();
    assert_eq!(padded(fits).len(), 32 * 1024);
    assert_eq!(send(&app, &padded(fits)).await.0, 200);
    assert_eq!(refused(&app, &padded(fits + 1)).await, 431);
    // The target counts toward the head.
    let target = format!("/healthz?pad={}", "a".repeat(8 * 1024 - 20));
    let pad = "a".repeat(32 * 1024 - 8 * 1024);
    assert_eq!(
        refused(&app, &request(&target, &[("x-pad", pad)])).await,
        431
    );
}

#[tokio::test]
async fn a_target_longer_than_8_kib_is_414_and_the_connection_closed() {
    let app = spawn_app().await;
    let target = format!("/now-playing.svg?accent={}", "a".repeat(20 * 1024));
    assert_eq!(refused(&app, &request(&target, &[])).await, 414);
    let path = format!("/{}", "b".repeat(20 * 1024));
    assert_eq!(refused(&app, &request(&path, &[])).await, 414);
}

#[tokio::test]
async fn heads_within_the_limits_are_served() {
    let app = spawn_app().await;
    let target = format!("/healthz?pad={}", "a".repeat(8 * 1024 - 20));
    let headers = [("x-pad", "a".repeat(20 * 1024))];
    assert_eq!(send(&app, &request(&target, &headers)).await.0, 200);
}
