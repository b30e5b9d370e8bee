//! The shared store of a cluster: the same records as the embedded store, in one Redis that every
//! `lobby` instance uses, so a retry that lands on another instance finds the first attempt's
//! record (and its owner) instead of sending again.
//!
//! **What it owns**: under its key prefix (default [`DEFAULT_PREFIX`], `lobby:`; tests give each
//! store its own), the send and start records and their indices, nothing else. Other users of
//! the same Redis (the limiter, the poller lease, pub/sub) keep to their own keys.
//!
//! **Key layout** (`P` is the prefix; `len` is the byte length of the first part, so that a
//! thread id that is a prefix of another, or contains `:`, cannot make two keys collide):
//!
//! | Key | Type | What |
//! |---|---|---|
//! | `P send:{len}:{thread}:{client_id}` | hash | one send: `rec` (the record as first written, JSON), `started`, `thread`, `owner`, `until` (the lease), and once done `sent` (JSON [`Sent`]) and `sent_id`; while its owner has queued it for the token's sender, `queued` ([`RedisStore::queue_send`]) |
//! | `P start:{len}:{property}:{key}` | hash | one start: `rec`, `started`, `owner`, `until`, and once done `done` (the Mews thread id) |
//! | `P sends:pending`, `P starts:pending` | sorted set | the records not done (members: the key without `P`; score: `started`) |
//! | `P sends:all`, `P starts:all` | sorted set | every record, by `started`, for [`Store::purge`] |
//! | `P sent:{thread}` | sorted set | the Mews message ids recorded as sent in a thread ([`Store::sent_ids`]) |
//!
//! **Why this shape.** A hash per record lets the Lua scripts read and change the owner, the
//! lease and the outcome as plain fields: the record's JSON is written once and never parsed or
//! re-encoded in Lua (whose JSON library would round numbers and escape differently). Every
//! change that touches a record and its indices is one Lua script (`redis::Script`: `EVALSHA`,
//! loaded again by the client after a Redis restart), so it is atomic: a claim reads the record,
//! decides (the same rule as `decide` in `store/mod.rs`) and writes the new owner with nothing in between,
//! whichever instance's connection it comes from. Record keys carry an `EXPIRE` of twice
//! [`KEEP_FOR`], refreshed on every write, as a backstop; [`Store::purge`] does the real cleaning
//! (records and their index entries), in batches so that no script blocks Redis for long. The
//! scripts name keys they compute (purge) and are meant for one Redis (or a primary with
//! replicas), not Redis Cluster.
//!
//! **Durability** is Redis's: run it with the append-only file (`appendonly yes`; `appendfsync
//! always` for nothing acknowledged to be lost, `everysec` loses at most a second).
//!
//! **Failures.** The connection is a [`ConnectionManager`] (reconnects by itself) with bounded
//! connection and response timeouts and few reconnection retries, and every call is bounded by
//! [`CALL_TIMEOUT`] of real time: while Redis is down or unreachable a call fails within seconds
//! with a [`StoreError`], it never hangs; once Redis is back, calls succeed again. A call that
//! failed by timeout may still have been applied (Redis got it, the answer was late): callers
//! treat a failed claim as "unknown, try again later", never as "absent". Tests on Tokio's paused
//! clock connect with [`Bounds::for_paused_clock`].

use std::{sync::Arc, sync::LazyLock, time::Duration};

use futures::{FutureExt, future::BoxFuture};
use redis::{
    RedisResult, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use serde::de::DeserializeOwned;

use super::{Claim, KEEP_FOR, Owner, SendRecord, Sent, StartRecord, Store, StoreError, StoreResult, no_owner};

/// The key prefix unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "lobby:";
/// One attempt to open a connection to Redis.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Redis's answer to one command.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// One store call, reconnection included: past it the call fails with [`StoreError`].
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The backstop expiry of a record key (seconds), refreshed on every write.
const TTL_SECS: i64 = KEEP_FOR.as_secs() * 2;
/// Records removed by one purge script.
const PURGE_BATCH: usize = 500;

/// The store on Redis; clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    call_timeout: Option<Duration>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("redis: {what}: {e}"))
}

/// How a [`RedisStore`] bounds its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// One attempt to open a connection (the connection's own timer, on Tokio's clock).
    pub connect: Option<Duration>,
    /// Redis's answer to one command (the connection's own timer, on Tokio's clock): also what
    /// notices a Redis that stopped answering and makes the connection reconnect.
    pub response: Option<Duration>,
    /// One store call, reconnection included, in real time (not Tokio's clock).
    pub call: Option<Duration>,
}

impl Default for Bounds {
    /// Production: [`CONNECT_TIMEOUT`], [`RESPONSE_TIMEOUT`], [`CALL_TIMEOUT`].
    fn default() -> Self {
        Bounds { connect: Some(CONNECT_TIMEOUT), response: Some(RESPONSE_TIMEOUT), call: Some(CALL_TIMEOUT) }
    }
}

impl Bounds {
    /// For tests on Tokio's paused clock (`tokio::time::pause()`): there a Tokio timer fires as
    /// soon as the runtime is idle, which it is while Redis (another process) answers, so the
    /// connection's own timers would fail calls at once. Only the real-time call bound remains
    /// (enough for a local Redis that a test kills or freezes).
    pub fn for_paused_clock() -> Self {
        Bounds { connect: None, response: None, call: Some(CALL_TIMEOUT) }
    }
}

/// A queued send the token's sender took over ([`RedisStore::take_queued_send`]): the record
/// as first written, and from when to read Mews back before sending (an earlier attempt may
/// have reached it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakenSend {
    pub record: SendRecord,
    pub recheck_since: Option<i64>,
}

