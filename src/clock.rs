//! Time for everything that caches or expires: the system clock in production, a clock
//! that only moves when told in tests, so cache and expiry logic runs step by step.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::Instant;

/// A cheap, cloneable handle on "now".
#[derive(Clone)]
pub struct Clock(Arc<Inner>);

enum Inner {
    System,
    Manual(Manual),
}

struct Manual {
    start: Instant,
    start_utc: DateTime<Utc>,
    offset: Mutex<Duration>,
    moved: watch::Sender<Duration>,
}

impl Clock {
    pub fn system() -> Self {
        Self(Arc::new(Inner::System))
    }

    /// A clock frozen at `start_utc` that moves only through [`Clock::advance`].
    pub fn manual(start_utc: DateTime<Utc>) -> Self {
        Self(Arc::new(Inner::Manual(Manual {
            start: Instant::now(),
            start_utc,
            offset: Mutex::new(Duration::ZERO),
            moved: watch::channel(Duration::ZERO).0,
        })))
    }

    pub(crate) fn is_manual(&self) -> bool {
        matches!(*self.0, Inner::Manual(_))
    }

    pub fn now(&self) -> Instant {
        match &*self.0 {
            Inner::System => Instant::now(),
            Inner::Manual(m) => m.start + m.offset(),
        }
    }

    pub(crate) fn utc(&self) -> DateTime<Utc> {
        match &*self.0 {
            Inner::System => Utc::now(),
            Inner::Manual(m) => {
                m.start_utc + chrono::Duration::from_std(m.offset()).unwrap_or_default()
            }
        }
    }

    /// Waits until the clock has moved by `duration`: a timer in production, a wait for
    /// [`Clock::advance`] under a manual clock.
    pub async fn sleep(&self, duration: Duration) {
        match &*self.0 {
            Inner::System => tokio::time::sleep(duration).await,
            Inner::Manual(m) => {
                let target = m.offset() + duration;
                let mut moved = m.moved.subscribe();
                // The sender lives as long as the clock, so this only ends by reaching the target.
                let _ = moved.wait_for(|offset| *offset >= target).await;
            }
        }
    }

    /// Moves a manual clock forward and wakes what sleeps on it. No effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Inner::Manual(m) = &*self.0 {
            let now = {
                let mut offset = m.offset.lock().unwrap_or_else(|e| e.into_inner());
                *offset += by;
                *offset
            };
            m.moved.send_replace(now);
        }
    }
}

impl Manual {
    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_manual() {
            "Clock::Manual"
        } else {
            "Clock::System"
        })
    }
}
