//! Per-session and per-IP limits on guest writes: a token bucket per key, so one guest (or one
//! script) cannot flood a hotel's Mews budget or inbox. Reads are not limited here.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// A token bucket's shape: `burst` at once, then `per_second`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

/// Guest write limits (config `[guest_limits]`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuestLimits {
    /// Messages one conversation may send (default: burst 10, then one every 3 s).
    pub per_session: Rate,
    /// Writes from one IP address; many guests behind one hotel Wi-Fi are normal
    /// (default: burst 60, then 2 per second).
    pub per_ip: Rate,
}

impl Default for GuestLimits {
    fn default() -> Self {
        Self { per_session: Rate { burst: 10.0, per_second: 1.0 / 3.0 }, per_ip: Rate { burst: 60.0, per_second: 2.0 } }
    }
}

#[derive(Default)]
pub struct RateGuard {
    limits: GuestLimits,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateGuard {
    pub fn new(limits: GuestLimits) -> Self {
        Self { limits, buckets: Mutex::default() }
    }

    /// Takes one token for each key; on refusal returns the seconds until one is available.
    pub fn check(&self, session_key: Option<&str>, ip: Option<std::net::IpAddr>) -> Result<(), u64> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(600));
        }
        let now = Instant::now();
        let mut keys = Vec::new();
        if let Some(s) = session_key {
            keys.push((format!("s:{s}"), self.limits.per_session.burst, self.limits.per_session.per_second));
        }
        if let Some(ip) = ip {
            keys.push((format!("i:{ip}"), self.limits.per_ip.burst, self.limits.per_ip.per_second));
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