impl RedisStore {
    /// Cluster mode: marks the pending send `owner.instance` owns as queued for the token's
    /// sender (renewing the lease to `owner.until_ms`), with the time to read Mews back from
    /// when an earlier attempt may have reached it. `false`: done, gone or not the caller's.
    /// A takeover ([`Store::begin_send`] answering `TakenOver`) clears the mark, so a job
    /// queued before it can no longer be taken.
    pub async fn queue_send(
        &self,
        thread: &str,
        client_id: &str,
        owner: &Owner,
        recheck_since: Option<i64>,
    ) -> StoreResult<bool> {
        let mut inv = QUEUE_SEND.prepare_invoke();
        let recheck = recheck_since.map_or_else(|| "-".to_owned(), |s| s.to_string());
        inv.key(self.key(&send_member(thread, client_id)))
            .arg(&owner.instance)
            .arg(owner.until_ms)
            .arg(TTL_SECS)
            .arg(recheck);
        let mut conn = self.conn.clone();
        let marked: i64 = self.call("queue_send", inv.invoke_async(&mut conn)).await?;
        Ok(marked == 1)
    }

    /// Cluster mode: the token's sender takes a queued send over from `from`, atomically: only
    /// while it is pending, marked queued and owned by `from` with a lease alive at `now_ms`.
    /// It is then `to`'s (until `to.until_ms`) and no longer queued, so any other copy of the
    /// job finds nothing to take. `None`: not (or no longer) takeable — a duplicate, done, or
    /// its instance died or took it back.
    pub async fn take_queued_send(
        &self,
        thread: &str,
        client_id: &str,
        from: &str,
        to: &Owner,
        now_ms: i64,
    ) -> StoreResult<Option<TakenSend>> {
        let mut inv = TAKE_QUEUED_SEND.prepare_invoke();
        inv.key(self.key(&send_member(thread, client_id)))
            .arg(from)
            .arg(&to.instance)
            .arg(to.until_ms)
            .arg(now_ms)
            .arg(TTL_SECS);
        let mut conn = self.conn.clone();
        let answer: Vec<String> = self.call("take_queued_send", inv.invoke_async(&mut conn)).await?;
        let [rec, queued] = answer.as_slice() else { return Ok(None) };
        let mut record: SendRecord = decode(rec)?;
        record.owner = Some(to.clone());
        Ok(Some(TakenSend { record, recheck_since: queued.parse().ok() }))
    }

    /// Connects to `url` (`redis://host:port/db`, `rediss://…`) with the production [`Bounds`]
    /// and keeps its records under `prefix`. Fails (within seconds) when Redis cannot be reached.
    pub async fn connect(url: &str, prefix: &str) -> StoreResult<RedisStore> {
        Self::connect_with(url, prefix, Bounds::default()).await
    }

    /// [`RedisStore::connect`] with other bounds (see [`Bounds::for_paused_clock`]).
    pub async fn connect_with(url: &str, prefix: &str, bounds: Bounds) -> StoreResult<RedisStore> {
        let conn = Self::manager(url, bounds).await?;
        Ok(Self::from_manager(conn, prefix).with_call_timeout(bounds.call))
    }

