//! One Mews budget per `AccessToken` for the whole cluster: the sliding window of
//! [`crate::mews::limiter`], counted in Redis so that three instances together stay under what
//! one would allow alone.
//!
//! Each granted request is a member of a sorted set per lane (`…:budget:<tag>:w` and `…:r`). Its
//! score is when the slot may start to expire: while the request is in flight, the latest moment
//! it can complete (grant + the upstream timeout); when the answer is in, its completion time.
//! A slot is freed one window after its score. Mews counts a request from its *arrival*, which
//! lies between grant and completion, so this never frees a slot before Mews does — and a slot
//! of an instance that died mid-request still frees, at most one timeout later.
//!
//! The decision is one Lua script, atomic in Redis, with the same rules as the local limiter:
//! writes may use the whole budget but the reads' floor; reads at most their share, and none
//! beyond the floor while some instance has a write waiting (a sorted set of instances with
//! waiting writes, each entry expiring after 2 s unless renewed). A 429's `Retry-After` is a key
//! every instance checks (`…:block`), so Mews's pause stops the whole cluster.
//!
//! Our own script rather than a rate-limit crate: the lanes, the in-flight rule and the shared
//! pause are Mews's semantics; the crates implement fixed windows or token buckets.

use redis::{Script, aio::ConnectionManager};

use super::Cluster;

const TAKE: &str = r#"
-- KEYS: 1 writes zset, 2 reads zset, 3 block key, 4 waiting-writers zset
-- ARGV: 1 now, 2 window, 3 lane (w|r), 4 capacity, 5 read capacity, 6 read floor,
--       7 member, 8 in-flight horizon, 9 instance, 10 this instance has writes waiting (0|1)
-- Returns {granted 0|1, wait ms, slots writes may still take, instances with writes waiting}
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local lane = ARGV[3]
local capacity = tonumber(ARGV[4])
local read_capacity = tonumber(ARGV[5])
local floor = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if ARGV[10] == '1' then
  redis.call('ZADD', KEYS[4], now + 2000, ARGV[9])
  redis.call('PEXPIRE', KEYS[4], 4000)
else
  redis.call('ZREM', KEYS[4], ARGV[9])
end
local writers = redis.call('ZCARD', KEYS[4])
local writes = redis.call('ZCARD', KEYS[1])
local reads = redis.call('ZCARD', KEYS[2])
local total = writes + reads
-- What writes may still take: the budget less the part of the reads' floor reads have not used.
local write_free = math.max(0, capacity - math.max(0, floor - reads) - total)
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
local function wait_hint()
  local oldest = nil
  for i = 1, 2 do
    local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    if first[2] then
      local s = tonumber(first[2])
      if oldest == nil or s < oldest then oldest = s end
    end
  end
  if oldest == nil then return 50 end
  return math.max(1, math.min(oldest + window - now, window))
end
if blocked > now then
  return {0, blocked - now, write_free, writers}
end
local grant = false
if lane == 'w' then
  local limit = capacity - math.max(0, floor - reads)
  grant = total < limit
else
  local others_writing = writers > 0
  if reads < floor and total < capacity then
    grant = true
  elseif others_writing then
    return {0, 100, write_free, writers}
  else
    grant = total < read_capacity
  end
end
if not grant then
  return {0, wait_hint(), write_free, writers}
end
local key = KEYS[1]
if lane == 'r' then key = KEYS[2] end
redis.call('ZADD', key, tonumber(ARGV[8]), ARGV[7])
redis.call('PEXPIRE', key, tonumber(ARGV[8]) - now + window + 1000)
return {1, 0, math.max(0, write_free - 1), writers}
"#;

const COMPLETE: &str = r#"
-- KEYS: 1 the lane's zset. ARGV: 1 member, 2 completion time. Only while the slot exists.
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[2]), ARGV[1])
return 1
"#;

const BLOCK: &str = r#"
-- KEYS: 1 block key. ARGV: 1 until (ms), 2 now. Never shortens a pause another instance set.
local until_ms = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], until_ms, 'PX', math.max(1, until_ms - tonumber(ARGV[2])) + 1000)
end
return 1
"#;

/// Which queue a Mews call waits in (re-exported as `mews::limiter::Lane`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Guest messages and new conversations: first served, the whole budget but the reads' floor.
    Write,
    /// Everything else: after waiting writes, at most the read share of the budget.
    Read,
}

