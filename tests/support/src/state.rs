//! The simulator's state and how it answers one request: no I/O here, so the rules (tokens,
//! faults, scenarios, parameters) are tested without a socket.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::model::{Answer, Call, Endpoint, Fault, Scenario};
use crate::payloads::{self, TopKind, fixtures};

/// Calls remembered; older ones are dropped (the counters keep counting).
const MAX_CALLS: usize = 100_000;

/// Prefix of the access tokens the simulator issues, numbered from 0.
pub const ACCESS_TOKEN_PREFIX: &str = "mock-access-";
/// Every scope the service may ask for.
pub const ALL_SCOPES: &str = "user-read-currently-playing user-read-recently-played user-top-read";

/// One request, as much of it as the answer depends on.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

/// The answer, to be sent after `delay`.
pub struct Reply {
    pub endpoint: Endpoint,
    pub answer: Answer,
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    pub delay: Duration,
}

impl Reply {
    fn json(endpoint: Endpoint, answer: Answer, status: u16, body: impl Into<Bytes>) -> Reply {
        Reply {
            endpoint,
            answer,
            status,
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

/// Who may call the token endpoint.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// `client_id:client_secret` that must be sent (Basic auth or form); `None`: any.
    pub client: Option<(String, String)>,
    /// The refresh tokens accepted; empty: any.
    pub refresh_tokens: Vec<String>,
    /// Sent as a new `refresh_token` with every refreshed access token (Spotify does so
    /// sometimes), and accepted from then on.
    pub rotate_to: Option<String>,
}

pub struct State {
    pub epoch: Instant,
    /// Wall-clock time at `epoch`, for progress and `played_at`.
    started: SystemTime,
    pub credentials: Credentials,
    pub scenario: Scenario,
    pub fault: Fault,
    /// Access tokens issued before this get 401.
    revoked_before: Instant,
    pub latency: Duration,
    pub scope: String,
    /// The track's progress moves with real time, as a real player's does.
    pub advance_progress: bool,
    pub image: Bytes,
    /// When each access token was issued, by its number.
    issued: Vec<Instant>,
    calls: VecDeque<Call>,
    counts: [u64; Endpoint::ALL.len()],
    /// Rotates the variants of 5xx and garbage answers.
    turn: usize,
}

impl State {
    pub fn new(epoch: Instant) -> State {
        State {
            epoch,
            started: SystemTime::now() - epoch.elapsed(),
            credentials: Credentials::default(),
            scenario: Scenario::Track,
            fault: Fault::None,
            revoked_before: epoch,
            latency: Duration::ZERO,
            scope: ALL_SCOPES.to_owned(),
            advance_progress: false,
            image: Bytes::from(payloads::jpeg(24_000)),
            issued: Vec::new(),
            calls: VecDeque::new(),
            counts: [0; Endpoint::ALL.len()],
            turn: 0,
        }
    }

    pub fn set_fault(&mut self, fault: Fault, now: Instant) {
        self.fault = fault;
        if matches!(fault, Fault::RevokedTokens { .. } | Fault::InvalidGrant) {
            self.revoked_before = now;
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.iter().copied().collect()
    }

    pub fn count(&self, endpoint: Endpoint) -> u64 {
        self.counts[endpoint as usize]
    }

    /// Answers `request` arriving `now`, and records the call.
    pub fn answer(&mut self, request: &Request, now: Instant) -> Reply {
        let mut reply = self.route(request, now);
        if reply.endpoint != Endpoint::Image {
            reply.delay += self.latency;
        }
        self.counts[reply.endpoint as usize] += 1;
        if self.calls.len() == MAX_CALLS {
            self.calls.pop_front();
        }
        self.calls.push_back(Call {
            at: now.saturating_duration_since(self.epoch),
            endpoint: reply.endpoint,
            answer: reply.answer,
        });
        reply
    }

    fn route(&mut self, request: &Request, now: Instant) -> Reply {
        let endpoint = match request.path {
            "/api/token" => Endpoint::Token,
            "/v1/me/player/currently-playing" => Endpoint::CurrentlyPlaying,
            "/v1/me/player/recently-played" => Endpoint::RecentlyPlayed,
            "/v1/me/top/tracks" => Endpoint::TopTracks,
            "/v1/me/top/artists" => Endpoint::TopArtists,
            path if path.starts_with("/image/") && path.len() > "/image/".len() => Endpoint::Image,
            _ => Endpoint::Unknown,
        };
        let method_ok = match endpoint {
            Endpoint::Token => request.method == "POST",
            Endpoint::Image => matches!(request.method, "GET" | "HEAD"),
            _ => request.method == "GET",
        };
        if !method_ok || endpoint == Endpoint::Unknown {
            let body = payloads::error(404, "Service not found");
            return Reply::json(Endpoint::Unknown, Answer::Unexpected, 404, body);
        }
        match endpoint {
            Endpoint::Token => self.token(request, now),
            Endpoint::Image => Reply {
                content_type: "image/jpeg",
                body: self.image.clone(),
                ..Reply::json(Endpoint::Image, Answer::Ok, 200, Bytes::new())
            }
            .header("cache-control", "public, max-age=31536000".into()),
            _ => self.api(endpoint, request, now),
        }
    }

    fn token(&mut self, request: &Request, now: Instant) -> Reply {
        let reply = |answer, status, body: &str| {
            Reply::json(Endpoint::Token, answer, status, body.to_owned())
        };
        let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body)
            .into_owned()
            .collect();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let basic = request
            .authorization
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let client = match (&basic, field("client_id"), field("client_secret")) {
            (Some(pair), _, _) => pair
                .split_once(':')
                .map(|(i, s)| (i.to_owned(), s.to_owned())),
            (None, Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
            _ => None,
        };
        let client_ok = match (&client, &self.credentials.client) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(got), Some(want)) => got == want,
        };
        if !client_ok {
            return reply(Answer::Unexpected, 400, fixtures::INVALID_CLIENT);
        }
        let new_refresh = match field("grant_type") {
            Some("refresh_token") => {
                if self.fault == Fault::InvalidGrant {
                    return reply(Answer::InvalidGrant, 400, fixtures::INVALID_GRANT);
                }
                let token = field("refresh_token").unwrap_or_default();
                let accepted = &self.credentials.refresh_tokens;
                if token.is_empty() || !(accepted.is_empty() || accepted.iter().any(|t| t == token))
                {
                    return reply(Answer::Unexpected, 400, fixtures::INVALID_GRANT);
                }
                self.credentials.rotate_to.clone()
            }
            Some("authorization_code") if field("code").is_some() => {
                let token = format!("mock-refresh-authorized-{}", self.issued.len());
                Some(token)
            }
            _ => {
                let body = r#"{"error":"unsupported_grant_type"}"#;
                return reply(Answer::Unexpected, 400, body);
            }
        };
        if let Some(token) = &new_refresh
            && !self.credentials.refresh_tokens.is_empty()
            && !self.credentials.refresh_tokens.contains(token)
        {
            self.credentials.refresh_tokens.push(token.clone());
        }
        let number = self.issued.len();
        self.issued.push(now);
        let mut body = json!({
            "access_token": format!("{ACCESS_TOKEN_PREFIX}{number}"),
            "token_type": "Bearer",
            "scope": self.scope,
            "expires_in": 3600,
        });
        if let Some(token) = new_refresh {
            body["refresh_token"] = json!(token);
        }
        reply(Answer::Ok, 200, &body.to_string())
    }

    fn token_valid(&self, authorization: Option<&str>, now: Instant) -> bool {
        let issued_at = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|v| v.strip_prefix(ACCESS_TOKEN_PREFIX))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| self.issued.get(n).copied());
        issued_at.is_some_and(|at| {
            at >= self.revoked_before
                && match self.fault {
                    Fault::RevokedTokens { life } => now.saturating_duration_since(at) < life,
                    _ => true,
                }
        })
    }

    fn api(&mut self, endpoint: Endpoint, request: &Request, now: Instant) -> Reply {
        if !self.token_valid(request.authorization, now) {
            return Reply::json(endpoint, Answer::Unauthorized, 401, fixtures::ERROR_401);
        }
        self.turn += 1;
        match self.fault {
            Fault::RateLimited { retry_after } => {
                let secs = retry_after.as_secs_f64().ceil() as u64;
                Reply::json(
                    endpoint,
                    Answer::RateLimited { retry_after },
                    429,
                    fixtures::ERROR_429,
                )
                .header("retry-after", secs.to_string())
            }
            Fault::ServerErrors => {
                let (status, body) = [
                    (500, payloads::error(500, "Server error")),
                    (
                        502,
                        "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
                    ),
                    (503, payloads::error(503, "Service unavailable")),
                ][self.turn % 3]
                    .clone();
                Reply::json(endpoint, Answer::ServerError(status), status, body)
            }
            Fault::Garbage => {
                let track = fixtures::TRACK;
                let body = [
                    &track[..track.len() / 2],
                    "<html><body>Upstream error</body></html>",
                    r#"{"is_playing": true, "item": {"name": "Digital Love", "#,
                ][self.turn % 3];
                Reply::json(endpoint, Answer::Garbage, 200, body.to_owned())
            }
            Fault::Hang(delay) => Reply {
                answer: Answer::Hang,
                delay,
                ..self.content(endpoint, request, now)
            },
            Fault::None | Fault::RevokedTokens { .. } | Fault::Refused | Fault::InvalidGrant => {
                self.content(endpoint, request, now)
            }
        }
    }

    /// The answer when nothing fails.
    fn content(&self, endpoint: Endpoint, request: &Request, now: Instant) -> Reply {
        let query: Vec<(String, String)> = url::form_urlencoded::parse(request.query.as_bytes())
            .into_owned()
            .collect();
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let bad = |message: &str| {
            Reply::json(
                endpoint,
                Answer::BadRequest,
                400,
                payloads::error(400, message),
            )
        };
        let number = |name: &str, default: usize, range: std::ops::RangeInclusive<usize>| {
            match param(name) {
                None => Some(default),
                Some(v) => v.parse::<usize>().ok().filter(|n| range.contains(n)),
            }
        };
        let wall = self.started + now.saturating_duration_since(self.epoch);
        match endpoint {
            Endpoint::CurrentlyPlaying => {
                let episodes = param("additional_types").is_some_and(|t| t.contains("episode"));
                match self.currently_playing(episodes, wall) {
                    Some(body) => Reply::json(endpoint, Answer::Ok, 200, body),
                    None => Reply {
                        content_type: "text/plain",
                        ..Reply::json(endpoint, Answer::NoContent, 204, Bytes::new())
                    },
                }
            }
            Endpoint::RecentlyPlayed => match number("limit", 20, 1..=50) {
                Some(limit) => {
                    let body = payloads::recently_played(limit, wall);
                    Reply::json(endpoint, Answer::Ok, 200, body)
                }
                None => bad("Invalid limit"),
            },
            Endpoint::TopTracks | Endpoint::TopArtists => {
                if !self.scope.split(' ').any(|s| s == "user-top-read") {
                    let body = payloads::error(403, "Insufficient client scope");
                    return Reply::json(endpoint, Answer::Forbidden, 403, body);
                }
                let kind = if endpoint == Endpoint::TopTracks {
                    TopKind::Tracks
                } else {
                    TopKind::Artists
                };
                let (Some(limit), Some(offset)) =
                    (number("limit", 20, 1..=50), number("offset", 0, 0..=10_000))
                else {
                    return bad("Invalid limit");
                };
                let range = param("time_range").unwrap_or("medium_term");
                match payloads::top(kind, range, limit, offset) {
                    Some(body) => Reply::json(endpoint, Answer::Ok, 200, body),
                    None => bad("Invalid time range"),
                }
            }
            _ => unreachable!("content() is only called for API endpoints"),
        }
    }

    /// The body of `currently-playing`, or `None` for 204.
    fn currently_playing(&self, episodes: bool, wall: SystemTime) -> Option<String> {
        let moving = |paused: bool| {
            let mut value: Value = serde_json::from_str(fixtures::TRACK).unwrap();
            value["is_playing"] = json!(!paused);
            if self.advance_progress && !paused {
                let elapsed = wall.duration_since(self.started).unwrap_or_default();
                let duration = value["item"]["duration_ms"].as_u64().unwrap_or(1).max(1);
                let base = value["progress_ms"].as_u64().unwrap_or(0);
                value["progress_ms"] = json!((base + elapsed.as_millis() as u64) % duration);
                let millis = wall
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis();
                value["timestamp"] = json!(millis as u64);
            }
            value.to_string()
        };
        Some(match &self.scenario {
            Scenario::Track => moving(false),
            Scenario::Paused => moving(true),
            Scenario::Episode if episodes => fixtures::EPISODE.to_owned(),
            Scenario::Episode => {
                let mut value: Value = serde_json::from_str(fixtures::EPISODE).unwrap();
                value["item"] = Value::Null;
                value.to_string()
            }
            Scenario::LocalFile => fixtures::LOCAL.to_owned(),
            Scenario::Ad => fixtures::AD.to_owned(),
            Scenario::Unknown => fixtures::UNKNOWN.to_owned(),
            Scenario::Nothing => return None,
            Scenario::Hostile => payloads::track_with(|t| {
                t["item"]["name"] = json!(payloads::HOSTILE_TITLE);
                t["item"]["artists"][0]["name"] = json!(payloads::HOSTILE_ARTIST);
                t["item"]["album"]["name"] = json!(payloads::HOSTILE_ALBUM);
            }),
            Scenario::Custom(body) => Arc::clone(body).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC: &str = "Basic aWQ6c2VjcmV0"; // id:secret

    fn get<'a>(path: &'a str, query: &'a str, token: Option<&'a str>) -> Request<'a> {
        Request {
            method: "GET",
            path,
            query,
            authorization: token,
            body: b"",
        }
    }

    fn refresh(state: &mut State, now: Instant) -> Reply {
        let request = Request {
            method: "POST",
            path: "/api/token",
            query: "",
            authorization: Some(BASIC),
            body: b"grant_type=refresh_token&refresh_token=r1",
        };
        state.answer(&request, now)
    }

    fn body(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).unwrap()
    }

    fn state() -> (State, Instant) {
        let epoch = Instant::now();
        let mut state = State::new(epoch);
        state.credentials = Credentials {
            client: Some(("id".into(), "secret".into())),
            refresh_tokens: vec!["r1".into()],
            rotate_to: None,
        };
        (state, epoch)
    }

    #[test]
    fn a_refreshed_token_opens_the_player_and_a_revoked_one_does_not() {
        let (mut state, t0) = state();
        let token = body(&refresh(&mut state, t0))["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let bearer = format!("Bearer {token}");
        let playing = get("/v1/me/player/currently-playing", "", Some(&bearer));
        let ok = state.answer(&playing, t0);
        assert_eq!((ok.status, ok.answer), (200, Answer::Ok));
        assert_eq!(body(&ok)["item"]["name"], fixtures::TRACK_TITLE);

        let later = t0 + Duration::from_secs(1);
        state.set_fault(
            Fault::RevokedTokens {
                life: Duration::from_secs(4),
            },
            later,
        );
        assert_eq!(state.answer(&playing, later).answer, Answer::Unauthorized);
        let fresh = body(&refresh(&mut state, later))["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let bearer = format!("Bearer {fresh}");
        let playing = get("/v1/me/player/currently-playing", "", Some(&bearer));
        assert_eq!(state.answer(&playing, later).answer, Answer::Ok);
        let expired = later + Duration::from_secs(4);
        assert_eq!(state.answer(&playing, expired).answer, Answer::Unauthorized);
        assert_eq!(state.count(Endpoint::Token), 2);
        assert_eq!(state.count(Endpoint::CurrentlyPlaying), 4);
    }

    #[test]
    fn wrong_credentials_and_grants_are_unexpected_and_invalid_grant_is_a_fault() {
        let (mut state, t0) = state();
        let wrong = Request {
            method: "POST",
            path: "/api/token",
            query: "",
            authorization: Some(BASIC),
            body: b"grant_type=refresh_token&refresh_token=other",
        };
        assert_eq!(state.answer(&wrong, t0).answer, Answer::Unexpected);
        let no_client = Request {
            authorization: None,
            ..wrong
        };
        assert_eq!(state.answer(&no_client, t0).status, 400);
        state.set_fault(Fault::InvalidGrant, t0);
        let refused = refresh(&mut state, t0);
        assert_eq!(
            (refused.status, refused.answer),
            (400, Answer::InvalidGrant)
        );
        assert_eq!(body(&refused)["error"], "invalid_grant");
    }

    #[test]
    fn rotation_sends_a_new_refresh_token_that_is_accepted_afterwards() {
        let (mut state, t0) = state();
        state.credentials.rotate_to = Some("r2".into());
        assert_eq!(body(&refresh(&mut state, t0))["refresh_token"], "r2");
        let with_new = Request {
            method: "POST",
            path: "/api/token",
            query: "",
            authorization: Some(BASIC),
            body: b"grant_type=refresh_token&refresh_token=r2",
        };
        assert_eq!(state.answer(&with_new, t0).answer, Answer::Ok);
    }

    #[test]
    fn faults_answer_as_spotify_fails() {
        let (mut state, t0) = state();
        refresh(&mut state, t0);
        let bearer = format!("Bearer {ACCESS_TOKEN_PREFIX}0");
        let playing = get("/v1/me/player/currently-playing", "", Some(&bearer));
        state.set_fault(
            Fault::RateLimited {
                retry_after: Duration::from_secs(6),
            },
            t0,
        );
        let limited = state.answer(&playing, t0);
        assert_eq!(limited.status, 429);
        assert_eq!(limited.headers, vec![("retry-after", "6".to_owned())]);
        state.set_fault(Fault::ServerErrors, t0);
        let statuses: Vec<u16> = (0..3).map(|_| state.answer(&playing, t0).status).collect();
        assert_eq!(statuses.iter().filter(|s| **s >= 500).count(), 3);
        state.set_fault(Fault::Garbage, t0);
        let garbage = state.answer(&playing, t0);
        assert_eq!(garbage.status, 200);
        assert!(serde_json::from_slice::<Value>(&garbage.body).is_err());
        state.set_fault(Fault::Hang(Duration::from_secs(10)), t0);
        state.latency = Duration::from_millis(400);
        let hang = state.answer(&playing, t0);
        assert_eq!(
            (hang.answer, hang.delay),
            (Answer::Hang, Duration::from_millis(10_400))
        );
    }

    #[test]
    fn scenarios_shape_currently_playing() {
        let (mut state, t0) = state();
        refresh(&mut state, t0);
        let bearer = format!("Bearer {ACCESS_TOKEN_PREFIX}0");
        let plain = get("/v1/me/player/currently-playing", "", Some(&bearer));
        let both = get(
            "/v1/me/player/currently-playing",
            "additional_types=track,episode",
            Some(&bearer),
        );
        state.scenario = Scenario::Episode;
        assert!(body(&state.answer(&plain, t0))["item"].is_null());
        assert_eq!(body(&state.answer(&both, t0))["item"]["type"], "episode");
        state.scenario = Scenario::Nothing;
        let nothing = state.answer(&plain, t0);
        assert_eq!((nothing.status, nothing.body.len()), (204, 0));
        state.scenario = Scenario::Hostile;
        assert_eq!(
            body(&state.answer(&plain, t0))["item"]["name"],
            payloads::HOSTILE_TITLE
        );
        state.scenario = Scenario::Paused;
        assert_eq!(body(&state.answer(&plain, t0))["is_playing"], false);
    }

    #[test]
    fn top_lists_check_scope_and_parameters() {
        let (mut state, t0) = state();
        refresh(&mut state, t0);
        let bearer = format!("Bearer {ACCESS_TOKEN_PREFIX}0");
        let top = get(
            "/v1/me/top/artists",
            "time_range=short_term&limit=5",
            Some(&bearer),
        );
        let ok = state.answer(&top, t0);
        assert_eq!(body(&ok)["items"].as_array().unwrap().len(), 5);
        let bad = get("/v1/me/top/tracks", "time_range=forever", Some(&bearer));
        assert_eq!(state.answer(&bad, t0).status, 400);
        let bad = get("/v1/me/top/tracks", "limit=51", Some(&bearer));
        assert_eq!(state.answer(&bad, t0).status, 400);
        state.scope = "user-read-currently-playing".into();
        assert_eq!(state.answer(&top, t0).answer, Answer::Forbidden);
        assert_eq!(state.count(Endpoint::TopArtists), 2);
    }
}