    /// A connection to `url` with `bounds` (and two reconnection retries, at most 500 ms apart),
    /// to share with other users of the same Redis ([`RedisStore::from_manager`]). Fails when no
    /// connection is open within twice the call bound.
    pub async fn manager(url: &str, bounds: Bounds) -> StoreResult<ConnectionManager> {
        let client = redis::Client::open(url).map_err(|e| err("bad url", e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(bounds.connect)
            .set_response_timeout(bounds.response)
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connecting = ConnectionManager::new_with_config(client, config);
        let limit = bounds.call.map(|c| c * 2);
        within(limit, connecting).await.map_err(|e| err("connect", e))?.map_err(|e| err("connect", e))
    }

    /// The store on an existing connection (shared with other users of the same Redis), each call
    /// bounded by [`CALL_TIMEOUT`].
    pub fn from_manager(conn: ConnectionManager, prefix: &str) -> RedisStore {
        RedisStore { conn, prefix: prefix.into(), call_timeout: Some(CALL_TIMEOUT) }
    }

    /// Bounds every call by `timeout` (real time) instead of [`CALL_TIMEOUT`]; `None`: only the
    /// connection's own timeouts.
    pub fn with_call_timeout(mut self, timeout: Option<Duration>) -> RedisStore {
        self.call_timeout = timeout;
        self
    }

    fn key(&self, member: &str) -> String {
        format!("{}{member}", self.prefix)
    }

    /// Runs one Redis call under the call timeout, mapping its error.
    async fn call<T>(&self, what: &str, f: impl Future<Output = RedisResult<T>>) -> StoreResult<T> {
        within(self.call_timeout, f).await.map_err(|e| err(what, e))?.map_err(|e| err(what, e))
    }

    /// The fields of the records under `members` (in that order), each `None` when gone.
    async fn records(&self, what: &str, members: &[String], done: &str) -> StoreResult<Vec<Option<Fields>>> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for m in members {
            pipe.cmd("HMGET").arg(self.key(m)).arg("rec").arg(done).arg("owner").arg("until");
        }
        let mut conn = self.conn.clone();
        let rows: Vec<Vec<Option<String>>> = self.call(what, pipe.query_async(&mut conn)).await?;
        Ok(rows.into_iter().map(Fields::from_row).collect())
    }

    async fn pending<R: Record>(&self, what: &str, index: &str) -> StoreResult<Vec<R>> {
        let mut conn = self.conn.clone();
        let members: Vec<String> =
            self.call(what, redis::cmd("ZRANGE").arg(self.key(index)).arg(0).arg(-1).query_async(&mut conn)).await?;
        let mut out = Vec::new();
        for fields in self.records(what, &members, R::DONE).await?.into_iter().flatten() {
            let r = R::from_fields(fields)?;
            if !r.is_done() {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn record<R: Record>(&self, what: &str, member: String) -> StoreResult<Option<R>> {
        self.records(what, &[member], R::DONE).await?.pop().flatten().map(R::from_fields).transpose()
    }

    async fn claim<R: Record>(
        &self,
        what: &str,
        member: String,
        extra: &[(&str, &str)],
        record: R,
        now_ms: i64,
    ) -> StoreResult<Claim<R>> {
        let owner = record.owner().cloned().ok_or_else(no_owner)?;
        let rec = serde_json::to_string(&record).map_err(|e| err(what, e))?;
        let mut inv = CLAIM.prepare_invoke();
        inv.key(self.key(&member))
            .key(self.key(R::PENDING))
            .key(self.key(R::ALL))
            .arg(&member)
            .arg(rec)
            .arg(record.started())
            .arg(&owner.instance)
            .arg(owner.until_ms)
            .arg(now_ms)
            .arg(TTL_SECS)
            .arg(R::DONE);
        for (field, value) in extra {
            inv.arg(*field).arg(*value);
        }
        let mut conn = self.conn.clone();
        let answer: Vec<String> = self.call(what, inv.invoke_async(&mut conn)).await?;
        let mut answer = answer.into_iter();
        let tag = answer.next().unwrap_or_default();
        if tag == "new" {
            return Ok(Claim::New);
        }
        let fields =
            Fields::from_row(answer.map(Some).collect()).ok_or_else(|| err(what, "a record without its fields"))?;
        let r = R::from_fields(fields)?;
        match tag.as_str() {
            "done" => Ok(Claim::Done(r)),
            "taken" => Ok(Claim::TakenOver(r)),
            "held" => Ok(Claim::Held(r)),
            other => Err(err(what, format!("unexpected answer {other:?}"))),
        }
    }

    async fn renew(&self, what: &str, member: String, done: &str, owner: Owner) -> StoreResult<bool> {
        let mut inv = RENEW.prepare_invoke();
        inv.key(self.key(&member)).arg(done).arg(owner.instance).arg(owner.until_ms).arg(TTL_SECS);
        let mut conn = self.conn.clone();
        let renewed: i64 = self.call(what, inv.invoke_async(&mut conn)).await?;
        Ok(renewed == 1)
    }

    async fn forget(
        &self,
        what: &str,
        member: String,
        pending: &str,
        all: &str,
        sent: Option<String>,
    ) -> StoreResult<()> {
        let mut inv = FORGET.prepare_invoke();
        inv.key(self.key(&member)).key(self.key(pending)).key(self.key(all));
        if let Some(sent) = sent {
            inv.key(sent);
        }
        inv.arg(&member);
        let mut conn = self.conn.clone();
        self.call::<i64>(what, inv.invoke_async(&mut conn)).await.map(drop)
    }

    /// Purges one kind of record in batches; returns how many records were removed.
    async fn purge_kind(&self, all: &str, pending: &str, sends: bool, before: i64) -> StoreResult<usize> {
        let mut removed = 0;
        loop {
            let mut inv = PURGE.prepare_invoke();
            inv.key(self.key(all))
                .key(self.key(pending))
                .arg(&*self.prefix)
                .arg(before)
                .arg(PURGE_BATCH)
                .arg(if sends { "1" } else { "0" });
            let mut conn = self.conn.clone();
            let (seen, gone): (usize, usize) = self.call("purge", inv.invoke_async(&mut conn)).await?;
            removed += gone;
            if seen < PURGE_BATCH {
                return Ok(removed);
            }
        }
    }
}

/// `f`, failed after `limit` of real time (see [`wall_clock`]).
async fn within<T>(limit: Option<Duration>, f: impl Future<Output = T>) -> Result<T, String> {
    let Some(limit) = limit else { return Ok(f.await) };
    let timer = wall_clock::after(limit);
    tokio::select! {
        biased;
        v = f => Ok(v),
        _ = timer => Err(format!("no answer within {limit:?}")),
    }
}

/// Timers in real time, whatever Tokio's clock does: under `tokio::time::pause()` (the proxy's
/// unit tests) a Tokio timer fires as soon as the runtime is idle, which it is while Redis, another
/// process, answers. One thread serves them all from a heap of deadlines; a timer whose call
/// ended first is dropped when its deadline comes.
mod wall_clock {
    use std::{
        collections::BinaryHeap,
        sync::{LazyLock, mpsc},
        time::{Duration, Instant},
    };

    use tokio::sync::oneshot;

    struct Timer {
        at: Instant,
        fire: oneshot::Sender<()>,
    }

    impl PartialEq for Timer {
        fn eq(&self, other: &Self) -> bool {
            self.at == other.at
        }
    }
    impl Eq for Timer {}
    impl PartialOrd for Timer {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Timer {
        /// The earliest deadline is the greatest: first out of the (max-)heap.
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            other.at.cmp(&self.at)
        }
    }

    static TIMERS: LazyLock<mpsc::Sender<Timer>> = LazyLock::new(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new().name("lobby-redis-timer".into()).spawn(move || run(&rx)).expect("timer thread");
        tx
    });

    /// Resolves once `d` of real time has passed.
    pub fn after(d: Duration) -> oneshot::Receiver<()> {
        let (fire, rx) = oneshot::channel();
        // The thread lives as long as the process; if it were gone, `rx` errs at once (a timeout).
        let _ = TIMERS.send(Timer { at: Instant::now() + d, fire });
        rx
    }

    fn run(rx: &mpsc::Receiver<Timer>) {
        let mut heap = BinaryHeap::new();
        loop {
            let got = match heap.peek() {
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(Timer { at, .. }) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            match got {
                Ok(t) => heap.push(t),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            while heap.peek().is_some_and(|t| t.at <= now) {
                let _ = heap.pop().map(|t| t.fire.send(()));
            }
        }
    }
}

fn send_member(thread: &str, client_id: &str) -> String {
    format!("send:{}:{thread}:{client_id}", thread.len())
}

fn start_member(property: &str, key: &str) -> String {
    format!("start:{}:{property}:{key}", property.len())
}

/// A "Find my booking" link (not purged with the records: a stay lasts longer than a day).
fn booking_key(prefix: &str, property: &str, reservation_id: &str) -> String {
    format!("{prefix}booking:{}:{property}:{reservation_id}", property.len())
}

/// How long a booking link is kept after it was last written: longer than any stay.
const BOOKING_TTL_SECS: u64 = 400 * 24 * 3600;

fn sent_index(prefix: &str, thread: &str) -> String {
    format!("{prefix}sent:{thread}")
}

/// A record's hash fields as read: `rec`, the done field, `owner`, `until`.
struct Fields {
    rec: String,
    done: Option<String>,
    owner: Option<String>,
    until: Option<String>,
}

impl Fields {
    /// From an `HMGET rec <done> owner until` answer (or a script's, `""` for missing); `None`
    /// when the record is gone.
    fn from_row(row: Vec<Option<String>>) -> Option<Fields> {
        let mut it = row.into_iter().map(|v| v.filter(|s| !s.is_empty()));
        let rec = it.next().flatten()?;
        let (done, owner, until) = (it.next().flatten(), it.next().flatten(), it.next().flatten());
        Some(Fields { rec, done, owner, until })
    }

    fn owner(&self) -> StoreResult<Option<Owner>> {
        match (&self.owner, &self.until) {
            (Some(instance), Some(until)) => {
                let until_ms = until.parse().map_err(|e| err("a record's lease", e))?;
                Ok(Some(Owner { instance: instance.clone(), until_ms }))
            }
            _ => Ok(None),
        }
    }
}

fn decode<T: DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| err("a record", e))
}

/// What differs between sends and starts.
trait Record: serde::Serialize + DeserializeOwned + Send + Sized {
    const DONE: &'static str;
    const PENDING: &'static str;
    const ALL: &'static str;
    fn from_fields(f: Fields) -> StoreResult<Self>;
    fn owner(&self) -> Option<&Owner>;
    fn started(&self) -> i64;
    fn is_done(&self) -> bool;
}

impl Record for SendRecord {
    const DONE: &'static str = "sent";
    const PENDING: &'static str = "sends:pending";
    const ALL: &'static str = "sends:all";
    fn from_fields(f: Fields) -> StoreResult<Self> {
        let mut r: SendRecord = decode(&f.rec)?;
        r.owner = f.owner()?;
        r.sent = f.done.as_deref().map(decode).transpose()?;
        Ok(r)
    }
    fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
    fn started(&self) -> i64 {
        self.started
    }
    fn is_done(&self) -> bool {
        self.sent.is_some()
    }
}

impl Record for StartRecord {
    const DONE: &'static str = "done";
    const PENDING: &'static str = "starts:pending";
    const ALL: &'static str = "starts:all";
    fn from_fields(f: Fields) -> StoreResult<Self> {
        let mut r: StartRecord = decode(&f.rec)?;
        r.owner = f.owner()?;
        r.thread = f.done;
        Ok(r)
    }
    fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
    fn started(&self) -> i64 {
        self.started
    }
    fn is_done(&self) -> bool {
        self.thread.is_some()
    }
}

/// Claims a record (see `Claim`). KEYS: record, pending index, all index. ARGV: member, record
/// JSON, started, owner instance, lease until (ms), now (ms), TTL (s), the done field, then
/// field/value pairs written with a new record. Answers `{'new'}` or
/// `{'done'|'taken'|'held', rec, done, owner, until}` (`''` for missing).
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
  local fields = {'rec', ARGV[2], 'started', ARGV[3], 'owner', ARGV[4], 'until', ARGV[5]}
  for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', key, unpack(fields))
  redis.call('EXPIRE', key, ARGV[7])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  return {'new'}
end
local f = redis.call('HMGET', key, 'rec', ARGV[8], 'owner', 'until')
local rec, done, owner, lease = f[1] or '', f[2] or '', f[3] or '', f[4] or ''
if done ~= '' then return {'done', rec, done, owner, lease} end
if owner ~= '' and owner ~= ARGV[4] and tonumber(lease) and tonumber(lease) > tonumber(ARGV[6]) then
  return {'held', rec, '', owner, lease}
end
redis.call('HSET', key, 'owner', ARGV[4], 'until', ARGV[5])
redis.call('HDEL', key, 'queued')
redis.call('EXPIRE', key, ARGV[7])
return {'taken', rec, '', ARGV[4], ARGV[5]}
",
    )
});

