//! The upstream for one Mews `AccessToken`: every call Lobby makes for the hotels on that token
//! goes through here (a portfolio token shared by several properties has one upstream), so the
//! token's budget is respected whatever the guest load.
//!
//! * **Budget** — each call first takes a slot from the [`Limiter`] (80 % of 200 per 30 s by
//!   default), in the write lane (guest messages, new threads: served first, whole budget) or the
//!   read lane (polls, loads, history: at most a share). Reads made for a guest's HTTP request
//!   carry a deadline and fail with [`MewsError::Busy`] instead of waiting for ever. A 429 pauses
//!   all calls for `Retry-After` (seconds or date, capped), or backs off exponentially.
//! * **Batching** — guest messages are queued and sent by one task per token with
//!   `messages/add`, up to 1000 per request, across guests, threads and properties. While one
//!   request is in flight or the budget is exhausted, new messages pile up and leave together in
//!   the next request, so guest messages per upstream request grow with load. One batch at a time
//!   keeps the order of each thread's messages.
//! * **Exactly once** — a write that fails with a 429 or a 4xx was not committed and is simply
//!   retried or reported. A write that fails *ambiguously* (timeout, 408, 5xx, connection reset,
//!   an answer lost after Mews committed) may or may not be in Mews. Before sending it again, the
//!   upstream reads the affected threads back (`messages/getAll`, from a little before the first
//!   attempt) and adopts an `Application` message with the same thread and text that is not
//!   already some other send's (the store's sent ids and the ids handed out in the last minutes);
//!   only what is truly missing is sent again. A message queued with `recheck_since` (a send a
//!   crashed process left pending) is read back the same way *before* its first attempt.
//!   Thread creation is matched on the conversation reference in its `Subject` — a random value
//!   only this request knows — never on the guest's name.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use mews_wire::{Message, MessageParameters, MessageThread, SenderKind, TimeInterval};
use tokio::{
    sync::{Notify, mpsc, oneshot},
    time::Instant,
};

use super::{
    client::{MewsClient, MewsError, oldest_first},
    limiter::{Lane, Limiter, Permit},
};
use crate::{
    metrics::Metrics,
    store::{Owner, SharedStore},
    supervise::Health,
};

/// How many times one logical write is attempted before the caller is told it failed.
const MAX_ATTEMPTS: u32 = 8;
/// Look-back before the first attempt when reading writes back (Mews times are whole seconds).
const RECONCILE_SLACK: SignedDuration = SignedDuration::from_secs(3);
/// How long handed-out message ids are remembered in memory (the store keeps them for longer).
const RECENT_FOR: Duration = Duration::from_secs(600);

struct Pending {
    key: String,
    thread_id: String,
    text: String,
    /// Cluster mode: the send's claim in the store, checked and renewed right before each
    /// `messages/add` attempt, so a send another instance took over is never sent here.
    claim: Option<SendClaim>,
    /// Set when an earlier attempt may have reached Mews: read back from here before sending.
    recheck_since: Option<Timestamp>,
    reply: oneshot::Sender<Result<Message, MewsError>>,
}

/// A send's claim as the fence renews it: the widget's client id, this instance, the lease.
#[derive(Clone, Debug)]
pub struct SendClaim {
    pub client_id: String,
    pub instance: String,
    pub lease: Duration,
}

/// Message ids handed to a caller in the last [`RECENT_FOR`]: bounded by time, not by traffic
/// history.
#[derive(Default)]
struct RecentIds {
    order: VecDeque<(Instant, String)>,
    set: HashSet<String>,
}

impl RecentIds {
    fn insert(&mut self, id: &str) -> bool {
        let now = Instant::now();
        while let Some((at, old)) = self.order.front() {
            if now.duration_since(*at) < RECENT_FOR {
                break;
            }
            self.set.remove(old);
            self.order.pop_front();
        }
        let fresh = self.set.insert(id.to_owned());
        if fresh {
            self.order.push_back((now, id.to_owned()));
        }
        fresh
    }

    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }
}

