//! The cluster's fan-out: notes published once on one Redis pub/sub channel (`…:bus`) and
//! received by every instance. `relay::fanout` turns them into hub events, so a guest's stream
//! gets every reply and every message whichever instance polled or sent it.
//!
//! Pub/sub delivers at most once and only to connected subscribers, which is enough here because
//! nothing is *stored* on the bus: Mews stays the source of truth and each instance knows how far
//! its copy of a thread is complete (the thread's `covered` mark). A note with new messages also
//! says which threads it covers and from when, so a receiver that missed notes (a reconnect, a
//! restarted Redis) sees the gap — its mark falls behind — and asks the poller to read those
//! threads again from its mark (`cluster::live` rewinds). Redis Streams would replay a gap
//! themselves, but would keep per-instance read positions and a trimmed log in Redis to get the
//! same result the marks already give.

use std::time::Duration;

use futures::StreamExt;
use mews_wire::Message;
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Deserialize, Serialize};

use super::{CONNECT_TIMEOUT, Cluster};

/// How often an idle subscription checks that Redis is still there.
const PING_EVERY: Duration = Duration::from_secs(3);

/// One message, as Mews has it, and the widget's id for it when a guest sent it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    pub property: String,
    pub client_id: Option<String>,
    pub message: Message,
}

/// The poller read `threads` over `[from_ms, to_ms]`: together with the note's messages, a
/// receiver whose copy of such a thread reaches back to `from_ms` is complete up to `to_ms`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Covered {
    pub from_ms: i64,
    pub to_ms: i64,
    pub threads: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "k")]
pub enum Note {
    /// New messages (a poll or a guest's send), and what a poll covered.
    Messages { origin: String, items: Vec<Item>, covered: Option<Covered> },
    /// Threads' resolved states as Mews reported them.
    Resolved { origin: String, states: Vec<(String, bool)> },
    /// A webhook arrived for this token (its tag): the poller's holder should poll.
    Wake { origin: String, token: String },
    /// A guest's message was queued for this token's sender (`cluster::sendq`).
    Queued { origin: String, token: String },
}

impl Note {
    pub fn origin(&self) -> &str {
        match self {
            Note::Messages { origin, .. }
            | Note::Resolved { origin, .. }
            | Note::Wake { origin, .. }
            | Note::Queued { origin, .. } => origin,
        }
    }
}

/// What a listener hears.
#[derive(Debug)]
pub enum Heard {
    Note(Note),
    /// The subscription was (re)established after being down since `since_ms`: notes of that
    /// time may be lost.
    Resubscribed {
        since_ms: i64,
    },
}

/// The publishing side; cheap to clone.
#[derive(Clone)]
pub struct Bus {
    redis: ConnectionManager,
    client: redis::Client,
    channel: String,
    pub instance: String,
}

impl Bus {
    pub fn new(cluster: &Cluster) -> Self {
        Self {
            redis: cluster.redis.clone(),
            client: cluster.client.clone(),
            channel: cluster.key(&["bus"]),
            instance: cluster.instance.clone(),
        }
    }

    pub async fn publish(&self, note: &Note) -> redis::RedisResult<()> {
        let body = serde_json::to_string(note).expect("notes serialise");
        let _: i64 = self.redis.clone().publish(&self.channel, body).await?;
        Ok(())
    }

    /// Listens for ever: every note from other instances goes to `on`, and each (re)subscription
    /// after a loss is reported. Reconnects with a short backoff while Redis is away.
    pub async fn listen(&self, mut on: impl FnMut(Heard)) {
        let mut down_since: Option<i64> = None;
        let mut backoff = Duration::from_millis(100);
        loop {
            let subscribed = async {
                let mut pubsub =
                    tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub()).await.ok()?.ok()?;
                tokio::time::timeout(CONNECT_TIMEOUT, pubsub.subscribe(&self.channel)).await.ok()?.ok()?;
                Some(pubsub)
            }
            .await;
            let Some(pubsub) = subscribed else {
                down_since.get_or_insert_with(super::now_ms);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            };
            backoff = Duration::from_millis(100);
            if let Some(since_ms) = down_since.take() {
                on(Heard::Resubscribed { since_ms });
            }
            // A Redis that vanished without closing the connection is noticed by a ping.
            let (mut sink, mut messages) = pubsub.split();
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.tick().await;
            loop {
                tokio::select! {
                    msg = messages.next() => {
                        let Some(msg) = msg else { break };
                        let Ok(body) = msg.get_payload::<String>() else { continue };
                        match serde_json::from_str::<Note>(&body) {
                            Ok(note) if note.origin() != self.instance => on(Heard::Note(note)),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "unreadable note on the cluster bus"),
                        }
                    }
                    _ = ping.tick() => {
                        let pong = tokio::time::timeout(super::RESPONSE_TIMEOUT, sink.ping::<redis::Value>()).await;
                        if !matches!(pong, Ok(Ok(_))) {
                            break;
                        }
                    }
                }
            }
            // The connection ended (Redis restarted or unreachable).
            tracing::warn!("cluster bus connection lost; resubscribing");
            down_since.get_or_insert_with(super::now_ms);
        }
    }
}
