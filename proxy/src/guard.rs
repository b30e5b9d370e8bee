//! Cheap limits in front of the Mews budget: what one conversation, one client address and one
//! hotel may ask of the proxy before anything reaches Mews.
//!
//! - Token buckets per key for guest writes, reads (`GET /v1/conversation`, history pages) and
//!   SSE connects, each per session and per client address ([`crate::client_ip`]), and one per
//!   property for new conversations per minute (each creates a thread in the staff inbox and
//!   costs a Mews call).
//! - Counters of open SSE streams per session and per address, released when a stream ends.
//!
//! In cluster mode the same limits hold for the whole cluster ([`crate::cluster::limits`]): the
//! `admit_*` calls check this instance's buckets first (a refusal here costs no Redis call),
//! then the cluster's. When Redis cannot be reached, the local limits alone apply.
//!
//! A refusal is `429 rate_limited` with `Retry-After`. Memory stays bounded: a bucket that has
//! refilled is the same as no bucket, so once the map is past [`SWEEP_ABOVE`] entries the full
//! ones are dropped, at most once a second (not on every request).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{cluster::limits::SharedLimits, error::Error};

/// Bucket entries kept before a sweep.
pub const SWEEP_ABOVE: usize = 50_000;

/// A token bucket's shape: `burst` at once, then `per_second`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

impl Rate {
    const fn new(burst: f64, per_second: f64) -> Self {
        Self { burst, per_second }
    }
}

/// Guest limits (config `[guest_limits]`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuestLimits {
    /// Messages one conversation may send (default: burst 10, then one every 3 s).
    pub per_session: Rate,
    /// Writes (messages, new conversations) from one client address; many guests behind one
    /// hotel Wi-Fi are normal (default: burst 60, then 2 per second).
    pub per_ip: Rate,
    /// `GET /v1/conversation` and history pages per conversation (default: burst 30, 1/s).
    pub reads_per_session: Rate,
    /// The same per client address (default: burst 300, 10/s).
    pub reads_per_ip: Rate,
    /// SSE connects per conversation (default: burst 20, one per 6 s).
    pub stream_connects_per_session: Rate,
    /// SSE connects per client address (default: burst 200, 5/s).
    pub stream_connects_per_ip: Rate,
    /// Open SSE streams per conversation: its tabs (default 5).
    pub streams_per_session: usize,
    /// Open SSE streams per client address (default 200).
    pub streams_per_ip: usize,
    /// New conversations per property and minute, whoever starts them (default 30).
    pub conversations_per_minute: f64,
}

impl Default for GuestLimits {
    fn default() -> Self {
        Self {
            per_session: Rate::new(10.0, 1.0 / 3.0),
            per_ip: Rate::new(60.0, 2.0),
            reads_per_session: Rate::new(30.0, 1.0),
            reads_per_ip: Rate::new(300.0, 10.0),
            stream_connects_per_session: Rate::new(20.0, 1.0 / 6.0),
            stream_connects_per_ip: Rate::new(200.0, 5.0),
            streams_per_session: 5,
            streams_per_ip: 200,
            conversations_per_minute: 30.0,
        }
    }
}

