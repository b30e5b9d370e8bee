//! The guest's live stream (server-sent events).
//!
//! On connect the stream subscribes to the thread *before* anything else, so nothing published
//! meanwhile is missed; loads the thread from Mews if this instance has not seen it; replays what
//! came after `Last-Event-ID` (the header the browser sends on its own reconnects, or the
//! `last_event_id` query parameter when the widget opens a new `EventSource` itself); then
//! forwards new events. Each message event carries the Mews message id as its SSE `id`, so the
//! browser always knows where it stands. Comments keep the connection alive through proxies;
//! on shutdown, and when a stream reaches its maximum lifetime, it receives a `reconnect` event
//! and ends, and the browser reconnects (to a live instance) with its last id. Streams are capped
//! per conversation and per client address ([`crate::guard`]).

use std::{convert::Infallible, sync::atomic::Ordering, time::Duration};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use futures::Stream;
use lobby_protocol::{ChatMessage, Resolved, events};
use serde::Deserialize;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::{cors::check_origin, extract::Query};
use crate::{
    client_ip::ClientAddr,
    error::{Error, Result},
    relay::hub::{Event, EventId, MARK_SLACK},
    session::StreamSession,
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

struct Connected<'a>(&'a AppState);

impl Drop for Connected<'_> {
    fn drop(&mut self) {
        self.0.metrics().sse_connections.fetch_sub(1, Ordering::Relaxed);
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
    // Held by the stream's task: frees this conversation's and address's stream slots at its end.
    let permit = state.guard().open_stream(&claims.t, client)?;
    let ends_at = tokio::time::Instant::now() + state.server_limits().max_stream;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.last_event_id)
        .and_then(|s| EventId::parse(&s));

    let mut sub = state.hub().subscribe(&claims.p, &claims.t);
    let (tx, rx) = mpsc::channel::<SseEvent>(64);
    let mut shutdown = state.shutdown_signal();
    state.metrics().sse_connections.fetch_add(1, Ordering::Relaxed);
    let task_state = state.clone();
    tokio::spawn(async move {
        let _connected = Connected(&task_state);
        let _permit = permit;
        let thread = sub.thread.clone();
        // Resuming from an event the log does not hold (a restart, another instance, a long
        // sleep): the token's next poll reads this thread from that event's time, together with
        // every other thread that needs it, and the messages arrive below as new events.
        if let Some(EventId { at: Some(at), id }) = &last_id
            && !thread.holds(id)
        {
            thread.rewind(*at - MARK_SLACK);
        }
        property.upstream.wake.notify_one();
        let last_id = last_id.map(|e| e.id);
        let mut last_sent = last_id.clone();
        // Loading may also have published these to our own receiver: send each id once.
        let mut replayed = std::collections::HashSet::new();
        for m in thread.after(last_id.as_deref()) {
            last_sent = Some(m.id.clone());
            replayed.insert(m.id.clone());
            if tx.send(message_event(&m)).await.is_err() {
                return;
            }
        }
        if thread.resolved() && tx.send(resolved_event(true)).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                ev = sub.rx.recv() => {
                    let out = match ev {
                        Ok(Event::Message(m)) if replayed.remove(&m.id) => vec![],
                        Ok(Event::Message(m)) => {
                            last_sent = Some(m.id.clone());
                            vec![message_event(&m)]
                        }
                        Ok(Event::Resolved(r)) => vec![resolved_event(r)],
                        // This stream fell behind: resend from the log, the widget dedupes by id.
                        Err(RecvError::Lagged(_)) => {
                            let missed = thread.after(last_sent.as_deref());
                            if let Some(m) = missed.last() {
                                last_sent = Some(m.id.clone());
                            }
                            missed.iter().map(message_event).collect()
                        }
                        Err(RecvError::Closed) => return,
                    };
                    for e in out {
                        if tx.send(e).await.is_err() {
                            return;
                        }
                    }
                }
                _ = tx.closed() => return,
                // Shutdown, or the stream's maximum lifetime (`[server] max_stream_secs`).
                _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
                    let _ = tx.send(SseEvent::default().event(events::RECONNECT).data("{}").retry(Duration::from_millis(500))).await;
                    return;
                }
                _ = tokio::time::sleep_until(ends_at) => {
                    let _ = tx.send(SseEvent::default().event(events::RECONNECT).data("{}").retry(Duration::from_millis(500))).await;
                    return;
                }
            }
        }
    });
    let stream = futures::StreamExt::map(ReceiverStream::new(rx), Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