/// Extends a pending record's lease if the instance owns it. KEYS: record. ARGV: the done field,
/// instance, until (ms), TTL (s). Answers 1 or 0.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local f = redis.call('HMGET', KEYS[1], ARGV[1], 'owner')
if f[1] or f[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'until', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
",
    )
});

/// Marks a pending send its instance owns as queued for the token's sender. KEYS: record. ARGV:
/// instance, until (ms), TTL (s), what to read back from (`-` or Unix s). Answers 1 or 0.
static QUEUE_SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local f = redis.call('HMGET', KEYS[1], 'sent', 'owner')
if f[1] or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'until', ARGV[2], 'queued', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// Takes a queued send over from its live owner. KEYS: record. ARGV: from, to, until (ms), now
/// (ms), TTL (s). Answers `{rec, queued}` or `{}`.
static TAKE_QUEUED_SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local f = redis.call('HMGET', KEYS[1], 'sent', 'owner', 'until', 'queued', 'rec')
if f[1] or not f[4] or f[2] ~= ARGV[1] or not tonumber(f[3]) or tonumber(f[3]) <= tonumber(ARGV[4]) then
  return {}
end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'until', ARGV[3])
redis.call('HDEL', KEYS[1], 'queued')
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {f[5], f[4]}
",
    )
});

