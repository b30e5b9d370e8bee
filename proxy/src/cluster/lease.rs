//! One poller per `AccessToken` in the cluster: a lease in Redis (`…:lease:<name>`), held by one
//! instance and renewed every poll (about once a second). When the holder dies, its lease
//! expires after [`LEASE_FOR`] and the next instance that asks takes it over, so replies flow
//! again within a few seconds. A holder that stalls past its lease and a new holder may poll at
//! the same time for a moment; that is harmless (every instance drops messages it has by id).
//!
//! Acquire and renew are one Lua script (compare the holder, then set), so two instances can
//! never both be told they hold it. Times are the caller's clock; the key also expires in Redis
//! as a backstop.

use std::time::Duration;

use redis::{Script, aio::ConnectionManager};

use super::Cluster;

/// How long a lease lasts without renewal. Renewed every poll (1 s), so two missed renewals
/// are tolerated; a dead holder is replaced after at most this plus one poll period.
pub const LEASE_FOR: Duration = Duration::from_secs(3);

const HOLD: &str = r#"
-- KEYS: 1 lease. ARGV: 1 instance, 2 now, 3 duration. Returns 1 when the caller holds it now.
local v = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[2])
if v then
  local sep = string.find(v, '|', 1, true)
  local holder = string.sub(v, 1, sep - 1)
  local until_ms = tonumber(string.sub(v, sep + 1))
  if holder ~= ARGV[1] and until_ms > now then
    return 0
  end
end
local until_ms = now + tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. until_ms, 'PX', tonumber(ARGV[3]) * 2)
return 1
"#;

const RELEASE: &str = r#"
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
  redis.call('DEL', KEYS[1])
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
        let held: i64 = scripts()
            .0
            .key(&self.key)
            .arg(&self.instance)
            .arg(now_ms)
            .arg(self.duration_ms)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(held == 1)
    }

    /// Gives the lease up (a clean shutdown), so another instance need not wait for it to expire.
    pub async fn release(&self) -> redis::RedisResult<()> {
        let _: i64 = scripts().1.key(&self.key).arg(&self.instance).invoke_async(&mut self.redis.clone()).await?;
        Ok(())
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
        lb.release().await.unwrap();
        assert!(la.hold(now + 4_002).await.unwrap());
        // Releasing someone else's lease does nothing.
        lb.release().await.unwrap();
        assert!(!lb.hold(now + 4_003).await.unwrap());
    }
}
