//! General Webhook delivery (spec §4.2–4.5): a `MessageAdded` event for every new message, staff
//! (`Enterprise`) and application (`Application`) alike, POSTed to the client's General Webhook URL.
//!
//! Model:
//! - **Batching.** Events for one enterprise integration (client × enterprise) that arrive while a
//!   request is still waiting to go out join that request, up to the batch cap; then a new one
//!   starts. The envelope is exactly `{EnterpriseId, IntegrationId, Events:[{Discriminator, Value:{Id}}]}`
//!   with no `Entities`.
//! - **Lag.** A request goes out `lag` after its first event: ~20 ms (`Instant`), uniform 2–5 min
//!   from the seeded generator (`Realistic`), or a fixed duration.
//! - **Delivery.** 5 s timeout (configurable). Any 2xx is success; 307/308 are followed with the
//!   method kept; anything else, or no answer in time, is a failure. Failures are re-sent after the
//!   retry delay; after `webhook_max_attempts` attempts the request is discarded.
//! - **Faults.** `drop`, `duplicate`, `reorder` and `delay` rules (see [`crate::faults`]) apply to a
//!   request's first send.
//! - **Log.** Every request, its payload and each attempt are kept for `GET /admin/webhooks`. The
//!   URL is logged with its `Token` query value masked.
//!
//! Without a URL (neither per client nor global) requests are logged as `no_url` and not sent.

use std::{
    collections::VecDeque,
    sync::Mutex,
    time::{Duration, Instant},
};

use mews_wire::{EntityId, MESSAGE_ADDED, WebhookEnvelope, WebhookEvent};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;
use tokio::sync::Notify;

use crate::{
    config::WebhookLag,
    faults::WebhookFault,
    state::{AppState, lock},
    store::now_utc,
};

/// How long a `reorder`-held request waits for a later one to overtake it before going anyway.
pub const REORDER_HOLD: Duration = Duration::from_secs(10);
/// The gathering delay of `Instant` lag (lets the messages of one `messages/add` share a request).
pub const INSTANT_LAG: Duration = Duration::from_millis(20);
/// Delivery records kept; the oldest are dropped first.
pub const MAX_LOG: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its lag (or for a retry, see `attempts`).
    Pending,
    /// Held back by a `reorder` fault.
    Held,
    Delivered,
    /// Failed; will be re-sent.
    Retrying,
    /// Failed `webhook_max_attempts` times; lost.
    Discarded,
    /// Lost on purpose by a `drop` fault.
    Dropped,
    /// No webhook URL configured for the client; not sent.
    NoUrl,
}

#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub at_utc: String,
    /// HTTP status, `null` when there was no answer.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The extra copy sent by a `duplicate` fault.
    pub duplicate: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeliveryRecord {
    pub id: u64,
    pub client: String,
    pub enterprise_id: String,
    pub integration_id: String,
    /// The URL used (query `Token` masked); `null` until the first send.
    pub url: Option<String>,
    pub state: DeliveryState,
    /// Fault applied to this request, if any.
    pub fault: Option<&'static str>,
    pub created_utc: String,
    pub payload: WebhookEnvelope,
    pub attempts: Vec<Attempt>,
}

#[derive(Clone, Debug)]
struct Batch {
    id: u64,
    client: usize,
    enterprise_id: String,
    integration_id: String,
    message_ids: Vec<String>,
    due: Instant,
    attempts: u32,
    /// Still accepting events (never sent).
    open: bool,
    /// Held by `reorder`: goes right after the next request of the same integration.
    held: bool,
    faults_checked: bool,
}

impl Batch {
    fn envelope(&self) -> WebhookEnvelope {
        WebhookEnvelope {
            enterprise_id: self.enterprise_id.clone(),
            integration_id: self.integration_id.clone(),
            events: self
                .message_ids
                .iter()
                .map(|id| WebhookEvent { discriminator: MESSAGE_ADDED.to_string(), value: EntityId { id: id.clone() } })
                .collect(),
        }
    }

