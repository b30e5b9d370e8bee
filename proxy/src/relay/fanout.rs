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
    cluster::{
        bus::{Covered, Heard, Item, Note},
        live::ResolvedStates,
    },
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
                if let Some(c) = &item.client_id {
                    state.forwarded().arrived(c, &item.message);
                }
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
        Note::Queued { token, .. } => {
            if let Some(tc) = state.tokens().iter().find(|t| t.tag == token).and_then(|t| t.cluster.as_ref()) {
                tc.queued.notify_one();
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

/// Publishes threads' resolved states and records them in Redis (cluster mode; no-op otherwise).
pub async fn publish_resolved(state: &AppState, states: Vec<(String, bool)>) {
    let Some(bus) = state.bus() else { return };
    if states.is_empty() {
        return;
    }
    remember_resolved(state, &states).await;
    if let Err(e) = bus.publish(&Note::Resolved { origin: bus.instance.clone(), states }).await {
        tracing::warn!(error = %e, "could not publish resolved states to the cluster");
    }
}

/// How old a resolved state recorded by another instance may be and still be trusted. The
/// poller's holder records every live thread's state every `poller::RESOLVED_EVERY` (10 s)
/// while it keeps up; when it falls behind under load, requiring a fresher state made every
/// send load its thread from Mews, which took the reads the polls needed (bench: replies p50
/// 49 s). A state of up to an hour is used; at worst a message reaches a conversation staff
/// resolved moments ago, which staff see in Mews.
pub const RESOLVED_FRESH_MS: i64 = 3_600_000;

/// Records threads' resolved states for the other instances (cluster mode; no-op otherwise).
pub async fn remember_resolved(state: &AppState, states: &[(String, bool)]) {
    let Some(cluster) = state.cluster() else { return };
    if let Err(e) = ResolvedStates::new(cluster).set(states, crate::cluster::now_ms()).await {
        tracing::warn!(error = %e, "could not record resolved states in Redis");
    }
}

/// Makes `thread`'s resolved state known here without asking Mews, when another instance
/// recorded it within [`RESOLVED_FRESH_MS`] (cluster mode). `true` when it is known now.
pub async fn learn_resolved(state: &AppState, thread: &Thread) -> bool {
    let Some(cluster) = state.cluster() else { return false };
    let since = crate::cluster::now_ms() - RESOLVED_FRESH_MS;
    match ResolvedStates::new(cluster).get(&thread.id, since).await {
        Ok(Some(resolved)) => {
            thread.set_resolved(resolved);
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a resolved state from Redis");
            false
        }
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

/// Notes applied to an instance's hub (no Redis needed: `apply` is what a received note does).
#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use mews_wire::{Sender, SenderKind};

    use super::*;
    use crate::{mews::in_process::InProcessMews, relay::hub::Event};

    fn message(thread: &str, id: &str, text: &str, at: Timestamp) -> Message {
        Message {
            id: id.into(),
            message_thread_id: thread.into(),
            text: text.into(),
            sender: Sender { discriminator: SenderKind::Enterprise },
            created_utc: at,
        }
    }

    fn poll_note(items: Vec<Message>, from: Timestamp, to: Timestamp, threads: &[&str]) -> Note {
        Note::Messages {
            origin: "holder".into(),
            items: items.into_iter().map(|m| Item { property: "hotel".into(), client_id: None, message: m }).collect(),
            covered: Some(Covered {
                from_ms: from.as_millisecond(),
                to_ms: to.as_millisecond(),
                threads: threads.iter().map(|t| t.to_string()).collect(),
            }),
        }
    }

    #[tokio::test]
    async fn a_reply_another_instance_polled_reaches_this_instances_stream_once() {
        let state = InProcessMews::default().app_state();
        let mut guest = state.hub().subscribe("hotel", "t1");
        let now = Timestamp::now();
        let reply = message("t1", "m1", "Your room is ready", now);
        apply(&state, poll_note(vec![reply.clone()], now - SignedDuration::from_secs(10), now, &["t1"]));
        apply(&state, poll_note(vec![reply], now - SignedDuration::from_secs(10), now, &["t1"]));
        let got = guest.rx.try_recv().expect("the reply");
        assert!(matches!(got, Event::Message(m) if m.text == "Your room is ready"));
        assert!(guest.rx.try_recv().is_err(), "a note heard twice shows the reply once");
        // A thread nobody here has: nothing is created for it.
        apply(&state, poll_note(vec![message("t9", "m9", "x", now)], now, now, &["t9"]));
        assert!(state.hub().get("t9").is_none());
    }

    #[tokio::test]
    async fn a_copy_advances_only_when_the_poll_reached_back_to_it() {
        let state = InProcessMews::default().app_state();
        let sub = state.hub().subscribe("hotel", "t1");
        let now = Timestamp::now();
        // This copy is complete up to a minute ago (e.g. it missed notes while Redis was away).
        sub.thread.rewind(now - SignedDuration::from_secs(60));
        apply(&state, poll_note(vec![], now - SignedDuration::from_secs(15), now, &["t1"]));
        assert_eq!(
            sub.thread.covered(),
            Some(now - SignedDuration::from_secs(60)),
            "a poll from 15 s ago does not vouch for the minute before"
        );
        // The holder read it again from the copy's mark: now it is complete up to the poll.
        apply(&state, poll_note(vec![], now - SignedDuration::from_secs(65), now, &["t1"]));
        assert_eq!(sub.thread.covered(), Timestamp::from_millisecond(now.as_millisecond()).ok());
    }

    #[tokio::test]
    async fn a_guests_message_sent_elsewhere_carries_its_client_id_and_resolved_states_apply() {
        let state = InProcessMews::default().app_state();
        let mut guest = state.hub().subscribe("hotel", "t1");
        let mut m = message("t1", "m2", "sent from my phone", Timestamp::now());
        m.sender.discriminator = SenderKind::Application;
        let item = Item { property: "hotel".into(), client_id: Some("c-42".into()), message: m };
        apply(&state, Note::Messages { origin: "other".into(), items: vec![item], covered: None });
        match guest.rx.try_recv().expect("the message") {
            Event::Message(c) => assert_eq!(c.client_id.as_deref(), Some("c-42"), "the widget dedupes by it"),
            e => panic!("{e:?}"),
        }
        apply(&state, Note::Resolved { origin: "holder".into(), states: vec![("t1".into(), true)] });
        assert_eq!(guest.rx.try_recv().unwrap(), Event::Resolved(true));
    }

    #[tokio::test(start_paused = true)]
    async fn a_webhook_heard_from_another_instance_wakes_this_tokens_poller() {
        let state = InProcessMews::default().app_state();
        let token = &state.tokens()[0];
        let woken = token.upstream.wake.notified();
        apply(&state, Note::Wake { origin: "other".into(), token: token.tag.clone() });
        tokio::time::timeout(std::time::Duration::from_millis(10), woken).await.expect("woken");
    }
}
