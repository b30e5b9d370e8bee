//! One poller per `AccessToken` in the cluster: a lease in Redis (`…:lease:<name>`), held by one
//! instance and renewed every poll (about once a second). When the holder dies, its lease
//! expires after [`LEASE_FOR`] and the next instance that asks takes it over, so replies flow
//! again within a few seconds. A holder that stalls past its lease and a new holder may poll at
//! the same time for a moment; that is harmless (every instance drops messages it has by id).
//!
//! Acquire and renew are one Lua script (compare the holder, then set), so two instances can
//! never both be told they hold it. Times are the caller's clock; the key also expires in Redis
//! as a backstop.
//!
//! **Spread** ([`LeaseShare`]): the holder of a token's lease polls it and sends its guests'
//! messages, so leases are spread over the instances: each instance registers in `…:instances`
//! (a sorted set, entries lapsing unless renewed) and aims at its fair share, the number of
//! tokens divided by the live instances, rounded up. An instance at or above its share takes a
//! free lease only once it has been free for [`SPREAD_GRACE`] (the instances below their share
//! take it first, yet no lease is left unheld); one above its share gives its excess leases up
//! (a new instance joined), and the others take them within a poll. A released lease records
//! when it became free, like one whose holder died.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use redis::{Script, aio::ConnectionManager};

use super::Cluster;

/// How long a lease lasts without renewal. Renewed every poll (1 s), so two missed renewals
/// are tolerated; a dead holder is replaced after at most this plus one poll period.
pub const LEASE_FOR: Duration = Duration::from_secs(3);

/// How long a free lease waits for an instance below its fair share before one at or above
/// it takes the lease: one poll (each instance asks once a second). It is also what a dead
/// holder's leases wait beyond their lapse when every survivor is at its share (3 s + 1 s).
pub const SPREAD_GRACE: Duration = Duration::from_secs(1);

/// How long an instance's entry in the instance registry lasts without renewal.
const INSTANCE_FOR_MS: i64 = 6_000;

const HOLD: &str = r#"
-- KEYS: 1 lease. ARGV: 1 instance, 2 now, 3 duration, 4 grace: a free lease is taken only once
-- it has been free that long (0: at once). Returns 1 when the caller holds it now.
local v = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[2])
if v then
  local sep = string.find(v, '|', 1, true)
  local holder = string.sub(v, 1, sep - 1)
  local until_ms = tonumber(string.sub(v, sep + 1))
  if until_ms > now then
    if holder ~= ARGV[1] then return 0 end
  elseif now - until_ms < tonumber(ARGV[4]) then
    return 0
  end
end
local until_ms = now + tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. until_ms, 'PX', tonumber(ARGV[3]) * 2)
return 1
"#;

const RELEASE: &str = r#"
-- KEYS: 1 lease. ARGV: 1 instance, 2 now, 3 duration. The lease is free from now (if ours).
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', tonumber(ARGV[3]) * 2)
end
return 1
"#;

fn scripts() -> &'static (Script, Script) {
    static S: std::sync::OnceLock<(Script, Script)> = std::sync::OnceLock::new();
    S.get_or_init(|| (Script::new(HOLD), Script::new(RELEASE)))
}

/// A named lease this instance may hold.
#[derive(Clone)]
pub struct Lease {
    redis: ConnectionManager,
    key: String,
    instance: String,
    duration_ms: i64,
}

impl Lease {
    pub fn new(cluster: &Cluster, name: &str) -> Self {
        Self {
            redis: cluster.redis.clone(),
            key: cluster.key(&["lease", name]),
            instance: cluster.instance.clone(),
            duration_ms: LEASE_FOR.as_millis() as i64,
        }
    }

    /// Takes or renews the lease at `now_ms`; `true` when this instance holds it until
    /// `now_ms + LEASE_FOR`.
    pub async fn hold(&self, now_ms: i64) -> redis::RedisResult<bool> {
        self.hold_with_grace(now_ms, Duration::ZERO).await
    }

