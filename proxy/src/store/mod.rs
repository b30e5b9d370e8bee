//! What must survive a crash: the records that make guest sends and conversation starts happen
//! exactly once across aborted requests, `kill -9` and restarts.
//!
//! * A **send record** is written *before* the `messages/add` call, keyed by (thread, the
//!   widget's `client_id`), as pending; it is completed with the Mews message id once Mews
//!   answered. A retry with the same key finds the record: a completed one is answered from it
//!   (no second call); a pending one is *claimed* (see below) and, once the caller owns it, read
//!   back from the thread (see `mews::upstream`) before anything is sent again.
//! * A **start record** does the same for `messageThreads/add`, keyed by (property, the widget's
//!   start key). It also holds the conversation reference put in the thread's subject, which is
//!   how a pending start is found again in Mews: by a value only this request knows, never by the
//!   guest's name (another guest can choose the same name).
//!
//! **Claims.** Several instances may share one store, so "pending" alone does not mean "left by a
//! crashed process": another instance may be sending it right now. Every pending record has an
//! [`Owner`]: the instance working on it and until when (Unix ms) that counts as alive; the owner
//! renews it while the call to Mews runs. [`Store::begin_send`] and [`Store::begin_start`] decide,
//! atomically, one of four [`Claim`]s: new (inserted, the caller owns it), done (its result),
//! taken over (pending, its owner's lease expired or the owner is the caller's own instance: the
//! caller owns it now and must read Mews back before sending again), or held (another live
//! instance owns it: wait for it, polling [`Store::send_record`], until done or its lease expires).
//!
//! Records are kept for [`KEEP_FOR`] and then purged. The interface is asynchronous and
//! object-safe so that the embedded store ([`embedded::EmbeddedStore`], the default) and the
//! shared store of a cluster ([`redis::RedisStore`]) implement it alike, and one test suite
//! ([`conformance`]) runs against each.

pub mod embedded;
pub mod redis;

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
    /// Who works on it while pending (`None` on records written before claims: expired).
    #[serde(default)]
    pub owner: Option<Owner>,
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
    /// Who works on it while pending (`None` on records written before claims: expired).
    #[serde(default)]
    pub owner: Option<Owner>,
}

/// Who is working on a pending send or start, and until when (Unix ms) that counts as alive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The instance (unique per process run).
    pub instance: String,
    /// The lease: past this (Unix ms), another instance may take the record over.
    pub until_ms: i64,
}

impl Owner {
    /// Whether the lease still counts at `now_ms`.
    pub fn alive_at(&self, now_ms: i64) -> bool {
        self.until_ms > now_ms
    }
}

/// The outcome of claiming a send or start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim<R> {
    /// No record: inserted as pending, owned by the caller.
    New,
    /// Completed before: its result.
    Done(R),
    /// Pending, and its owner's lease had expired (or it had no owner) or the owner is the caller's
    /// own instance: now owned by the caller (the record returned carries the caller's owner), who
    /// must read Mews back before sending again.
    TakenOver(R),
    /// Pending and owned by another live instance (the record returned carries that owner): wait
    /// (poll `send_record` / `start_record`) until it is done or its lease expires, then claim again.
    Held(R),
}