/// Completes a send. KEYS: record, pending index, the thread's sent index. ARGV: member, `Sent`
/// JSON, message id, TTL (s). Nothing when the record is gone.
static FINISH_SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local f = redis.call('HMGET', KEYS[1], 'started', 'sent_id')
if f[2] then redis.call('ZREM', KEYS[3], f[2]) end
redis.call('HSET', KEYS[1], 'sent', ARGV[2], 'sent_id', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], f[1] or 0, ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
",
    )
});

/// Completes a start. KEYS: record, pending index. ARGV: member, thread id, TTL (s).
static FINISH_START: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'done', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
",
    )
});

/// Removes a record and its index entries. KEYS: record, pending index, all index, and for a
/// send its thread's sent index. ARGV: member.
static FORGET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if KEYS[4] then
  local id = redis.call('HGET', KEYS[1], 'sent_id')
  if id then redis.call('ZREM', KEYS[4], id) end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
",
    )
});

/// Removes up to ARGV[3] records that began before ARGV[2] (seconds) with their index entries.
/// KEYS: all index, pending index. ARGV: prefix, before, batch size, '1' for sends (whose ids
/// leave their thread's sent index). Answers {records looked at, records removed}: an index entry
/// whose key already expired is cleaned but not counted.
static PURGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local removed = 0
for _, m in ipairs(members) do
  local key = ARGV[1] .. m
  if ARGV[4] == '1' then
    local f = redis.call('HMGET', key, 'thread', 'sent_id')
    if f[1] and f[2] then redis.call('ZREM', ARGV[1] .. 'sent:' .. f[1], f[2]) end
  end
  removed = removed + redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
end
return {#members, removed}
",
    )
});

