//! The upstream scheduler for one Mews `AccessToken`: every call Lobby makes for a hotel goes
//! through here, so the hotel's budget is respected whatever the guest load.
//!
//! * **Budget** — each call first takes a slot from the [`Limiter`] (80 % of 200 per 30 s by
//!   default); a 429 pauses all calls for `Retry-After` (seconds or date), or backs off
//!   exponentially when Mews sent none.
//! * **Batching** — guest messages are queued and sent by one task per token with
//!   `messages/add`, up to 1000 per request, across guests and threads. While one request is in
//!   flight or the budget is exhausted, new messages pile up and leave together in the next
//!   request, so guest messages per upstream request grow with load. One batch at a time keeps
//!   the order of each thread's messages.
//! * **Exactly once** — a write that fails with a 429 or a 4xx was not committed and is simply
//!   retried or reported. A write that fails *ambiguously* (timeout, 408, 5xx, connection reset,
//!   an answer lost after Mews committed) may or may not be in Mews. Before sending such a write
//!   again, the scheduler reads the affected threads back (`messages/getAll`, from a little before
//!   the first attempt) and adopts any `Application` message with the same thread and text that
//!   no earlier send has claimed; only what is truly missing is sent again. Thread creation does
//!   the same with `messageThreads/getAll` on `CreatedUtc`, matching `OriginalSender` and
//!   `Subject`. The widget's own retries are made idempotent one level up (see
//!   `relay::outbox`), keyed by the widget's `client_id`.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use mews_wire::{Message, MessageParameters, MessageThread, SenderKind, TimeInterval};
use tokio::sync::{mpsc, oneshot};

use super::{
    client::{MewsClient, MewsError, oldest_first},
    limiter::{Limiter, Permit},
};
use crate::metrics::Metrics;

/// How many times one logical write is attempted before the caller is told it failed.
const MAX_ATTEMPTS: u32 = 8;
/// Look-back before the first attempt when reading writes back (Mews times are whole seconds).
const RECONCILE_SLACK: SignedDuration = SignedDuration::from_secs(3);

struct Pending {
    key: String,
    thread_id: String,
    text: String,
    reply: oneshot::Sender<Result<Message, MewsError>>,
}

/// One hotel's connection to Mews (one `AccessToken`).
pub struct Upstream {
    client: MewsClient,
    limiter: Limiter,
    queue: mpsc::UnboundedSender<Pending>,
    metrics: Arc<Metrics>,
    /// Message and thread ids already handed to a caller: reconciliation never adopts one twice.
    claimed: Mutex<HashSet<String>>,
    next_key: AtomicU64,
}

