//! Clocks: where the scheduler gets "now" from.
//!
//! The engine never reads the system clock itself; it asks a [`Clock`]. `luigid` passes
//! [`SystemClock`]; tests pass a [`ManualClock`] and move time explicitly, which makes every
//! retry, disable and prune rule testable without sleeping. `luigid --test-clock` uses a manual
//! clock that follows real time until it is first set ([`ManualClock::following_real_time`]),
//! as Luigi's tests see `time.time` until they fake it, so Luigi's own test suite can drive time
//! over HTTP.
//!
//! Time is seconds since the Unix epoch as `f64`, the unit Luigi uses on the wire
//! (`start_time`, `last_updated`, ...).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// A clock that only moves when told to (optionally following real time until then).
#[derive(Debug)]
pub struct ManualClock {
    /// The current time's `f64` bits, so reads and writes are lock-free.
    bits: AtomicU64,
    /// Until set or advanced, a clock made by [`ManualClock::following_real_time`] reads the
    /// system clock.
    frozen: AtomicBool,
}

impl ManualClock {
    /// A clock reading `now`.
    pub fn new(now: f64) -> ManualClock {
        ManualClock { bits: AtomicU64::new(now.to_bits()), frozen: AtomicBool::new(true) }
    }

    /// A clock that reads real time until first set or advanced, then only moves when told.
    pub fn following_real_time() -> ManualClock {
        ManualClock { bits: AtomicU64::new(SystemClock.now().to_bits()), frozen: AtomicBool::new(false) }
    }

    /// Sets the time.
    pub fn set(&self, now: f64) {
        self.bits.store(now.to_bits(), Ordering::SeqCst);
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Moves the time forward (or back, with a negative amount).
    pub fn advance(&self, seconds: f64) {
        if !self.frozen.load(Ordering::SeqCst) {
            self.bits.store(SystemClock.now().to_bits(), Ordering::SeqCst);
            self.frozen.store(true, Ordering::SeqCst);
        }
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
        if self.frozen.load(Ordering::SeqCst) {
            f64::from_bits(self.bits.load(Ordering::SeqCst))
        } else {
            SystemClock.now()
        }
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

    #[test]
    fn a_clock_following_real_time_freezes_when_told() {
        let clock = ManualClock::following_real_time();
        let first = clock.now();
        // Real time moves (it has microseconds), so two reads a little apart differ.
        let mut second = clock.now();
        while second == first {
            std::hint::spin_loop();
            second = clock.now();
        }
        assert!(second > first && first > 1.6e9);
        clock.advance(10.0);
        let frozen = clock.now();
        assert!(frozen >= second + 10.0 && frozen < second + 3600.0);
        assert_eq!(clock.now(), frozen);
        clock.set(5.0);
        assert_eq!(clock.now(), 5.0);
    }
}