impl Store for RedisStore {
    fn begin_send(&self, record: SendRecord, now_ms: i64) -> BoxFuture<'_, StoreResult<Claim<SendRecord>>> {
        async move {
            let member = send_member(&record.thread, &record.client_id);
            let thread = record.thread.clone();
            self.claim("begin_send", member, &[("thread", &thread)], record, now_ms).await
        }
        .boxed()
    }

    fn renew_send(&self, thread: &str, client_id: &str, owner: Owner) -> BoxFuture<'_, StoreResult<bool>> {
        let member = send_member(thread, client_id);
        async move { self.renew("renew_send", member, SendRecord::DONE, owner).await }.boxed()
    }

    fn send_record(&self, thread: &str, client_id: &str) -> BoxFuture<'_, StoreResult<Option<SendRecord>>> {
        let member = send_member(thread, client_id);
        async move { self.record("send_record", member).await }.boxed()
    }

    fn finish_send(&self, thread: &str, client_id: &str, sent: Sent) -> BoxFuture<'_, StoreResult<()>> {
        let member = send_member(thread, client_id);
        let index = sent_index(&self.prefix, thread);
        async move {
            let json = serde_json::to_string(&sent).map_err(|e| err("finish_send", e))?;
            let mut inv = FINISH_SEND.prepare_invoke();
            inv.key(self.key(&member)).key(self.key(SendRecord::PENDING)).key(index);
            inv.arg(&member).arg(json).arg(&sent.id).arg(TTL_SECS);
            let mut conn = self.conn.clone();
            self.call::<i64>("finish_send", inv.invoke_async(&mut conn)).await.map(drop)
        }
        .boxed()
    }

    fn forget_send(&self, thread: &str, client_id: &str) -> BoxFuture<'_, StoreResult<()>> {
        let member = send_member(thread, client_id);
        let index = sent_index(&self.prefix, thread);
        async move { self.forget("forget_send", member, SendRecord::PENDING, SendRecord::ALL, Some(index)).await }
            .boxed()
    }

    fn sent_ids(&self, thread: &str) -> BoxFuture<'_, StoreResult<Vec<String>>> {
        let index = sent_index(&self.prefix, thread);
        async move {
            let mut conn = self.conn.clone();
            self.call("sent_ids", redis::cmd("ZRANGE").arg(index).arg(0).arg(-1).query_async(&mut conn)).await
        }
        .boxed()
    }

    fn link_booking(&self, property: &str, reservation_id: &str, thread: &str) -> BoxFuture<'_, StoreResult<()>> {
        let key = booking_key(&self.prefix, property, reservation_id);
        let thread = thread.to_owned();
        async move {
            let mut conn = self.conn.clone();
            let mut set = redis::cmd("SET");
            set.arg(key).arg(thread).arg("EX").arg(BOOKING_TTL_SECS);
            self.call("link_booking", set.query_async::<()>(&mut conn)).await
        }
        .boxed()
    }

    fn booking_thread(&self, property: &str, reservation_id: &str) -> BoxFuture<'_, StoreResult<Option<String>>> {
        let key = booking_key(&self.prefix, property, reservation_id);
        async move {
            let mut conn = self.conn.clone();
            self.call("booking_thread", redis::cmd("GET").arg(key).query_async(&mut conn)).await
        }
        .boxed()
    }

    fn pending_sends(&self) -> BoxFuture<'_, StoreResult<Vec<SendRecord>>> {
        async move { self.pending("pending_sends", SendRecord::PENDING).await }.boxed()
    }

    fn begin_start(&self, record: StartRecord, now_ms: i64) -> BoxFuture<'_, StoreResult<Claim<StartRecord>>> {
        async move {
            let member = start_member(&record.property, &record.key);
            self.claim("begin_start", member, &[], record, now_ms).await
        }
        .boxed()
    }

    fn renew_start(&self, property: &str, key: &str, owner: Owner) -> BoxFuture<'_, StoreResult<bool>> {
        let member = start_member(property, key);
        async move { self.renew("renew_start", member, StartRecord::DONE, owner).await }.boxed()
    }

    fn start_record(&self, property: &str, key: &str) -> BoxFuture<'_, StoreResult<Option<StartRecord>>> {
        let member = start_member(property, key);
        async move { self.record("start_record", member).await }.boxed()
    }

    fn finish_start(&self, property: &str, key: &str, thread: &str) -> BoxFuture<'_, StoreResult<()>> {
        let member = start_member(property, key);
        let thread = thread.to_owned();
        async move {
            let mut inv = FINISH_START.prepare_invoke();
            inv.key(self.key(&member)).key(self.key(StartRecord::PENDING));
            inv.arg(&member).arg(thread).arg(TTL_SECS);
            let mut conn = self.conn.clone();
            self.call::<i64>("finish_start", inv.invoke_async(&mut conn)).await.map(drop)
        }
        .boxed()
    }

    fn forget_start(&self, property: &str, key: &str) -> BoxFuture<'_, StoreResult<()>> {
        let member = start_member(property, key);
        async move { self.forget("forget_start", member, StartRecord::PENDING, StartRecord::ALL, None).await }.boxed()
    }

    fn pending_starts(&self) -> BoxFuture<'_, StoreResult<Vec<StartRecord>>> {
        async move { self.pending("pending_starts", StartRecord::PENDING).await }.boxed()
    }

    fn purge(&self, before: i64) -> BoxFuture<'_, StoreResult<usize>> {
        async move {
            let sends = self.purge_kind(SendRecord::ALL, SendRecord::PENDING, true, before).await?;
            let starts = self.purge_kind(StartRecord::ALL, StartRecord::PENDING, false, before).await?;
            Ok(sends + starts)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use lobby_test_redis::RedisServer;

    use super::*;
    use crate::store::{SharedStore, conformance};

    /// The first success of `call` within 5 s (reconnecting after a restart).
    macro_rules! eventually {
        ($call:expr) => {{
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match $call.await {
                    Ok(v) => break v,
                    Err(e) if Instant::now() < deadline => {
                        eprintln!("not yet: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("still failing after 5 s: {e}"),
                }
            }
        }};
    }

    async fn store(redis: &RedisServer, prefix: &str) -> Arc<RedisStore> {
        Arc::new(RedisStore::connect(&redis.url(), prefix).await.expect("connect"))
    }

    #[tokio::test]
    async fn sends_are_recorded_once() {
        let redis = RedisServer::start();
        conformance::sends_are_recorded_once(store(&redis, DEFAULT_PREFIX).await).await;
    }

    #[tokio::test]
    async fn starts_are_recorded_once() {
        let redis = RedisServer::start();
        conformance::starts_are_recorded_once(store(&redis, DEFAULT_PREFIX).await).await;
    }

    #[tokio::test]
    async fn old_records_are_purged() {
        let redis = RedisServer::start();
        conformance::old_records_are_purged(store(&redis, DEFAULT_PREFIX).await).await;
    }

    #[tokio::test]
    async fn booking_links_are_kept() {
        let redis = RedisServer::start();
        conformance::booking_links_are_kept(store(&redis, DEFAULT_PREFIX).await).await;
    }

    #[tokio::test]
    async fn sends_are_claimed_between_instances() {
        let redis = RedisServer::start();
        conformance::sends_are_claimed_between_instances(store(&redis, DEFAULT_PREFIX).await).await;
    }

    #[tokio::test]
    async fn starts_are_claimed_between_instances() {
        let redis = RedisServer::start();
        conformance::starts_are_claimed_between_instances(store(&redis, DEFAULT_PREFIX).await).await;
    }

    /// A send queued by A for the token's sender B: B takes it once, while A's lease is alive and
    /// it is marked queued; never once A's lease lapsed, never after a takeover cleared the mark
    /// (a job queued before it), never when done.
    #[tokio::test]
    async fn a_queued_send_is_taken_once_from_its_live_owner() {
        let redis = RedisServer::start();
        let store = store(&redis, DEFAULT_PREFIX).await;
        const NOW: i64 = 1_764_500_000_000;
        let (a, b) = (conformance::owner("a", NOW + 30_000), conformance::owner("b", NOW + 60_000));
        let r = SendRecord { owner: Some(a.clone()), ..pending("c", 100) };
        store.begin_send(r.clone(), NOW).await.unwrap();
        assert_eq!(store.take_queued_send("t", "c", "a", &b, NOW).await.unwrap(), None, "not queued yet");
        assert!(!store.queue_send("t", "c", &b, None).await.unwrap(), "only its owner queues it");
        assert!(store.queue_send("t", "c", &a, Some(90)).await.unwrap());
        assert_eq!(store.take_queued_send("t", "c", "x", &b, NOW).await.unwrap(), None, "not x's to give");
        let taken = store.take_queued_send("t", "c", "a", &b, NOW).await.unwrap().expect("taken");
        assert_eq!(taken.recheck_since, Some(90));
        assert_eq!((taken.record.text.as_str(), taken.record.owner.as_ref()), (r.text.as_str(), Some(&b)));
        assert_eq!(store.send_record("t", "c").await.unwrap().unwrap().owner, Some(b.clone()));
        assert_eq!(store.take_queued_send("t", "c", "a", &b, NOW).await.unwrap(), None, "a second copy: nothing");
        assert!(!store.renew_send("t", "c", a.clone()).await.unwrap(), "A no longer owns it");

        // Queued, then A's lease lapsed: not taken (a retry may have taken it over).
        store.begin_send(SendRecord { owner: Some(a.clone()), ..pending("late", 100) }, NOW).await.unwrap();
        assert!(store.queue_send("t", "late", &a, None).await.unwrap());
        assert_eq!(store.take_queued_send("t", "late", "a", &b, NOW + 30_001).await.unwrap(), None);
        // Taken over by A again (claimed anew): the old job can no longer be taken…
        let again = SendRecord { owner: Some(conformance::owner("a", NOW + 90_000)), ..pending("late", 100) };
        assert!(matches!(store.begin_send(again, NOW + 40_000).await.unwrap(), Claim::TakenOver(_)));
        assert_eq!(store.take_queued_send("t", "late", "a", &b, NOW + 40_000).await.unwrap(), None);
        // …until A queues it again, now to be read back first.
        assert!(store.queue_send("t", "late", &conformance::owner("a", NOW + 90_000), Some(100)).await.unwrap());
        let taken = store.take_queued_send("t", "late", "a", &b, NOW + 40_000).await.unwrap().expect("taken");
        assert_eq!(taken.recheck_since, Some(100));
        // Done: nothing to queue or take.
        store.finish_send("t", "late", Sent { id: "m".into(), at: "x".into() }).await.unwrap();
        assert!(!store.queue_send("t", "late", &b, None).await.unwrap());
        assert_eq!(store.take_queued_send("t", "late", "b", &b, NOW).await.unwrap(), None);
    }

    /// Two store objects, two connections, one Redis: the case of two instances.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_have_one_winner() {
        let redis = RedisServer::start();
        let (one, two) = (store(&redis, DEFAULT_PREFIX).await, store(&redis, DEFAULT_PREFIX).await);
        conformance::concurrent_claims_have_one_winner(one, two).await;
    }

    fn pending(client_id: &str, started: i64) -> SendRecord {
        SendRecord {
            property: "grand".into(),
            thread: "t".into(),
            client_id: client_id.into(),
            text: format!("text of {client_id}: ünïcode / \"quotes\" 🛎"),
            started,
            sent: None,
            owner: Some(conformance::owner("a", 1_764_500_030_000)),
        }
    }

    /// Stores with other prefixes on the same Redis see nothing of each other, purge included.
    #[tokio::test]
    async fn prefixes_separate_stores() {
        let redis = RedisServer::start();
        let (a, b) = (store(&redis, "a:").await, store(&redis, "b:").await);
        assert_eq!(a.begin_send(pending("c", 100), 0).await.unwrap(), Claim::New);
        assert_eq!(b.begin_send(pending("c", 100), 0).await.unwrap(), Claim::New, "the same key, another store");
        a.finish_send("t", "c", Sent { id: "m".into(), at: "x".into() }).await.unwrap();
        assert_eq!(b.sent_ids("t").await.unwrap(), Vec::<String>::new());
        assert_eq!(b.pending_sends().await.unwrap().len(), 1);
        assert_eq!(a.purge(500).await.unwrap(), 1);
        assert_eq!(b.pending_sends().await.unwrap(), vec![pending("c", 100)]);
    }

    /// Purge works in batches: more records than one script removes.
    #[tokio::test]
    async fn purge_removes_more_than_one_batch() {
        let redis = RedisServer::start();
        let s = store(&redis, DEFAULT_PREFIX).await;
        let n = PURGE_BATCH * 2 + 7;
        // Concurrent, so that Redis fsyncs them in groups.
        let claims = (0..n).map(|i| s.begin_send(pending(&format!("c{i}"), 100), 0));
        for claim in futures::future::join_all(claims).await {
            assert_eq!(claim.unwrap(), Claim::New);
        }
        assert_eq!(s.purge(101).await.unwrap(), n);
        assert!(s.pending_sends().await.unwrap().is_empty());
        let mut conn = s.conn.clone();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut conn).await.unwrap();
        assert!(keys.is_empty(), "records and indices are gone: {keys:?}");
    }

    /// Records keep a backstop expiry: nothing lives forever if purge never runs.
    #[tokio::test]
    async fn records_expire_as_a_backstop() {
        let redis = RedisServer::start();
        let s = store(&redis, DEFAULT_PREFIX).await;
        s.begin_send(pending("c", 100), 0).await.unwrap();
        let mut conn = s.conn.clone();
        let ttl: i64 = redis::cmd("TTL").arg(s.key(&send_member("t", "c"))).query_async(&mut conn).await.unwrap();
        assert!(ttl > KEEP_FOR.as_secs() && ttl <= TTL_SECS, "{ttl}");
    }

    /// Everything acknowledged is still there after Redis restarts, gracefully or after SIGKILL
    /// (append-only file, fsync always), and the same store object reconnects by itself.
    #[tokio::test]
    async fn records_survive_a_restart_of_redis() {
        let mut redis = RedisServer::start();
        let s = store(&redis, DEFAULT_PREFIX).await;
        assert_eq!(s.begin_send(pending("done", 100), 0).await.unwrap(), Claim::New);
        let sent = Sent { id: "m1".into(), at: "2026-11-30T10:00:00Z".into() };
        s.finish_send("t", "done", sent.clone()).await.unwrap();
        assert_eq!(s.begin_send(pending("pending", 100), 0).await.unwrap(), Claim::New);

        redis.restart();
        let back = eventually!(s.pending_sends());
        assert_eq!(back, vec![pending("pending", 100)]);
        assert_eq!(s.sent_ids("t").await.unwrap(), vec!["m1".to_string()]);

        // Written just before a SIGKILL: acknowledged, so kept.
        assert_eq!(s.begin_send(pending("last", 200), 0).await.unwrap(), Claim::New);
        redis.kill();
        redis.restart();
        let back = eventually!(s.pending_sends());
        assert_eq!(back, vec![pending("pending", 100), pending("last", 200)]);
        let Claim::Done(done) = s.begin_send(pending("done", 300), 0).await.unwrap() else { panic!("done") };
        assert_eq!(done.sent, Some(sent));
        // The claim scripts are loaded again after the restart (EVALSHA, then SCRIPT LOAD).
        assert_eq!(s.begin_send(pending("after", 300), 0).await.unwrap(), Claim::New);
        let fresh = store(&redis, DEFAULT_PREFIX).await;
        assert_eq!(fresh.pending_sends().await.unwrap().len(), 3, "a new connection sees the same");
    }

    /// Redis gone (killed: connections refused) or hanging (stopped with SIGSTOP: connections
    /// accepted by the kernel, no answers): every call fails within 3 s, none hangs; once Redis is
    /// back the same store works again.
    #[tokio::test]
    async fn an_unreachable_redis_fails_calls_fast() {
        let mut redis = RedisServer::start();
        let s: SharedStore = store(&redis, DEFAULT_PREFIX).await;
        assert_eq!(s.begin_send(pending("before", 100), 0).await.unwrap(), Claim::New);

        redis.kill();
        for i in 0..3 {
            let t = Instant::now();
            let r = s.begin_send(pending(&format!("while-down-{i}"), 100), 0).await;
            assert!(r.is_err(), "{r:?}");
            assert!(t.elapsed() < Duration::from_secs(3), "call {i} took {:?}", t.elapsed());
            eprintln!("killed: call {i} failed in {:?}: {}", t.elapsed(), r.unwrap_err());
        }
        let t = Instant::now();
        assert!(RedisStore::connect(&redis.url(), "x:").await.is_err());
        assert!(t.elapsed() < Duration::from_secs(5), "connect took {:?}", t.elapsed());

        redis.restart();
        let back = eventually!(s.pending_sends());
        assert_eq!(back, vec![pending("before", 100)], "nothing written while down");

        redis.freeze();
        for i in 0..2 {
            let t = Instant::now();
            let r = s.pending_sends().await;
            assert!(r.is_err(), "{r:?}");
            assert!(t.elapsed() < Duration::from_secs(3), "call {i} took {:?}", t.elapsed());
            eprintln!("frozen: call {i} failed in {:?}: {}", t.elapsed(), r.unwrap_err());
        }
        redis.thaw();
        assert_eq!(eventually!(s.pending_sends()).len(), 1, "back after the freeze");
    }

    /// On Tokio's paused clock (the proxy's unit tests) with [`Bounds::for_paused_clock`], while a
    /// timer is always pending (the clock jumps to it whenever the runtime idles): calls work, and
    /// a killed or frozen Redis still fails them within 3 s of real time.
    #[tokio::test(start_paused = true)]
    async fn works_on_a_paused_clock() {
        let mut redis = RedisServer::start();
        let url = redis.url();
        let connect = |prefix: &'static str| RedisStore::connect_with(&url, prefix, Bounds::for_paused_clock());
        let (claims, purge) = (connect("claims:").await.unwrap(), connect("purge:").await.unwrap());
        tokio::spawn(async {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        conformance::sends_are_claimed_between_instances(Arc::new(claims.clone())).await;
        conformance::old_records_are_purged(Arc::new(purge)).await;

        redis.kill();
        let t = Instant::now();
        assert!(claims.pending_sends().await.is_err());
        assert!(t.elapsed() < Duration::from_secs(3), "killed: {:?}", t.elapsed());
        redis.restart();
        assert_eq!(eventually!(claims.pending_sends()), vec![], "the claims test left its send done");
        redis.freeze();
        let t = Instant::now();
        assert!(claims.pending_sends().await.is_err());
        assert!(t.elapsed() < Duration::from_secs(3), "frozen: {:?}", t.elapsed());
        redis.thaw();
    }

    #[test]
    fn members_cannot_collide() {
        assert_ne!(send_member("t", "1:c"), send_member("t:1", "c"));
        assert_ne!(start_member("p", "1:k"), start_member("p:1", "k"));
        assert_eq!(send_member("thread", "c"), "send:6:thread:c");
    }
}