    fn same_integration(&self, other: &Batch) -> bool {
        self.client == other.client && self.enterprise_id == other.enterprise_id
    }
}

#[derive(Debug, Default)]
struct Queue {
    batches: Vec<Batch>,
    next_id: u64,
    /// Bumped by `clear`, so in-flight deliveries of an older epoch stop touching the state.
    epoch: u64,
}

#[derive(Debug, Default)]
struct Log {
    records: VecDeque<DeliveryRecord>,
}

impl Log {
    fn get_mut(&mut self, id: u64) -> Option<&mut DeliveryRecord> {
        self.records.iter_mut().rev().find(|r| r.id == id)
    }
}

/// The webhook queue, its delivery log and HTTP client. Owned by [`AppState`].
pub struct Webhooks {
    queue: Mutex<Queue>,
    log: Mutex<Log>,
    wake: Notify,
    lag_rng: Mutex<StdRng>,
    http: reqwest::Client,
}

impl Webhooks {
    pub fn new(seed: u64) -> Self {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let method_preserving = matches!(attempt.status().as_u16(), 307 | 308);
            if method_preserving && attempt.previous().len() < 10 { attempt.follow() } else { attempt.stop() }
        });
        let http =
            reqwest::Client::builder().redirect(policy).user_agent("mews-sim webhook").build().unwrap_or_default();
        Self {
            queue: Mutex::new(Queue { next_id: 1, ..Queue::default() }),
            log: Mutex::new(Log::default()),
            wake: Notify::new(),
            lag_rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x1A6)),
            http,
        }
    }

    fn lag(&self, lag: WebhookLag) -> Duration {
        match lag {
            WebhookLag::Instant => INSTANT_LAG,
            WebhookLag::Realistic => Duration::from_secs(lock(&self.lag_rng).random_range(120..=300)),
            WebhookLag::Fixed(d) => d,
        }
    }

    /// Queues a `MessageAdded` event for the (client, enterprise) integration.
    pub fn enqueue(
        &self,
        client: usize,
        enterprise_id: &str,
        integration_id: &str,
        message_id: &str,
        lag: WebhookLag,
        batch_cap: usize,
    ) {
        let mut queue = lock(&self.queue);
        let joinable = queue.batches.iter_mut().find(|b| {
            b.open && b.client == client && b.enterprise_id == enterprise_id && b.message_ids.len() < batch_cap
        });
        let batch = match joinable {
            Some(b) => {
                b.message_ids.push(message_id.to_string());
                b.clone()
            }
            None => {
                let id = queue.next_id;
                queue.next_id += 1;
                let b = Batch {
                    id,
                    client,
                    enterprise_id: enterprise_id.to_string(),
                    integration_id: integration_id.to_string(),
                    message_ids: vec![message_id.to_string()],
                    due: Instant::now() + self.lag(lag),
                    attempts: 0,
                    open: true,
                    held: false,
                    faults_checked: false,
                };
                queue.batches.push(b.clone());
                b
            }
        };
        drop(queue);
        let mut log = lock(&self.log);
        match log.get_mut(batch.id) {
            Some(r) => r.payload = batch.envelope(),
            None => {
                if log.records.len() == MAX_LOG {
                    log.records.pop_front();
                }
                log.records.push_back(DeliveryRecord {
                    id: batch.id,
                    client: String::new(),
                    enterprise_id: batch.enterprise_id.clone(),
                    integration_id: batch.integration_id.clone(),
                    url: None,
                    state: DeliveryState::Pending,
                    fault: None,
                    created_utc: mews_wire::format_utc(now_utc()),
                    payload: batch.envelope(),
                    attempts: Vec::new(),
                });
            }
        }
        drop(log);
        self.wake.notify_one();
    }

    /// The delivery log, oldest first.
    pub fn records(&self) -> Vec<DeliveryRecord> {
        lock(&self.log).records.iter().cloned().collect()
    }

    pub fn clear(&self) {
        let mut q = lock(&self.queue);
        q.batches.clear();
        q.epoch += 1;
        drop(q);
        lock(&self.log).records.clear();
    }

    fn update(&self, epoch: u64, id: u64, f: impl FnOnce(&mut DeliveryRecord)) {
        if lock(&self.queue).epoch != epoch {
            return;
        }
        if let Some(r) = lock(&self.log).get_mut(id) {
            f(r);
        }
    }

    fn requeue(&self, epoch: u64, batch: Batch) {
        let mut q = lock(&self.queue);
        if q.epoch == epoch {
            q.batches.push(batch);
            drop(q);
            self.wake.notify_one();
        }
    }

    /// Takes every due request, grouped so a held (`reorder`) request follows the next request of
    /// its integration; returns the groups, the current epoch and the next wake-up time.
    fn take_due(&self, now: Instant) -> (Vec<Vec<Batch>>, u64, Option<Instant>) {
        let mut q = lock(&self.queue);
        let (due, rest): (Vec<Batch>, Vec<Batch>) =
            std::mem::take(&mut q.batches).into_iter().partition(|b| b.due <= now && !b.held);
        let (expired_held, mut rest): (Vec<Batch>, Vec<Batch>) = rest.into_iter().partition(|b| b.held && b.due <= now);
        let mut groups = Vec::new();
        for b in due {
            let mut group = vec![b];
            while let Some(pos) = rest.iter().position(|h| h.held && h.same_integration(&group[0])) {
                let mut held = rest.remove(pos);
                held.held = false;
                group.push(held);
            }
            groups.push(group);
        }
        for mut b in expired_held {
            b.held = false;
            groups.push(vec![b]);
        }
        let next = rest.iter().map(|b| b.due).min();
        q.batches = rest;
        (groups, q.epoch, next)
    }
}