/// One Mews `AccessToken`'s connection.
pub struct Upstream {
    client: MewsClient,
    limiter: Limiter,
    queue: mpsc::UnboundedSender<Pending>,
    metrics: Arc<Metrics>,
    store: SharedStore,
    recent: Mutex<RecentIds>,
    next_key: AtomicU64,
    /// Wakes this token's poller (a webhook arrived, a stream needs catching up).
    pub wake: Notify,
}

impl Upstream {
    /// Starts the batching task (supervised: a panic in it fails `/readyz`); it ends when the
    /// `Upstream` is dropped.
    pub fn start(
        client: MewsClient,
        limiter: Limiter,
        metrics: Arc<Metrics>,
        store: SharedStore,
        health: &Health,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let up = Arc::new(Self {
            client,
            limiter,
            queue: tx,
            metrics,
            store,
            recent: Mutex::new(RecentIds::default()),
            next_key: AtomicU64::new(1),
            wake: Notify::new(),
        });
        crate::supervise::spawn_supervised("message batcher", health, run_batcher(Arc::downgrade(&up), rx));
        up
    }

    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, RecentIds> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn claim(&self, id: &str) -> bool {
        self.recent().insert(id)
    }

    /// Runs one read in the read lane, retrying 429s, timeouts and 5xx with backoff. With a
    /// `deadline`, neither the wait for budget nor the retries go past it: [`MewsError::Busy`].
    pub async fn read<T, F, Fut>(&self, op: &'static str, deadline: Option<Instant>, f: F) -> Result<T, MewsError>
    where
        F: Fn(MewsClient) -> Fut,
        Fut: Future<Output = Result<T, MewsError>>,
    {
        let mut backoff = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let permit = match deadline {
                None => self.limiter.acquire(Lane::Read).await,
                Some(d) => match self.limiter.acquire_by(Lane::Read, d).await {
                    Some(p) => p,
                    None => {
                        self.metrics.upstream_busy.fetch_add(1, Ordering::Relaxed);
                        return Err(MewsError::Busy { retry_after: self.limiter.read_eta() });
                    }
                },
            };
            self.metrics.upstream_call(op);
            let result = f(self.client.clone()).await;
            drop(permit);
            match result {
                Ok(v) => {
                    self.limiter.relieve();
                    return Ok(v);
                }
                Err(e) => {
                    self.note_error(&e);
                    let out_of_time = deadline.is_some_and(|d| Instant::now() + backoff >= d);
                    if !e.is_transient() || attempt >= 4 || out_of_time {
                        return Err(e);
                    }
                    if !matches!(e, MewsError::RateLimited { .. }) {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                }
            }
        }
    }

    fn note_error(&self, e: &MewsError) {
        if let MewsError::RateLimited { retry_after } = e {
            self.metrics.upstream_429.fetch_add(1, Ordering::Relaxed);
            self.limiter.penalize(*retry_after);
        } else {
            self.metrics.upstream_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Creates one thread, exactly once: `subject` must contain `reference`, by which a thread
    /// whose answer was lost is found again (see the module docs). `started` is when the first
    /// attempt for this conversation began (earlier than now when a crashed process began it).
    pub async fn add_thread(
        &self,
        original_sender: &str,
        subject: &str,
        reference: &str,
        started: Timestamp,
    ) -> Result<MessageThread, MewsError> {
        let mut backoff = Duration::from_millis(250);
        let mut last = None;
        for _ in 0..MAX_ATTEMPTS {
            let permit = self.limiter.acquire(Lane::Write).await;
            self.metrics.upstream_call("messageThreads/add");
            let result = self.client.add_thread(original_sender, subject).await;
            drop(permit);
            match result {
                Ok(t) => {
                    self.limiter.relieve();
                    return Ok(t);
                }
                Err(e) => {
                    self.note_error(&e);
                    if !e.is_transient() {
                        return Err(e);
                    }
                    if e.maybe_committed() {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        if let Ok(Some(t)) = self.find_thread(reference, started).await {
                            tracing::info!("found a thread Mews created although its answer was lost");
                            return Ok(t);
                        }
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(MewsError::Timeout))
    }

    /// The thread created since `started` whose subject carries `reference`, if any.
    pub async fn find_thread(&self, reference: &str, started: Timestamp) -> Result<Option<MessageThread>, MewsError> {
        let window = TimeInterval {
            start_utc: started - RECONCILE_SLACK,
            end_utc: Timestamp::now() + SignedDuration::from_secs(5),
        };
        let found =
            self.read("messageThreads/getAll", None, |c| async move { c.get_threads_created(window).await }).await?;
        Ok(found.into_iter().find(|t| t.subject.ends_with(reference)))
    }

    /// Every message of `threads` (at most 1000) created in `window`, oldest first: one
    /// `messages/getAll` per 1000 messages, in the read lane.
    pub async fn messages_in(&self, threads: &[String], window: TimeInterval) -> Result<Vec<Message>, MewsError> {
        let mut cursor: Option<String> = None;
        let mut found = Vec::new(); // newest first, as Mews pages
        loop {
            let c = cursor.clone();
            let page = self
                .read("messages/getAll", None, |cl| {
                    let c = c.clone();
                    async move { cl.get_messages(threads, Some(window), 1000, c).await }
                })
                .await?;
            let full = page.messages.len() >= 1000 && page.cursor.is_some();
            cursor = page.cursor;
            found.extend(page.messages);
            if !full {
                return Ok(oldest_first(found));
            }
        }
    }

    /// Queues one guest message for `messages/add` and waits for Mews to have it, exactly once.
    /// `recheck_since`: an earlier attempt (from a crashed process) began then; the thread is read
    /// back before this one is sent.
    /// `claim` (cluster mode): the send's client id and this instance's owner, fenced before each
    /// attempt (see [`Pending`]).
    pub async fn add_message(
        &self,
        thread_id: &str,
        text: &str,
        recheck_since: Option<Timestamp>,
        claim: Option<SendClaim>,
    ) -> Result<Message, MewsError> {
        let (tx, rx) = oneshot::channel();
        let key = format!("m{}", self.next_key.fetch_add(1, Ordering::Relaxed));
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        let (thread_id, text) = (thread_id.to_owned(), text.to_owned());
        self.queue
            .send(Pending { key, thread_id, text, claim, recheck_since, reply: tx })
            .map_err(|_| MewsError::Transport("upstream stopped".into()))?;
        rx.await.unwrap_or_else(|_| Err(MewsError::Transport("upstream stopped".into())))
    }

    /// Sends a batch; `permit` is the budget slot already taken for the first attempt.
    async fn send_batch(&self, mut pending: Vec<Pending>, permit: Permit<'_>) {
        let mut first = Some(permit);
        let mut backoff = Duration::from_millis(250);
        let mut failures = 0;
        let mut solo = false;
        while !pending.is_empty() {
            // Some of these may already be in Mews: read back before anything is sent again.
            if let Some(since) = pending.iter().filter_map(|p| p.recheck_since).min() {
                drop(first.take());
                if self.reconcile(&mut pending, since).await {
                    continue;
                }
                failures += 1;
                if failures >= MAX_ATTEMPTS {
                    let e = MewsError::Transport("could not read the threads back".into());
                    for p in pending.drain(..) {
                        self.finish(p, Err(e.clone()));
                    }
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
            let permit = match first.take() {
                Some(p) => p,
                None => self.limiter.acquire(Lane::Write).await,
            };
            self.fence(&mut pending).await;
            if pending.is_empty() {
                return;
            }
            let take = if solo { 1 } else { pending.len() };
            let params: Vec<MessageParameters> = pending[..take]
                .iter()
                .map(|p| MessageParameters {
                    message_thread_id: p.thread_id.clone(),
                    text: p.text.clone(),
                    identifier: Some(p.key.clone()),
                })
                .collect();
            let attempt_at = Timestamp::now();
            self.metrics.upstream_call("messages/add");
            let result = self.client.add_messages(params).await;
            drop(permit);
            match result {
                Ok(added) => {
                    self.limiter.relieve();
                    failures = 0;
                    let mut by_key: HashMap<String, Message> =
                        added.into_iter().filter_map(|a| a.identifier.map(|k| (k, a.message))).collect();
                    for p in pending.drain(..take) {
                        let answer = by_key
                            .remove(&p.key)
                            .ok_or_else(|| MewsError::Decode("message missing from the answer".into()));
                        if let Ok(m) = &answer {
                            self.claim(&m.id);
                            self.metrics.guest_messages.fetch_add(1, Ordering::Relaxed);
                        }
                        self.finish(p, answer);
                    }
                }
                Err(e) => {
                    self.note_error(&e);
                    failures += 1;
                    match &e {
                        // Not committed; the limiter already waits for Retry-After.
                        MewsError::RateLimited { .. } => {}
                        // One bad item rejects the whole batch: send one by one to isolate it.
                        MewsError::Rejected { .. } if take > 1 => solo = true,
                        MewsError::Rejected { .. } => {
                            let p = pending.remove(0);
                            self.finish(p, Err(e.clone()));
                            failures = 0;
                        }
                        // Ambiguous: these must be read back before they are sent again.
                        _ => {
                            for p in &mut pending[..take] {
                                p.recheck_since.get_or_insert(attempt_at);
                            }
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                        }
                    }
                    if failures >= MAX_ATTEMPTS {
                        for p in pending.drain(..) {
                            self.finish(p, Err(e.clone()));
                        }
                    }
                }
            }
        }
    }

    /// Reads back the threads of the pending messages marked `recheck_since` and completes those
    /// Mews already has; the others are cleared to be sent. `false` when Mews or the store could
    /// not be read (nothing changed; try again later).
    async fn reconcile(&self, pending: &mut Vec<Pending>, started: Timestamp) -> bool {
        let mut threads: Vec<String> =
            pending.iter().filter(|p| p.recheck_since.is_some()).map(|p| p.thread_id.clone()).collect();
        threads.sort();
        threads.dedup();
        // Ids other sends already own (durably recorded, or handed out in the last minutes).
        let mut owned: HashSet<String> = HashSet::new();
        for t in &threads {
            match self.store.sent_ids(t).await {
                Ok(ids) => owned.extend(ids),
                Err(e) => {
                    tracing::warn!(error = %e, "store unreadable: not adopting, will read back again");
                    return false;
                }
            }
        }
        let window = TimeInterval {
            start_utc: started - RECONCILE_SLACK,
            end_utc: Timestamp::now() + SignedDuration::from_secs(5),
        };
        let mut found: Vec<Message> = Vec::new();
        for chunk in threads.chunks(mews_wire::limits::MAX_ARRAY) {
            match self.messages_in(chunk, window).await {
                Ok(page) => found.extend(page),
                Err(_) => return false, // try again on the next attempt
            }
        }
        // Oldest first, so the earliest pending message adopts the earliest matching one.
        found.sort_by_key(|m| m.created_utc);
        let mut remaining = Vec::with_capacity(pending.len());
        for mut p in pending.drain(..) {
            if p.recheck_since.is_none() {
                remaining.push(p); // never sent: nothing to find
                continue;
            }
            let hit = found.iter().position(|m| {
                m.sender.discriminator == SenderKind::Application
                    && m.message_thread_id == p.thread_id
                    && m.text == p.text
                    && !owned.contains(&m.id)
                    && !self.recent().contains(&m.id)
            });
            match hit {
                Some(i) => {
                    let m = found.remove(i);
                    self.claim(&m.id);
                    tracing::info!("adopted a message Mews committed although its answer was lost");
                    self.metrics.guest_messages.fetch_add(1, Ordering::Relaxed);
                    self.finish(p, Ok(m));
                }
                None => {
                    p.recheck_since = None;
                    remaining.push(p)
                }
            }
        }
        *pending = remaining;
        true
    }

    /// Cluster mode: renews the claim of every claimed message right before it is sent; one that
    /// another instance took over (this one stalled past its lease) is not sent here — its new
    /// owner reads Mews back and sends it — and its caller is told to retry. A store that cannot
    /// be reached keeps the message waiting (it cannot be known to be ours).
    async fn fence(&self, pending: &mut Vec<Pending>) {
        if pending.iter().all(|p| p.claim.is_none()) {
            return;
        }
        let checks = pending.iter().map(|p| async {
            let Some(c) = &p.claim else { return Ok(true) };
            let owner =
                Owner { instance: c.instance.clone(), until_ms: crate::cluster::now_ms() + c.lease.as_millis() as i64 };
            self.store.renew_send(&p.thread_id, &c.client_id, owner).await
        });
        let answers = futures::future::join_all(checks).await;
        let mut kept = Vec::with_capacity(pending.len());
        for (p, ok) in pending.drain(..).zip(answers) {
            match ok {
                Ok(true) => kept.push(p),
                Ok(false) => {
                    tracing::warn!("a send was taken over by another instance; not sending it here");
                    self.finish(p, Err(MewsError::Busy { retry_after: Duration::from_secs(1) }));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot confirm a send's claim; it waits");
                    self.finish(p, Err(MewsError::Busy { retry_after: Duration::from_secs(2) }));
                }
            }
        }
        *pending = kept;
    }

    fn finish(&self, p: Pending, answer: Result<Message, MewsError>) {
        self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        let _ = p.reply.send(answer);
    }
}

/// Sends queued messages in batches. Batches are paced by what is left of the budget: with `f`
/// free slots in the window, the next batch leaves at least `window / (f + 1)` after the last, so
/// a burst never spends the whole window in seconds and then makes every guest wait for it to
/// slide; while batches are held back, more messages join them (cost stays flat in traffic).
async fn run_batcher(up: std::sync::Weak<Upstream>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut last_batch: Option<Instant> = None;
    while let Some(first) = rx.recv().await {
        let Some(up) = up.upgrade() else { return };
        if let Some(last) = last_batch {
            let spacing = up.limiter.window() / (up.limiter.free() as u32 + 1);
            tokio::time::sleep_until(last + spacing).await;
        }
        // Wait for budget first: everything that arrives meanwhile joins this batch.
        let permit = up.limiter.acquire(Lane::Write).await;
        last_batch = Some(Instant::now());
        let mut batch = vec![first];
        while batch.len() < mews_wire::limits::MAX_ARRAY {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        up.metrics.batches.fetch_add(1, Ordering::Relaxed);
        up.send_batch(batch, permit).await;
    }
}

/// The upstream against the simulator in process, under paused time: each test spends up to a few
/// virtual minutes (budget windows, Retry-After, backoff) in milliseconds of wall time.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use tokio::time::Instant;

    use super::*;
    use crate::mews::{in_process::InProcessMews, limiter::MAX_RETRY_AFTER};

    const WINDOW: Duration = Duration::from_secs(30);

    fn upstream(mews: &InProcessMews, capacity: usize) -> Arc<Upstream> {
        let store = Arc::new(crate::store::embedded::EmbeddedStore::in_memory().unwrap());
        let health = Health::default();
        Upstream::start(mews.client(), Limiter::new(capacity, WINDOW), Arc::new(Metrics::default()), store, &health)
    }

    async fn get_thread(up: &Upstream, id: &str) -> Result<Vec<MessageThread>, MewsError> {
        let ids = vec![id.to_owned()];
        up.read("messageThreads/getAll", None, move |c| {
            let ids = ids.clone();
            async move { c.get_threads(&ids).await }
        })
        .await
    }

    async fn new_thread(up: &Upstream) -> Result<MessageThread, MewsError> {
        let reference = crate::conversation::start::new_reference();
        up.add_thread("Ann", &format!("Chat · #{reference}"), &reference, Timestamp::now()).await
    }

    fn send(up: &Arc<Upstream>, thread: &str, text: &str) -> tokio::task::JoinHandle<Result<Message, MewsError>> {
        let (up, thread, text) = (up.clone(), thread.to_owned(), text.to_owned());
        tokio::spawn(async move { up.add_message(&thread, &text, None, None).await })
    }

    #[tokio::test(start_paused = true)]
    async fn messages_queued_while_the_budget_is_spent_leave_together_in_order_once_it_returns() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 2);
        let thread = new_thread(&up).await.unwrap().id;
        new_thread(&up).await.unwrap(); // the budget (2 per window) is spent
        let t0 = Instant::now();
        let sends: Vec<_> = (0..5).map(|i| send(&up, &thread, &format!("m{i}"))).collect();
        for s in sends {
            s.await.unwrap().unwrap();
        }
        let waited = t0.elapsed();
        assert!(waited >= WINDOW - Duration::from_millis(10) && waited < WINDOW + Duration::from_secs(1), "{waited:?}");
        assert_eq!(mews.texts(&thread).await, ["m0", "m1", "m2", "m3", "m4"]);
        assert_eq!(mews.requests("messages/add").await, (1, 0), "one messages/add for all five");
    }

    #[tokio::test(start_paused = true)]
    async fn reads_keep_to_their_share_of_the_budget_over_a_burst_with_no_429() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        let thread = new_thread(&up).await.unwrap().id;
        let t0 = Instant::now();
        let reads: Vec<_> = (0..399)
            .map(|_| {
                let (up, thread) = (up.clone(), thread.clone());
                tokio::spawn(async move { get_thread(&up, &thread).await })
            })
            .collect();
        for r in reads {
            r.await.unwrap().unwrap();
        }
        // Reads may fill 120 of the 160 per sliding 30 s (the rest is kept for guests' messages):
        // 119 beside the thread's creation, then 120, 120 and the last 40 in the fourth window.
        let took = t0.elapsed();
        assert!(
            took >= 3 * WINDOW - Duration::from_millis(10) && took < 3 * WINDOW + Duration::from_secs(1),
            "{took:?}"
        );
        // Meanwhile a guest's message finds a free slot at once.
        let t1 = Instant::now();
        up.add_message(&thread, "not behind the reads", None, None).await.unwrap();
        assert!(t1.elapsed() < Duration::from_secs(1), "{:?}", t1.elapsed());
        assert_eq!(mews.requests("messageThreads/getAll").await, (399, 0), "Mews never answered 429");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_every_call_of_the_token_for_its_retry_after() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        let thread = new_thread(&up).await.unwrap().id;
        mews.fault(
            json!({"operation": "messages/add", "kind": {"type": "too_many_requests", "retry_after": 7}, "next": 1}),
        )
        .await;
        let t0 = Instant::now();
        let sent = send(&up, &thread, "after the pause");
        tokio::time::sleep(Duration::from_millis(100)).await;
        get_thread(&up, &thread).await.unwrap();
        let read_waited = t0.elapsed();
        sent.await.unwrap().unwrap();
        assert!(read_waited >= Duration::from_secs(7) && read_waited < Duration::from_secs(8), "{read_waited:?}");
        assert_eq!(mews.texts(&thread).await, ["after the pause"]);
        assert_eq!(mews.requests("messages/add").await, (2, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_absurd_retry_after_pauses_the_token_at_most_five_minutes_and_breaks_nothing() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        let thread = new_thread(&up).await.unwrap().id;
        let forever = json!({"type": "too_many_requests", "retry_after": u64::MAX});
        mews.fault(json!({"operation": "messages/add", "kind": forever, "next": 1})).await;
        let t0 = Instant::now();
        up.add_message(&thread, "still delivered", None, None).await.unwrap();
        let waited = t0.elapsed();
        assert!(waited >= MAX_RETRY_AFTER && waited < MAX_RETRY_AFTER + Duration::from_secs(1), "{waited:?}");
        // The batching task survived: the next message goes straight through.
        let t1 = Instant::now();
        up.add_message(&thread, "and the next one", None, None).await.unwrap();
        assert!(t1.elapsed() < Duration::from_secs(1));
        assert_eq!(mews.texts(&thread).await, ["still delivered", "and the next one"]);
    }

    #[tokio::test(start_paused = true)]
    async fn every_ambiguous_failure_is_read_back_and_nothing_is_lost_or_doubled() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        let thread = new_thread(&up).await.unwrap().id;
        let kinds = [
            json!({"type": "request_timeout"}),
            json!({"type": "server_error", "status": 500}),
            json!({"type": "server_error", "status": 503}),
            json!({"type": "reset"}),
            json!({"type": "commit_then_drop"}),
            json!({"type": "too_many_requests"}),
        ];
        let mut want = Vec::new();
        for (i, kind) in kinds.iter().enumerate() {
            mews.fault(json!({"operation": "messages/add", "kind": kind, "next": 1})).await;
            let text = format!("message {i} under {}", kind["type"]);
            let m = up.add_message(&thread, &text, None, None).await.unwrap();
            assert_eq!(m.text, text);
            want.push(text);
        }
        assert_eq!(mews.texts(&thread).await, want, "each message exactly once, in order");
        let (adds, _) = mews.requests("messages/add").await;
        assert_eq!(adds, 2 * kinds.len() - 1, "commit_then_drop was adopted, not sent again");
        assert!(mews.requests("messages/getAll").await.0 >= 5, "ambiguous failures were read back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_thread_whose_answer_was_lost_is_adopted_not_created_twice() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        mews.fault(json!({"operation": "messageThreads/add", "kind": {"type": "commit_then_drop"}, "next": 1})).await;
        let thread = new_thread(&up).await.unwrap();
        assert_eq!(mews.requests("messageThreads/add").await, (1, 0));
        assert!(get_thread(&up, &thread.id).await.unwrap().len() == 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejected_message_fails_alone_and_its_batch_mates_are_delivered() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 2);
        let thread = new_thread(&up).await.unwrap().id;
        get_thread(&up, &thread).await.unwrap(); // spent: the three below travel in one batch
        let good_1 = send(&up, &thread, "first");
        let bad = send(&up, "00000000-0000-0000-0000-000000000000", "to nowhere");
        let good_2 = send(&up, &thread, "second");
        assert!(good_1.await.unwrap().is_ok());
        assert!(matches!(bad.await.unwrap(), Err(MewsError::Rejected { .. })));
        assert!(good_2.await.unwrap().is_ok());
        assert_eq!(mews.texts(&thread).await, ["first", "second"]);
        assert_eq!(mews.requests("messages/add").await.1, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_never_binds_a_guest_to_a_same_named_thread_someone_else_created() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        // Another guest (or instance) creates "Ann" / "Chat" at the same moment…
        let other = mews.client().add_thread("Ann", "Chat").await.unwrap();
        // …while our creation of "Ann" / "Chat" is reset before Mews stores it.
        mews.fault(json!({"operation": "messageThreads/add", "kind": {"type": "reset"}, "next": 1})).await;
        let reference = crate::conversation::start::new_reference();
        let ours = up.add_thread("Ann", &format!("Chat · #{reference}"), &reference, Timestamp::now()).await.unwrap();
        assert_ne!(ours.id, other.id, "never adopted by name and subject");
        assert!(ours.subject.ends_with(&reference));
        assert_eq!(mews.requests("messageThreads/add").await.0, 3, "other's, the reset one, ours");
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_left_pending_is_read_back_first_adopted_if_there_and_sent_once_if_not() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        let thread = new_thread(&up).await.unwrap().id;
        let before_crash = Timestamp::now();
        // A previous process got "already there" into Mews, then died before recording it.
        let client = mews.client();
        let committed = client.add_messages(vec![MessageParameters {
            message_thread_id: thread.clone(),
            text: "already there".into(),
            identifier: None,
        }]);
        let committed = committed.await.unwrap().remove(0).message;
        let adds = mews.requests("messages/add").await.0;
        let resumed = up.add_message(&thread, "already there", Some(before_crash), None).await.unwrap();
        assert_eq!(resumed.id, committed.id, "adopted, not sent again");
        assert_eq!(mews.requests("messages/add").await.0, adds);
        // The same text once more, as another message that never reached Mews: sent, once.
        let again = up.add_message(&thread, "already there", Some(before_crash), None).await.unwrap();
        assert_ne!(again.id, committed.id, "an id already handed out is never adopted twice");
        assert_eq!(mews.texts(&thread).await, ["already there", "already there"]);
    }
}
