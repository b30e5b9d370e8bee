//! What must survive a crash: the records that make guest sends and conversation starts happen
//! exactly once across aborted requests, `kill -9` and restarts.
//!
//! * A **send record** is written *before* the `messages/add` call, keyed by (thread, the
//!   widget's `client_id`), as pending; it is completed with the Mews message id once Mews
//!   answered. A retry with the same key finds the record: a completed one is answered from it
//!   (no second call), a pending one left by a crashed process is resolved by reading the thread
//!   back (see `mews::upstream`) before anything is sent again.
//! * A **start record** does the same for `messageThreads/add`, keyed by (property, the widget's
//!   start key). It also holds the conversation reference put in the thread's subject, which is
//!   how a pending start is found again in Mews: by a value only this request knows, never by the
//!   guest's name (another guest can choose the same name).
//!
//! Records are kept for [`KEEP_FOR`] and then purged. The interface is asynchronous and
//! object-safe so that the embedded store ([`embedded::EmbeddedStore`], the default) and a shared
//! store for a cluster implement it alike, and one test suite ([`conformance`]) runs against each.

pub mod embedded;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// How long records are kept: a widget retries a message for minutes, not days.
pub const KEEP_FOR: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

#[derive(Debug, Clone, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

pub type StoreResult<T> = Result<T, StoreError>;

/// A guest message the proxy took responsibility for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRecord {
    pub property: String,
    pub thread: String,
    pub client_id: String,
    pub text: String,
    /// When the first attempt began (Unix seconds): reading back starts a little before.
    pub started: i64,
    /// Set once Mews has the message.
    pub sent: Option<Sent>,
}

/// The message as Mews committed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub id: String,
    /// Mews `CreatedUtc`, as Mews formats it.
    pub at: String,
}

/// A conversation start the proxy took responsibility for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRecord {
    pub property: String,
    pub key: String,
    /// The conversation reference (random, unguessable), part of the thread's `Subject`.
    pub reference: String,
    pub name: String,
    /// The whole `Subject` sent to Mews (with the reference).
    pub subject: String,
    /// The topic as the guest typed it (shown back in the widget).
    pub topic: String,
    pub started: i64,
    /// The Mews thread, once created.
    pub thread: Option<String>,
}

/// The durable records behind exactly-once sends and starts.
pub trait Store: Send + Sync + 'static {
    /// Inserts `record` as pending unless a record with its key exists; returns the existing one.
    fn begin_send(&self, record: SendRecord) -> BoxFuture<'_, StoreResult<Option<SendRecord>>>;
    /// Marks a send as done with the message Mews created.
    fn finish_send(&self, thread: &str, client_id: &str, sent: Sent) -> BoxFuture<'_, StoreResult<()>>;
    /// Forgets a send that certainly did not reach Mews (rejected), so a retry may try again.
    fn forget_send(&self, thread: &str, client_id: &str) -> BoxFuture<'_, StoreResult<()>>;
    /// Ids of the messages recorded as sent in a thread: reading back never adopts one twice.
    fn sent_ids(&self, thread: &str) -> BoxFuture<'_, StoreResult<Vec<String>>>;
    /// Sends not known to be done (for recovery at start-up).
    fn pending_sends(&self) -> BoxFuture<'_, StoreResult<Vec<SendRecord>>>;

    fn begin_start(&self, record: StartRecord) -> BoxFuture<'_, StoreResult<Option<StartRecord>>>;
    fn finish_start(&self, property: &str, key: &str, thread: &str) -> BoxFuture<'_, StoreResult<()>>;
    fn forget_start(&self, property: &str, key: &str) -> BoxFuture<'_, StoreResult<()>>;
    fn pending_starts(&self) -> BoxFuture<'_, StoreResult<Vec<StartRecord>>>;

    /// Removes records that began before `before` (Unix seconds); returns how many. Booking
    /// links are not records of a call in flight and are not purged.
    fn purge(&self, before: i64) -> BoxFuture<'_, StoreResult<usize>>;

    /// Links a verified booking (Mews reservation id) of a property to the conversation's thread,
    /// replacing an earlier link ("Find my booking": the same booking proved again, on another
    /// device, gets this conversation back; see `crate::identify`).
    fn link_booking(&self, property: &str, reservation_id: &str, thread: &str) -> BoxFuture<'_, StoreResult<()>>;
    /// The thread last linked to a booking, if any.
    fn booking_thread(&self, property: &str, reservation_id: &str) -> BoxFuture<'_, StoreResult<Option<String>>>;
}

pub type SharedStore = Arc<dyn Store>;

/// The behaviour every store must have; each implementation runs it in its own tests.
#[doc(hidden)]
pub mod conformance {
    use super::*;

    fn send(thread: &str, client_id: &str, text: &str, started: i64) -> SendRecord {
        SendRecord {
            property: "grand".into(),
            thread: thread.into(),
            client_id: client_id.into(),
            text: text.into(),
            started,
            sent: None,
        }
    }