/// The dispatcher: runs until the task is aborted. [`crate::serve`] starts it.
pub async fn run_dispatcher(state: AppState) {
    let hooks = &state.inner.webhooks;
    loop {
        let (groups, epoch, next) = hooks.take_due(Instant::now());
        for group in groups {
            let state = state.clone();
            tokio::spawn(async move {
                for batch in group {
                    deliver(&state, epoch, batch).await;
                }
            });
        }
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = hooks.wake.notified() => {}
                }
            }
            None => hooks.wake.notified().await,
        }
    }
}

/// Masks the value of a `Token` query parameter.
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("token") => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

async fn deliver(state: &AppState, epoch: u64, mut batch: Batch) {
    let hooks = &state.inner.webhooks;
    let settings = state.settings();
    let directory = state.directory();
    let client_name = directory.clients.get(batch.client).map(|c| c.name.clone()).unwrap_or_default();
    let mut duplicate = false;
    if !batch.faults_checked {
        batch.faults_checked = true;
        let fault = lock(&state.inner.faults).for_webhook();
        let fault_name = fault.map(|f| match f {
            WebhookFault::Drop => "drop",
            WebhookFault::Duplicate => "duplicate",
            WebhookFault::Reorder => "reorder",
            WebhookFault::Delay(_) => "delay",
        });
        if fault_name.is_some() {
            hooks.update(epoch, batch.id, |r| r.fault = fault_name);
        }
        match fault {
            Some(WebhookFault::Drop) => {
                hooks.update(epoch, batch.id, |r| r.state = DeliveryState::Dropped);
                return;
            }
            Some(WebhookFault::Reorder) => {
                batch.held = true;
                batch.open = false;
                batch.due = Instant::now() + REORDER_HOLD;
                hooks.update(epoch, batch.id, |r| r.state = DeliveryState::Held);
                hooks.requeue(epoch, batch);
                return;
            }
            Some(WebhookFault::Delay(d)) => tokio::time::sleep(d).await,
            Some(WebhookFault::Duplicate) => duplicate = true,
            None => {}
        }
    }
    let url = directory.clients.get(batch.client).and_then(|c| c.webhook_url.clone()).or(settings.webhook_url.clone());
    let Some(url) = url else {
        hooks.update(epoch, batch.id, |r| {
            r.client = client_name;
            r.state = DeliveryState::NoUrl;
        });
        return;
    };
    let envelope = batch.envelope();
    batch.attempts += 1;
    let ok = send(state, epoch, &batch, &url, &envelope, settings.webhook_timeout, false).await;
    if duplicate {
        send(state, epoch, &batch, &url, &envelope, settings.webhook_timeout, true).await;
    }
    let next_state = if ok {
        DeliveryState::Delivered
    } else if batch.attempts >= settings.webhook_max_attempts {
        DeliveryState::Discarded
    } else {
        DeliveryState::Retrying
    };
    match next_state {
        DeliveryState::Discarded => tracing::warn!(
            batch = batch.id,
            attempts = batch.attempts,
            "webhook request discarded after repeated failures"
        ),
        DeliveryState::Retrying => {
            tracing::info!(batch = batch.id, attempt = batch.attempts, "webhook delivery failed; will retry")
        }
        _ => tracing::debug!(batch = batch.id, events = envelope.events.len(), "webhook delivered"),
    }
    hooks.update(epoch, batch.id, |r| {
        r.client = client_name;
        r.url = Some(redact_url(&url));
        r.state = next_state;
    });
    if next_state == DeliveryState::Retrying {
        batch.open = false;
        batch.due = Instant::now() + settings.retry_delay();
        hooks.requeue(epoch, batch);
    }
}

