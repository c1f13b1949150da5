//! Who the client is: the TCP peer, or, when that peer is one of `TRUSTED_PROXIES`, the
//! address and scheme the proxies recorded in `X-Forwarded-For` and `X-Forwarded-Proto`.
//! From any other peer those headers are ignored, so a client cannot pick its own address.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The client of one request, as far as the trusted proxies vouch for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Client {
    pub ip: IpAddr,
    /// The scheme the client used, when a trusted proxy said so.
    pub https: Option<bool>,
}

/// The client behind `peer`: the rightmost `X-Forwarded-For` hop that is not itself a
/// trusted proxy (the leftmost when every hop is trusted). A hop that does not parse, left of
/// the client's, is ignored; when the rightmost hop does not parse, or no header came, the
/// peer itself is the client, as it is when the peer is not trusted. IPv4-mapped IPv6
/// addresses count as IPv4.
pub(crate) fn client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Client {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return Client {
            ip: peer,
            https: None,
        };
    }
    Client {
        ip: forwarded_for(headers, trusted).unwrap_or(peer),
        https: forwarded_proto(headers),
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The hops of every `X-Forwarded-For` header, read as one list from the right, where each
/// proxy appended the address it got the request from. Only the hops a trusted proxy wrote
/// are believed: reading stops at the first that is not a trusted proxy (the client; what
/// lies left of it the client wrote itself, parsable or not, and is never read). A hop that
/// does not parse before that point was written by a trusted proxy but cannot be followed:
/// the nearest proxy read so far stands for the client, the peer when it is the rightmost.
fn forwarded_for(headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let hops = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .rev()
        // A line that is not text reads as one hop that does not parse.
        .flat_map(|line| line.to_str().unwrap_or_default().rsplit(','));
    let mut nearest_proxy = None;
    for hop in hops {
        let Some(ip) = parse_hop(hop.trim()) else {
            return nearest_proxy;
        };
        let ip = ip.to_canonical();
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
        nearest_proxy = Some(ip);
    }
    nearest_proxy
}

/// An address as proxies write it: `1.2.3.4`, `2001:db8::1`, and, leniently, with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:5678`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.rsplit_once(':')?
        .0
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(IpAddr::V4)
}

/// `https` or `http` from the leftmost `X-Forwarded-Proto` value: the scheme at the edge.
fn forwarded_proto(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(&X_FORWARDED_PROTO)?.to_str().ok()?;
    match value
        .split(',')
        .next()?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "https" => Some(true),
        "http" => Some(false),
        _ => None,
    }
}

