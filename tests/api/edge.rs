//! At the edge of the internet (README: Slow clients and connection limits), against the
//! real binary: half-open and idle
//! connections are closed after `HEADER_TIMEOUT`, event streams are not, and at most
//! `MAX_CONNECTIONS` are open at once, within the open-files limit, without starving
//! other clients.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::spotify_mock::*;

/// A request head without its final blank line: the server waits for the rest.
const HALF_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

#[tokio::test]
async fn a_thousand_half_open_connections_neither_starve_other_clients_nor_stay_open() {
    const HELD: usize = 1100;
    const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
    // 1024 descriptors less 64 of headroom.
    const FITTING: usize = 960;
    let own_limit = raise_own_open_files_limit();
    assert!(
        own_limit >= 2 * HELD as u64,
        "this test holds {HELD} connections: raise the hard open-files limit (now {own_limit})"
    );
    let server =
        Server::start_with(&["serve", "--demo"], &[("HEADER_TIMEOUT", "5")], Some(1024)).await;

    // Fifty at a time: quick enough that all are open long before HEADER_TIMEOUT. Each is
    // watched from the start, for how long it stays open.
    let deadline_after_open = HEADER_TIMEOUT + Duration::from_secs(3);
    let mut held = Vec::with_capacity(HELD);
    for _ in 0..HELD / 50 {
        held.extend(
            futures_util::future::join_all((0..50).map(|_| async {
                let mut stream = connect(&server).await;
                // Past MAX_CONNECTIONS the server may already have closed the oldest ones.
                let _ = stream.write_all(HALF_HEAD).await;
                let opened = Instant::now();
                let lifetime = tokio::spawn(async move {
                    closed_by(&mut stream, opened + deadline_after_open)
                        .await
                        .then(|| opened.elapsed())
                });
                (opened, lifetime)
            }))
            .await,
        );
    }
    let all_open = Instant::now();
    let opening = all_open - held.iter().map(|(opened, _)| *opened).min().unwrap();
    assert!(
        opening < HEADER_TIMEOUT,
        "opening took {opening:?}: too slow to hold them all at once"
    );

    let asked = Instant::now();
    let response = reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("another client is served");
    let served_in = asked.elapsed();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        served_in < Duration::from_secs(1),
        "another client waited {served_in:?}"
    );

    let mut lifetimes = Vec::with_capacity(HELD);
    for (_, lifetime) in held {
        lifetimes.push(
            lifetime
                .await
                .unwrap()
                .expect("every half-open connection is closed within HEADER_TIMEOUT + 3 s"),
        );
    }
    let all_closed_in = all_open.elapsed();
    let longest = lifetimes.iter().max().unwrap();
    // Only the connections closed to make room for newer ones go well before HEADER_TIMEOUT
    // (which starts at accept, a little before the client sees its connection open); the
    // server held the others until then.
    let made_room = lifetimes
        .iter()
        .filter(|t| **t < HEADER_TIMEOUT - Duration::from_millis(500))
        .count();
    assert!(
        made_room <= HELD - FITTING + 10,
        "{made_room} connections were closed well before HEADER_TIMEOUT"
    );
    eprintln!(
        "{HELD} half-open connections opened in {opening:?}; another client served in {served_in:?}; \
         {made_room} closed early to make room; all closed {all_closed_in:?} after the last \
         was opened; longest lived {longest:?} (HEADER_TIMEOUT {HEADER_TIMEOUT:?})"
    );

    let raised = logged_with(&server, "open-files limit:");
    assert_eq!(raised.len(), 1, "{}", server.log_text());
    assert_eq!(raised[0]["open_files"], 1024);
    let lowered = logged_with(&server, "MAX_CONNECTIONS lowered");
    assert_eq!(lowered.len(), 1, "{}", server.log_text());
    assert_eq!(lowered[0]["level"], "WARN");
    assert_eq!(lowered[0]["max_connections"], FITTING);
    assert!(
        lowered[0]["message"]
            .as_str()
            .unwrap()
            .contains("from 10000 to 960")
    );
    assert_eq!(
        logged_with(&server, "MAX_CONNECTIONS reached").len(),
        1,
        "said once, not once per connection"
    );
    let accept_errors = logged_with(&server, "accept error");
    assert!(accept_errors.len() <= 2, "accept errors: {accept_errors:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_header_timeout_but_an_event_stream_is_not() {
    let server = Server::start_with(&["serve", "--demo"], &[("HEADER_TIMEOUT", "1")], None).await;
    let mut idle = connect(&server).await;
    assert_eq!(get(&mut idle, "/healthz").await.0, 200);
    let mut events = open_event_stream(&server).await;

    let idle_since = Instant::now();
    assert!(
        closed_by(&mut idle, idle_since + Duration::from_secs(4)).await,
        "an idle keep-alive connection is closed"
    );
    let idle_for = idle_since.elapsed();
    assert!(
        idle_for >= Duration::from_millis(500),
        "kept alive a while first, closed after {idle_for:?}"
    );

    // The stream has been open for longer than HEADER_TIMEOUT, and stays so.
    assert!(
        !closed_by(&mut events, Instant::now() + Duration::from_secs(1)).await,
        "an event stream is not an idle connection"
    );
}

