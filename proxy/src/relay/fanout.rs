//! Cluster mode: what one instance learns, every instance's hub gets.
//!
//! The poller's lease holder publishes what each poll found and which threads it covered; an
//! instance that sent a guest's message publishes it; a webhook received anywhere wakes the
//! holder. Each instance applies the notes of the others to its own hub ([`apply`]): messages
//! of threads it knows go into their logs (deduplicated by Mews id, so notes seen twice or
//! overlapping polls change nothing) and reach its SSE streams; a thread's `covered` mark
//! advances only when the poll reached back to it, so a missed note shows as a mark that falls
//! behind, and the poller asks the holder to read that thread again from there.
//! Without Redis, nothing here runs and [`need_poll`] is a local wake-up.

use std::sync::Arc;

use jiff::Timestamp;
use mews_wire::Message;

use super::hub::{MARK_SLACK, Thread};
use crate::{
    cluster::bus::{Covered, Heard, Item, Note},
    state::{AppState, Property},
};

/// Listens to the other instances for ever (cluster mode).
pub async fn run(state: AppState) {
    let Some(bus) = state.bus().cloned() else { return };
    bus.listen(|heard| match heard {
        Heard::Note(note) => apply(&state, note),
        Heard::Resubscribed { since_ms } => {
            // Notes of the gap may be lost: every live thread here is complete only up to then.
            let since = Timestamp::from_millisecond(since_ms).unwrap_or_else(|_| Timestamp::now()) - MARK_SLACK;
            let props: Vec<String> = state.properties().map(|p| p.config.id.clone()).collect();
            for t in state.hub().live(&props) {
                t.rewind(since);
            }
            tracing::info!("cluster bus back; live threads will be read again from the gap");
        }
    })
    .await;
}

/// Applies another instance's note to this instance's hub.
pub fn apply(state: &AppState, note: Note) {
    match note {
        Note::Messages { items, covered, .. } => {
            for item in items {
                let Some(thread) = state.hub().get(&item.message.message_thread_id) else { continue };
                if let Some(c) = &item.client_id {
                    thread.remember_client_id(&item.message.id, c);
                }
                thread.publish(std::slice::from_ref(&item.message));
            }
            if let Some(Covered { from_ms, to_ms, threads }) = covered {
                let (Ok(from), Ok(to)) = (Timestamp::from_millisecond(from_ms), Timestamp::from_millisecond(to_ms))
                else {
                    return;
                };
                for id in threads {
                    if let Some(t) = state.hub().get(&id)
                        && t.covered().is_some_and(|c| c >= from)
                    {
                        t.advance(to);
                    }
                }
            }
        }
        Note::Resolved { states, .. } => {
            for (id, resolved) in states {
                if let Some(t) = state.hub().get(&id) {
                    t.set_resolved(resolved);
                }
            }
        }
        Note::Wake { token, .. } => {
            if let Some(t) = state.tokens().iter().find(|t| t.tag == token) {
                t.upstream.wake.notify_one();
            }
        }
    }
}

/// Publishes what a poll of `threads` over `[from, to]` found (cluster mode; no-op otherwise).
pub async fn publish_poll(
    state: &AppState,
    threads: &[Arc<Thread>],
    found: &[Message],
    from: Timestamp,
    to: Timestamp,
) {
    let Some(bus) = state.bus() else { return };
    let property_of = |id: &str| threads.iter().find(|t| t.id == id).map(|t| t.property.clone()).unwrap_or_default();
    let items = found
        .iter()
        .map(|m| Item { property: property_of(&m.message_thread_id), client_id: None, message: m.clone() })
        .collect();
    let covered = Covered {
        from_ms: from.as_millisecond(),
        to_ms: to.as_millisecond(),
        threads: threads.iter().map(|t| t.id.clone()).collect(),
    };
    let note = Note::Messages { origin: bus.instance.clone(), items, covered: Some(covered) };
    if let Err(e) = bus.publish(&note).await {
        tracing::warn!(error = %e, "could not publish a poll to the cluster");
    }
}

/// Publishes a guest's message this instance sent (cluster mode; no-op otherwise).
pub async fn publish_sent(state: &AppState, property: &str, message: &Message, client_id: &str) {
    let Some(bus) = state.bus() else { return };
    let item = Item { property: property.to_owned(), client_id: Some(client_id.to_owned()), message: message.clone() };
    let note = Note::Messages { origin: bus.instance.clone(), items: vec![item], covered: None };
    if let Err(e) = bus.publish(&note).await {
        tracing::warn!(error = %e, "could not publish a sent message to the cluster");
    }
}

/// Publishes threads' resolved states (cluster mode; no-op otherwise).
pub async fn publish_resolved(state: &AppState, states: Vec<(String, bool)>) {
    let Some(bus) = state.bus() else { return };
    if states.is_empty() {
        return;
    }
    if let Err(e) = bus.publish(&Note::Resolved { origin: bus.instance.clone(), states }).await {
        tracing::warn!(error = %e, "could not publish resolved states to the cluster");
    }
}

/// Something needs the token's next poll (a webhook, a stream resuming, a catch-up): wakes the
/// poller here, and in cluster mode the lease holder wherever it runs; `rewound` threads must be
/// read from their (earlier) marks, which the holder learns through the live registry.
pub async fn need_poll(state: &AppState, property: &Property, rewound: Option<&Thread>) {
    property.upstream.wake.notify_one();
    let Some(bus) = state.bus() else { return };
    let Some(token) = state.token_of(&property.upstream) else { return };
    if let (Some(t), Some(tc)) = (rewound, &token.cluster)
        && let Some(c) = t.covered()
        && let Err(e) = tc.live.rewind(&[(t.id.clone(), c.as_millisecond())]).await
    {
        tracing::warn!(error = %e, "could not ask the cluster to read a thread again");
    }
    let note = Note::Wake { origin: bus.instance.clone(), token: token.tag.clone() };
    if let Err(e) = bus.publish(&note).await {
        tracing::warn!(error = %e, "could not wake the cluster's poller");
    }
}
