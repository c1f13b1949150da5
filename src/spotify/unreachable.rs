//! Why Spotify (or its image host) could not be reached, read from reqwest's error chain:
//! name not resolved, connection refused, timed out, or TLS failed, with the host named, so
//! that logs, `/readyz` and `check` say more than "error sending request".

use std::error::Error as _;
use std::time::Duration;

use reqwest::Url;

/// A request that got no HTTP answer: which host, and why. The message names the host (and
/// a port other than the scheme's default) but never the path, the query or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot reach {host}: {cause}")]
pub(crate) struct Unreachable {
    /// `host`, or `host:port` when the port is not the scheme's default.
    pub host: String,
    pub cause: Cause,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cause {
    /// DNS gave no address for the host (unknown name, or no resolver to ask).
    NameNotResolved,
    /// The host answered, but nothing listens on the port.
    ConnectionRefused,
    /// No answer within the deadline; `connecting` when no connection was made yet (the name
    /// lookup or the TCP handshake hung), otherwise the request or response did.
    TimedOut { after: Duration, connecting: bool },
    /// The TLS handshake failed; the problem as rustls words it, such as
    /// `invalid peer certificate: UnknownIssuer`.
    Tls(String),
    /// Any other transport failure, as the error chain words it.
    Other(String),
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NameNotResolved => f.write_str("name not resolved"),
            Self::ConnectionRefused => f.write_str("connection refused"),
            Self::TimedOut { after, connecting } => {
                write!(f, "timed out after {}", seconds(*after))?;
                if *connecting {
                    f.write_str(" while connecting (name lookup or TCP handshake)")?;
                }
                Ok(())
            }
            Self::Tls(problem) => write!(f, "TLS failed: {problem}"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

impl Cause {
    /// A short label for structured logs.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::NameNotResolved => "name_not_resolved",
            Self::ConnectionRefused => "connection_refused",
            Self::TimedOut { .. } => "timed_out",
            Self::Tls(_) => "tls",
            Self::Other(_) => "other",
        }
    }

    /// What the operator can do about it; `setting` names where the host came from.
    pub(crate) fn advice(&self, setting: &str) -> String {
        match self {
            Self::NameNotResolved => format!(
                "check the host in {setting} and this machine's DNS (in a container: its network and /etc/resolv.conf)"
            ),
            Self::ConnectionRefused => format!(
                "nothing accepts connections there: check the host and port in {setting}, and any proxy or firewall in between"
            ),
            Self::TimedOut { .. } => format!(
                "check this machine's network, firewall and proxy (a firewall that drops packets looks like this) and the host in {setting}, then try again"
            ),
            Self::Tls(_) => format!(
                "the server's certificate was not accepted: if {setting} is unset or Spotify's own, this machine lacks CA certificates (install the ca-certificates package; in a container copy /etc/ssl/certs/ca-certificates.crt into the image, or point SSL_CERT_FILE at a PEM bundle) or a proxy intercepts TLS; otherwise check {setting}"
            ),
            Self::Other(_) => {
                format!("check {setting} and this machine's network, then try again")
            }
        }
    }
}

/// The deadlines of the client that sent the request, to say which one passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadlines {
    pub connect: Duration,
    pub call: Duration,
}

impl Deadlines {
    /// Every call to the Web API and the token endpoint.
    pub(crate) const SPOTIFY: Self = Self {
        connect: super::CONNECT_TIMEOUT,
        call: super::CALL_TIMEOUT,
    };
}

/// Reads the cause of a request that got no answer from reqwest's error chain.
pub(crate) fn classify(error: &reqwest::Error, deadlines: Deadlines) -> Unreachable {
    let host = error.url().map_or_else(|| "Spotify".to_owned(), host_of);
    Unreachable {
        host,
        cause: cause(error, deadlines),
    }
}

