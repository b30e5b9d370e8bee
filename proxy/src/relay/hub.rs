//! Per-thread message logs and fan-out to SSE subscribers.
//!
//! The log is the relay's memory of a thread: messages in Mews order (oldest first), each once,
//! by Mews id. It serves `Last-Event-ID` replay (everything after the given id), the first page
//! of history and `after=` catch-ups without another Mews call. Mews stays the source of truth;
//! two marks say how far this copy can be trusted:
//!
//! * `covered` — the log holds every message created before this time (Mews clock). The poller
//!   reads each live thread from its mark, not over a fixed window, so a poll's cost does not
//!   grow with the message rate; a stream that reconnects after a restart sets the mark from the
//!   time in its `Last-Event-ID` (see [`EventId`]), so catching up reads only what it missed.
//! * `loaded` — the log holds the thread's newest page (a history load happened).
//!
//! Memory is bounded: at most [`LOG_CAP`] messages per thread, a small broadcast buffer (a stream
//! that falls behind resends from the log), and threads nobody watched for a day are swept.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use lobby_protocol::{Author, ChatMessage};
use mews_wire::{Message, SenderKind};
use tokio::{
    sync::{broadcast, watch},
    time::Instant,
};

/// At most this many messages are remembered per thread (older ones come from Mews on demand).
pub const LOG_CAP: usize = 200;
/// Events buffered per thread for slow streams; a stream that lags resends from the log.
const FANOUT_BUFFER: usize = 16;
/// How long a thread nobody is subscribed to is trusted after its last catch-up.
pub const UNWATCHED_FRESH_FOR: Duration = Duration::from_secs(5);
/// Mews times are whole seconds and clocks differ a little: every read from a mark starts this
/// much earlier (duplicates are dropped by id).
pub const MARK_SLACK: SignedDuration = SignedDuration::from_secs(5);

/// What an SSE stream receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Message(ChatMessage),
    Resolved(bool),
}

/// An SSE event id: the message's Mews `CreatedUtc` (Unix seconds) and its Mews id,
/// `"<seconds>.<id>"`. The browser hands it back in `Last-Event-ID`; its time lets a restarted
/// or another instance catch up from exactly there. A bare Mews id (older widgets) is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventId {
    pub at: Option<Timestamp>,
    pub id: String,
}

