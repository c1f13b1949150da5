//! A stateful Spotify simulator: the accounts service's token endpoint, the player
//! (`currently-playing`, `recently-played`), the top lists and cover art, on one loopback
//! port, with scenarios, faults, latency and call counters switchable at any moment, from
//! Rust (in-process) or over HTTP (`/_mock/...`, for the `mock-spotify` binary).
//!
//! The service under test gets the simulator's URL as `SPOTIFY_ACCOUNTS_URL`,
//! `SPOTIFY_API_URL` and `SPOTIFY_IMAGES_URL`.
//!
//! Admin endpoints (not Spotify's):
//! - `GET /_mock/calls`: `{"counts": {"token": N, ...}, "calls": [{"at_ms", "endpoint", "answer"}]}`
//! - `POST /_mock/scenario` with a name (`track`, `paused`, `episode`, `local`, `ad`,
//!   `unknown`, `nothing`, `hostile`) or a JSON body for `currently-playing`
//! - `POST /_mock/fault` with `none`, `401[:LIFE_S]`, `429[:RETRY_AFTER_S]`, `5xx`,
//!   `hang[:S]`, `garbage`, `invalid_grant` or `refused:S` (listens again after S seconds)
//! - `POST /_mock/latency` with milliseconds

mod model;
pub mod payloads;
mod state;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use model::{Answer, Call, Endpoint, Fault, Scenario};
pub use payloads::fixtures;
pub use state::{ACCESS_TOKEN_PREFIX, ALL_SCOPES};

use state::{Credentials, Request, State};

/// How the simulator starts; everything but the address can be changed later.
#[derive(Clone, Debug)]
pub struct Options {
    /// `127.0.0.1` by default; `0.0.0.0` to be reachable from a container.
    pub host: IpAddr,
    /// 0: the system picks a free port.
    pub port: u16,
    /// Calls are timed from here (default: when the simulator starts).
    pub epoch: Option<Instant>,
    /// The client that must call the token endpoint; `None`: any Basic credentials.
    pub client: Option<(String, String)>,
    /// The refresh token that must be sent; `None`: any.
    pub refresh_token: Option<String>,
    /// Sent as a new refresh token with every refresh, and accepted from then on.
    pub rotate_refresh_token: Option<String>,
    pub scenario: Scenario,
    pub fault: Fault,
    /// Added to every answer but cover art's.
    pub latency: Duration,
    /// Granted scopes, space-separated; without `user-top-read` the top lists answer 403.
    pub scope: String,
    /// Let the track's progress move with real time (default: always the fixture's).
    pub advance_progress: bool,
    /// Size of the cover JPEG served at `/image/<id>`.
    pub image_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            epoch: None,
            client: None,
            refresh_token: None,
            rotate_refresh_token: None,
            scenario: Scenario::Track,
            fault: Fault::None,
            latency: Duration::ZERO,
            scope: ALL_SCOPES.to_owned(),
            advance_progress: false,
            image_bytes: 24_000,
        }
    }
}

/// The running simulator; stops (and drops every connection) when dropped.
pub struct MockSpotify {
    shared: Arc<Shared>,
    port: u16,
    _stop: DropGuard,
}

struct Shared {
    state: Mutex<State>,
    /// Whether the port should refuse connections.
    refuse: watch::Sender<bool>,
    /// Whether it listens now.
    listening: watch::Sender<bool>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn set_fault(&self, fault: Fault) {
        self.state().set_fault(fault, Instant::now());
        let refused = fault == Fault::Refused;
        self.refuse.send_replace(refused);
        let mut listening = self.listening.subscribe();
        let _ = listening.wait_for(|l| *l != refused).await;
    }
}

impl MockSpotify {
    /// On a free loopback port, playing the track fixture, accepting any client.
    pub async fn start() -> MockSpotify {
        MockSpotify::start_with(Options::default())
            .await
            .expect("the mock Spotify binds a loopback port")
    }

