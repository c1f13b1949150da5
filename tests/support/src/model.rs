//! What the simulator can be told to do (scenarios, faults) and what it records (calls).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What `currently-playing` answers while nothing fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// A track, playing (the fixture "Digital Love" by Daft Punk, Todd Edwards).
    Track,
    /// The same track, paused.
    Paused,
    /// A podcast episode; without `additional_types=episode` in the request the item is
    /// `null`, as Spotify does.
    Episode,
    /// A local file: `is_local`, null ids, no images.
    LocalFile,
    /// An advertisement: `item` null, `currently_playing_type` "ad".
    Ad,
    /// Player state with `item` null and type "unknown".
    Unknown,
    /// Nothing playing: 204 without a body.
    Nothing,
    /// A track whose title, artist and album are markup meant to run a script.
    Hostile,
    /// This exact body, with 200.
    Custom(Arc<str>),
}

impl Scenario {
    /// Every named scenario, for help texts.
    pub const NAMES: [&'static str; 8] = [
        "track", "paused", "episode", "local", "ad", "unknown", "nothing", "hostile",
    ];

    /// A named scenario (`track`, `paused`, ...), or a JSON body (text starting with `{`).
    pub fn parse(text: &str) -> Option<Scenario> {
        let text = text.trim();
        if text.starts_with('{') {
            return Some(Scenario::Custom(text.into()));
        }
        Some(match text {
            "track" | "playing" => Scenario::Track,
            "paused" => Scenario::Paused,
            "episode" => Scenario::Episode,
            "local" => Scenario::LocalFile,
            "ad" => Scenario::Ad,
            "unknown" => Scenario::Unknown,
            "nothing" | "idle" => Scenario::Nothing,
            "hostile" => Scenario::Hostile,
            _ => return None,
        })
    }
}

/// How the simulator misbehaves. API faults apply to every Web API endpoint
/// (currently-playing, recently-played, top lists); the token endpoint only knows
/// [`Fault::InvalidGrant`]; cover art never fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Everything works.
    None,
    /// Access tokens issued before the fault began get 401, and the ones issued during it
    /// get 401 once they are `life` old (zero: every call gets 401). The token endpoint
    /// issues new ones.
    RevokedTokens { life: Duration },
    /// 429 with `Retry-After` in whole seconds.
    RateLimited { retry_after: Duration },
    /// 500, 502 (an HTML page) and 503, in turn.
    ServerErrors,
    /// The normal answer, but only after this long.
    Hang(Duration),
    /// 200 with a body that is not the JSON expected (cut, HTML, incomplete), in turn.
    Garbage,
    /// Nothing listens on the port; connections in progress are dropped.
    Refused,
    /// The token endpoint answers 400 `invalid_grant`, and access tokens issued before the
    /// fault began get 401, so that the service has to refresh.
    InvalidGrant,
}

impl Fault {
    /// `none`, `401[:LIFE_S]`, `429[:RETRY_AFTER_S]`, `5xx`, `hang[:S]`, `garbage`, `refused`,
    /// `invalid_grant`.
    pub fn parse(text: &str) -> Option<Fault> {
        let (name, arg) = match text.trim().split_once(':') {
            Some((name, arg)) => (name, Some(arg.parse::<f64>().ok()?)),
            None => (text.trim(), None),
        };
        let secs = |default: f64| Duration::from_secs_f64(arg.unwrap_or(default).max(0.0));
        Some(match name {
            "none" | "ok" => Fault::None,
            "401" => Fault::RevokedTokens { life: secs(0.0) },
            "429" => Fault::RateLimited {
                retry_after: secs(6.0),
            },
            "5xx" | "500" => Fault::ServerErrors,
            "hang" => Fault::Hang(secs(10.0)),
            "garbage" | "malformed" => Fault::Garbage,
            "refused" => Fault::Refused,
            "invalid_grant" => Fault::InvalidGrant,
            _ => return None,
        })
    }
}

/// The endpoint a call went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    Token,
    CurrentlyPlaying,
    RecentlyPlayed,
    TopTracks,
    TopArtists,
    Image,
    /// A path or method the simulator does not serve.
    Unknown,
}

impl Endpoint {
    pub const ALL: [Endpoint; 7] = [
        Endpoint::Token,
        Endpoint::CurrentlyPlaying,
        Endpoint::RecentlyPlayed,
        Endpoint::TopTracks,
        Endpoint::TopArtists,
        Endpoint::Image,
        Endpoint::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::CurrentlyPlaying => "currently_playing",
            Endpoint::RecentlyPlayed => "recently_played",
            Endpoint::TopTracks => "top_tracks",
            Endpoint::TopArtists => "top_artists",
            Endpoint::Image => "image",
            Endpoint::Unknown => "unknown",
        }
    }

    /// The Web API endpoints, which need an access token and meet the API faults.
    pub fn is_api(self) -> bool {
        matches!(
            self,
            Endpoint::CurrentlyPlaying
                | Endpoint::RecentlyPlayed
                | Endpoint::TopTracks
                | Endpoint::TopArtists
        )
    }
}

/// What the simulator answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// 204: nothing playing.
    NoContent,
    Unauthorized,
    /// 403: the access token lacks the scope.
    Forbidden,
    RateLimited {
        retry_after: Duration,
    },
    ServerError(u16),
    Hang,
    Garbage,
    InvalidGrant,
    /// 400 for a parameter Spotify would refuse (`limit`, `time_range`).
    BadRequest,
    /// A request a correct client would not send (wrong grant, wrong credentials, unknown
    /// path): a bug in the service under test.
    Unexpected,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Ok => f.write_str("ok"),
            Answer::NoContent => f.write_str("204"),
            Answer::Unauthorized => f.write_str("401"),
            Answer::Forbidden => f.write_str("403"),
            Answer::RateLimited { .. } => f.write_str("429"),
            Answer::ServerError(status) => write!(f, "{status}"),
            Answer::Hang => f.write_str("hang"),
            Answer::Garbage => f.write_str("garbage"),
            Answer::InvalidGrant => f.write_str("invalid_grant"),
            Answer::BadRequest => f.write_str("400"),
            Answer::Unexpected => f.write_str("unexpected"),
        }
    }
}

/// One call the simulator received; `at` is measured from its epoch (see
/// [`crate::Options::epoch`]) when the request arrived, before any latency or answer.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub at: Duration,
    pub endpoint: Endpoint,
    pub answer: Answer,
}
