//! Per-session and per-IP limits on guest writes: a token bucket per key, so one guest (or one
//! script) cannot flood a hotel's Mews budget or inbox. Reads are not limited here.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Messages a single conversation may send: a burst of 10, then one every 3 s.
const SESSION_BURST: f64 = 10.0;
const SESSION_PER_SEC: f64 = 1.0 / 3.0;
/// Writes from one IP address (many guests behind one hotel Wi-Fi are normal): burst 60, 2/s.
const IP_BURST: f64 = 60.0;
const IP_PER_SEC: f64 = 2.0;

#[derive(Default)]
pub struct RateGuard {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateGuard {
    /// Takes one token for each key; on refusal returns the seconds until one is available.
    pub fn check(&self, session_key: Option<&str>, ip: Option<std::net::IpAddr>) -> Result<(), u64> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(600));
        }
        let now = Instant::now();
        let mut keys = Vec::new();
        if let Some(s) = session_key {
            keys.push((format!("s:{s}"), SESSION_BURST, SESSION_PER_SEC));
        }
        if let Some(ip) = ip {
            keys.push((format!("i:{ip}"), IP_BURST, IP_PER_SEC));
        }
        // Check all first, then take, so a refusal does not consume.
        let mut wait = 0f64;
        for (k, burst, rate) in &keys {
            let (tokens, at) = map.get(k).copied().unwrap_or((*burst, now));
            let t = (tokens + now.duration_since(at).as_secs_f64() * rate).min(*burst);
            if t < 1.0 {
                wait = wait.max((1.0 - t) / rate);
            }
        }
        if wait > 0.0 {
            return Err(wait.ceil() as u64);
        }
        for (k, burst, rate) in keys {
            let (tokens, at) = map.get(&k).copied().unwrap_or((burst, now));
            let t = (tokens + now.duration_since(at).as_secs_f64() * rate).min(burst);
            map.insert(k, (t - 1.0, now));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_gets_a_burst_then_is_told_how_long_to_wait() {
        let g = RateGuard::default();
        for _ in 0..10 {
            assert!(g.check(Some("t1"), None).is_ok());
        }
        let wait = g.check(Some("t1"), None).unwrap_err();
        assert!((1..=3).contains(&wait), "{wait}");
        assert!(g.check(Some("t2"), None).is_ok(), "another conversation is not affected");
    }
}