    pub async fn start_with(options: Options) -> std::io::Result<MockSpotify> {
        let epoch = options.epoch.unwrap_or_else(Instant::now);
        let mut state = State::new(epoch);
        state.credentials = Credentials {
            client: options.client,
            refresh_tokens: options.refresh_token.into_iter().collect(),
            rotate_to: options.rotate_refresh_token,
        };
        state.scenario = options.scenario;
        state.set_fault(options.fault, epoch);
        state.latency = options.latency;
        state.scope = options.scope;
        state.advance_progress = options.advance_progress;
        state.image = Bytes::from(payloads::jpeg(options.image_bytes));
        let listener = bind(SocketAddr::new(options.host, options.port))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            refuse: watch::Sender::new(false),
            listening: watch::Sender::new(true),
        });
        let stop = CancellationToken::new();
        let address = SocketAddr::new(options.host, port);
        tokio::spawn(supervise(
            Arc::clone(&shared),
            listener,
            address,
            stop.clone(),
        ));
        if options.fault == Fault::Refused {
            shared.set_fault(Fault::Refused).await;
        }
        Ok(MockSpotify {
            shared,
            port,
            _stop: stop.drop_guard(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`: the accounts, API and image base URL at once.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on `currently-playing` answers as `scenario` says.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.shared.state().scenario = scenario;
    }

    /// From now on `currently-playing` answers `body` (no gap in between).
    pub fn set_playing(&self, body: &str) {
        self.set_scenario(Scenario::Custom(body.into()));
    }

    /// Switches to `fault`; when this returns, every new call meets it (for
    /// [`Fault::Refused`]: the port is closed, or listens again when leaving it).
    pub async fn set_fault(&self, fault: Fault) {
        self.shared.set_fault(fault).await;
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.state().latency = latency;
    }

    pub fn set_scope(&self, scope: &str) {
        self.shared.state().scope = scope.to_owned();
    }

    /// Every call received so far (the last 100 000), in order of arrival.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.state().calls()
    }

    /// Calls to `endpoint` so far.
    pub fn count(&self, endpoint: Endpoint) -> u64 {
        self.shared.state().count(endpoint)
    }

    /// Calls so far, by endpoint.
    pub fn counts(&self) -> Counts {
        let state = self.shared.state();
        Counts(Endpoint::ALL.map(|e| state.count(e)))
    }
}

/// Calls per endpoint at one moment; subtract two to count the calls in between.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts([u64; Endpoint::ALL.len()]);

impl Counts {
    pub fn get(&self, endpoint: Endpoint) -> u64 {
        self.0[endpoint as usize]
    }

    /// `self - earlier`, per endpoint.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts(std::array::from_fn(|i| {
            self.0[i].saturating_sub(earlier.0[i])
        }))
    }

    /// Calls of all endpoints together.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl std::fmt::Display for Counts {
    /// `currently_playing 3, token 1` (endpoints without calls left out; `none` if empty).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut order = Endpoint::ALL;
        order.swap(0, 1);
        let parts: Vec<String> = order
            .iter()
            .filter(|e| self.get(**e) > 0)
            .map(|e| format!("{} {}", e.name(), self.get(*e)))
            .collect();
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Listening again on the same port after `Refused` finds connections in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// Accepts connections until told to refuse, then closes the port and every connection,
/// and listens again when told to; until `stop`.
async fn supervise(
    shared: Arc<Shared>,
    first: TcpListener,
    address: SocketAddr,
    stop: CancellationToken,
) {
    let mut refuse = shared.refuse.subscribe();
    let mut listener = Some(first);
    loop {
        if let Some(listener) = listener.take() {
            shared.listening.send_replace(true);
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    () = stop.cancelled() => {
                        connections.shutdown().await;
                        return;
                    }
                    () = until(&mut refuse, true) => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(serve(stream, Arc::clone(&shared)));
                        }
                        // Out of descriptors, most likely: let some close first.
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            // Aborting a connection's task drops its socket.
            connections.shutdown().await;
            drop(listener);
            shared.listening.send_replace(false);
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = until(&mut refuse, false) => {}
        }
        for _ in 0..100 {
            match bind(address) {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        assert!(listener.is_some(), "cannot listen on {address} again");
    }
}

async fn until(flag: &mut watch::Receiver<bool>, value: bool) {
    let _ = flag.wait_for(|v| *v == value).await;
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

type Response = hyper::Response<Full<Bytes>>;

fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("a valid response")
}

async fn handle(shared: &Arc<Shared>, request: hyper::Request<Incoming>) -> Response {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return response(400, "text/plain", "unreadable body"),
    };
    let path = parts.uri.path();
    if let Some(command) = path.strip_prefix("/_mock/") {
        return admin(shared, parts.method.as_str(), command, &body);
    }
    let reply = {
        let request = Request {
            method: parts.method.as_str(),
            path,
            query: parts.uri.query().unwrap_or(""),
            authorization: parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            body: &body,
        };
        shared.state().answer(&request, Instant::now())
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut builder = hyper::Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type);
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    let body = if parts.method == hyper::Method::HEAD {
        Bytes::new()
    } else {
        reply.body
    };
    builder.body(Full::new(body)).expect("a valid response")
}

fn admin(shared: &Arc<Shared>, method: &str, command: &str, body: &[u8]) -> Response {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let ok = || response(200, "text/plain", "ok\n");
    let bad = |message: String| response(400, "text/plain", message + "\n");
    match (method, command) {
        ("GET", "calls") => {
            let state = shared.state();
            let counts: serde_json::Map<String, serde_json::Value> = Endpoint::ALL
                .iter()
                .map(|e| (e.name().to_owned(), json!(state.count(*e))))
                .collect();
            let calls: Vec<_> = state
                .calls()
                .iter()
                .map(|c| {
                    json!({"at_ms": c.at.as_secs_f64() * 1000.0,
                           "endpoint": c.endpoint.name(), "answer": c.answer.to_string()})
                })
                .collect();
            let body = json!({"counts": counts, "calls": calls}).to_string();
            response(200, "application/json", body)
        }
        ("POST", "scenario") => match Scenario::parse(text) {
            Some(scenario) => {
                shared.state().scenario = scenario;
                ok()
            }
            None => bad(format!(
                "unknown scenario {text:?}; one of {} or a JSON body",
                Scenario::NAMES.join(", ")
            )),
        },
        ("POST", "latency") => match text.parse::<u64>() {
            Ok(ms) => {
                shared.state().latency = Duration::from_millis(ms);
                ok()
            }
            Err(_) => bad(format!("latency in milliseconds, not {text:?}")),
        },
        ("POST", "fault") => match (Fault::parse(text), text.split_once(':')) {
            (Some(Fault::Refused), Some((_, secs))) => {
                let secs = secs.parse::<f64>().unwrap_or(1.0).clamp(0.0, 3600.0);
                let shared = Arc::clone(shared);
                tokio::spawn(async move {
                    // This answer goes out before the port closes.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    shared.set_fault(Fault::Refused).await;
                    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                    shared.set_fault(Fault::None).await;
                });
                ok()
            }
            (Some(Fault::Refused), None) => {
                bad("over HTTP, `refused:SECONDS`: nothing could reopen the port".into())
            }
            (Some(fault), _) => {
                shared.state().set_fault(fault, Instant::now());
                ok()
            }
            (None, _) => bad(format!("unknown fault {text:?}")),
        },
        _ => response(404, "text/plain", "no such admin endpoint\n"),
    }
}
