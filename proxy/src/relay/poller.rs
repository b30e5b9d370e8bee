//! Fetches new messages of live threads from Mews, because `MessageAdded` webhooks lag minutes
//! and can be lost.
//!
//! One poller per property. It sleeps while no guest is connected (zero upstream calls), polls
//! `messages/getAll` for all live threads (≤ 1000 ids per call, one call per property however many
//! guests) about once a second while a conversation is active and every few seconds when idle,
//! and checks `IsResolved` of live threads every [`RESOLVED_EVERY`]. A webhook or a guest's own
//! message wakes it at once. At the fast cadence it spends 30 of the 160 requests per 30 s that
//! Lobby allows itself, leaving the rest for guest messages and thread creation.

use std::{sync::Arc, time::Duration};

use jiff::{SignedDuration, Timestamp};
use mews_wire::{SenderKind, TimeInterval, limits::MAX_ARRAY};
use tokio::{sync::watch, time::Instant};

use super::hub::{Thread, age_ms};
use crate::{
    mews::client::{MewsError, oldest_first},
    state::{AppState, Property},
};

/// Poll period while any live thread of the property is active.
pub const FAST: Duration = Duration::from_secs(1);
/// Poll period while guests are connected but quiet.
pub const IDLE: Duration = Duration::from_secs(5);
/// Minimum spacing between two polls, however many wake-ups arrive.
const MIN_SPACING: Duration = Duration::from_millis(250);
/// How often live threads are checked for `IsResolved`.
pub const RESOLVED_EVERY: Duration = Duration::from_secs(10);
/// Look-back of each poll (`CreatedUtc`), generous against clock skew and slow answers.
const LOOK_BACK: SignedDuration = SignedDuration::from_mins(10);

pub async fn run(state: AppState, property: Arc<Property>, mut shutdown: watch::Receiver<bool>) {
    let id = property.config.id.clone();
    let mut last_poll = Instant::now() - FAST;
    let mut last_resolved = Instant::now() - RESOLVED_EVERY;
    loop {
        let (live, active) = state.hub().live(&id);
        let pause = if live.is_empty() {
            None
        } else if active {
            Some(FAST.saturating_sub(last_poll.elapsed()))
        } else {
            Some(IDLE.saturating_sub(last_poll.elapsed()))
        };
        tokio::select! {
            _ = property.wake.notified() => {}
            _ = async { match pause { Some(p) => tokio::time::sleep(p).await, None => std::future::pending().await } } => {}
            _ = shutdown.changed() => return,
        }
        tokio::time::sleep(MIN_SPACING.saturating_sub(last_poll.elapsed())).await;
        let (live, _) = state.hub().live(&id);
        if live.is_empty() {
            continue;
        }
        last_poll = Instant::now();
        if let Err(e) = poll_messages(&state, &property, &live).await {
            tracing::warn!(property = %id, error = %e, "polling Mews failed");
        }
        if last_resolved.elapsed() >= RESOLVED_EVERY {
            last_resolved = Instant::now();
            if let Err(e) = poll_resolved(&property, &live).await {
                tracing::warn!(property = %id, error = %e, "checking resolved threads failed");
            }
        }
    }
}

async fn poll_messages(state: &AppState, property: &Property, live: &[Arc<Thread>]) -> Result<(), MewsError> {
    let now = Timestamp::now();
    let window = TimeInterval { start_utc: now - LOOK_BACK, end_utc: now + SignedDuration::from_mins(1) };
    for chunk in live.chunks(MAX_ARRAY) {
        let ids: Vec<String> = chunk.iter().map(|t| t.id.clone()).collect();
        let mut cursor: Option<String> = None;
        loop {
            let (ids2, c2) = (ids.clone(), cursor.clone());
            let page = property
                .upstream
                .read("messages/getAll", move |c| {
                    let (ids, cur) = (ids2.clone(), c2.clone());
                    async move { c.get_messages(&ids, Some(window), 1000, cur).await }
                })
                .await?;
            let full = page.messages.len() >= 1000 && page.cursor.is_some();
            cursor = page.cursor.clone();
            for m in oldest_first(page.messages) {
                let Some(thread) = chunk.iter().find(|t| t.id == m.message_thread_id) else {
                    continue;
                };
                if !thread.publish(std::slice::from_ref(&m)).is_empty()
                    && m.sender.discriminator == SenderKind::Enterprise
                {
                    state.metrics().staff_replies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    state.metrics().observe_reply_latency(age_ms(m.created_utc));
                }
            }
            if !full {
                break;
            }
        }
    }
    Ok(())
}