#[tokio::test]
async fn beyond_max_connections_a_new_connection_waits_until_one_closes() {
    // Every connection busy: four requests waiting for a Spotify that has not answered yet
    // (before the first answer, viewers wait, up to the 5 s call deadline). Event streams
    // cannot fill them all: MAX_EVENT_CLIENTS is kept below MAX_CONNECTIONS.
    let spotify = wiremock::MockServer::start().await;
    mount_token(&spotify, 1).await;
    on_playing(&spotify)
        .respond(json(TRACK).set_delay(Duration::from_secs(2)))
        .await;
    let mut env = spotify_env(&spotify);
    env.push(("MAX_CONNECTIONS", "4".into()));
    let server = Server::start(&as_env(&env)).await;
    assert_eq!(
        logged_with(&server, "MAX_EVENT_CLIENTS lowered from 1000 to 3").len(),
        1
    );
    let mut busy = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&server).await;
        stream
            .write_all(b"GET /now-playing HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        busy.push(stream);
    }
    eventually("the shared Spotify call started", || async {
        spotify.received_requests().await.unwrap_or_default().len() >= 2
    })
    .await;
    // The other three heads arrived with the first; give the server a moment to read them
    // (a connection whose head is still unread counts as idle and may make room).
    tokio::time::sleep(Duration::from_millis(300)).await;

    let asked = Instant::now();
    let mut waiting = connect(&server).await;
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), read_response(&mut waiting))
        .await
        .expect("served once a connection was free");
    let waited = asked.elapsed();
    assert_eq!(status, 200);
    assert!(
        waited >= Duration::from_millis(1000),
        "not served while four requests were in flight (served after {waited:?})"
    );
    for stream in &mut busy {
        assert_eq!(read_response(stream).await.0, 200);
    }
    assert_eq!(logged_with(&server, "MAX_CONNECTIONS reached").len(), 1);
}

#[tokio::test]
async fn at_max_connections_the_oldest_idle_connection_makes_room_for_a_new_one() {
    let server = Server::start_with(&["serve", "--demo"], &[("MAX_CONNECTIONS", "4")], None).await;
    let events = open_event_stream(&server).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&server).await;
        assert_eq!(get(&mut stream, "/healthz").await.0, 200);
        idle.push(stream);
    }

    let asked = Instant::now();
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "served without waiting for HEADER_TIMEOUT (10 s)"
    );
    assert!(
        closed_by(&mut idle[0], Instant::now() + Duration::from_secs(5)).await,
        "the oldest idle connection was closed"
    );
    for stream in &mut idle[1..] {
        assert_eq!(
            get(stream, "/healthz").await.0,
            200,
            "the others still serve"
        );
    }
    let mut buffer = [0u8; 1024];
    match events.try_read(&mut buffer) {
        Ok(0) => panic!("the event stream, older still, was closed"),
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
}

#[tokio::test]
async fn shutdown_does_not_wait_for_half_open_connections() {
    let mut server = Server::start_with(&["serve", "--demo"], &[], None).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut stream = connect(&server).await;
        stream.write_all(HALF_HEAD).await.unwrap();
        held.push(stream);
    }
    // Accepted in order: once this is answered, the server holds all twenty.
    let mut last = connect(&server).await;
    assert_eq!(get(&mut last, "/healthz").await.0, 200);

    let stopped_at = Instant::now();
    server.signal("TERM");
    let status = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("exits")
        .unwrap();
    let stopped_in = stopped_at.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(
        stopped_in < now_playing::startup::SHUTDOWN_GRACE,
        "took {stopped_in:?}"
    );
    assert!(!server.log_text().contains("still open"));
    for stream in &mut held {
        assert!(closed_by(stream, Instant::now() + Duration::from_secs(1)).await);
    }
}

/// Raises this test process's soft open-files limit to its hard limit; returns the limit.
fn raise_own_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only touch the struct given, which lives on this stack.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_cur
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connects")
}

/// `GET path` on an open connection: status and body.
async fn get(stream: &mut TcpStream, path: &str) -> (u16, String) {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_response(stream).await
}

/// One response with a `Content-Length`: status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let head = read_until(stream, "\r\n\r\n").await;
    let (head, rest) = head.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    let mut body = rest.as_bytes().to_vec();
    body.resize(length, 0);
    stream.read_exact(&mut body[rest.len()..]).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// Reads until `needle` arrived; returns everything read.
async fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&read).contains(needle) {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed before {needle:?}");
        read.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8(read).unwrap()
}

/// `GET /now-playing/events`, read up to its first event.
async fn open_event_stream(server: &Server) -> TcpStream {
    let mut stream = connect(server).await;
    stream
        .write_all(b"GET /now-playing/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let read = read_until(&mut stream, "event: now-playing").await;
    assert!(read.starts_with("HTTP/1.1 200"), "{read}");
    stream
}

/// Whether the server closed `stream` (end of file or reset) by `deadline`; what it sends
/// meanwhile is skipped.
async fn closed_by(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// The server's log lines whose message contains `text`.
fn logged_with(server: &Server, text: &str) -> Vec<Value> {
    server
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"].as_str().is_some_and(|m| m.contains(text)))
        .collect()
}
