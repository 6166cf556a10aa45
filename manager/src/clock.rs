//! The manager's wall clock for what ages data (retention, the time a record was stored), as a
//! seam: tests advance a [`ManualClock`] instead of waiting for days. Certificates and tokens
//! are checked against the real time ([`crate::pki::now_secs`]) whatever the clock says.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Unix seconds now.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> i64;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        crate::pki::now_secs()
    }
}

/// A clock that stands still until it is set or advanced (for tests).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `now` (Unix seconds).
    pub fn at(now: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicI64::new(now)))
    }

    /// Moves the clock `secs` seconds on.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::AcqRel);
    }

    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::Release);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }
}

/// A shared clock; the system's by default.
#[derive(Debug, Clone)]
pub struct SharedClock(pub Arc<dyn Clock>);

impl Default for SharedClock {
    fn default() -> SharedClock {
        SharedClock(Arc::new(SystemClock))
    }
}

impl SharedClock {
    pub fn now(&self) -> i64 {
        self.0.now()
    }
}