async fn poll_resolved(property: &Property, live: &[Arc<Thread>]) -> Result<(), MewsError> {
    for chunk in live.chunks(MAX_ARRAY) {
        let ids: Vec<String> = chunk.iter().map(|t| t.id.clone()).collect();
        let threads = property
            .upstream
            .read("messageThreads/getAll", move |c| {
                let ids = ids.clone();
                async move { c.get_threads(&ids).await }
            })
            .await?;
        for t in threads {
            if let Some(thread) = chunk.iter().find(|x| x.id == t.id) {
                thread.set_resolved(t.is_resolved);
            }
        }
    }
    Ok(())
}

/// Loads a thread's recent history and resolved state from Mews when the relay's copy may be
/// stale (see [`Thread::needs_load`]).
pub async fn ensure_loaded(property: &Property, thread: &Thread) -> Result<(), MewsError> {
    if !thread.needs_load() {
        return Ok(());
    }
    let id = vec![thread.id.clone()];
    let ids = id.clone();
    let page = property
        .upstream
        .read("messages/getAll", move |c| {
            let ids = ids.clone();
            async move { c.get_messages(&ids, None, 100, None).await }
        })
        .await?;
    thread.publish(&oldest_first(page.messages));
    let threads = property
        .upstream
        .read("messageThreads/getAll", move |c| {
            let ids = id.clone();
            async move { c.get_threads(&ids).await }
        })
        .await?;
    if let Some(t) = threads.first() {
        thread.set_resolved(t.is_resolved);
    }
    thread.mark_loaded();
    Ok(())
}

/// The poller against the simulator in process, under paused time: minutes of cadence in
/// milliseconds of wall time.
#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;
    use crate::{mews::in_process::InProcessMews, relay::hub::Event};

    const HOTEL: &str = "hotel";

    /// A thread in Mews, and the poller of its property running.
    async fn start(mews: &InProcessMews) -> (AppState, String) {
        let state = mews.app_state();
        let property = state.property(HOTEL).unwrap().clone();
        let thread = property.upstream.add_thread("Ann", "Chat").await.unwrap().id;
        tokio::spawn(run(state.clone(), property, state.shutdown_signal()));
        (state, thread)
    }

    #[tokio::test(start_paused = true)]
    async fn nobody_connected_costs_no_mews_call() {
        let mews = InProcessMews::default();
        let (_state, _thread) = start(&mews).await;
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(mews.requests("messages/getAll").await, (0, 0));
        assert_eq!(mews.requests("messageThreads/getAll").await, (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_staff_reply_reaches_a_connected_guest_within_one_poll() {
        let mews = InProcessMews::default();
        let (state, thread) = start(&mews).await;
        let mut guest = state.hub().subscribe(HOTEL, &thread);
        tokio::time::sleep(Duration::from_millis(100)).await; // the first poll is done
        let t0 = Instant::now();
        mews.staff_reply(&thread, "Your room is ready").await;
        let event = tokio::time::timeout(Duration::from_secs(5), guest.rx.recv()).await.expect("in time").unwrap();
        let waited = t0.elapsed();
        assert!(matches!(&event, Event::Message(m) if m.text == "Your room is ready"), "{event:?}");
        assert!(waited <= FAST, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn one_poll_a_second_while_active_one_per_five_seconds_when_quiet() {
        let mews = InProcessMews::default();
        let (state, thread) = start(&mews).await;
        let _guest = state.hub().subscribe(HOTEL, &thread);
        tokio::time::sleep(Duration::from_secs(120)).await;
        let (active, _) = mews.requests("messages/getAll").await;
        assert!((119..=121).contains(&active), "{active} polls in the first 120 s");
        tokio::time::sleep(Duration::from_secs(60)).await;
        let (total, too_many) = mews.requests("messages/getAll").await;
        assert!((11..=13).contains(&(total - active)), "{} polls in 60 quiet seconds", total - active);
        assert_eq!(too_many, 0);
        let (resolved_checks, _) = mews.requests("messageThreads/getAll").await;
        assert!((17..=19).contains(&resolved_checks), "{resolved_checks} resolved checks in 180 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_resolved_thread_is_told_to_its_guest_within_ten_seconds() {
        let mews = InProcessMews::default();
        let (state, thread) = start(&mews).await;
        let mut guest = state.hub().subscribe(HOTEL, &thread);
        tokio::time::sleep(Duration::from_millis(100)).await;
        mews.resolve(&thread).await;
        let t0 = Instant::now();
        let event = tokio::time::timeout(Duration::from_secs(30), guest.rx.recv()).await.expect("in time").unwrap();
        assert_eq!(event, Event::Resolved(true));
        assert!(t0.elapsed() <= RESOLVED_EVERY, "{:?}", t0.elapsed());
    }
}
