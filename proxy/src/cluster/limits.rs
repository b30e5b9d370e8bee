//! The guest limits of [`crate::guard`] held cluster-wide: token buckets and open-stream counts
//! in Redis, so three instances behind a load balancer allow what one would, not three times as
//! much.
//!
//! * **Buckets** (`…:bucket:<key>`, a hash of tokens and the time they were counted): one script
//!   takes a token from every bucket of a request or from none, exactly as the local guard does,
//!   and says how long to wait on refusal. Keys lapse once their bucket would be full again.
//! * **Open streams** (`…:streams:<key>`, a hash instance → streams open there): a stream is
//!   counted on open and uncounted on close; an instance that dies cannot uncount, so each
//!   instance keeps a heartbeat key (`…:alive:<instance>`, renewed every 2 s, lapsing after 6 s)
//!   and counts of instances without one are ignored and cleared.
//!
//! The local guard still answers first: a request it refuses never costs a Redis call, so a flood
//! from one client costs Redis no more than the limits let through.

use std::time::Duration;

use redis::{Script, aio::ConnectionManager};

use super::Cluster;

/// How often an instance renews its heartbeat, and how long one lasts.
pub const ALIVE_EVERY: Duration = Duration::from_secs(2);
const ALIVE_FOR_MS: i64 = 6_000;

const TAKE: &str = r#"
-- KEYS: buckets. ARGV: 1 now (ms), then per key: burst, tokens per ms.
local now = tonumber(ARGV[1])
local levels = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local v = redis.call('HMGET', key, 't', 'at')
  local level = burst
  if v[1] then
    level = math.min(burst, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * rate)
  end
  levels[i] = level
  if level < 1 then
    wait = math.max(wait, math.ceil((1 - level) / rate))
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local left = levels[i] - 1
  redis.call('HSET', key, 't', tostring(left), 'at', now)
  redis.call('PEXPIRE', key, math.ceil((burst - left) / rate) + 1000)
end
return 0
"#;

const OPEN: &str = r#"
-- KEYS: 1 conversation's streams, 2 address's streams. ARGV: 1 instance, 2 cap 1, 3 cap 2,
-- 4 heartbeat key prefix. Counts of instances without a heartbeat are dropped.
local function open_here(key)
  local all = redis.call('HGETALL', key)
  local sum = 0
  for i = 1, #all, 2 do
    if all[i] == ARGV[1] or redis.call('EXISTS', ARGV[4] .. all[i]) == 1 then
      sum = sum + tonumber(all[i + 1])
    else
      redis.call('HDEL', key, all[i])
    end
  end
  return sum
end
if open_here(KEYS[1]) >= tonumber(ARGV[2]) or open_here(KEYS[2]) >= tonumber(ARGV[3]) then
  return 0
end
for i = 1, 2 do
  redis.call('HINCRBY', KEYS[i], ARGV[1], 1)
  redis.call('PEXPIRE', KEYS[i], 86400000)
end
return 1
"#;

const CLOSE: &str = r#"
for i = 1, #KEYS do
  if redis.call('HINCRBY', KEYS[i], ARGV[1], -1) <= 0 then
    redis.call('HDEL', KEYS[i], ARGV[1])
  end
end
return 1
"#;

fn scripts() -> &'static (Script, Script, Script) {
    static S: std::sync::OnceLock<(Script, Script, Script)> = std::sync::OnceLock::new();
    S.get_or_init(|| (Script::new(TAKE), Script::new(OPEN), Script::new(CLOSE)))
}

/// The cluster's guest limits; cheap to clone.
#[derive(Clone)]
pub struct SharedLimits {
    redis: ConnectionManager,
    prefix: String,
    instance: String,
}