impl GuestLimits {
    /// Checks what serde cannot: rates and bursts above zero.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("per_session", self.per_session),
            ("per_ip", self.per_ip),
            ("reads_per_session", self.reads_per_session),
            ("reads_per_ip", self.reads_per_ip),
            ("stream_connects_per_session", self.stream_connects_per_session),
            ("stream_connects_per_ip", self.stream_connects_per_ip),
        ];
        for (name, r) in rates {
            if !(r.burst >= 1.0 && r.per_second > 0.0 && r.per_second.is_finite()) {
                return Err(format!("guest_limits.{name}: burst must be ≥ 1 and per_second > 0"));
            }
        }
        if self.streams_per_session == 0 || self.streams_per_ip == 0 || self.conversations_per_minute < 1.0 {
            return Err("guest_limits: stream caps and conversations_per_minute must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Default)]
struct Buckets {
    map: HashMap<String, (f64, Instant, f64, f64)>,
    swept: Option<Instant>,
}

#[derive(Default)]
pub struct RateGuard {
    limits: GuestLimits,
    buckets: Mutex<Buckets>,
    streams: Arc<Mutex<HashMap<String, usize>>>,
    /// Cluster mode: the same limits in Redis.
    shared: Option<SharedLimits>,
}

fn refused(secs: f64) -> Error {
    Error::RateLimited { retry_after_secs: (secs.ceil() as u64).max(1) }
}

impl RateGuard {
    pub fn new(limits: GuestLimits) -> Self {
        Self { limits, ..Default::default() }
    }

    /// A guard whose limits also hold across the cluster.
    pub fn shared(limits: GuestLimits, shared: SharedLimits) -> Self {
        Self { limits, shared: Some(shared), ..Default::default() }
    }

    /// Cluster mode: takes the tokens of `keys` from the cluster's buckets too.
    async fn take_shared(&self, keys: &[(String, Rate)]) -> Result<(), Error> {
        let Some(shared) = &self.shared else { return Ok(()) };
        let buckets: Vec<(String, f64, f64)> = keys.iter().map(|(k, r)| (k.clone(), r.burst, r.per_second)).collect();
        match shared.take(&buckets, crate::cluster::now_ms()).await {
            Ok(0) => Ok(()),
            Ok(wait_ms) => Err(refused(wait_ms as f64 / 1000.0)),
            Err(e) => {
                tracing::warn!(error = %e, "cluster limits unreachable: local limits only");
                Ok(())
            }
        }
    }

    /// [`RateGuard::check`], then the cluster's buckets.
    pub async fn admit_write(&self, session_key: &str, ip: IpAddr) -> Result<(), Error> {
        self.check(Some(session_key), Some(ip)).map_err(|s| Error::RateLimited { retry_after_secs: s })?;
        self.take_shared(&self.write_keys(Some(session_key), Some(ip))).await
    }

    /// [`RateGuard::check_read`], then the cluster's buckets.
    pub async fn admit_read(&self, thread: &str, ip: IpAddr) -> Result<(), Error> {
        self.check_read(thread, ip)?;
        self.take_shared(&self.read_keys(thread, ip)).await
    }

    /// [`RateGuard::check_start`], then the cluster's buckets.
    pub async fn admit_start(&self, property: &str, ip: IpAddr) -> Result<(), Error> {
        self.check_start(property, ip)?;
        self.take_shared(&self.start_keys(property, ip)).await
    }

    /// [`RateGuard::open_stream`], then the cluster's connect buckets and open-stream counts.
    pub async fn admit_stream(&self, thread: &str, ip: IpAddr) -> Result<StreamPermit, Error> {
        let mut permit = self.open_stream(thread, ip)?;
        let Some(shared) = &self.shared else { return Ok(permit) };
        self.take_shared(&self.connect_keys(thread, ip)).await?;
        let caps = [self.limits.streams_per_session, self.limits.streams_per_ip];
        let keys = permit.keys.clone();
        match shared.open_stream([&keys[0], &keys[1]], caps).await {
            Ok(true) => {
                permit.shared = Some(shared.clone());
                Ok(permit)
            }
            Ok(false) => Err(refused(5.0)),
            Err(e) => {
                tracing::warn!(error = %e, "cluster limits unreachable: local stream caps only");
                Ok(permit)
            }
        }
    }

    fn write_keys(&self, session_key: Option<&str>, ip: Option<IpAddr>) -> Vec<(String, Rate)> {
        let mut keys = Vec::new();
        if let Some(s) = session_key {
            keys.push((format!("w:s:{s}"), self.limits.per_session));
        }
        if let Some(ip) = ip {
            keys.push((format!("w:i:{ip}"), self.limits.per_ip));
        }
        keys
    }

    fn read_keys(&self, thread: &str, ip: IpAddr) -> Vec<(String, Rate)> {
        vec![(format!("r:s:{thread}"), self.limits.reads_per_session), (format!("r:i:{ip}"), self.limits.reads_per_ip)]
    }

    fn start_keys(&self, property: &str, ip: IpAddr) -> Vec<(String, Rate)> {
        let per_min = self.limits.conversations_per_minute;
        vec![
            (format!("w:i:{ip}"), self.limits.per_ip),
            (format!("c:p:{property}"), Rate { burst: per_min, per_second: per_min / 60.0 }),
        ]
    }

    fn connect_keys(&self, thread: &str, ip: IpAddr) -> Vec<(String, Rate)> {
        vec![
            (format!("c:s:{thread}"), self.limits.stream_connects_per_session),
            (format!("c:i:{ip}"), self.limits.stream_connects_per_ip),
        ]
    }

    pub fn limits(&self) -> &GuestLimits {
        &self.limits
    }

    /// Takes one token from each bucket, or none (a refusal does not consume); on refusal
    /// returns the seconds until every bucket has one.
    fn take(&self, keys: &[(String, Rate)]) -> Result<(), f64> {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if b.map.len() > SWEEP_ABOVE && b.swept.is_none_or(|at| now.duration_since(at) > Duration::from_secs(1)) {
            b.swept = Some(now);
            b.map.retain(|_, (tokens, at, burst, rate)| {
                *tokens + now.duration_since(*at).as_secs_f64() * *rate < *burst
            });
        }
        let level = |map: &HashMap<_, (f64, Instant, f64, f64)>, k: &String, r: &Rate| {
            let (tokens, at, ..) = map.get(k).copied().unwrap_or((r.burst, now, 0.0, 0.0));
            (tokens + now.duration_since(at).as_secs_f64() * r.per_second).min(r.burst)
        };
        let mut wait = 0f64;
        for (k, r) in keys {
            let t = level(&b.map, k, r);
            if t < 1.0 {
                wait = wait.max((1.0 - t) / r.per_second);
            }
        }
        if wait > 0.0 {
            return Err(wait);
        }
        for (k, r) in keys {
            let t = level(&b.map, k, r);
            b.map.insert(k.clone(), (t - 1.0, now, r.burst, r.per_second));
        }
        Ok(())
    }

    /// Takes one token for each key; on refusal returns the seconds until one is available.
    pub fn check(&self, session_key: Option<&str>, ip: Option<IpAddr>) -> Result<(), u64> {
        self.take(&self.write_keys(session_key, ip)).map_err(|w| (w.ceil() as u64).max(1))
    }

    /// A read (`GET /v1/conversation`, a history page) by conversation `thread` from `ip`.
    pub fn check_read(&self, thread: &str, ip: IpAddr) -> Result<(), Error> {
        self.take(&self.read_keys(thread, ip)).map_err(refused)
    }

    /// A new conversation on `property` from `ip` (a write for the address, and the property's
    /// per-minute cap).
    pub fn check_start(&self, property: &str, ip: IpAddr) -> Result<(), Error> {
        self.take(&self.start_keys(property, ip)).map_err(refused)
    }

    /// An SSE connect: the connect rate and the number of open streams, per conversation and per
    /// address. The permit holds the two stream slots until it is dropped.
    pub fn open_stream(&self, thread: &str, ip: IpAddr) -> Result<StreamPermit, Error> {
        let (session_key, ip_key) = (format!("s:{thread}"), format!("i:{ip}"));
        // One lock across check and count, so two connects at once cannot both take the last
        // slot (the bucket lock is only ever taken inside this one, never the other way round).
        let mut open = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let full = open.get(&session_key).is_some_and(|n| *n >= self.limits.streams_per_session)
            || open.get(&ip_key).is_some_and(|n| *n >= self.limits.streams_per_ip);
        if full {
            // A stream slot frees when a tab closes; a few seconds is a fair guess.
            return Err(refused(5.0));
        }
        self.take(&self.connect_keys(thread, ip)).map_err(refused)?;
        for k in [&session_key, &ip_key] {
            *open.entry(k.clone()).or_default() += 1;
        }
        Ok(StreamPermit { open: self.streams.clone(), keys: [session_key, ip_key], shared: None })
    }

    /// Open streams counted for conversation `thread` (tests and metrics).
    pub fn open_streams(&self, thread: &str) -> usize {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).get(&format!("s:{thread}")).copied().unwrap_or(0)
    }
}

/// One open SSE stream's slots; dropping it frees them.
pub struct StreamPermit {
    open: Arc<Mutex<HashMap<String, usize>>>,
    keys: [String; 2],
    /// Cluster mode: the stream is counted in Redis too.
    shared: Option<SharedLimits>,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let keys = self.keys.clone();
            rt.spawn(async move {
                if let Err(e) = shared.close_stream([&keys[0], &keys[1]]).await {
                    tracing::debug!(error = %e, "could not uncount a closed stream (its instance's count lapses)");
                }
            });
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for k in &self.keys {
            if let Some(n) = open.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    open.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

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

    #[test]
    fn streams_are_capped_per_session_and_address_and_freed_on_drop() {
        let limits = GuestLimits { streams_per_session: 2, streams_per_ip: 3, ..Default::default() };
        let g = RateGuard::new(limits);
        let a = g.open_stream("t1", ip("192.0.2.1")).unwrap();
        let _b = g.open_stream("t1", ip("192.0.2.1")).unwrap();
        assert!(matches!(g.open_stream("t1", ip("192.0.2.1")), Err(Error::RateLimited { .. })), "third tab");
        let _c = g.open_stream("t2", ip("192.0.2.1")).unwrap();
        assert!(g.open_stream("t3", ip("192.0.2.1")).is_err(), "fourth stream from the address");
        assert!(g.open_stream("t3", ip("192.0.2.2")).is_ok(), "another address");
        drop(a);
        assert_eq!(g.open_streams("t1"), 1);
        assert!(g.open_stream("t1", ip("192.0.2.1")).is_ok(), "a slot freed");
    }

    #[test]
    fn new_conversations_are_capped_per_property_across_addresses() {
        let g = RateGuard::new(GuestLimits { conversations_per_minute: 3.0, ..Default::default() });
        for i in 0..3 {
            g.check_start("hotel", ip(&format!("192.0.2.{i}"))).unwrap();
        }
        let Err(Error::RateLimited { retry_after_secs }) = g.check_start("hotel", ip("192.0.2.9")) else {
            panic!("the fourth start within a minute is refused");
        };
        assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}");
        assert!(g.check_start("other-hotel", ip("192.0.2.9")).is_ok());
    }

    #[test]
    fn full_buckets_are_swept_so_memory_stays_bounded() {
        let fast = Rate::new(1.0, 1000.0);
        let g = RateGuard::new(GuestLimits { reads_per_ip: fast, reads_per_session: fast, ..Default::default() });
        for i in 0..SWEEP_ABOVE {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(i as u32));
            g.check_read(&format!("t{i}"), addr).unwrap();
        }
        std::thread::sleep(Duration::from_millis(1100)); // sweeps run at most once a second
        let _ = g.check_read("t", ip("192.0.2.1"));
        let len = g.buckets.lock().unwrap().map.len();
        assert!(len < 100, "full buckets were dropped ({len} left)");
    }
}
