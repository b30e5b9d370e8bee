//! Per-thread message logs and fan-out to SSE subscribers.
//!
//! The log is the relay's memory of a thread: messages in Mews order (oldest first), each once,
//! by Mews id. It serves `Last-Event-ID` replay (everything after the given id) and the first page
//! of history without another Mews call. Mews stays the source of truth: a thread's log is
//! (re)loaded from Mews whenever it may be stale — before its first subscriber, and again after
//! its last subscriber left, since only live threads are polled — so a restarted or a different
//! proxy instance answers the same.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use jiff::Timestamp;
use lobby_protocol::{Author, ChatMessage};
use mews_wire::{Message, SenderKind};
use tokio::{sync::broadcast, time::Instant};

/// At most this many messages are remembered per thread (older ones come from Mews on demand).
const LOG_CAP: usize = 500;
/// How long a load from Mews is trusted for a thread nobody is subscribed to.
pub const UNWATCHED_FRESH_FOR: Duration = Duration::from_secs(5);
/// A thread counts as active (fast polling) this long after its last message or guest action.
pub const ACTIVE_FOR: Duration = Duration::from_secs(120);

/// What an SSE stream receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Message(ChatMessage),
    Resolved(bool),
}

/// One Mews thread as the relay knows it.
pub struct Thread {
    pub id: String,
    pub property: String,
    tx: broadcast::Sender<Event>,
    state: Mutex<ThreadState>,
}

struct ThreadState {
    log: Vec<ChatMessage>,
    ids: HashSet<String>,
    /// Mews message id → the widget's client id, for the guest's own messages.
    client_ids: HashMap<String, String>,
    /// When the log was last loaded from Mews; `None` = never, or stale since the last
    /// subscriber left.
    loaded_at: Option<Instant>,
    resolved: bool,
    subscribers: usize,
    last_activity: Instant,
}

pub fn to_chat(m: &Message, client_id: Option<String>) -> ChatMessage {
    ChatMessage {
        id: m.id.clone(),
        client_id,
        author: match m.sender.discriminator {
            SenderKind::Application => Author::Guest,
            SenderKind::Enterprise => Author::Hotel,
        },
        text: m.text.clone(),
        at: mews_wire::format_utc(m.created_utc),
    }
}

impl Thread {
    fn state(&self) -> std::sync::MutexGuard<'_, ThreadState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds messages not seen before to the log, in order, and sends them to subscribers.
    /// Returns the newly seen ones.
    pub fn publish(&self, messages: &[Message]) -> Vec<ChatMessage> {
        let mut st = self.state();
        let mut fresh = Vec::new();
        for m in messages {
            if !st.ids.insert(m.id.clone()) {
                continue;
            }
            let chat = to_chat(m, st.client_ids.get(&m.id).cloned());
            // Keep the log ordered by time; Mews order among equal seconds is arrival order.
            let pos = st.log.iter().rposition(|c| c.at <= chat.at).map_or(0, |i| i + 1);
            st.log.insert(pos, chat.clone());
            if st.log.len() > LOG_CAP {
                let drop = st.log.len() - LOG_CAP;
                st.log.drain(..drop);
            }
            st.last_activity = Instant::now();
            fresh.push(chat.clone());
            let _ = self.tx.send(Event::Message(chat));
        }
        fresh
    }

    /// Records which widget message a Mews message is, before it is published.
    pub fn remember_client_id(&self, message_id: &str, client_id: &str) {
        self.state().client_ids.insert(message_id.to_owned(), client_id.to_owned());
    }

    pub fn set_resolved(&self, resolved: bool) {
        let mut st = self.state();
        if st.resolved != resolved {
            st.resolved = resolved;
            let _ = self.tx.send(Event::Resolved(resolved));
        }
    }

    pub fn resolved(&self) -> bool {
        self.state().resolved
    }

    /// Whether the log must be (re)loaded from Mews before answering: never loaded, or nobody is
    /// subscribed (so the poller does not keep it current) and the last load is older than
    /// [`UNWATCHED_FRESH_FOR`].
    pub fn needs_load(&self) -> bool {
        let st = self.state();
        match st.loaded_at {
            None => true,
            Some(at) => st.subscribers == 0 && at.elapsed() >= UNWATCHED_FRESH_FOR,
        }
    }

    pub fn mark_loaded(&self) {
        self.state().loaded_at = Some(Instant::now());
    }

    pub fn touch(&self) {
        self.state().last_activity = Instant::now();
    }

    pub fn seen(&self, message_id: &str) -> bool {
        self.state().ids.contains(message_id)
    }

    /// The last `limit` messages, oldest first, and whether older ones may exist.
    pub fn recent(&self, limit: usize) -> (Vec<ChatMessage>, bool) {
        let st = self.state();
        let start = st.log.len().saturating_sub(limit);
        (st.log[start..].to_vec(), start > 0 || st.log.len() >= LOG_CAP)
    }