/// One POST; records the attempt; `true` on 2xx.
async fn send(
    state: &AppState,
    epoch: u64,
    batch: &Batch,
    url: &str,
    envelope: &WebhookEnvelope,
    timeout: Duration,
    duplicate: bool,
) -> bool {
    let hooks = &state.inner.webhooks;
    let at_utc = mews_wire::format_utc(now_utc());
    let started = Instant::now();
    let result = hooks.http.post(url).timeout(timeout).json(envelope).send().await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let (status, error, ok) = match result {
        Ok(resp) => {
            let status = resp.status();
            (Some(status.as_u16()), None, status.is_success())
        }
        Err(e) if e.is_timeout() => (None, Some(format!("no answer within {timeout:?}")), false),
        Err(e) => (None, Some(error_chain(&e)), false),
    };
    hooks.update(epoch, batch.id, |r| r.attempts.push(Attempt { at_utc, status, error, duration_ms, duplicate }));
    ok
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_masked_in_logged_urls() {
        assert_eq!(
            redact_url("http://127.0.0.1:9/webhooks/mews?Token=secret&x=1"),
            "http://127.0.0.1:9/webhooks/mews?Token=***&x=1"
        );
        assert_eq!(redact_url("http://h/p"), "http://h/p");
    }

    #[test]
    fn events_join_an_unsent_batch_up_to_the_cap() {
        let w = Webhooks::new(1);
        for i in 0..5 {
            w.enqueue(0, "e", "i", &format!("m{i}"), WebhookLag::Fixed(Duration::from_secs(60)), 2);
        }
        w.enqueue(1, "e", "i2", "other", WebhookLag::Instant, 2);
        let sizes: Vec<usize> = w.records().iter().map(|r| r.payload.events.len()).collect();
        assert_eq!(sizes, vec![2, 2, 1, 1]);
        assert!(w.records().iter().all(|r| r.state == DeliveryState::Pending));
    }

    #[test]
    fn realistic_lag_is_two_to_five_minutes() {
        let w = Webhooks::new(3);
        for _ in 0..50 {
            let d = w.lag(WebhookLag::Realistic);
            assert!(d >= Duration::from_secs(120) && d <= Duration::from_secs(300));
        }
    }
}