impl Upstream {
    /// Starts the batching task; it ends when the `Upstream` is dropped.
    pub fn start(client: MewsClient, limiter: Limiter, metrics: Arc<Metrics>) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let up = Arc::new(Self {
            client,
            limiter,
            queue: tx,
            metrics,
            claimed: Mutex::new(HashSet::new()),
            next_key: AtomicU64::new(1),
        });
        tokio::spawn(run_batcher(Arc::downgrade(&up), rx));
        up
    }

    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    fn claim(&self, id: &str) -> bool {
        self.claimed.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned())
    }

    /// Runs one read with the budget, retrying 429s, timeouts and 5xx with backoff.
    pub async fn read<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T, MewsError>
    where
        F: Fn(MewsClient) -> Fut,
        Fut: Future<Output = Result<T, MewsError>>,
    {
        let mut backoff = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let permit = self.limiter.acquire().await;
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
                    if !e.is_transient() || attempt >= 4 {
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

    /// Creates one thread, exactly once (see the module docs).
    pub async fn add_thread(&self, original_sender: &str, subject: &str) -> Result<MessageThread, MewsError> {
        let started = Timestamp::now();
        let mut backoff = Duration::from_millis(250);
        let mut last = None;
        for _ in 0..MAX_ATTEMPTS {
            let permit = self.limiter.acquire().await;
            self.metrics.upstream_call("messageThreads/add");
            let result = self.client.add_thread(original_sender, subject).await;
            drop(permit);
            match result {
                Ok(t) => {
                    self.limiter.relieve();
                    self.claim(&t.id);
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
                        if let Ok(Some(t)) = self.find_thread(original_sender, subject, started).await {
                            tracing::info!("adopted a thread Mews created although its answer was lost");
                            return Ok(t);
                        }
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(MewsError::Timeout))
    }

    async fn find_thread(
        &self,
        original_sender: &str,
        subject: &str,
        started: Timestamp,
    ) -> Result<Option<MessageThread>, MewsError> {
        let window = TimeInterval {
            start_utc: started - RECONCILE_SLACK,
            end_utc: Timestamp::now() + SignedDuration::from_secs(5),
        };
        let found = self.read("messageThreads/getAll", |c| async move { c.get_threads_created(window).await }).await?;
        Ok(found
            .into_iter()
            .rev() // oldest first: adopt the earliest unclaimed match
            .find(|t| t.original_sender == original_sender && t.subject == subject && self.claim(&t.id)))
    }

    /// Queues one guest message for `messages/add` and waits for Mews to have it, exactly once.
    pub async fn add_message(&self, thread_id: &str, text: &str) -> Result<Message, MewsError> {
        let (tx, rx) = oneshot::channel();
        let key = format!("m{}", self.next_key.fetch_add(1, Ordering::Relaxed));
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        self.queue
            .send(Pending { key, thread_id: thread_id.to_owned(), text: text.to_owned(), reply: tx })
            .map_err(|_| MewsError::Transport("upstream stopped".into()))?;
        rx.await.unwrap_or_else(|_| Err(MewsError::Transport("upstream stopped".into())))
    }

    /// Sends a batch; `permit` is the budget slot already taken for the first attempt.
    async fn send_batch(&self, mut pending: Vec<Pending>, permit: Permit<'_>) {
        let started = Timestamp::now();
        let mut backoff = Duration::from_millis(250);
        let mut failures = 0;
        let mut solo = false;
        let mut first = Some(permit);
        while !pending.is_empty() {
            let permit = match first.take() {
                Some(p) => p,
                None => self.limiter.acquire().await,
            };
            let take = if solo { 1 } else { pending.len() };
            let params: Vec<MessageParameters> = pending[..take]
                .iter()
                .map(|p| MessageParameters {
                    message_thread_id: p.thread_id.clone(),
                    text: p.text.clone(),
                    identifier: Some(p.key.clone()),
                })
                .collect();
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
                        // Ambiguous: read back before sending anything again.
                        _ => {
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                            self.reconcile(&mut pending, started).await;
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

    /// Reads the pending messages' threads back and completes those Mews already has.
    async fn reconcile(&self, pending: &mut Vec<Pending>, started: Timestamp) {
        let mut threads: Vec<String> = pending.iter().map(|p| p.thread_id.clone()).collect();
        threads.sort();
        threads.dedup();
        let window = TimeInterval {
            start_utc: started - RECONCILE_SLACK,
            end_utc: Timestamp::now() + SignedDuration::from_secs(5),
        };
        let mut found: Vec<Message> = Vec::new(); // newest first, as Mews pages
        for chunk in threads.chunks(mews_wire::limits::MAX_ARRAY) {
            let mut cursor = None;
            loop {
                let ids = chunk.to_vec();
                let c = cursor.clone();
                let page = match self
                    .read("messages/getAll", |cl| {
                        let ids = ids.clone();
                        let c = c.clone();
                        async move { cl.get_messages(&ids, Some(window), 1000, c).await }
                    })
                    .await
                {
                    Ok(p) => p,
                    Err(_) => return, // try again on the next attempt
                };
                let n = page.messages.len();
                found.extend(page.messages);
                if n < 1000 || page.cursor.is_none() {
                    break;
                }
                cursor = page.cursor;
            }
        }
        // Oldest first, so the earliest pending message adopts the earliest matching one.
        let mut found = oldest_first(found);
        let mut remaining = Vec::with_capacity(pending.len());
        for p in pending.drain(..) {
            let hit = found.iter().position(|m| {
                m.sender.discriminator == SenderKind::Application
                    && m.message_thread_id == p.thread_id
                    && m.text == p.text
                    && !self.claimed.lock().unwrap_or_else(|e| e.into_inner()).contains(&m.id)
            });
            match hit {
                Some(i) => {
                    let m = found.remove(i);
                    self.claim(&m.id);
                    tracing::info!("adopted a message Mews committed although its answer was lost");
                    self.metrics.guest_messages.fetch_add(1, Ordering::Relaxed);
                    self.finish(p, Ok(m));
                }
                None => remaining.push(p),
            }
        }
        *pending = remaining;
    }

    fn finish(&self, p: Pending, answer: Result<Message, MewsError>) {
        self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        let _ = p.reply.send(answer);
    }
}

async fn run_batcher(up: std::sync::Weak<Upstream>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let Some(up) = up.upgrade() else { return };
        // Wait for budget first: everything that arrives meanwhile joins this batch.
        let permit = up.limiter.acquire().await;
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

/// The scheduler against the simulator in process, under paused time: each test spends up to a few
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
        Upstream::start(mews.client(), Limiter::new(capacity, WINDOW), Arc::new(Metrics::default()))
    }

    async fn get_thread(up: &Upstream, id: &str) -> Result<Vec<MessageThread>, MewsError> {
        let ids = vec![id.to_owned()];
        up.read("messageThreads/getAll", move |c| {
            let ids = ids.clone();
            async move { c.get_threads(&ids).await }
        })
        .await
    }

    fn send(up: &Arc<Upstream>, thread: &str, text: &str) -> tokio::task::JoinHandle<Result<Message, MewsError>> {
        let (up, thread, text) = (up.clone(), thread.to_owned(), text.to_owned());
        tokio::spawn(async move { up.add_message(&thread, &text).await })
    }

    #[tokio::test(start_paused = true)]
    async fn messages_queued_while_the_budget_is_spent_leave_together_in_order_once_it_returns() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 2);
        let thread = up.add_thread("Ann", "Chat").await.unwrap().id;
        get_thread(&up, &thread).await.unwrap(); // the budget (2 per window) is spent
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
    async fn the_budget_holds_over_a_burst_of_reads_with_no_429() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        let thread = up.add_thread("Ann", "Chat").await.unwrap().id;
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
        // 400 calls at 160 per sliding 30 s: the last 80 wait for the third window.
        let took = t0.elapsed();
        assert!(
            took >= 2 * WINDOW - Duration::from_millis(10) && took < 2 * WINDOW + Duration::from_secs(1),
            "{took:?}"
        );
        assert_eq!(mews.requests("messageThreads/getAll").await, (399, 0), "Mews never answered 429");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_every_call_of_the_token_for_its_retry_after() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        let thread = up.add_thread("Ann", "Chat").await.unwrap().id;
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
        let thread = up.add_thread("Ann", "Chat").await.unwrap().id;
        let forever = json!({"type": "too_many_requests", "retry_after": u64::MAX});
        mews.fault(json!({"operation": "messages/add", "kind": forever, "next": 1})).await;
        let t0 = Instant::now();
        up.add_message(&thread, "still delivered").await.unwrap();
        let waited = t0.elapsed();
        assert!(waited >= MAX_RETRY_AFTER && waited < MAX_RETRY_AFTER + Duration::from_secs(1), "{waited:?}");
        // The batching task survived: the next message goes straight through.
        let t1 = Instant::now();
        up.add_message(&thread, "and the next one").await.unwrap();
        assert!(t1.elapsed() < Duration::from_secs(1));
        assert_eq!(mews.texts(&thread).await, ["still delivered", "and the next one"]);
    }

    #[tokio::test(start_paused = true)]
    async fn every_ambiguous_failure_is_read_back_and_nothing_is_lost_or_doubled() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 160);
        let thread = up.add_thread("Ann", "Chat").await.unwrap().id;
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
            let m = up.add_message(&thread, &text).await.unwrap();
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
        let thread = up.add_thread("Ann", "Chat").await.unwrap();
        assert_eq!(mews.requests("messageThreads/add").await, (1, 0));
        assert!(get_thread(&up, &thread.id).await.unwrap().len() == 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejected_message_fails_alone_and_its_batch_mates_are_delivered() {
        let mews = InProcessMews::default();
        let up = upstream(&mews, 2);
        let thread = up.add_thread("Ann", "Chat").await.unwrap().id;
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
}
