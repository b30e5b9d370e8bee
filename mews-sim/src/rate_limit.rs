//! The Connector API rate limit: N requests per `AccessToken` within a sliding window (Mews: 200
//! per 30 s, spec §1.6).
//!
//! Modelled as a sliding log: each accepted request occupies a slot for exactly one window length
//! from the moment it arrived, so the window is anchored at the first request of a burst and never
//! aligned to clock buckets. A refused (`429`) request takes no slot — otherwise a client that keeps
//! retrying would lock itself out forever. `Retry-After` is the whole number of seconds (rounded
//! up, at least 1) until the oldest slot frees.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    /// Counts a request for `token` at `now`, or refuses it with the time until a slot frees.
    pub fn check(&mut self, token: &str, limit: u32, window: Duration, now: Instant) -> Result<(), Duration> {
        let log = self.windows.entry(token.to_string()).or_default();
        while log.front().is_some_and(|&t| now.duration_since(t) >= window) {
            log.pop_front();
        }
        if log.len() >= limit as usize {
            let oldest = *log.front().expect("limit is at least 1");
            return Err(window.saturating_sub(now.duration_since(oldest)));
        }
        log.push_back(now);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.windows.clear();
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_log_frees_slots_one_window_after_each_request() {
        let mut r = RateLimiter::default();
        let w = Duration::from_secs(10);
        let t0 = Instant::now();
        for _ in 0..3 {
            r.check("a", 5, w, t0).unwrap();
        }
        let t1 = t0 + Duration::from_secs(4);
        r.check("a", 5, w, t1).unwrap();
        r.check("a", 5, w, t1).unwrap();
        let wait = r.check("a", 5, w, t1).unwrap_err();
        assert_eq!(wait, Duration::from_secs(6));
        // Another token has its own window.
        r.check("b", 5, w, t1).unwrap();
        // At t0+10 the first three slots free, the two from t1 stay.
        let t2 = t0 + w;
        for _ in 0..3 {
            r.check("a", 5, w, t2).unwrap();
        }
        assert_eq!(r.check("a", 5, w, t2).unwrap_err(), Duration::from_secs(4));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(6)), 6);
        assert_eq!(retry_after_secs(Duration::from_millis(6001)), 7);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