/// The answer to "may this instance send one more request now?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// Granted: the slot's member name (to mark it complete), the slots writes may still take in
    /// the window and how many instances have writes waiting (they share those).
    Granted { member: String, free: usize, writers: usize },
    /// Not now: ask again in about this many milliseconds.
    Wait { ms: u64, free: usize, writers: usize },
}

/// The budget of one token in Redis; cheap to clone.
#[derive(Clone)]
pub struct SharedBudget {
    redis: ConnectionManager,
    instance: String,
    writes: String,
    reads: String,
    block: String,
    waiting: String,
    pub capacity: usize,
    pub read_capacity: usize,
    pub read_floor: usize,
    pub window_ms: i64,
    /// The longest a granted request can stay in flight (the upstream timeout and its retries).
    pub in_flight_ms: i64,
}

impl std::fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudget").field("key", &self.writes).field("capacity", &self.capacity).finish()
    }
}

fn scripts() -> &'static (Script, Script, Script) {
    static S: std::sync::OnceLock<(Script, Script, Script)> = std::sync::OnceLock::new();
    S.get_or_init(|| (Script::new(TAKE), Script::new(COMPLETE), Script::new(BLOCK)))
}

impl SharedBudget {
    pub fn new(
        cluster: &Cluster,
        tag: &str,
        (capacity, read_capacity, read_floor): (usize, usize, usize),
        window_ms: i64,
        in_flight_ms: i64,
    ) -> Self {
        Self {
            redis: cluster.redis.clone(),
            instance: cluster.instance.clone(),
            writes: cluster.key(&["budget", tag, "w"]),
            reads: cluster.key(&["budget", tag, "r"]),
            block: cluster.key(&["budget", tag, "block"]),
            waiting: cluster.key(&["budget", tag, "writers"]),
            capacity,
            read_capacity,
            read_floor,
            window_ms,
            in_flight_ms,
        }
    }

    /// Takes one slot of `lane` at `now_ms`, or says how long to wait. `writes_waiting`: this
    /// instance has guest writes queued (other instances' reads then yield beyond the floor).
    pub async fn take(&self, lane: Lane, writes_waiting: bool, now_ms: i64) -> redis::RedisResult<Take> {
        let member = format!("{}:{}", self.instance, uuid::Uuid::new_v4().simple());
        let lane_arg = if lane == Lane::Write { "w" } else { "r" };
        let (granted, wait, free, writers): (i64, i64, i64, i64) = scripts()
            .0
            .key(&self.writes)
            .key(&self.reads)
            .key(&self.block)
            .key(&self.waiting)
            .arg(now_ms)
            .arg(self.window_ms)
            .arg(lane_arg)
            .arg(self.capacity)
            .arg(self.read_capacity)
            .arg(self.read_floor)
            .arg(&member)
            .arg(now_ms + self.in_flight_ms)
            .arg(&self.instance)
            .arg(if writes_waiting { 1 } else { 0 })
            .invoke_async(&mut self.redis.clone())
            .await?;
        let (free, writers) = (free.max(0) as usize, writers.max(0) as usize);
        Ok(if granted == 1 {
            Take::Granted { member, free, writers }
        } else {
            Take::Wait { ms: wait.max(1) as u64, free, writers }
        })
    }

    /// The request of slot `member` got its answer at `now_ms`: the slot frees one window later.
    pub async fn complete(&self, lane: Lane, member: &str, now_ms: i64) -> redis::RedisResult<()> {
        let key = if lane == Lane::Write { &self.writes } else { &self.reads };
        let _: i64 = scripts().1.key(key).arg(member).arg(now_ms).invoke_async(&mut self.redis.clone()).await?;
        Ok(())
    }

    /// Mews answered 429: nobody in the cluster sends on this token until `until_ms`.
    pub async fn block_until(&self, until_ms: i64, now_ms: i64) -> redis::RedisResult<()> {
        let _: i64 =
            scripts().2.key(&self.block).arg(until_ms).arg(now_ms).invoke_async(&mut self.redis.clone()).await?;
        Ok(())
    }
}

