//! Clocks: where the scheduler gets "now" from.
//!
//! The engine never reads the system clock itself; it asks a [`Clock`]. `luigid` passes
//! [`SystemClock`]; tests pass a [`ManualClock`] and move time explicitly, which makes every
//! retry, disable and prune rule testable without sleeping. `luigid --test-clock` also uses a
//! manual clock so Luigi's own test suite can drive time over HTTP.
//!
//! Time is seconds since the Unix epoch as `f64`, the unit Luigi uses on the wire
//! (`start_time`, `last_updated`, ...).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in seconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> f64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    /// The current time's `f64` bits, so reads and writes are lock-free.
    bits: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now`.
    pub fn new(now: f64) -> ManualClock {
        ManualClock { bits: AtomicU64::new(now.to_bits()) }
    }

    /// Sets the time.
    pub fn set(&self, now: f64) {
        self.bits.store(now.to_bits(), Ordering::SeqCst);
    }

    /// Moves the time forward (or back, with a negative amount).
    pub fn advance(&self, seconds: f64) {
        let mut current = self.bits.load(Ordering::SeqCst);
        loop {
            let next = (f64::from_bits(current) + seconds).to_bits();
            match self.bits.compare_exchange(current, next, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(100.0);
        assert_eq!(clock.now(), 100.0);
        clock.advance(2.5);
        assert_eq!(clock.now(), 102.5);
        clock.set(7.0);
        assert_eq!(clock.now(), 7.0);
        assert!(SystemClock.now() > 1.6e9);
    }
}
