//! Typed parsers for setting values, and [`Problems`], which collects every bad value so
//! that all are reported in one message, each naming its variable and what it expects.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use reqwest::Url;

use super::{AllowedOrigins, ConfigError, LogFormat};

/// Reads a trimmed, non-empty value; `None` when it is not valid.
type Reader<T> = Box<dyn Fn(&str) -> Option<T>>;

/// How to read one kind of value, and how to say what was expected.
pub(super) struct Kind<T> {
    expected: String,
    parse: Reader<T>,
}

impl<T: 'static> Kind<T> {
    pub(super) fn new(
        expected: impl Into<String>,
        parse: impl Fn(&str) -> Option<T> + 'static,
    ) -> Self {
        Self {
            expected: expected.into(),
            parse: Box::new(parse),
        }
    }

    /// The same kind, for a setting whose default is unset.
    pub(super) fn optional(self) -> Kind<Option<T>> {
        let parse = self.parse;
        Kind::new(self.expected, move |v| parse(v).map(Some))
    }

    /// The same kind, with its own words for what is expected.
    pub(super) fn described(self, expected: impl Into<String>) -> Self {
        Self {
            expected: expected.into(),
            ..self
        }
    }
}

pub(super) fn seconds(min: u64, max: u64) -> Kind<Duration> {
    Kind::new(
        format!("a whole number of seconds from {min} to {max}"),
        move |v| {
            v.parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(Duration::from_secs)
        },
    )
}

pub(super) fn count(min: usize, max: usize) -> Kind<usize> {
    Kind::new(format!("a whole number from {min} to {max}"), move |v| {
        v.parse().ok().filter(|n| (min..=max).contains(n))
    })
}

pub(super) fn flag() -> Kind<bool> {
    Kind::new("true or false", parse_bool)
}

pub(super) fn ip() -> Kind<IpAddr> {
    Kind::new("an IP address such as 127.0.0.1 or 0.0.0.0", |v| {
        v.parse().ok()
    })
}

pub(super) fn port() -> Kind<u16> {
    Kind::new("a port number from 0 to 65535", |v| v.parse().ok())
}

pub(super) fn base_url(example: &str) -> Kind<Url> {
    Kind::new(
        format!("an http(s) base URL such as {example}"),
        parse_base_url,
    )
}

pub(super) fn time() -> Kind<DateTime<Utc>> {
    Kind::new("an RFC 3339 time such as 2026-11-29T03:00:00Z", |v| {
        DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

pub(super) fn origins() -> Kind<AllowedOrigins> {
    Kind::new(
        "* or a comma-separated list of origins such as https://blog.example.com",
        parse_origins,
    )
}

/// An origin, `scheme://host[:port]`, optionally with a trailing `/` and nothing else.
pub(super) fn origin() -> Kind<Url> {
    Kind::new("an origin such as https://np.example.com", parse_origin)
}

pub(super) fn networks() -> Kind<Vec<IpNet>> {
    Kind::new(
        "a comma-separated list of IP addresses or CIDR ranges, such as 127.0.0.1,10.0.0.0/8",
        parse_networks,
    )
}

pub(super) fn frame_ancestors() -> Kind<String> {
    Kind::new(
        "* or CSP sources such as 'self' https://blog.example.com",
        parse_frame_ancestors,
    )
}

pub(super) fn log_format() -> Kind<LogFormat> {
    Kind::new("pretty or json", |v| match v {
        "pretty" => Some(LogFormat::Pretty),
        "json" => Some(LogFormat::Json),
        _ => None,
    })
}

/// Collects problems while values are parsed, so all are reported in one message.
#[derive(Default)]
pub(super) struct Problems(Vec<String>);

impl Problems {
    /// The value of `var` read as `kind`, or `default` when unset or blank; a bad value is
    /// a problem naming `var`, and `default` stands in for it.
    pub(super) fn get<T: 'static>(
        &mut self,
        var: &str,
        raw: &Option<String>,
        default: T,
        kind: Kind<T>,
    ) -> T {
        match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => default,
            Some(value) => (kind.parse)(value).unwrap_or_else(|| {
                self.0.push(format!(
                    "{var}={value:?} is not valid: expected {}",
                    kind.expected
                ));
                default
            }),
        }
    }

    pub(super) fn required(&mut self, var: &str, raw: Option<&str>, what: &str) -> String {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            Some(value) => value.to_owned(),
            None => {
                self.0.push(format!(
                    "{var} is missing: set it to {what} (or run `now-playing serve --demo` to try the widget without Spotify)"
                ));
                String::new()
            }
        }
    }

    pub(super) fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError(self.0))
        }
    }
}

pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_base_url(value: &str) -> Option<Url> {
    let url = Url::parse(value).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.username().is_empty();
    ok.then_some(url)
}