    fn start(key: &str, started: i64) -> StartRecord {
        StartRecord {
            property: "grand".into(),
            key: key.into(),
            reference: format!("ref-{key}"),
            name: "Jane".into(),
            subject: "Parking · #REF".into(),
            topic: "Parking".into(),
            started,
            thread: None,
        }
    }

    pub async fn sends_are_recorded_once(store: SharedStore) {
        let first = send("t1", "c1", "hello", 100);
        assert_eq!(store.begin_send(first.clone()).await.unwrap(), None, "a new key is inserted");
        let again = store.begin_send(send("t1", "c1", "other text", 200)).await.unwrap();
        assert_eq!(again, Some(first.clone()), "the same key returns the first record unchanged");
        assert_eq!(store.pending_sends().await.unwrap(), vec![first.clone()]);

        let sent = Sent { id: "m1".into(), at: "2026-11-30T10:00:00Z".into() };
        store.finish_send("t1", "c1", sent.clone()).await.unwrap();
        let done = store.begin_send(send("t1", "c1", "hello", 300)).await.unwrap().unwrap();
        assert_eq!(done.sent, Some(sent));
        assert!(store.pending_sends().await.unwrap().is_empty());
        assert_eq!(store.sent_ids("t1").await.unwrap(), vec!["m1".to_string()]);
        assert!(store.sent_ids("t2").await.unwrap().is_empty(), "ids are per thread");

        // The same client id in another thread is another message.
        assert_eq!(store.begin_send(send("t2", "c1", "hello", 100)).await.unwrap(), None);
        // A thread id that is a prefix of another does not leak into it.
        assert_eq!(store.begin_send(send("t", "1\u{1f}c1", "x", 100)).await.unwrap(), None);
        assert_eq!(store.sent_ids("t").await.unwrap(), Vec::<String>::new());

        store.forget_send("t2", "c1").await.unwrap();
        assert_eq!(store.begin_send(send("t2", "c1", "again", 150)).await.unwrap(), None, "forgotten: new");
    }

    pub async fn starts_are_recorded_once(store: SharedStore) {
        let s = start("k1", 100);
        assert_eq!(store.begin_start(s.clone()).await.unwrap(), None);
        assert_eq!(store.begin_start(start("k1", 500)).await.unwrap(), Some(s.clone()));
        assert_eq!(store.pending_starts().await.unwrap(), vec![s.clone()]);
        store.finish_start("grand", "k1", "thread-9").await.unwrap();
        let done = store.begin_start(start("k1", 600)).await.unwrap().unwrap();
        assert_eq!(done.thread.as_deref(), Some("thread-9"));
        assert!(store.pending_starts().await.unwrap().is_empty());
        store.forget_start("grand", "k1").await.unwrap();
        assert_eq!(store.begin_start(start("k1", 700)).await.unwrap(), None);
    }

    pub async fn old_records_are_purged(store: SharedStore) {
        store.begin_send(send("t1", "old", "a", 100)).await.unwrap();
        store.begin_send(send("t1", "new", "b", 1000)).await.unwrap();
        store.begin_start(start("old", 100)).await.unwrap();
        assert_eq!(store.purge(500).await.unwrap(), 2);
        let left: Vec<String> = store.pending_sends().await.unwrap().into_iter().map(|r| r.client_id).collect();
        assert_eq!(left, vec!["new".to_string()]);
        assert!(store.pending_starts().await.unwrap().is_empty());
    }

    /// A booking link is found again, per property, the last link wins, and purging keeps it.
    pub async fn booking_links_are_kept(store: SharedStore) {
        assert_eq!(store.booking_thread("grand", "r1").await.unwrap(), None);
        store.link_booking("grand", "r1", "thread-1").await.unwrap();
        assert_eq!(store.booking_thread("grand", "r1").await.unwrap().as_deref(), Some("thread-1"));
        assert_eq!(store.booking_thread("other", "r1").await.unwrap(), None, "links are per property");
        assert_eq!(store.booking_thread("grand", "r").await.unwrap(), None, "no prefix match");
        store.link_booking("grand", "r1", "thread-2").await.unwrap();
        assert_eq!(store.booking_thread("grand", "r1").await.unwrap().as_deref(), Some("thread-2"));
        store.purge(i64::MAX).await.unwrap();
        assert_eq!(store.booking_thread("grand", "r1").await.unwrap().as_deref(), Some("thread-2"));
    }

    /// Many concurrent claims of one key: exactly one sees it as new.
    pub async fn concurrent_claims_have_one_winner(store: SharedStore) {
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move { store.begin_send(send("race", "c", &format!("{i}"), i)).await }));
        }
        let mut fresh = 0;
        for t in tasks {
            if t.await.unwrap().unwrap().is_none() {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 1);
    }
}
