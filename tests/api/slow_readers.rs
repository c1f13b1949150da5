//! Clients that send requests and never read the answers, against the real binary: such a
//! connection is closed `HEADER_TIMEOUT` after its client last took a byte, mid-response if
//! need be, and at `MAX_CONNECTIONS` it is the first to make room, so that everyone else is
//! still served.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

/// A client with a small receive buffer that sends `requests` pipelined requests for `path`
/// (it reads nothing yet).
async fn pipelining(server: &Server, path: &str, requests: usize) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket
        .connect(([127, 0, 0, 1], server.port).into())
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream
        .write_all(request.repeat(requests).as_bytes())
        .await
        .unwrap();
    stream
}

/// When the server closed `stream` (its FIN or reset arrived), seen without reading from it
/// (reading would make it a reading client); `None` if still open at `deadline`.
async fn closed_at(stream: &TcpStream, deadline: Instant) -> Option<Instant> {
    while Instant::now() < deadline {
        if !established(stream) {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Whether the kernel still sees `stream` as established (`TCP_INFO`).
fn established(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes into it.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let got = libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        );
        assert_eq!(got, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
        info.tcpi_state == 1 // TCP_ESTABLISHED
    }
}

/// A static file of several kilobytes: sixty of them (450 KB) fill every buffer on the way,
/// and their sixty requests (2.6 KB) are read by the server at once, so that the client is
/// only told of the close if the server resets the connection (an orderly close would wait
/// behind the unsent bytes, and so would the socket, in the kernel).
const LARGE: &str = "/static/widget.css";
const PIPELINED: usize = 60;

#[tokio::test]
async fn clients_that_never_read_are_closed_and_never_starve_another_client() {
    const HOGS: usize = 8;
    const HEADER_TIMEOUT: Duration = Duration::from_secs(4);
    let server = Server::start_with(
        &["serve", "--demo"],
        &[("HEADER_TIMEOUT", "4"), ("MAX_CONNECTIONS", "8")],
        None,
    )
    .await;
    let mut hogs = Vec::new();
    for _ in 0..HOGS {
        hogs.push(pipelining(&server, LARGE, PIPELINED).await);
    }
    let opened = Instant::now();

    // Every connection is taken by a client that reads nothing: one of them makes room, once
    // its client has read nothing for a second (one on a slow link may read on).
    let asked = Instant::now();
    let response = reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("another client is served");
    let waited = asked.elapsed();
    assert_eq!(response.status(), 200);
    assert!(
        waited < HEADER_TIMEOUT / 2,
        "another client waited {waited:?} at MAX_CONNECTIONS"
    );

    // The others are closed once they have taken nothing for HEADER_TIMEOUT.
    let deadline = opened + HEADER_TIMEOUT + Duration::from_secs(3);
    let mut lifetimes = Vec::new();
    for hog in &hogs {
        let closed = closed_at(hog, deadline).await;
        lifetimes.push(closed.map(|at| at - opened));
    }
    assert!(
        lifetimes.iter().all(Option::is_some),
        "connections still open {:?} after HEADER_TIMEOUT: {lifetimes:?}",
        deadline - opened
    );
}

#[tokio::test]
async fn a_response_the_client_stops_reading_midway_is_cut() {
    let server = Server::start_with(&["serve", "--demo"], &[("HEADER_TIMEOUT", "2")], None).await;
    // Responses larger than every buffer on the way: they cannot all be written.
    let hog = pipelining(&server, LARGE, PIPELINED).await;
    let opened = Instant::now();
    let closed = closed_at(&hog, opened + Duration::from_secs(6)).await;
    let lived = closed.map(|at| at - opened);
    assert!(
        lived.is_some_and(|lived| lived >= Duration::from_secs(2)),
        "closed after {lived:?}, expected after HEADER_TIMEOUT (2 s) and within 6 s"
    );
}

#[tokio::test]
async fn a_client_that_reads_slowly_but_steadily_gets_every_answer() {
    let server = Server::start_with(&["serve", "--demo"], &[("HEADER_TIMEOUT", "1")], None).await;
    let mut client = pipelining(&server, LARGE, PIPELINED).await;
    // 16 KB every 100 ms: several times the 40 KB per HEADER_TIMEOUT a reader must take,
    // far below what the server could send.
    let mut received = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let started = Instant::now();
    let answers = |received: &[u8]| {
        String::from_utf8_lossy(received)
            .matches("HTTP/1.1 200 OK")
            .count()
    };
    while answers(&received) < PIPELINED && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut taken = 0;
        while taken < chunk.len() {
            match tokio::time::timeout(Duration::from_millis(20), client.read(&mut chunk[taken..]))
                .await
            {
                Ok(Ok(0)) => panic!("closed after {} bytes", received.len()),
                Ok(Ok(n)) => taken += n,
                Ok(Err(e)) => panic!("{e} after {} bytes", received.len()),
                Err(_) => break,
            }
        }
        received.extend_from_slice(&chunk[..taken]);
    }
    assert_eq!(answers(&received), PIPELINED, "in {:?}", started.elapsed());
}