    /// Like [`Lease::hold`], but a free lease is taken only once it has been free for `grace`
    /// (one this instance holds is renewed all the same).
    pub async fn hold_with_grace(&self, now_ms: i64, grace: Duration) -> redis::RedisResult<bool> {
        let held: i64 = scripts()
            .0
            .key(&self.key)
            .arg(&self.instance)
            .arg(now_ms)
            .arg(self.duration_ms)
            .arg(grace.as_millis() as i64)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(held == 1)
    }

    /// Gives the lease up (a clean shutdown, or more than this instance's share), so another
    /// instance need not wait for it to expire.
    pub async fn release(&self, now_ms: i64) -> redis::RedisResult<()> {
        let _: i64 = scripts()
            .1
            .key(&self.key)
            .arg(&self.instance)
            .arg(now_ms)
            .arg(self.duration_ms)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }
}

/// This instance's share of the cluster's leases (see the module docs): how many it holds, how
/// many instances are alive, how many tokens there are. One per instance, shared by its tokens.
#[derive(Clone)]
pub struct LeaseShare {
    inner: Arc<ShareCounts>,
    redis: ConnectionManager,
    registry: String,
    instance: String,
}

struct ShareCounts {
    tokens: usize,
    held: AtomicUsize,
    instances: AtomicUsize,
}

impl LeaseShare {
    pub fn new(cluster: &Cluster, tokens: usize) -> Self {
        Self {
            inner: Arc::new(ShareCounts { tokens, held: AtomicUsize::new(0), instances: AtomicUsize::new(1) }),
            redis: cluster.redis.clone(),
            registry: cluster.key(&["instances"]),
            instance: cluster.instance.clone(),
        }
    }

    /// The leases this instance should hold: the tokens over the live instances, rounded up.
    pub fn fair(&self) -> usize {
        self.inner.tokens.div_ceil(self.inner.instances.load(Ordering::Relaxed).max(1))
    }

    /// How long a free lease must have been free before this instance takes it.
    pub fn grace(&self) -> Duration {
        if self.inner.held.load(Ordering::Relaxed) >= self.fair() { SPREAD_GRACE } else { Duration::ZERO }
    }