/// The claim decision both stores make (atomically, each in its own way): `existing` is the
/// stored record, `done` whether it is completed, `caller` the claiming owner.
pub(crate) fn decide(done: bool, existing: Option<&Owner>, caller: &Owner, now_ms: i64) -> Decision {
    match existing {
        _ if done => Decision::Done,
        Some(o) if o.instance != caller.instance && o.alive_at(now_ms) => Decision::Held,
        _ => Decision::TakeOver,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Done,
    Held,
    TakeOver,
}

fn no_owner() -> StoreError {
    StoreError("a claim needs the record's owner (`owner: Some(..)`)".into())
}

/// The durable records behind exactly-once sends and starts.
pub trait Store: Send + Sync + 'static {
    /// Claims the send `record` is keyed by (thread, client id), atomically: inserts it as pending
    /// unless a record exists ([`Claim::New`]), else decides from the existing one (see [`Claim`]).
    /// `record.owner` must be set (the caller's instance and lease); `now_ms` (Unix ms) decides
    /// whether the existing owner's lease counts. A record without owner is refused (`Err`).
    fn begin_send(&self, record: SendRecord, now_ms: i64) -> BoxFuture<'_, StoreResult<Claim<SendRecord>>>;
    /// Extends the lease of a pending send to `owner.until_ms`: `true` while it is pending and
    /// owned by `owner.instance`; `false` when it is done, gone, or taken over by another instance
    /// (the caller must then stop working on it).
    fn renew_send(&self, thread: &str, client_id: &str, owner: Owner) -> BoxFuture<'_, StoreResult<bool>>;
    /// The send record as stored now (`None`: no such record).
    fn send_record(&self, thread: &str, client_id: &str) -> BoxFuture<'_, StoreResult<Option<SendRecord>>>;
    /// Marks a send as done with the message Mews created.
    fn finish_send(&self, thread: &str, client_id: &str, sent: Sent) -> BoxFuture<'_, StoreResult<()>>;
    /// Forgets a send that certainly did not reach Mews (rejected), so a retry may try again.
    fn forget_send(&self, thread: &str, client_id: &str) -> BoxFuture<'_, StoreResult<()>>;
    /// Ids of the messages recorded as sent in a thread: reading back never adopts one twice.
    fn sent_ids(&self, thread: &str) -> BoxFuture<'_, StoreResult<Vec<String>>>;
    /// Sends not known to be done (for recovery at start-up), whoever owns them.
    fn pending_sends(&self) -> BoxFuture<'_, StoreResult<Vec<SendRecord>>>;

    /// Claims the start `record` is keyed by (property, key); as [`Store::begin_send`].
    fn begin_start(&self, record: StartRecord, now_ms: i64) -> BoxFuture<'_, StoreResult<Claim<StartRecord>>>;
    /// As [`Store::renew_send`].
    fn renew_start(&self, property: &str, key: &str, owner: Owner) -> BoxFuture<'_, StoreResult<bool>>;
    /// The start record as stored now (`None`: no such record).
    fn start_record(&self, property: &str, key: &str) -> BoxFuture<'_, StoreResult<Option<StartRecord>>>;
    fn finish_start(&self, property: &str, key: &str, thread: &str) -> BoxFuture<'_, StoreResult<()>>;
    fn forget_start(&self, property: &str, key: &str) -> BoxFuture<'_, StoreResult<()>>;
    /// Starts not known to be done, whoever owns them.
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

    /// A fixed "now" (Unix ms) and lease length: the tests pass time in, nothing sleeps.
    const NOW: i64 = 1_764_500_000_000;
    const LEASE: i64 = 30_000;

    pub fn owner(instance: &str, until_ms: i64) -> Owner {
        Owner { instance: instance.into(), until_ms }
    }

    fn send(thread: &str, client_id: &str, text: &str, started: i64, by: &Owner) -> SendRecord {
        SendRecord {
            property: "grand".into(),
            thread: thread.into(),
            client_id: client_id.into(),
            text: text.into(),
            started,
            sent: None,
            owner: Some(by.clone()),
        }
    }

    fn start(key: &str, started: i64, by: &Owner) -> StartRecord {
        StartRecord {
            property: "grand".into(),
            key: key.into(),
            reference: format!("ref-{key}"),
            name: "Jane".into(),
            subject: "Parking · #REF".into(),
            topic: "Parking".into(),
            started,
            thread: None,
            owner: Some(by.clone()),
        }
    }

    fn with_owner<R: Clone>(r: &R, set: impl FnOnce(&mut R)) -> R {
        let mut r = r.clone();
        set(&mut r);
        r
    }

    pub async fn sends_are_recorded_once(store: SharedStore) {
        let a = owner("a", NOW + LEASE);
        let first = send("t1", "c1", "hello", 100, &a);
        assert_eq!(store.send_record("t1", "c1").await.unwrap(), None);
        assert_eq!(store.begin_send(first.clone(), NOW).await.unwrap(), Claim::New, "a new key is inserted");
        assert_eq!(store.send_record("t1", "c1").await.unwrap(), Some(first.clone()));

        // A retry on the same instance: taken over (read back first), the first record but for
        // the owner's new lease.
        let a2 = owner("a", NOW + 2 * LEASE);
        let again = store.begin_send(send("t1", "c1", "other text", 200, &a2), NOW + 1).await.unwrap();
        let first = with_owner(&first, |r| r.owner = Some(a2.clone()));
        assert_eq!(again, Claim::TakenOver(first.clone()), "the same key keeps the first text and start");
        assert_eq!(store.pending_sends().await.unwrap(), vec![first.clone()]);

        let sent = Sent { id: "m1".into(), at: "2026-11-30T10:00:00Z".into() };
        store.finish_send("t1", "c1", sent.clone()).await.unwrap();
        let Claim::Done(done) = store.begin_send(send("t1", "c1", "hello", 300, &owner("b", NOW)), NOW).await.unwrap()
        else {
            panic!("a completed send is done for every instance");
        };
        assert_eq!((done.sent, done.text.as_str()), (Some(sent), "hello"));
        assert!(store.pending_sends().await.unwrap().is_empty());
        assert_eq!(store.sent_ids("t1").await.unwrap(), vec!["m1".to_string()]);
        assert!(store.sent_ids("t2").await.unwrap().is_empty(), "ids are per thread");

        // The same client id in another thread is another message.
        assert_eq!(store.begin_send(send("t2", "c1", "hello", 100, &a), NOW).await.unwrap(), Claim::New);
        // A thread id that is a prefix of another does not leak into it.
        assert_eq!(store.begin_send(send("t", "1\u{1f}c1", "x", 100, &a), NOW).await.unwrap(), Claim::New);
        assert_eq!(store.begin_send(send("t", "1:c1", "x", 100, &a), NOW).await.unwrap(), Claim::New);
        assert_eq!(store.sent_ids("t").await.unwrap(), Vec::<String>::new());

        store.forget_send("t2", "c1").await.unwrap();
        assert_eq!(store.send_record("t2", "c1").await.unwrap(), None);
        assert_eq!(
            store.begin_send(send("t2", "c1", "again", 150, &a), NOW).await.unwrap(),
            Claim::New,
            "forgotten: new"
        );

        // Forgetting a completed send takes its id out of the thread's.
        store.forget_send("t1", "c1").await.unwrap();
        assert!(store.sent_ids("t1").await.unwrap().is_empty());

        // A claim must say who claims.
        let anonymous = SendRecord { owner: None, ..send("t3", "c1", "x", 100, &a) };
        assert!(store.begin_send(anonymous, NOW).await.is_err(), "a claim without owner is refused");
        assert_eq!(store.send_record("t3", "c1").await.unwrap(), None, "and writes nothing");
    }

    pub async fn starts_are_recorded_once(store: SharedStore) {
        let a = owner("a", NOW + LEASE);
        let s = start("k1", 100, &a);
        assert_eq!(store.start_record("grand", "k1").await.unwrap(), None);
        assert_eq!(store.begin_start(s.clone(), NOW).await.unwrap(), Claim::New);
        assert_eq!(store.start_record("grand", "k1").await.unwrap(), Some(s.clone()));
        let a2 = owner("a", NOW + 2 * LEASE);
        let s = with_owner(&s, |r| r.owner = Some(a2.clone()));
        assert_eq!(store.begin_start(start("k1", 500, &a2), NOW).await.unwrap(), Claim::TakenOver(s.clone()));
        assert_eq!(store.pending_starts().await.unwrap(), vec![s.clone()]);
        store.finish_start("grand", "k1", "thread-9").await.unwrap();
        let Claim::Done(done) = store.begin_start(start("k1", 600, &owner("b", NOW)), NOW).await.unwrap() else {
            panic!("a completed start is done for every instance");
        };
        assert_eq!((done.thread.as_deref(), done.reference.as_str()), (Some("thread-9"), "ref-k1"));
        assert!(store.pending_starts().await.unwrap().is_empty());
        // Keys are per property.
        let other = StartRecord { property: "other".into(), ..start("k1", 100, &a) };
        assert_eq!(store.begin_start(other, NOW).await.unwrap(), Claim::New);
        store.forget_start("grand", "k1").await.unwrap();
        assert_eq!(store.start_record("grand", "k1").await.unwrap(), None);
        assert_eq!(store.begin_start(start("k1", 700, &a), NOW).await.unwrap(), Claim::New);
        let anonymous = StartRecord { owner: None, ..start("k2", 100, &a) };
        assert!(store.begin_start(anonymous, NOW).await.is_err(), "a claim without owner is refused");
    }

    pub async fn old_records_are_purged(store: SharedStore) {
        let a = owner("a", NOW + LEASE);
        store.begin_send(send("t1", "old", "a", 100, &a), NOW).await.unwrap();
        store.begin_send(send("t1", "old-done", "b", 100, &a), NOW).await.unwrap();
        store.finish_send("t1", "old-done", Sent { id: "m-old".into(), at: "x".into() }).await.unwrap();
        store.begin_send(send("t1", "new", "c", 1000, &a), NOW).await.unwrap();
        store.begin_start(start("old", 100, &a), NOW).await.unwrap();
        store.begin_start(start("new", 1000, &a), NOW).await.unwrap();
        assert_eq!(store.purge(500).await.unwrap(), 3);
        let left: Vec<String> = store.pending_sends().await.unwrap().into_iter().map(|r| r.client_id).collect();
        assert_eq!(left, vec!["new".to_string()]);
        assert_eq!(store.send_record("t1", "old-done").await.unwrap(), None);
        assert!(store.sent_ids("t1").await.unwrap().is_empty(), "a purged send's id goes with it");
        let left: Vec<String> = store.pending_starts().await.unwrap().into_iter().map(|r| r.key).collect();
        assert_eq!(left, vec!["new".to_string()]);
        assert_eq!(store.purge(500).await.unwrap(), 0, "nothing twice");
    }

    /// Held by a live other owner, taken over after its lease, renewals after a takeover, taken
    /// over by the owner's own instance, done for everyone.
    pub async fn sends_are_claimed_between_instances(store: SharedStore) {
        let (a, b) = (owner("a", NOW + LEASE), owner("b", NOW + 2 * LEASE));
        let mine = send("t", "c", "hello", 100, &a);
        assert_eq!(store.begin_send(mine.clone(), NOW).await.unwrap(), Claim::New);
        assert!(store.renew_send("t", "c", owner("a", NOW + LEASE + 5)).await.unwrap(), "the owner renews");
        let mine = with_owner(&mine, |r| r.owner = Some(owner("a", NOW + LEASE + 5)));

        // B, while A's lease runs: held, and B learns who holds it.
        let theirs = send("t", "c", "hello (retry)", 200, &b);
        assert_eq!(store.begin_send(theirs.clone(), NOW + LEASE).await.unwrap(), Claim::Held(mine.clone()));
        assert_eq!(store.send_record("t", "c").await.unwrap(), Some(mine.clone()), "held changes nothing");

        // B, once A's lease has passed: taken over, B owns it.
        let taken = with_owner(&mine, |r| r.owner = Some(b.clone()));
        assert_eq!(store.begin_send(theirs.clone(), NOW + LEASE + 5).await.unwrap(), Claim::TakenOver(taken.clone()));
        assert!(!store.renew_send("t", "c", owner("a", NOW + 9 * LEASE)).await.unwrap(), "A lost it");
        assert_eq!(store.send_record("t", "c").await.unwrap(), Some(taken.clone()), "A's renewal changed nothing");
        let retry_on_a = send("t", "c", "hello", 300, &owner("a", NOW + 3 * LEASE));
        assert_eq!(store.begin_send(retry_on_a.clone(), NOW + LEASE + 6).await.unwrap(), Claim::Held(taken.clone()));

        // B renews: A must wait longer.
        assert!(store.renew_send("t", "c", owner("b", NOW + 5 * LEASE)).await.unwrap());
        let renewed = with_owner(&mine, |r| r.owner = Some(owner("b", NOW + 5 * LEASE)));
        assert_eq!(store.send_record("t", "c").await.unwrap(), Some(renewed.clone()));
        assert_eq!(store.begin_send(retry_on_a, NOW + 3 * LEASE).await.unwrap(), Claim::Held(renewed));

        // A retry on B itself, lease alive: B's own instance takes it over (a restarted or
        // repeated attempt of the same instance reads back, it does not wait for itself).
        let b_again = owner("b", NOW + 6 * LEASE);
        let again = store.begin_send(send("t", "c", "x", 400, &b_again), NOW + 4 * LEASE).await.unwrap();
        assert_eq!(again, Claim::TakenOver(with_owner(&mine, |r| r.owner = Some(b_again.clone()))));

        // Done: no more renewals, everyone gets the result.
        let sent = Sent { id: "m".into(), at: "2026-11-30T10:00:00Z".into() };
        store.finish_send("t", "c", sent.clone()).await.unwrap();
        assert!(!store.renew_send("t", "c", owner("b", NOW + 7 * LEASE)).await.unwrap(), "done: nothing to renew");
        for who in ["a", "b", "c"] {
            match store.begin_send(send("t", "c", "x", 500, &owner(who, NOW)), NOW).await.unwrap() {
                Claim::Done(r) => assert_eq!(r.sent.as_ref(), Some(&sent)),
                other => panic!("{who}: {other:?}"),
            }
        }
        assert!(!store.renew_send("t", "nobody", owner("b", NOW)).await.unwrap(), "no record: nothing to renew");
    }

    /// The same for starts.
    pub async fn starts_are_claimed_between_instances(store: SharedStore) {
        let (a, b) = (owner("a", NOW + LEASE), owner("b", NOW + 2 * LEASE));
        let mine = start("k", 100, &a);
        assert_eq!(store.begin_start(mine.clone(), NOW).await.unwrap(), Claim::New);
        assert_eq!(store.begin_start(start("k", 200, &b), NOW + 1).await.unwrap(), Claim::Held(mine.clone()));
        let taken = with_owner(&mine, |r| r.owner = Some(b.clone()));
        assert_eq!(store.begin_start(start("k", 200, &b), NOW + LEASE).await.unwrap(), Claim::TakenOver(taken.clone()));
        assert!(!store.renew_start("grand", "k", owner("a", NOW + 9 * LEASE)).await.unwrap(), "A lost it");
        assert!(store.renew_start("grand", "k", owner("b", NOW + 5 * LEASE)).await.unwrap());
        let renewed = with_owner(&mine, |r| r.owner = Some(owner("b", NOW + 5 * LEASE)));
        assert_eq!(store.start_record("grand", "k").await.unwrap(), Some(renewed.clone()));
        assert_eq!(store.begin_start(start("k", 300, &a), NOW + 4 * LEASE).await.unwrap(), Claim::Held(renewed));
        let b_again = owner("b", NOW + 6 * LEASE);
        assert_eq!(
            store.begin_start(start("k", 300, &b_again), NOW + 4 * LEASE).await.unwrap(),
            Claim::TakenOver(with_owner(&mine, |r| r.owner = Some(b_again.clone())))
        );
        store.finish_start("grand", "k", "thread-1").await.unwrap();
        assert!(!store.renew_start("grand", "k", owner("b", NOW + 7 * LEASE)).await.unwrap());
        match store.begin_start(start("k", 300, &a), NOW).await.unwrap() {
            Claim::Done(r) => assert_eq!(r.thread.as_deref(), Some("thread-1")),
            other => panic!("{other:?}"),
        }
        assert!(!store.renew_start("grand", "nothing", owner("b", NOW)).await.unwrap());
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

    /// Many concurrent claims of one key from many instances, through two store clients (for a
    /// shared store: two connections, the cross-instance case): exactly one sees it as new and the
    /// others as held; once that lease passed, exactly one takes it over.
    pub async fn concurrent_claims_have_one_winner(one: SharedStore, two: SharedStore) {
        async fn race<R: Send + 'static>(
            one: &SharedStore,
            two: &SharedStore,
            claim: impl Fn(SharedStore, usize) -> BoxFuture<'static, StoreResult<Claim<R>>>,
        ) -> (usize, usize, usize) {
            let tasks: Vec<_> =
                (0..16).map(|i| tokio::spawn(claim(if i % 2 == 0 { one.clone() } else { two.clone() }, i))).collect();
            let (mut new, mut taken, mut held) = (0, 0, 0);
            for t in tasks {
                match t.await.unwrap().unwrap() {
                    Claim::New => new += 1,
                    Claim::TakenOver(_) => taken += 1,
                    Claim::Held(_) => held += 1,
                    Claim::Done(_) => panic!("nothing is done here"),
                }
            }
            (new, taken, held)
        }
        let sends = |now: i64| {
            move |store: SharedStore, i: usize| -> BoxFuture<'static, StoreResult<Claim<SendRecord>>> {
                Box::pin(async move {
                    let by = owner(&format!("instance-{i}"), now + LEASE);
                    store.begin_send(send("race", "c", &format!("{i}"), i as i64, &by), now).await
                })
            }
        };
        assert_eq!(race(&one, &two, sends(NOW)).await, (1, 0, 15), "one inserts, the others wait");
        assert_eq!(race(&one, &two, sends(NOW + LEASE)).await, (0, 1, 15), "one takes over, the others wait");

        let starts = |now: i64| {
            move |store: SharedStore, i: usize| -> BoxFuture<'static, StoreResult<Claim<StartRecord>>> {
                Box::pin(async move {
                    store.begin_start(start("race", i as i64, &owner(&format!("instance-{i}"), now + LEASE)), now).await
                })
            }
        };
        assert_eq!(race(&one, &two, starts(NOW)).await, (1, 0, 15));
        assert_eq!(race(&one, &two, starts(NOW + LEASE)).await, (0, 1, 15));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_before_claims_have_no_owner_and_count_as_expired() {
        let old = r#"{"property":"p","thread":"t","client_id":"c","text":"hi","started":1,"sent":null}"#;
        let r: SendRecord = serde_json::from_str(old).unwrap();
        assert_eq!(r.owner, None);
        let old = r#"{"property":"p","key":"k","reference":"R","name":"N","subject":"S","topic":"T","started":1,"thread":null}"#;
        assert_eq!(serde_json::from_str::<StartRecord>(old).unwrap().owner, None);
        let me = Owner { instance: "me".into(), until_ms: 2000 };
        assert_eq!(decide(false, None, &me, 1000), Decision::TakeOver);
        assert_eq!(decide(true, None, &me, 1000), Decision::Done);
        let other = Owner { instance: "other".into(), until_ms: 1000 };
        assert_eq!(decide(false, Some(&other), &me, 999), Decision::Held);
        assert_eq!(decide(false, Some(&other), &me, 1000), Decision::TakeOver, "the lease ends at until_ms");
        let me_earlier = Owner { instance: "me".into(), until_ms: 5000 };
        assert_eq!(decide(false, Some(&me_earlier), &me, 1000), Decision::TakeOver, "my own instance");
    }
}