    /// Messages after `last_id`; everything remembered when `last_id` is unknown.
    pub fn after(&self, last_id: Option<&str>) -> Vec<ChatMessage> {
        let st = self.state();
        match last_id.and_then(|id| st.log.iter().position(|m| m.id == id)) {
            Some(i) => st.log[i + 1..].to_vec(),
            None if last_id.is_some() => st.log.clone(),
            None => Vec::new(),
        }
    }
}

/// A live subscription; dropping it makes the thread less live.
pub struct Subscription {
    pub thread: Arc<Thread>,
    pub rx: broadcast::Receiver<Event>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut st = self.thread.state();
        st.subscribers = st.subscribers.saturating_sub(1);
        if st.subscribers == 0 {
            // Nobody polls a thread without subscribers: its log goes stale until reloaded.
            st.loaded_at = None;
        }
    }
}

/// All threads this instance has seen.
#[derive(Default)]
pub struct Hub {
    threads: Mutex<HashMap<String, Arc<Thread>>>,
}

impl Hub {
    pub fn thread(&self, property: &str, thread_id: &str) -> Arc<Thread> {
        let mut map = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(thread_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Thread {
                    id: thread_id.to_owned(),
                    property: property.to_owned(),
                    tx: broadcast::channel(256).0,
                    state: Mutex::new(ThreadState {
                        log: Vec::new(),
                        ids: HashSet::new(),
                        client_ids: HashMap::new(),
                        loaded_at: None,
                        resolved: false,
                        subscribers: 0,
                        last_activity: Instant::now(),
                    }),
                })
            })
            .clone()
    }

    pub fn get(&self, thread_id: &str) -> Option<Arc<Thread>> {
        self.threads.lock().unwrap_or_else(|p| p.into_inner()).get(thread_id).cloned()
    }

    pub fn subscribe(&self, property: &str, thread_id: &str) -> Subscription {
        let thread = self.thread(property, thread_id);
        let rx = thread.tx.subscribe();
        {
            let mut st = thread.state();
            st.subscribers += 1;
            st.last_activity = Instant::now();
        }
        Subscription { thread, rx }
    }

    /// Live threads of a property and whether any of them is active.
    pub fn live(&self, property: &str) -> (Vec<Arc<Thread>>, bool) {
        let map = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let mut active = false;
        let live: Vec<_> = map
            .values()
            .filter(|t| t.property == property)
            .filter(|t| {
                let st = t.state();
                if st.subscribers > 0 && st.last_activity.elapsed() < ACTIVE_FOR {
                    active = true;
                }
                st.subscribers > 0
            })
            .cloned()
            .collect();
        (live, active)
    }

    pub fn live_count(&self) -> usize {
        let map = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        map.values().filter(|t| t.state().subscribers > 0).count()
    }

    /// Whether any thread has seen this Mews message (webhook de-duplication).
    pub fn seen_anywhere(&self, message_id: &str) -> bool {
        let map = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        map.values().any(|t| t.seen(message_id))
    }

    /// Forgets threads nobody watched for a day (memory bound).
    pub fn sweep(&self) {
        let mut map = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, t| {
            let st = t.state();
            st.subscribers > 0 || st.last_activity.elapsed() < Duration::from_secs(24 * 3600)
        });
    }
}

/// Milliseconds from a Mews timestamp to now (reply-latency metric; Mews times are whole seconds).
pub fn age_ms(created: Timestamp) -> u64 {
    let d = Timestamp::now().duration_since(created);
    d.as_millis().max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use mews_wire::Sender;

    fn msg(id: &str, secs: i64, kind: SenderKind) -> Message {
        Message {
            id: id.into(),
            message_thread_id: "t".into(),
            text: format!("text {id}"),
            sender: Sender { discriminator: kind },
            created_utc: Timestamp::from_second(1_790_000_000 + secs).unwrap(),
        }
    }

    #[tokio::test]
    async fn publish_dedupes_orders_and_replays_after_an_id() {
        let hub = Hub::default();
        let mut sub = hub.subscribe("p", "t");
        let t = sub.thread.clone();
        t.remember_client_id("a", "c-1");
        let fresh = t.publish(&[msg("b", 2, SenderKind::Enterprise), msg("a", 1, SenderKind::Application)]);
        assert_eq!(fresh.len(), 2);
        assert!(t.publish(&[msg("a", 1, SenderKind::Application)]).is_empty(), "seen ids are not sent twice");
        let ids: Vec<_> = t.after(Some("a")).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["b"]);
        let (recent, _) = t.recent(10);
        assert_eq!(recent[0].client_id.as_deref(), Some("c-1"));
        assert_eq!(recent[0].author, Author::Guest);
        assert_eq!(recent[1].author, Author::Hotel);
        match sub.rx.recv().await.unwrap() {
            Event::Message(m) => assert_eq!(m.id, "b"),
            e => panic!("{e:?}"),
        }
        assert_eq!(hub.live("p").0.len(), 1);
        drop(sub);
        assert_eq!(hub.live("p").0.len(), 0, "a thread without subscribers is not live");
    }
}
