//! The guest's live stream (server-sent events).
//!
//! On connect the stream subscribes to the thread *before* anything else, so nothing published
//! meanwhile is missed; replays from the thread log what came after `Last-Event-ID` (the header
//! the browser sends on its own reconnects, or the `last_event_id` query parameter when the
//! widget opens a new `EventSource` itself); when the log does not hold that event, the token's
//! next poll reads the thread from the event's time and the missed messages arrive as new events;
//! then forwards new events. Each message event's SSE `id` is the message's time and Mews id
//! ([`EventId`]), so the browser always knows where it stands and any instance can resume it.
//! An idle stream is a struct polled by its response body — no task, no channel — because an
//! instance holds tens of thousands of them. Comments keep the connection alive through proxies;
//! on shutdown, and when a stream reaches its maximum lifetime, it receives a `reconnect` event
//! and ends, and the browser reconnects (to a live instance) with its last id. Streams are capped
//! per conversation and per client address ([`crate::guard`]).

use std::{
    collections::{HashSet, VecDeque},
    convert::Infallible,
    sync::atomic::Ordering,
    time::Duration,
};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use futures::Stream;
use lobby_protocol::{ChatMessage, Resolved, events};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::{
    cors::check_origin,
    extract::{Query, StreamSession},
};
use crate::{
    client_ip::ClientAddr,
    error::{Error, Result},
    relay::hub::{Event, EventId, MARK_SLACK, Subscription},
    state::AppState,
};

pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    last_event_id: Option<String>,
}

fn message_event(m: &ChatMessage) -> SseEvent {
    SseEvent::default().event(events::MESSAGE).id(EventId::of(m)).json_data(m).expect("message serialises")
}

fn resolved_event(resolved: bool) -> SseEvent {
    SseEvent::default().event(events::RESOLVED).json_data(Resolved { resolved }).expect("serialises")
}

/// One open stream's state, polled by the response body itself: no task and no channel per
/// stream, so an idle stream costs its connection, this struct and its broadcast receiver.
struct Live {
    state: AppState,
    /// Frees this conversation's and address's stream slots when the stream ends.
    _permit: crate::guard::StreamPermit,
    sub: Subscription,
    shutdown: tokio::sync::watch::Receiver<bool>,
    ends_at: tokio::time::Instant,
    /// Events ready to go out (the replay, a lagged stream's resend).
    ready: VecDeque<SseEvent>,
    /// Ids replayed from the log that may also arrive from the broadcast (and the event the
    /// stream resumed from): sent once.
    replayed: HashSet<String>,
    /// Resumed from an event of this time that the log did not hold: the catch-up poll reads
    /// from a little earlier; what is older than the event the browser already has.
    resumed_at: Option<jiff::Timestamp>,
    last_sent: Option<String>,
    ended: bool,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.state.metrics().sse_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

fn reconnect_event() -> SseEvent {
    SseEvent::default().event(events::RECONNECT).data("{}").retry(Duration::from_millis(500))
}

impl Live {
    /// The next event to send, `None` when the stream ends.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            if self.ended {
                return None;
            }
            let thread = self.sub.thread.clone();
            tokio::select! {
                ev = self.sub.rx.recv() => match ev {
                    Ok(Event::Message(m)) if self.replayed.remove(&m.id) => {}
                    Ok(Event::Message(m))
                        if self.resumed_at.is_some_and(|t| m.at.parse::<jiff::Timestamp>().is_ok_and(|at| at < t)) => {}
                    Ok(Event::Message(m)) => {
                        self.last_sent = Some(m.id.clone());
                        self.ready.push_back(message_event(&m));
                    }
                    Ok(Event::Resolved(r)) => self.ready.push_back(resolved_event(r)),
                    // This stream fell behind: resend from the log, the widget dedupes by id.
                    Err(RecvError::Lagged(_)) => {
                        let missed = thread.after(self.last_sent.as_deref());
                        if let Some(m) = missed.last() {
                            self.last_sent = Some(m.id.clone());
                        }
                        self.ready.extend(missed.iter().map(message_event));
                    }
                    Err(RecvError::Closed) => return None,
                },
                // Shutdown, or the stream's maximum lifetime (`[server] max_stream_secs`).
                _ = self.shutdown.wait_for(|s| *s) => {
                    self.ended = true;
                    self.ready.push_back(reconnect_event());
                }
                _ = tokio::time::sleep_until(self.ends_at) => {
                    self.ended = true;
                    self.ready.push_back(reconnect_event());
                }
            }
        }
    }
}

pub async fn stream(
    State(state): State<AppState>,
    StreamSession(claims): StreamSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Query(q): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let property = state.property(&claims.p).cloned().ok_or(Error::NotFound)?;
    check_origin(&headers, &property.config.allowed_origins)?;
    let permit = state.guard().admit_stream(&claims.t, client).await?;
    let ends_at = tokio::time::Instant::now() + state.server_limits().max_stream;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.last_event_id)
        .and_then(|s| EventId::parse(&s));

    let sub = state.hub().subscribe(&claims.p, &claims.t);
    state.metrics().sse_connections.fetch_add(1, Ordering::Relaxed);
    let thread = sub.thread.clone();
    // Resuming from an event the log does not hold (a restart, another instance, a long sleep):
    // the token's next poll reads this thread from that event's time, together with every other
    // thread that needs it, and the messages arrive on the broadcast as new events.
    let mut resumed_at = None;
    if let Some(EventId { at: Some(at), id }) = &last_id
        && !thread.holds(id)
    {
        thread.rewind(*at - MARK_SLACK);
        resumed_at = Some(*at);
    }
    crate::relay::fanout::need_poll(&state, &property, resumed_at.is_some().then_some(&*thread)).await;
    let last_id = last_id.map(|e| e.id);
    let mut live = Live {
        shutdown: state.shutdown_signal(),
        state,
        _permit: permit,
        sub,
        ends_at,
        ready: VecDeque::new(),
        replayed: last_id.iter().cloned().collect(),
        resumed_at,
        last_sent: last_id.clone(),
        ended: false,
    };
    for m in thread.after(last_id.as_deref()) {
        live.last_sent = Some(m.id.clone());
        live.replayed.insert(m.id.clone());
        live.ready.push_back(message_event(&m));
    }
    if thread.resolved() {
        live.ready.push_back(resolved_event(true));
    }
    let stream = futures::stream::unfold(live, |mut live| async move { live.next().await.map(|e| (Ok(e), live)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
