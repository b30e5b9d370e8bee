//! Pages of a conversation for the widget: the newest page, the page before a message
//! (`before=`), and what came after the last event the widget has (`after=`, its catch-up when a
//! stream (re)opens).
//!
//! Mews is asked only when the thread log cannot answer, and never twice at once for one thread
//! (loads are single-flight through the thread's `loading` lock); every Mews read made while a
//! guest waits has a deadline and turns into "busy, retry after N s" rather than a hang. A
//! catch-up for a live thread waits for the token's next poll, which reads every thread that
//! needs it in one call, instead of loading this one: after a restart, 500 reconnecting widgets
//! cost a few calls, not 500.

use std::sync::Arc;

use jiff::Timestamp;
use lobby_protocol::{ChatMessage, History};
use tokio::time::Instant;

use super::GUEST_WAIT;
use crate::{
    error::Error,
    mews::client::{MewsError, oldest_first},
    relay::hub::{EventId, MARK_SLACK, OlderPage, Thread, to_chat},
    state::{AppState, Property},
};

/// The newest page a load keeps in the log.
const LOAD_PAGE: u32 = 100;

/// Loads the thread's newest page and resolved state from Mews, unless the log is current
/// (see [`Thread::needs_load`]); concurrent callers share one load.
pub async fn load_newest(property: &Property, thread: &Thread, deadline: Instant) -> Result<(), MewsError> {
    if !thread.needs_load() {
        return Ok(());
    }
    let _loading = tokio::time::timeout_at(deadline, thread.loading.lock())
        .await
        .map_err(|_| super::busy(std::time::Duration::from_secs(2)))?;
    if !thread.needs_load() {
        return Ok(()); // loaded while we waited
    }
    let asked_at = Timestamp::now();
    let ids = vec![thread.id.clone()];
    let page = property
        .upstream
        .read("messages/getAll", Some(deadline), |c| {
            let ids = ids.clone();
            async move { c.get_messages(&ids, None, LOAD_PAGE, None).await }
        })
        .await?;
    let whole = (page.messages.len() as u32) < LOAD_PAGE;
    thread.publish(&oldest_first(page.messages));
    if !thread.resolved_known() || thread.needs_load() {
        let threads = property
            .upstream
            .read("messageThreads/getAll", Some(deadline), |c| {
                let ids = ids.clone();
                async move { c.get_threads(&ids).await }
            })
            .await?;
        if let Some(t) = threads.first() {
            thread.set_resolved(t.is_resolved);
        }
    }
    thread.mark_loaded(asked_at, whole);
    Ok(())
}

/// The page the widget asked for.
pub async fn page(
    state: &AppState,
    property: &Property,
    thread: &Arc<Thread>,
    before: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<History, Error> {
    let deadline = Instant::now() + GUEST_WAIT;
    let answer = |messages: Vec<ChatMessage>, more: bool| History { messages, more, resolved: thread.resolved() };
    if let Some(before) = before {
        load_newest(property, thread, deadline).await?;
        if let Some((messages, more)) = thread.before(before, limit as usize) {
            return Ok(answer(messages, more));
        }
        // One read at a time per thread, and the same question again is answered from the last
        // answer: a client repeating a page (or inventing ids) cannot multiply Mews calls.
        let mut cached = tokio::time::timeout_at(deadline, thread.older_page.lock())
            .await
            .map_err(|_| Error::Upstream(super::busy(std::time::Duration::from_secs(2))))?;
        if let Some(c) = cached.as_ref().filter(|c| {
            c.before == before && c.limit == limit && c.at.elapsed() < crate::relay::hub::OLDER_PAGE_FRESH_FOR
        }) {
            return match &c.page {
                Some((messages, more)) => Ok(answer(messages.clone(), *more)),
                None => Err(Error::invalid("before", "unknown message id")),
            };
        }
        let ids = vec![thread.id.clone()];
        let cursor = Some(before.to_owned());
        let read = property
            .upstream
            .read("messages/getAll", Some(deadline), |c| {
                let (ids, cursor) = (ids.clone(), cursor.clone());
                async move { c.get_messages(&ids, None, limit, cursor).await }
            })
            .await;
        let page = match read {
            Ok(page) => {
                let more = page.messages.len() as u32 >= limit;
                let messages: Vec<ChatMessage> = oldest_first(page.messages).iter().map(|m| to_chat(m, None)).collect();
                Some((messages, more))
            }
            Err(MewsError::Rejected { .. }) => None,
            Err(other) => return Err(Error::Upstream(other)),
        };
        *cached = Some(OlderPage { before: before.to_owned(), limit, at: Instant::now(), page: page.clone() });
        return match page {
            Some((messages, more)) => Ok(answer(messages, more)),
            None => Err(Error::invalid("before", "unknown message id")),
        };
    }
    // Not in the log after catching up (older than it keeps, an unknown id): the newest page
    // below, deduped by id in the widget.
    if let Some(after) = after.and_then(EventId::parse)
        && catch_up(state, property, thread, &after, deadline).await
        && thread.holds(&after.id)
    {
        return Ok(answer(thread.after(Some(&after.id)), false));
    }
    load_newest(property, thread, deadline).await?;
    let (messages, more) = thread.recent(limit as usize);
    Ok(answer(messages, more))
}

/// Brings a live thread's log up to now from the event `after`, through the token's poller.
/// `false` when the thread is not live (nobody polls it) or the poll did not come in time.
async fn catch_up(state: &AppState, property: &Property, thread: &Thread, after: &EventId, deadline: Instant) -> bool {
    if !thread.is_live() {
        return false;
    }
    if let Some(at) = after.at.filter(|_| !thread.holds(&after.id)) {
        thread.rewind(at - MARK_SLACK);
    }
    let now = Timestamp::now();
    // Polled within the last moments and it holds the event: current enough.
    if thread.holds(&after.id)
        && thread.covered().is_some_and(|c| now.duration_since(c) < jiff::SignedDuration::from_secs(3))
    {
        return true;
    }
    crate::relay::fanout::need_poll(state, property, Some(thread)).await;
    thread.caught_up(now, deadline).await
}
