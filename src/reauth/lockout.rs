//! Wrong admin passwords, counted per client: five a minute, then a wait.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::Clock;

/// Wrong passwords allowed per client and minute before it has to wait.
pub(super) const MAX_FAILURES: u32 = 5;
pub(super) const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered at most, so no one can grow the map without limit.
const MAX_CLIENTS: usize = 10_000;

pub(super) struct Lockout {
    clock: Clock,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

/// Failures are counted per IPv4 address and per IPv6 /64 (one host's usual allocation);
/// an IPv4-mapped IPv6 address is its IPv4 address.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

impl Lockout {
    pub(super) fn new(clock: Clock) -> Self {
        Self {
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds this client must wait after too many wrong passwords, if any.
    pub(super) fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        let now = self.clock.now();
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = failures.get(&client_key(ip))?;
        let ends = *since + FAILURE_WINDOW;
        (*count >= MAX_FAILURES && now < ends).then(|| ends.duration_since(now).as_secs().max(1))
    }

    /// Counts a wrong password; true when this one locks the client out.
    pub(super) fn record_failure(&self, ip: IpAddr) -> bool {
        let now = self.clock.now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_CLIENTS {
            failures.retain(|_, (_, since)| now < *since + FAILURE_WINDOW);
            // Still full: the oldest record goes, so the map never grows past its bound.
            if failures.len() >= MAX_CLIENTS
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (_, since))| *since)
                    .map(|(ip, _)| *ip)
            {
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(client_key(ip)).or_insert((0, now));
        if now >= entry.1 + FAILURE_WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.0 == MAX_FAILURES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_fifth_failure_locks_for_the_rest_of_the_minute() {
        let clock = Clock::manual(chrono::Utc::now());
        let lockout = Lockout::new(clock.clone());
        for _ in 1..MAX_FAILURES {
            assert!(!lockout.record_failure(ip("203.0.113.7")));
            assert_eq!(lockout.locked_out(ip("203.0.113.7")), None);
        }
        assert!(lockout.record_failure(ip("203.0.113.7")));
        assert_eq!(lockout.locked_out(ip("203.0.113.7")), Some(60));
        assert_eq!(
            lockout.locked_out(ip("203.0.113.8")),
            None,
            "others are not locked"
        );
        clock.advance(Duration::from_secs(45));
        assert_eq!(lockout.locked_out(ip("203.0.113.7")), Some(15));
        clock.advance(Duration::from_secs(15));
        assert_eq!(lockout.locked_out(ip("203.0.113.7")), None);
        assert!(
            !lockout.record_failure(ip("203.0.113.7")),
            "a new window starts"
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("2001:db8:1:2:ffff::9")), ip("2001:db8:1:2::"));
        assert_ne!(client_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