/// The script against a real Redis, with chosen clocks (no sleeping).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests_support::cluster;

    const W: i64 = 30_000;

    async fn budget(prefix: &str) -> (lobby_test_redis::RedisServer, SharedBudget, SharedBudget) {
        let (server, a) = cluster(prefix).await;
        let b = crate::cluster::tests_support::another_instance(&server, prefix).await;
        // capacity 8: reads at most 6, a floor of 2 for reads.
        let mk = |c: &Cluster| SharedBudget::new(c, "tok", (8, 6, 2), W, 10_000);
        (server, mk(&a), mk(&b))
    }

    fn granted(t: &Take) -> bool {
        matches!(t, Take::Granted { .. })
    }

    #[tokio::test]
    async fn two_instances_share_one_window() {
        let (_redis, a, b) = budget("share:").await;
        let now = 1_000_000;
        let mut n = 0;
        for i in 0..10 {
            let who = if i % 2 == 0 { &a } else { &b };
            if granted(&who.take(Lane::Write, false, now).await.unwrap()) {
                n += 1;
            }
        }
        assert_eq!(n, 6, "6 write slots (8 less the reads' floor of 2) for both instances together, not 6 each");
        // In flight, a slot frees one window after the latest possible completion.
        let t = a.take(Lane::Write, false, now + W + 1).await.unwrap();
        assert!(!granted(&t), "in-flight slots still count a window after the grant: {t:?}");
        assert!(granted(&b.take(Lane::Write, false, now + 10_000 + W + 1).await.unwrap()));
    }

    #[tokio::test]
    async fn a_completed_slot_frees_one_window_after_its_answer() {
        let (_redis, a, _b) = budget("complete:").await;
        let now = 2_000_000;
        let mut members = Vec::new();
        for _ in 0..6 {
            match a.take(Lane::Write, false, now).await.unwrap() {
                Take::Granted { member, .. } => members.push(member),
                t => panic!("{t:?}"),
            }
        }
        for m in &members {
            a.complete(Lane::Write, m, now + 500).await.unwrap();
        }
        match a.take(Lane::Write, false, now + 500 + W - 1).await.unwrap() {
            Take::Wait { ms, .. } => assert_eq!(ms, 1, "frees 1 ms later"),
            t => panic!("still full: {t:?}"),
        }
        assert!(granted(&a.take(Lane::Write, false, now + 500 + W).await.unwrap()));
    }

    #[tokio::test]
    async fn reads_keep_to_their_share_and_writes_leave_the_floor() {
        let (_redis, a, b) = budget("lanes:").await;
        let now = 3_000_000;
        let mut reads = 0;
        for _ in 0..10 {
            if granted(&a.take(Lane::Read, false, now).await.unwrap()) {
                reads += 1;
            }
        }
        assert_eq!(reads, 6, "reads fill at most their share");
        let mut writes = 0;
        for _ in 0..10 {
            if granted(&b.take(Lane::Write, false, now).await.unwrap()) {
                writes += 1;
            }
        }
        assert_eq!(writes, 2, "writes get the rest");

        let (_redis, a, b) = budget("floor:").await;
        let mut writes = 0;
        for _ in 0..10 {
            if granted(&a.take(Lane::Write, false, now).await.unwrap()) {
                writes += 1;
            }
        }
        assert_eq!(writes, 6, "writes leave the reads' floor");
        assert!(granted(&b.take(Lane::Read, false, now).await.unwrap()));
        assert!(granted(&b.take(Lane::Read, false, now).await.unwrap()));
        assert!(!granted(&b.take(Lane::Read, false, now).await.unwrap()));
    }

    #[tokio::test]
    async fn reads_beyond_the_floor_yield_to_another_instances_waiting_write() {
        let (_redis, a, b) = budget("yield:").await;
        let now = 4_000_000;
        // Instance a has a write waiting (it asked and was told to wait, or is about to ask).
        a.take(Lane::Read, true, now).await.unwrap();
        assert!(granted(&b.take(Lane::Read, false, now).await.unwrap()), "below the floor reads go");
        match b.take(Lane::Read, false, now).await.unwrap() {
            Take::Wait { .. } => {}
            t => panic!("a read beyond the floor went ahead of a waiting write: {t:?}"),
        }
        // The waiting mark expires unless renewed (an instance that died does not hold reads).
        assert!(granted(&b.take(Lane::Read, false, now + 2_001).await.unwrap()));
    }

    #[tokio::test]
    async fn a_429_on_one_instance_pauses_all() {
        let (_redis, a, b) = budget("block:").await;
        let now = 5_000_000;
        a.block_until(now + 3_000, now).await.unwrap();
        match b.take(Lane::Write, false, now + 1_000).await.unwrap() {
            Take::Wait { ms, .. } => assert_eq!(ms, 2_000),
            t => panic!("{t:?}"),
        }
        // A shorter pause from another 429 does not shorten it.
        b.block_until(now + 1_500, now + 1_000).await.unwrap();
        assert!(!granted(&a.take(Lane::Read, false, now + 2_000).await.unwrap()));
        assert!(granted(&a.take(Lane::Read, false, now + 3_000).await.unwrap()));
    }
}
