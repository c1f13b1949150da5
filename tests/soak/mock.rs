//! The mock Spotify: one wiremock server whose answers follow the current [`Fault`], with
//! every call it receives recorded with its time, and a TCP proxy in front of its API side
//! that can stop listening, so that the service meets a refused connection.
//!
//! The service is given two base URLs: the accounts URL goes straight to wiremock, the API
//! URL goes through the proxy.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const CLIENT_ID: &str = "soak-client-id";
pub const CLIENT_SECRET: &str = "soak-client-secret-61c0";
pub const REFRESH_TOKEN: &str = "soak-refresh-token-2b7e";

const TRACK: &str = include_str!("../fixtures/spotify/currently_playing_track.json");
const RECENT: &str = include_str!("../fixtures/spotify/recently_played.json");
const ERROR_401: &str = include_str!("../fixtures/spotify/error_401.json");
const ERROR_429: &str = include_str!("../fixtures/spotify/error_429.json");
const INVALID_GRANT: &str = include_str!("../fixtures/spotify/error_invalid_grant.json");

/// The title in [`TRACK`]: every document the service serves must show it.
pub const TRACK_TITLE: &str = "Digital Love";

/// `Retry-After` sent with every 429, longer than `CACHE_TTL` so that honouring it is visible.
pub const RETRY_AFTER: Duration = Duration::from_secs(6);
/// How long a hanging answer takes: longer than the service's 5 s call deadline.
pub const HANG: Duration = Duration::from_secs(10);
/// During [`Fault::RevokedTokens`], an access token works for this long after it was issued
/// (Spotify says 3600 s; the mock revokes it early, so that the phase sees several 401s).
pub const REVOKED_TOKEN_LIFE: Duration = Duration::from_secs(4);

/// How the mock Spotify misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Everything works.
    None,
    /// Access tokens issued before the phase began get 401, and the ones issued during it
    /// get 401 once they are [`REVOKED_TOKEN_LIFE`] old; the token endpoint issues new ones.
    RevokedTokens,
    /// `currently-playing` answers 429 with `Retry-After: 6`.
    RateLimited,
    /// `currently-playing` answers 500, 502 or 503.
    ServerErrors,
    /// `currently-playing` answers only after [`HANG`].
    Hang,
    /// `currently-playing` answers 200 with a body that is not the JSON expected.
    Malformed,
    /// Nothing listens on the API port.
    Refused,
    /// The token endpoint answers 400 `invalid_grant`, and the API 401 to every access token
    /// issued before the phase began, so that the service has to refresh during the phase.
    InvalidGrant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    CurrentlyPlaying,
    Other,
}

/// What the mock answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Unauthorized,
    RateLimited {
        retry_after: Duration,
    },
    ServerError(u16),
    Hang,
    Malformed,
    InvalidGrant,
    /// A request the mock did not expect (wrong grant, unknown path).
    Unexpected,
}

/// One call the mock received; `at` is measured from the test's epoch when the request
/// arrived (before the answer was sent).
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub at: Duration,
    pub endpoint: Endpoint,
    pub answer: Answer,
}

struct State {
    epoch: Instant,
    fault: Fault,
    /// Access tokens issued before this instant get 401.
    revoked_before: Instant,
    /// When access token `soak-access-N` was issued, by N.
    issued: Vec<Instant>,
    calls: Vec<Call>,
    /// Rotates the variants of 5xx and malformed answers.
    turn: usize,
}

pub struct Spotify {
    state: Arc<Mutex<State>>,
    server: MockServer,
    proxy: Proxy,
}

impl Spotify {
    pub async fn start(epoch: Instant) -> Spotify {
        let state = Arc::new(Mutex::new(State {
            epoch,
            fault: Fault::None,
            revoked_before: epoch,
            issued: Vec::new(),
            calls: Vec::new(),
            turn: 0,
        }));
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        Mock::given(any())
            .respond_with(Responder(Arc::clone(&state)))
            .mount(&server)
            .await;
        let proxy = Proxy::start(*server.address()).await;
        Spotify {
            state,
            server,
            proxy,
        }
    }

    pub fn accounts_url(&self) -> String {
        self.server.uri()
    }

    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy.port)
    }

    /// Switches to `fault`; when this returns, every new call meets the new behaviour.
    pub async fn set_fault(&self, fault: Fault) {
        let was = self.state.lock().unwrap().fault;
        if fault == Fault::Refused && was != Fault::Refused {
            self.proxy.close().await;
        } else if was == Fault::Refused && fault != Fault::Refused {
            self.proxy.open().await;
        }
        let mut state = self.state.lock().unwrap();
        state.fault = fault;
        if matches!(fault, Fault::RevokedTokens | Fault::InvalidGrant) {
            state.revoked_before = Instant::now();
        }
    }

    /// Every call received so far, in order of arrival.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let mut state = self.0.lock().unwrap();
        let (endpoint, answer, response) = state.answer(request, now);
        let at = now - state.epoch;
        state.calls.push(Call {
            at,
            endpoint,
            answer,
        });
        response
    }
}

