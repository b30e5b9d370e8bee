//! Which threads have a guest connected somewhere in the cluster, and from when each must be read.
//!
//! Only the poller's lease holder polls a token, but the streams are spread over all instances.
//! Every instance lists its live threads in a sorted set per token (`…:live:<tag>`, member
//! `property␟thread`, score = when the entry lapses unless renewed), once a second while it has
//! any; the holder reads the set and polls them all. A thread that must be read from an earlier
//! time than the holder's mark (a stream resuming from an old event, an instance that missed
//! notes) is put in a hash of rewinds (`…:rewind:<tag>`, thread → Unix ms, the earliest wins),
//! which the holder takes and clears atomically at each poll.
//!
//! Threads' resolved states are kept too ([`ResolvedStates`], `…:resolved:<thread>`, lapsing
//! after two days): a guest's message may land on an instance that never saw the thread (the
//! balancer spreads requests), and that instance must know whether staff resolved it without
//! loading the thread from Mews — one load per instance and thread would make the cost grow with
//! the number of instances and guests.

use redis::{Script, aio::ConnectionManager};

use super::Cluster;

/// An entry lapses this long after its last renewal (an instance that died stops counting).
pub const LIVE_FOR_MS: i64 = 5_000;

const REGISTER: &str = r#"
-- KEYS: 1 live zset. ARGV: 1 expiry, 2 now, 3.. members
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]))
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], 'GT', tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) - tonumber(ARGV[2]) + 60000)
return 1
"#;

const REWIND: &str = r#"
-- KEYS: 1 rewinds hash. ARGV: pairs of thread, since (ms); the earliest time per thread wins.
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if not cur or tonumber(ARGV[i + 1]) < tonumber(cur) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], 600000)
return 1
"#;

const TAKE_REWINDS: &str = r#"
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return all
"#;

fn scripts() -> &'static (Script, Script, Script) {
    static S: std::sync::OnceLock<(Script, Script, Script)> = std::sync::OnceLock::new();
    S.get_or_init(|| (Script::new(REGISTER), Script::new(REWIND), Script::new(TAKE_REWINDS)))
}

const SEP: char = '\u{1f}';

/// The live-thread registry of one token.
#[derive(Clone)]
pub struct LiveThreads {
    redis: ConnectionManager,
    live: String,
    rewinds: String,
}

impl LiveThreads {
    pub fn new(cluster: &Cluster, tag: &str) -> Self {
        Self { redis: cluster.redis.clone(), live: cluster.key(&["live", tag]), rewinds: cluster.key(&["rewind", tag]) }
    }

    /// Renews this instance's live threads `(property, thread)` at `now_ms`.
    pub async fn register(&self, threads: &[(String, String)], now_ms: i64) -> redis::RedisResult<()> {
        let mut call = scripts().0.key(&self.live);
        call.arg(now_ms + LIVE_FOR_MS).arg(now_ms);
        for (p, t) in threads {
            call.arg(format!("{p}{SEP}{t}"));
        }
        let _: i64 = call.invoke_async(&mut self.redis.clone()).await?;
        Ok(())
    }

    /// Every thread some instance has live at `now_ms`.
    pub async fn list(&self, now_ms: i64) -> redis::RedisResult<Vec<(String, String)>> {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(&self.live)
            .arg(now_ms)
            .arg("+inf")
            .arg("BYSCORE")
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(members.into_iter().filter_map(|m| m.split_once(SEP).map(|(p, t)| (p.to_owned(), t.to_owned()))).collect())
    }

    /// Asks the holder to read these threads from these times (Unix ms).
    pub async fn rewind(&self, threads: &[(String, i64)]) -> redis::RedisResult<()> {
        if threads.is_empty() {
            return Ok(());
        }
        let mut call = scripts().1.key(&self.rewinds);
        for (t, since) in threads {
            call.arg(t).arg(since);
        }
        let _: i64 = call.invoke_async(&mut self.redis.clone()).await?;
        Ok(())
    }

    /// The rewinds asked since the last call (the holder's), cleared.
    pub async fn take_rewinds(&self) -> redis::RedisResult<Vec<(String, i64)>> {
        let flat: Vec<String> = scripts().2.key(&self.rewinds).invoke_async(&mut self.redis.clone()).await?;
        Ok(flat.chunks(2).filter_map(|c| Some((c[0].clone(), c.get(1)?.parse().ok()?))).collect())
    }
}