fn parse_origins(value: &str) -> Option<AllowedOrigins> {
    if value == "*" {
        return Some(AllowedOrigins::Any);
    }
    let origins: Option<Vec<String>> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|origin| parse_origin(origin).map(|url| origin_of(&url)))
        .collect();
    origins.filter(|o| !o.is_empty()).map(AllowedOrigins::List)
}

fn parse_origin(value: &str) -> Option<Url> {
    let url = parse_base_url(value)?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    bare.then_some(url)
}

/// The normalised form of an origin, as browsers send it in `Origin`: lower-case scheme and
/// host, no default port, no trailing `/`.
pub(crate) fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// IP addresses and CIDR ranges; a bare address is a range of one.
fn parse_networks(value: &str) -> Option<Vec<IpNet>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .ok()
                .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
                .map(|n| n.trunc())
        })
        .collect()
}

/// CSP source expressions: `*`, `'self'`, `'none'`, schemes and hosts (with `*.` and ports).
fn parse_frame_ancestors(value: &str) -> Option<String> {
    let sources: Vec<&str> = value.split([',', ' ']).filter(|s| !s.is_empty()).collect();
    let valid = |s: &&str| {
        matches!(*s, "*" | "'self'" | "'none'")
            || s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:/*".contains(c))
    };
    (!sources.is_empty() && sources.iter().all(valid)).then(|| sources.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: 'static>(kind: Kind<T>, raw: &str) -> Result<T, String> {
        let mut p = Problems::default();
        let value = p.get("VAR", &Some(raw.to_owned()), None, kind.optional());
        p.finish(value)
            .map_err(|e| e.0.join("; "))
            .and_then(|v| v.ok_or_else(|| "unset".to_owned()))
    }

    #[test]
    fn seconds_and_counts_are_bounded() {
        assert_eq!(read(seconds(1, 3600), "10"), Ok(Duration::from_secs(10)));
        assert!(read(seconds(1, 3600), "0").is_err());
        assert!(read(seconds(1, 3600), "3601").is_err());
        assert!(read(seconds(1, 3600), "1.5").is_err());
        assert_eq!(read(count(1, 10), "10"), Ok(10));
        assert!(read(count(1, 10), "-1").is_err());
    }

    #[test]
    fn a_bad_value_names_the_variable_and_what_it_expects() {
        let mut p = Problems::default();
        let ttl = p.get(
            "CACHE_TTL",
            &Some("ten".into()),
            Duration::from_secs(10),
            seconds(1, 3600),
        );
        assert_eq!(ttl, Duration::from_secs(10), "the default stands in");
        let blank = p.get("PORT", &Some("  ".into()), 8080, port());
        assert_eq!(blank, 8080, "blank is unset");
        let error = p.finish(()).unwrap_err();
        assert_eq!(
            error.0,
            ["CACHE_TTL=\"ten\" is not valid: expected a whole number of seconds from 1 to 3600"]
        );
    }

    #[test]
    fn flags_accept_the_usual_spellings() {
        for yes in ["true", "1", "YES", "on"] {
            assert_eq!(parse_bool(yes), Some(true));
        }
        for no in ["false", "0", "No", "OFF"] {
            assert_eq!(parse_bool(no), Some(false));
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn origins_are_normalised_and_must_be_bare() {
        assert_eq!(
            parse_origins("https://Blog.Example.com/, http://127.0.0.1:8080"),
            Some(AllowedOrigins::List(vec![
                "https://blog.example.com".into(),
                "http://127.0.0.1:8080".into()
            ]))
        );
        assert_eq!(parse_origins("*"), Some(AllowedOrigins::Any));
        assert_eq!(parse_origins("https://blog.example.com/path"), None);
        assert_eq!(parse_origins("ftp://blog.example.com"), None);
        assert_eq!(parse_origins(" , "), None);
        assert_eq!(
            parse_origin("https://np.example.com:443")
                .map(|u| origin_of(&u))
                .as_deref(),
            Some("https://np.example.com")
        );
    }

    #[test]
    fn networks_take_addresses_and_ranges() {
        let nets = parse_networks("127.0.0.1, 10.1.2.3/8,::1").unwrap();
        assert_eq!(
            nets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
        );
        assert_eq!(parse_networks("10.0.0.0/33"), None);
        assert_eq!(parse_networks("proxy.local"), None);
    }

    #[test]
    fn frame_ancestors_are_csp_sources_only() {
        assert_eq!(
            parse_frame_ancestors("'self', https://*.example.com:443").as_deref(),
            Some("'self' https://*.example.com:443")
        );
        assert_eq!(
            parse_frame_ancestors("https://a.example; script-src *"),
            None
        );
        assert_eq!(parse_frame_ancestors("'unsafe-inline'"), None);
    }
}