    /// Counts a lease taken (`true`) or lost (`false`).
    pub fn changed(&self, holding: bool) {
        if holding {
            self.inner.held.fetch_add(1, Ordering::AcqRel);
        } else {
            let _ = self.inner.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| h.checked_sub(1));
        }
    }

    /// Whether one lease should be given up now (above the share): `true` uncounts it, so that
    /// only the excess is given up when several tokens ask at once.
    pub fn give_up_one(&self) -> bool {
        let fair = self.fair();
        self.inner.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| (h > fair).then(|| h - 1)).is_ok()
    }

    /// Registers this instance at `now_ms` and learns how many are alive.
    pub async fn register(&self, now_ms: i64) -> redis::RedisResult<usize> {
        let (live,): (usize,) = redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&self.registry)
            .arg("-inf")
            .arg(now_ms)
            .ignore()
            .zadd(&self.registry, &self.instance, now_ms + INSTANCE_FOR_MS)
            .ignore()
            .pexpire(&self.registry, INSTANCE_FOR_MS * 10)
            .ignore()
            .zcard(&self.registry)
            .query_async(&mut self.redis.clone())
            .await?;
        self.inner.instances.store(live.max(1), Ordering::Relaxed);
        Ok(live)
    }

    /// Keeps this instance registered (every second), for ever.
    pub async fn keep_registered(self) {
        loop {
            if let Err(e) = self.register(super::now_ms()).await {
                tracing::warn!(error = %e, "could not renew this instance in the lease registry");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests_support::{another_instance, cluster};

    #[tokio::test]
    async fn one_holder_at_a_time_and_a_dead_holder_is_replaced_when_its_lease_ends() {
        let (redis, a) = cluster("lease:").await;
        let b = another_instance(&redis, "lease:").await;
        let (la, lb) = (Lease::new(&a, "poller:t"), Lease::new(&b, "poller:t"));
        let now = 10_000;
        assert!(la.hold(now).await.unwrap());
        assert!(!lb.hold(now + 1).await.unwrap(), "held by a");
        assert!(la.hold(now + 1_000).await.unwrap(), "renewed by its holder");
        assert!(!lb.hold(now + 3_999).await.unwrap(), "still a's until 1 000 + 3 000");
        // a stops renewing (killed): b takes over once the lease ran out.
        assert!(lb.hold(now + 4_000).await.unwrap());
        assert!(!la.hold(now + 4_001).await.unwrap(), "a, back from a stall, is no longer the holder");
        // A clean shutdown hands it over at once.
        lb.release(now + 4_001).await.unwrap();
        assert!(la.hold(now + 4_002).await.unwrap());
        // Releasing someone else's lease does nothing.
        lb.release(now + 4_002).await.unwrap();
        assert!(!lb.hold(now + 4_003).await.unwrap());
    }

    #[tokio::test]
    async fn with_a_grace_a_free_lease_is_taken_only_once_it_has_been_free_that_long() {
        let (redis, a) = cluster("grace:").await;
        let b = another_instance(&redis, "grace:").await;
        let (la, lb) = (Lease::new(&a, "poller:t"), Lease::new(&b, "poller:t"));
        let (now, grace) = (10_000, Duration::from_secs(2));
        assert!(la.hold_with_grace(now, grace).await.unwrap(), "never held: free for ever");
        assert!(la.hold_with_grace(now + 500, grace).await.unwrap(), "its holder renews it regardless");
        // Given up at 1 000: free from then.
        la.release(now + 1_000).await.unwrap();
        assert!(!lb.hold_with_grace(now + 2_999, grace).await.unwrap(), "free for 1 999 ms only");
        assert!(!la.hold_with_grace(now + 2_999, grace).await.unwrap(), "nor for the one who gave it up");
        assert!(lb.hold_with_grace(now + 3_000, grace).await.unwrap(), "free for 2 s: taken");
        // b dies; its lease ran out at 3 000 + 3 000: free from then, and at once without a grace.
        assert!(!la.hold_with_grace(now + 6_000 + 1_999, grace).await.unwrap());
        assert!(la.hold(now + 6_000 + 1_999).await.unwrap());
    }

    #[tokio::test]
    async fn the_share_is_the_tokens_over_the_live_instances_and_only_the_excess_is_given_up() {
        let (redis, a) = cluster("share:").await;
        let b = another_instance(&redis, "share:").await;
        let (sa, sb) = (LeaseShare::new(&a, 3), LeaseShare::new(&b, 3));
        let now = crate::cluster::now_ms();
        assert_eq!(sa.register(now).await.unwrap(), 1);
        assert_eq!(sa.fair(), 3, "alone: every token");
        for _ in 0..3 {
            sa.changed(true);
        }
        assert_eq!(sa.grace(), SPREAD_GRACE, "at its share: free leases wait for the others first");
        assert!(!sa.give_up_one(), "not above its share");
        // b joins: 3 tokens over 2 instances, 2 each at most.
        assert_eq!(sb.register(now).await.unwrap(), 2);
        sa.register(now).await.unwrap();
        assert_eq!((sa.fair(), sb.fair()), (2, 2));
        assert_eq!(sb.grace(), Duration::ZERO, "below its share: takes a free lease at once");
        assert!(sa.give_up_one(), "3 held, 2 fair: one is given up");
        assert!(!sa.give_up_one(), "only the excess");
        // b's entry lapses (it died): a's share is every token again.
        assert_eq!(sa.register(now + INSTANCE_FOR_MS + 1).await.unwrap(), 1);
        assert_eq!(sa.fair(), 3);
    }
}