/// Threads' resolved states as Mews last told any instance, and when (`"<0|1>:<Unix ms>"`).
#[derive(Clone)]
pub struct ResolvedStates {
    redis: ConnectionManager,
    prefix: String,
}

/// How long a thread's state is kept after it was last written.
const RESOLVED_FOR_SECS: u64 = 2 * 24 * 3600;

impl ResolvedStates {
    pub fn new(cluster: &Cluster) -> Self {
        Self { redis: cluster.redis.clone(), prefix: cluster.key(&["resolved", ""]) }
    }

    /// Records what Mews said at `now_ms`.
    pub async fn set(&self, states: &[(String, bool)], now_ms: i64) -> redis::RedisResult<()> {
        if states.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (thread, resolved) in states {
            let value = format!("{}:{now_ms}", u8::from(*resolved));
            pipe.set_ex(format!("{}{thread}", self.prefix), value, RESOLVED_FOR_SECS).ignore();
        }
        pipe.query_async::<()>(&mut self.redis.clone()).await
    }

    /// The thread's state if some instance recorded it at or after `since_ms`.
    pub async fn get(&self, thread: &str, since_ms: i64) -> redis::RedisResult<Option<bool>> {
        let v: Option<String> =
            redis::cmd("GET").arg(format!("{}{thread}", self.prefix)).query_async(&mut self.redis.clone()).await?;
        Ok(v.and_then(|v| {
            let (resolved, at) = v.split_once(':')?;
            (at.parse::<i64>().ok()? >= since_ms).then_some(resolved == "1")
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests_support::{another_instance, cluster};

    #[tokio::test]
    async fn the_holder_sees_every_instances_live_threads_until_they_lapse() {
        let (redis, a) = cluster("live:").await;
        let b = another_instance(&redis, "live:").await;
        let (la, lb) = (LiveThreads::new(&a, "tok"), LiveThreads::new(&b, "tok"));
        let t = |p: &str, id: &str| (p.to_owned(), id.to_owned());
        la.register(&[t("grand", "t1"), t("grand", "t2")], 1_000).await.unwrap();
        lb.register(&[t("grand", "t2"), t("river", "t3")], 2_000).await.unwrap();
        let mut all = la.list(2_000).await.unwrap();
        all.sort();
        assert_eq!(all, vec![t("grand", "t1"), t("grand", "t2"), t("river", "t3")]);
        // a died after 1 000: its t1 lapses, t2 is still b's.
        let mut left = lb.list(1_000 + LIVE_FOR_MS + 1).await.unwrap();
        left.sort();
        assert_eq!(left, vec![t("grand", "t2"), t("river", "t3")]);
    }

    #[tokio::test]
    async fn resolved_states_are_shared() {
        let (redis, a) = cluster("resolved:").await;
        let b = another_instance(&redis, "resolved:").await;
        let (ra, rb) = (ResolvedStates::new(&a), ResolvedStates::new(&b));
        assert_eq!(rb.get("t1", 0).await.unwrap(), None);
        ra.set(&[("t1".into(), false), ("t2".into(), true)], 1_000).await.unwrap();
        assert_eq!(rb.get("t1", 1_000).await.unwrap(), Some(false));
        assert_eq!(rb.get("t2", 500).await.unwrap(), Some(true));
        assert_eq!(rb.get("t2", 1_001).await.unwrap(), None, "too old to trust");
        rb.set(&[("t1".into(), true)], 2_000).await.unwrap();
        assert_eq!(ra.get("t1", 1_500).await.unwrap(), Some(true));
    }

    #[tokio::test]
    async fn rewinds_keep_the_earliest_time_and_are_taken_once() {
        let (redis, a) = cluster("rewind:").await;
        let b = another_instance(&redis, "rewind:").await;
        let (la, lb) = (LiveThreads::new(&a, "tok"), LiveThreads::new(&b, "tok"));
        la.rewind(&[("t1".into(), 5_000), ("t2".into(), 9_000)]).await.unwrap();
        lb.rewind(&[("t1".into(), 7_000), ("t2".into(), 3_000)]).await.unwrap();
        let mut taken = la.take_rewinds().await.unwrap();
        taken.sort();
        assert_eq!(taken, vec![("t1".to_string(), 5_000), ("t2".to_string(), 3_000)]);
        assert!(lb.take_rewinds().await.unwrap().is_empty());
    }
}