impl EventId {
    pub fn of(m: &ChatMessage) -> String {
        match m.at.parse::<Timestamp>() {
            Ok(t) => format!("{}.{}", t.as_second(), m.id),
            Err(_) => m.id.clone(),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 120 {
            return None;
        }
        let timed = s.split_once('.').and_then(|(secs, id)| {
            let secs: i64 = secs.parse().ok()?;
            Some(Self { at: Some(Timestamp::from_second(secs).ok()?), id: id.to_owned() })
        });
        Some(timed.unwrap_or_else(|| Self { at: None, id: s.to_owned() }))
    }
}

/// One Mews thread as the relay knows it.
pub struct Thread {
    pub id: String,
    pub property: String,
    tx: broadcast::Sender<Event>,
    state: Mutex<ThreadState>,
    /// The `covered` mark, watched by requests waiting for a catch-up.
    covered: watch::Sender<Option<Timestamp>>,
    /// Held while the thread's newest page is loaded: concurrent loads become one.
    pub loading: tokio::sync::Mutex<()>,
    /// The last older-history page read from Mews (asking for it again within
    /// [`OLDER_PAGE_FRESH_FOR`] costs no call); also held while such a page is read.
    pub older_page: tokio::sync::Mutex<Option<OlderPage>>,
}

/// How long an older-history page read from Mews answers the same question again.
pub const OLDER_PAGE_FRESH_FOR: Duration = Duration::from_secs(30);

/// A `before=` page as Mews answered it: `None` when Mews did not know the id.
pub struct OlderPage {
    pub before: String,
    pub limit: u32,
    pub at: Instant,
    pub page: Option<(Vec<ChatMessage>, bool)>,
}

struct ThreadState {
    log: Vec<ChatMessage>,
    ids: HashSet<String>,
    /// Mews message id → the widget's client id, for the guest's own messages not yet in the log.
    client_ids: HashMap<String, String>,
    /// When the newest page was last loaded from Mews.
    loaded_at: Option<Instant>,
    /// When the poller last brought the log up to date.
    caught_up_at: Option<Instant>,
    /// `None` until Mews told us.
    resolved: Option<bool>,
    /// The log starts at the thread's first message (a load found fewer than it asked for).
    whole: bool,
    subscribers: usize,
    last_activity: Instant,
}

pub fn to_chat(m: &Message, client_id: Option<String>) -> ChatMessage {
    // A "booking verified" note is for staff: the guest sees a system line, not its text.
    if m.sender.discriminator == SenderKind::Application && crate::identify::is_note(&m.text) {
        return ChatMessage {
            id: m.id.clone(),
            client_id: None,
            author: Author::System,
            text: String::new(),
            at: mews_wire::format_utc(m.created_utc),
        };
    }
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
            if st.ids.contains(&m.id) {
                continue;
            }
            let client_id = st.client_ids.remove(&m.id);
            let chat = to_chat(m, client_id);
            // Keep the log ordered by time; Mews order among equal seconds is arrival order.
            let pos = st.log.iter().rposition(|c| c.at <= chat.at).map_or(0, |i| i + 1);
            if pos == 0 && st.log.len() >= LOG_CAP {
                continue; // older than everything kept: history pages read it from Mews
            }
            st.ids.insert(m.id.clone());
            st.log.insert(pos, chat.clone());
            if st.log.len() > LOG_CAP {
                let drop = st.log.len() - LOG_CAP;
                st.whole = false;
                for old in st.log.drain(..drop).collect::<Vec<_>>() {
                    st.ids.remove(&old.id);
                }
            }
            st.last_activity = Instant::now();
            fresh.push(chat.clone());
            let _ = self.tx.send(Event::Message(chat));
        }
        fresh
    }

    /// Records which widget message a Mews message is, before it is published.
    pub fn remember_client_id(&self, message_id: &str, client_id: &str) {
        let mut st = self.state();
        if !st.ids.contains(message_id) {
            st.client_ids.insert(message_id.to_owned(), client_id.to_owned());
        }
    }

    pub fn set_resolved(&self, resolved: bool) {
        let mut st = self.state();
        let was = st.resolved.replace(resolved);
        if was.is_some_and(|w| w != resolved) || (was.is_none() && resolved) {
            let _ = self.tx.send(Event::Resolved(resolved));
        }
    }

    pub fn resolved(&self) -> bool {
        self.state().resolved.unwrap_or(false)
    }

    /// Whether Mews has told us the thread's resolved state yet.
    pub fn resolved_known(&self) -> bool {
        self.state().resolved.is_some()
    }

    /// Whether the newest page must be (re)loaded from Mews before answering from the log: never
    /// loaded, or nobody is subscribed (so the poller does not keep it current) and it was not
    /// brought up to date in the last [`UNWATCHED_FRESH_FOR`].
    pub fn needs_load(&self) -> bool {
        let st = self.state();
        let fresh = |at: Option<Instant>| at.is_some_and(|t| t.elapsed() < UNWATCHED_FRESH_FOR);
        match st.loaded_at {
            None => true,
            Some(_) => st.subscribers == 0 && !fresh(st.loaded_at) && !fresh(st.caught_up_at),
        }
    }

    /// Whether the log is up to date at its end (a message sent now lands after everything Mews
    /// has): a live thread the poller has caught up, or one loaded or caught up moments ago; and
    /// its resolved state is known.
    pub fn is_current(&self) -> bool {
        let st = self.state();
        let fresh = |at: Option<Instant>| at.is_some_and(|t| t.elapsed() < UNWATCHED_FRESH_FOR);
        st.resolved.is_some()
            && ((st.subscribers > 0 && st.caught_up_at.is_some()) || fresh(st.loaded_at) || fresh(st.caught_up_at))
    }

    /// The newest page was loaded as of `as_of`; `whole`: it held the thread's first message.
    pub fn mark_loaded(&self, as_of: Timestamp, whole: bool) {
        {
            let mut st = self.state();
            st.loaded_at = Some(Instant::now());
            st.whole |= whole;
        }
        self.advance(as_of);
    }

    /// A thread just created here: nothing to load.
    pub fn mark_new(&self) {
        {
            let mut st = self.state();
            st.resolved = Some(false);
        }
        self.mark_loaded(Timestamp::now() - MARK_SLACK, true);
    }

    /// The log holds everything created before `as_of`.
    pub fn advance(&self, as_of: Timestamp) {
        self.state().caught_up_at = Some(Instant::now());
        self.covered.send_if_modified(|c| {
            if c.is_none_or(|c| c < as_of) {
                *c = Some(as_of);
                true
            } else {
                false
            }
        });
    }

    /// Moves the mark back to `since` (a stream reconnecting with an older event than the log
    /// holds); a thread never seen here starts at `since`.
    pub fn rewind(&self, since: Timestamp) {
        self.covered.send_if_modified(|c| {
            if c.is_none_or(|c| since < c) {
                *c = Some(since);
                true
            } else {
                false
            }
        });
    }

    pub fn covered(&self) -> Option<Timestamp> {
        *self.covered.borrow()
    }

    /// Waits until the log holds everything created before `as_of`, at most until `deadline`.
    pub async fn caught_up(&self, as_of: Timestamp, deadline: Instant) -> bool {
        let mut rx = self.covered.subscribe();
        tokio::time::timeout_at(deadline, rx.wait_for(|c| c.is_some_and(|c| c >= as_of))).await.is_ok_and(|r| r.is_ok())
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

    /// Up to `limit` messages before `id`, oldest first, when the log holds `id` and enough
    /// before it (or the whole thread); `None` means "ask Mews".
    pub fn before(&self, id: &str, limit: usize) -> Option<(Vec<ChatMessage>, bool)> {
        let st = self.state();
        let whole_thread = st.whole;
        let i = st.log.iter().position(|m| m.id == id)?;
        if i >= limit {
            Some((st.log[i - limit..i].to_vec(), true))
        } else if whole_thread && st.log.len() < LOG_CAP {
            Some((st.log[..i].to_vec(), false))
        } else {
            None
        }
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

    /// Whether a stream is subscribed (so the poller keeps the log current).
    pub fn is_live(&self) -> bool {
        self.state().subscribers > 0
    }

    /// Whether the log holds this message id.
    pub fn holds(&self, id: &str) -> bool {
        self.state().ids.contains(id)
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
            // Nobody polls a thread without subscribers: its newest page goes stale until a load.
            st.loaded_at = None;
            st.caught_up_at = None;
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
                    tx: broadcast::channel(FANOUT_BUFFER).0,
                    state: Mutex::new(ThreadState {
                        log: Vec::new(),
                        ids: HashSet::new(),
                        client_ids: HashMap::new(),
                        loaded_at: None,
                        caught_up_at: None,
                        resolved: None,
                        whole: false,
                        subscribers: 0,
                        last_activity: Instant::now(),
                    }),
                    covered: watch::channel(None).0,
                    loading: tokio::sync::Mutex::new(()),
                    older_page: tokio::sync::Mutex::new(None),
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

    /// Threads of these properties with at least one subscriber (the ones the poller reads).
    pub fn live(&self, properties: &[String]) -> Vec<Arc<Thread>> {
        let map = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        map.values().filter(|t| properties.contains(&t.property) && t.state().subscribers > 0).cloned().collect()
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
        let props = ["p".to_string()];
        assert_eq!(hub.live(&props).len(), 1);
        drop(sub);
        assert_eq!(hub.live(&props).len(), 0, "a thread without subscribers is not live");
    }

    #[test]
    fn event_ids_carry_the_message_time() {
        let chat = to_chat(&msg("abc-1", 5, SenderKind::Enterprise), None);
        let id = EventId::of(&chat);
        assert_eq!(id, "1790000005.abc-1");
        let parsed = EventId::parse(&id).unwrap();
        assert_eq!(parsed.at, Some(Timestamp::from_second(1_790_000_005).unwrap()));
        assert_eq!(parsed.id, "abc-1");
        assert_eq!(EventId::parse("abc-1").unwrap(), EventId { at: None, id: "abc-1".into() });
        assert_eq!(EventId::parse(""), None);
    }

    #[test]
    fn the_log_is_bounded_and_forgets_the_ids_it_dropped() {
        let hub = Hub::default();
        let t = hub.thread("p", "t");
        let many: Vec<Message> =
            (0..LOG_CAP as i64 + 50).map(|i| msg(&format!("m{i}"), i, SenderKind::Enterprise)).collect();
        t.publish(&many);
        let (recent, more) = t.recent(usize::MAX);
        assert_eq!(recent.len(), LOG_CAP);
        assert!(more);
        assert_eq!(recent[0].id, "m50");
        assert!(!t.seen("m0"), "dropped ids are forgotten too");
        assert!(t.publish(&[msg("m0", 0, SenderKind::Enterprise)]).is_empty(), "older than the log: not kept");
        assert_eq!(t.before("m60", 5).unwrap().0.len(), 5);
        assert!(t.before("m52", 5).is_none(), "not enough before it: ask Mews");
    }
}