fn cause(error: &reqwest::Error, deadlines: Deadlines) -> Cause {
    if error.is_dns() || chain(error).any(is_lookup_failure) {
        return Cause::NameNotResolved;
    }
    if error.is_timeout() {
        let connecting = error.is_connect();
        return Cause::TimedOut {
            after: if connecting {
                deadlines.connect
            } else {
                deadlines.call
            },
            connecting,
        };
    }
    let io = || chain(error).filter_map(|e| e.downcast_ref::<std::io::Error>());
    if io().any(|e| e.kind() == std::io::ErrorKind::ConnectionRefused) {
        return Cause::ConnectionRefused;
    }
    // tokio-rustls hands rustls' error up inside an `InvalidData` I/O error (which hyper-rustls
    // may wrap again); without a direct rustls dependency, its type cannot be named, so the
    // kind and rustls' own wording tell it apart.
    if error.is_connect()
        && let Some(tls) = chain(error).find(|e| {
            e.downcast_ref::<std::io::Error>().is_some_and(|io| {
                io.kind() == std::io::ErrorKind::InvalidData && io.get_ref().is_some()
            }) || is_tls_failure(&e.to_string())
        })
    {
        return Cause::Tls(tls.to_string());
    }
    Cause::Other(describe(error))
}

/// The errors below reqwest's own, outermost first, looking inside I/O errors that wrap
/// another (whose `source()` skips the wrapped error itself).
fn chain(error: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(error.source(), |&e| {
        match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        }
    })
}

/// How rustls words the failures of a handshake (`rustls::Error`'s `Display`).
fn is_tls_failure(text: &str) -> bool {
    [
        "invalid peer certificate",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "received corrupt message",
        "peer sent no certificates",
        "tls handshake eof",
    ]
    .iter()
    .any(|prefix| text.starts_with(prefix))
}

/// getaddrinfo's failure as the standard library words it, when no resolver wrapper says so.
fn is_lookup_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    e.to_string()
        .starts_with("failed to lookup address information")
}

/// The chain's messages joined, without repeats, for causes without a name of their own.
fn describe(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(error).filter(|e| !e.is::<reqwest::Error>()) {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        "the request failed without an answer".to_owned()
    } else {
        parts.join(": ")
    }
}

/// `host`, or `host:port` when the URL names a port other than its scheme's default.
pub(crate) fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> String {
        host_of(&Url::parse(url).unwrap())
    }

    #[test]
    fn the_default_port_is_left_out() {
        assert_eq!(host("https://api.spotify.com/v1/me?x=1"), "api.spotify.com");
        assert_eq!(host("https://api.spotify.com:443/v1"), "api.spotify.com");
        assert_eq!(host("http://spotify.invalid:80/"), "spotify.invalid");
    }

    #[test]
    fn an_explicit_port_is_kept() {
        assert_eq!(host("https://127.0.0.1:8443/api/token"), "127.0.0.1:8443");
        assert_eq!(host("http://127.0.0.1:443/"), "127.0.0.1:443");
        assert_eq!(host("https://[::1]:9000/"), "[::1]:9000");
    }

    #[test]
    fn neither_path_query_nor_credentials_are_named() {
        assert_eq!(
            host("https://user:secret@accounts.spotify.com/api/token?code=abc"),
            "accounts.spotify.com"
        );
    }

    #[test]
    fn causes_read_as_sentences() {
        let unreachable = |cause| Unreachable {
            host: "api.spotify.com".into(),
            cause,
        };
        assert_eq!(
            unreachable(Cause::NameNotResolved).to_string(),
            "cannot reach api.spotify.com: name not resolved"
        );
        assert_eq!(
            unreachable(Cause::ConnectionRefused).to_string(),
            "cannot reach api.spotify.com: connection refused"
        );
        assert_eq!(
            unreachable(Cause::TimedOut {
                after: Duration::from_secs(5),
                connecting: false
            })
            .to_string(),
            "cannot reach api.spotify.com: timed out after 5 s"
        );
        assert_eq!(
            unreachable(Cause::TimedOut {
                after: Duration::from_millis(1500),
                connecting: true
            })
            .to_string(),
            "cannot reach api.spotify.com: timed out after 1500 ms while connecting (name lookup or TCP handshake)"
        );
        assert_eq!(
            unreachable(Cause::Tls("invalid peer certificate: UnknownIssuer".into())).to_string(),
            "cannot reach api.spotify.com: TLS failed: invalid peer certificate: UnknownIssuer"
        );
    }
}
