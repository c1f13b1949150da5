//! One-time `state` values for Spotify's consent page, each bound to the browser that asked
//! for it by a nonce, valid ten minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::spotify::authorize;

/// How long a `state` handed out by `/auth/login` stays valid.
pub(crate) const STATE_LIFETIME: Duration = Duration::from_secs(600);
/// States remembered at most; the oldest is forgotten first.
const MAX_PENDING: usize = 64;

pub(super) struct StateStore {
    clock: Clock,
    /// Issued states: when each expires, and the digest of the browser nonce it belongs to.
    pending: Mutex<HashMap<String, (Instant, [u8; 32])>>,
}

impl StateStore {
    pub(super) fn new(clock: Clock) -> Self {
        Self {
            clock,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// A new `state` for Spotify and the nonce for the owner's browser (a cookie): the
    /// callback needs both, so a leaked authorize URL is useless in another browser.
    pub(super) fn issue(&self) -> (String, String) {
        let state = authorize::random_state();
        let nonce = authorize::random_state();
        let now = self.clock.now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, (expires, _)| now < *expires);
        if pending.len() >= MAX_PENDING {
            // Forget the oldest: only the newest logins can still be completed.
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, (e, _))| *e)
                .map(|(s, _)| s.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(
            state.clone(),
            (
                now + STATE_LIFETIME,
                Sha256::digest(nonce.as_bytes()).into(),
            ),
        );
        (state, nonce)
    }

    /// True once for a state issued less than [`STATE_LIFETIME`] ago to the browser that
    /// presents `nonce`.
    pub(super) fn take(&self, state: &str, nonce: Option<&str>) -> bool {
        let now = self.clock.now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some((expires, digest)) = pending.remove(state) else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(nonce.unwrap_or_default().as_bytes()).into();
        now < expires && bool::from(presented.ct_eq(&digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Clock, StateStore) {
        let clock = Clock::manual(chrono::Utc::now());
        (clock.clone(), StateStore::new(clock))
    }

    #[test]
    fn a_state_is_taken_once_with_its_own_nonce() {
        let (_, store) = store();
        let (state, nonce) = store.issue();
        assert!(!store.take("unknown", Some(&nonce)));
        assert!(store.take(&state, Some(&nonce)));
        assert!(!store.take(&state, Some(&nonce)), "used already");
        let (state, _) = store.issue();
        assert!(!store.take(&state, Some("another browser")));
        assert!(
            !store.take(&state, None),
            "a refused attempt uses the state up"
        );
    }

    #[test]
    fn a_state_expires_after_ten_minutes() {
        let (clock, store) = store();
        let (state, nonce) = store.issue();
        clock.advance(STATE_LIFETIME);
        assert!(!store.take(&state, Some(&nonce)));
    }

    #[test]
    fn only_the_newest_states_are_kept() {
        let (clock, store) = store();
        let (first, first_nonce) = store.issue();
        for _ in 0..MAX_PENDING {
            clock.advance(Duration::from_millis(1));
            store.issue();
        }
        assert!(!store.take(&first, Some(&first_nonce)));
        assert!(store.pending.lock().unwrap().len() <= MAX_PENDING);
    }
}