/// Loopback, private, link-local or unique-local: the kind of peer a reverse proxy is.
pub(crate) fn looks_like_a_proxy(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn headers(xff: &[&str], proto: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append(&X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        if let Some(proto) = proto {
            headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_str(proto).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let h = headers(&["203.0.113.7"], Some("https"));
        let c = client(ip("198.51.100.1"), &h, &nets(&["10.0.0.0/8"]));
        assert_eq!(
            c,
            Client {
                ip: ip("198.51.100.1"),
                https: None
            }
        );
        let c = client(ip("127.0.0.1"), &h, &[]);
        assert_eq!(c.ip, ip("127.0.0.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client wrote 1.2.3.4 itself; the edge proxy appended the real address.
        let h = headers(&["1.2.3.4, 203.0.113.7, 10.0.0.5"], Some("https"));
        let c = client(ip("127.0.0.1"), &h, &trusted);
        assert_eq!(
            c,
            Client {
                ip: ip("203.0.113.7"),
                https: Some(true)
            }
        );
    }

    #[test]
    fn several_headers_read_as_one_list() {
        let h = headers(&["1.2.3.4", "203.0.113.7"], None);
        let c = client(ip("127.0.0.1"), &h, &nets(&["127.0.0.1/32"]));
        assert_eq!(c.ip, ip("203.0.113.7"));
    }

    #[test]
    fn when_every_hop_is_trusted_the_leftmost_is_the_client() {
        let h = headers(&["10.0.0.9, 10.0.0.5"], None);
        let c = client(ip("10.0.0.1"), &h, &nets(&["10.0.0.0/8"]));
        assert_eq!(c.ip, ip("10.0.0.9"));
    }

    #[test]
    fn a_rightmost_hop_that_does_not_parse_makes_the_peer_the_client() {
        for bad in [
            "203.0.113.7, not-an-ip",
            "",
            "203.0.113.7,,",
            "203.0.113.7, 1.2.3",
        ] {
            let h = headers(&[bad], None);
            let c = client(ip("127.0.0.1"), &h, &nets(&["127.0.0.1/32"]));
            assert_eq!(c.ip, ip("127.0.0.1"), "{bad:?}");
        }
        let h = headers(&["203.0.113.7", "garbage"], None);
        let c = client(ip("127.0.0.1"), &h, &nets(&["127.0.0.1/32"]));
        assert_eq!(
            c.ip,
            ip("127.0.0.1"),
            "the last line holds the rightmost hop"
        );
        let c = client(ip("127.0.0.1"), &HeaderMap::new(), &nets(&["127.0.0.1/32"]));
        assert_eq!(c.ip, ip("127.0.0.1"));
    }

    #[test]
    fn a_hop_that_does_not_parse_left_of_the_client_is_ignored() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        for xff in [
            &["garbage, 198.51.100.9"][..],
            &["garbage, 198.51.100.9, 10.0.0.5"],
            &["1.2.3.4, , 198.51.100.9"],
            &["[::1, 198.51.100.9"],
            &["garbage", "198.51.100.9"],
        ] {
            let c = client(ip("127.0.0.1"), &headers(xff, None), &trusted);
            assert_eq!(c.ip, ip("198.51.100.9"), "{xff:?}");
        }
        // A line that is not text, left of the client's, is ignored too.
        let mut h = HeaderMap::new();
        h.append(&X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xff").unwrap());
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.9"));
        let c = client(ip("127.0.0.1"), &h, &trusted);
        assert_eq!(c.ip, ip("198.51.100.9"));
    }

    #[test]
    fn a_hop_that_does_not_parse_right_of_the_client_stops_at_the_nearest_proxy() {
        // 10.0.0.5, a trusted proxy, wrote something unreadable for its own peer: the chain
        // can be followed no further than 10.0.0.5, never to what the client wrote.
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let h = headers(&["203.0.113.7, garbage, 10.0.0.5"], None);
        let c = client(ip("127.0.0.1"), &h, &trusted);
        assert_eq!(c.ip, ip("10.0.0.5"));
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_ipv4() {
        let trusted = nets(&["127.0.0.1/32"]);
        let h = headers(&["::ffff:203.0.113.7"], None);
        let c = client(ip("::ffff:127.0.0.1"), &h, &trusted);
        assert_eq!(c.ip, ip("203.0.113.7"));
        let c = client(ip("::ffff:198.51.100.1"), &HeaderMap::new(), &[]);
        assert_eq!(c.ip, ip("198.51.100.1"));
    }

    #[test]
    fn hops_with_ports_and_brackets_are_understood() {
        let trusted = nets(&["127.0.0.1/32"]);
        for (hop, want) in [
            ("203.0.113.7:5678", "203.0.113.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
        ] {
            let c = client(ip("127.0.0.1"), &headers(&[hop], None), &trusted);
            assert_eq!(c.ip, ip(want), "{hop}");
        }
    }

    #[test]
    fn the_scheme_comes_from_a_trusted_proxy_only() {
        let trusted = nets(&["127.0.0.1/32"]);
        for (proto, want) in [
            ("https", Some(true)),
            ("HTTP", Some(false)),
            ("https, http", Some(true)),
            ("gopher", None),
        ] {
            let c = client(ip("127.0.0.1"), &headers(&[], Some(proto)), &trusted);
            assert_eq!(c.https, want, "{proto}");
        }
    }

    #[test]
    fn proxies_live_on_loopback_and_private_networks() {
        for yes in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(looks_like_a_proxy(ip(yes)), "{yes}");
        }
        for no in ["203.0.113.7", "2001:db8::1"] {
            assert!(!looks_like_a_proxy(ip(no)), "{no}");
        }
    }
}