impl SharedLimits {
    pub fn new(cluster: &Cluster) -> Self {
        Self { redis: cluster.redis.clone(), prefix: cluster.prefix.clone(), instance: cluster.instance.clone() }
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.prefix)
    }

    /// Takes one token from each bucket `(key, burst, per_second)` at `now_ms`, or none; `Ok(0)`
    /// when taken, else the milliseconds until every bucket has one.
    pub async fn take(&self, buckets: &[(String, f64, f64)], now_ms: i64) -> redis::RedisResult<u64> {
        let mut call = scripts().0.prepare_invoke();
        call.arg(now_ms);
        for (k, burst, per_second) in buckets {
            call.key(self.key("bucket", k)).arg(burst).arg(per_second / 1000.0);
        }
        let wait: i64 = call.invoke_async(&mut self.redis.clone()).await?;
        Ok(wait.max(0) as u64)
    }

    /// Counts one more open stream for both keys unless either is at its cap.
    pub async fn open_stream(&self, keys: [&str; 2], caps: [usize; 2]) -> redis::RedisResult<bool> {
        let opened: i64 = scripts()
            .1
            .key(self.key("streams", keys[0]))
            .key(self.key("streams", keys[1]))
            .arg(&self.instance)
            .arg(caps[0])
            .arg(caps[1])
            .arg(self.key("alive", ""))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(opened == 1)
    }

    pub async fn close_stream(&self, keys: [&str; 2]) -> redis::RedisResult<()> {
        let _: i64 = scripts()
            .2
            .key(self.key("streams", keys[0]))
            .key(self.key("streams", keys[1]))
            .arg(&self.instance)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Renews this instance's heartbeat (its stream counts count while it lasts).
    pub async fn alive(&self) -> redis::RedisResult<()> {
        let _: () = redis::cmd("SET")
            .arg(self.key("alive", &self.instance))
            .arg(1)
            .arg("PX")
            .arg(ALIVE_FOR_MS)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Renews the heartbeat every [`ALIVE_EVERY`], for ever.
    pub async fn keep_alive(self) {
        loop {
            if let Err(e) = self.alive().await {
                tracing::warn!(error = %e, "could not renew this instance's heartbeat in Redis");
            }
            tokio::time::sleep(ALIVE_EVERY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests_support::{another_instance, cluster};

    #[tokio::test]
    async fn a_bucket_holds_across_instances_and_a_refusal_takes_nothing() {
        let (redis, a) = cluster("bucket:").await;
        let b = another_instance(&redis, "bucket:").await;
        let (la, lb) = (SharedLimits::new(&a), SharedLimits::new(&b));
        let now = 1_000_000;
        let conv = |k: &str| vec![(format!("s:{k}"), 3.0, 1.0), ("i:10.0.0.1".to_string(), 100.0, 10.0)];
        assert_eq!(la.take(&conv("t1"), now).await.unwrap(), 0);
        assert_eq!(lb.take(&conv("t1"), now).await.unwrap(), 0);
        assert_eq!(la.take(&conv("t1"), now).await.unwrap(), 0);
        assert_eq!(lb.take(&conv("t1"), now).await.unwrap(), 1000, "burst 3 across both instances");
        // The refusal took nothing from the address's bucket: another conversation still gets 97.
        for _ in 0..97 {
            assert_eq!(la.take(&conv("t2")[1..], now).await.unwrap(), 0);
        }
        assert_eq!(la.take(&conv("t2")[1..], now).await.unwrap(), 100);
        assert_eq!(lb.take(&conv("t1"), now + 1000).await.unwrap(), 0, "one token per second again");
    }

    #[tokio::test]
    async fn open_streams_are_capped_across_instances_and_a_dead_instance_stops_counting() {
        let (redis, a) = cluster("streams:").await;
        let b = another_instance(&redis, "streams:").await;
        let (la, lb) = (SharedLimits::new(&a), SharedLimits::new(&b));
        la.alive().await.unwrap();
        lb.alive().await.unwrap();
        let keys = ["s:t1", "i:10.0.0.1"];
        assert!(la.open_stream(keys, [2, 10]).await.unwrap());
        assert!(lb.open_stream(keys, [2, 10]).await.unwrap());
        assert!(!la.open_stream(keys, [2, 10]).await.unwrap(), "2 per conversation, whichever instance");
        lb.close_stream(keys).await.unwrap();
        assert!(la.open_stream(keys, [2, 10]).await.unwrap(), "a closed stream frees its slot");
        // a dies: once its heartbeat lapses its two streams stop counting.
        let mut conn = a.redis.clone();
        let _: () = redis::cmd("DEL").arg(a.key(&["alive", &a.instance])).query_async(&mut conn).await.unwrap();
        assert!(lb.open_stream(keys, [2, 10]).await.unwrap());
        assert!(lb.open_stream(keys, [2, 10]).await.unwrap());
        assert!(!lb.open_stream(keys, [2, 10]).await.unwrap());
    }
}