impl State {
    fn answer(&mut self, request: &Request, now: Instant) -> (Endpoint, Answer, ResponseTemplate) {
        match (request.method.as_str(), request.url.path()) {
            ("POST", "/api/token") => {
                let (answer, response) = self.token(request, now);
                (Endpoint::Token, answer, response)
            }
            ("GET", "/v1/me/player/currently-playing") => {
                let (answer, response) = self.currently_playing(request, now);
                (Endpoint::CurrentlyPlaying, answer, response)
            }
            ("GET", "/v1/me/player/recently-played") => {
                (Endpoint::Other, Answer::Ok, json(200, RECENT))
            }
            _ => (
                Endpoint::Other,
                Answer::Unexpected,
                json(404, r#"{"error":{"status":404,"message":"Not found"}}"#),
            ),
        }
    }

    fn token(&mut self, request: &Request, now: Instant) -> (Answer, ResponseTemplate) {
        let form = String::from_utf8_lossy(&request.body);
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Basic "));
        if !authorized
            || !form.contains("grant_type=refresh_token")
            || !form.contains(&format!("refresh_token={REFRESH_TOKEN}"))
        {
            return (
                Answer::Unexpected,
                json(400, r#"{"error":"invalid_request"}"#),
            );
        }
        if self.fault == Fault::InvalidGrant {
            return (Answer::InvalidGrant, json(400, INVALID_GRANT));
        }
        let number = self.issued.len();
        self.issued.push(now);
        let body = serde_json::json!({
            "access_token": format!("soak-access-{number}"),
            "token_type": "Bearer",
            "scope": "user-read-currently-playing user-read-recently-played",
            "expires_in": 3600,
        });
        (Answer::Ok, json(200, &body.to_string()))
    }

    fn currently_playing(&mut self, request: &Request, now: Instant) -> (Answer, ResponseTemplate) {
        let issued_at = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer soak-access-"))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| self.issued.get(n).copied());
        let valid = issued_at.is_some_and(|at| {
            at >= self.revoked_before
                && (self.fault != Fault::RevokedTokens || now - at < REVOKED_TOKEN_LIFE)
        });
        if !valid {
            return (Answer::Unauthorized, json(401, ERROR_401));
        }
        self.turn += 1;
        match self.fault {
            Fault::RateLimited => (
                Answer::RateLimited {
                    retry_after: RETRY_AFTER,
                },
                json(429, ERROR_429)
                    .insert_header("retry-after", RETRY_AFTER.as_secs().to_string().as_str()),
            ),
            Fault::ServerErrors => {
                let (status, body) = [
                    (500, r#"{"error":{"status":500,"message":"Server error"}}"#),
                    (502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
                    (
                        503,
                        r#"{"error":{"status":503,"message":"Service unavailable"}}"#,
                    ),
                ][self.turn % 3];
                (Answer::ServerError(status), json(status, body))
            }
            Fault::Hang => (Answer::Hang, json(200, TRACK).set_delay(HANG)),
            Fault::Malformed => {
                let cut = TRACK.len() / 2;
                let body = [
                    &TRACK[..cut],
                    "<html><body>Upstream error</body></html>",
                    r#"{"is_playing": true, "item": {"name": "Digital Love", "#,
                ][self.turn % 3];
                (Answer::Malformed, json(200, body))
            }
            Fault::None | Fault::RevokedTokens | Fault::Refused | Fault::InvalidGrant => {
                (Answer::Ok, json(200, TRACK))
            }
        }
    }
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// A TCP proxy on a fixed loopback port that can stop listening (and drop every connection
/// it carries) and listen again on the same port.
struct Proxy {
    port: u16,
    upstream: SocketAddr,
    running: Mutex<Option<Running>>,
}

struct Running {
    stop: CancellationToken,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = bind(0).expect("the proxy binds a loopback port");
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            upstream,
            running: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let stop = CancellationToken::new();
        let accept = tokio::spawn(accept_loop(listener, self.upstream, stop.clone()));
        *self.running.lock().unwrap() = Some(Running { stop, accept });
    }

    /// Listens again on the same port.
    async fn open(&self) {
        for _ in 0..50 {
            match bind(self.port) {
                Ok(listener) => return self.serve(listener),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("the proxy could not listen on port {} again", self.port);
    }

    /// Stops listening and closes every connection; when this returns, connecting to the
    /// port is refused.
    async fn close(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some(running) = running {
            running.stop.cancel();
            running.accept.await.expect("the proxy's accept loop ends");
        }
    }
}

fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    // The port has connections in TIME_WAIT after a close; listening again needs this.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(1024)
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, stop: CancellationToken) {
    let mut pipes = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => {
                if let Ok((inbound, _)) = accepted {
                    pipes.spawn(pipe(inbound, upstream));
                }
            }
            Some(_) = pipes.join_next(), if !pipes.is_empty() => {}
        }
    }
    // Aborting a pipe drops both of its sockets: every carried connection is closed.
    pipes.shutdown().await;
    drop(listener);
}

async fn pipe(mut inbound: TcpStream, upstream: SocketAddr) {
    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}
