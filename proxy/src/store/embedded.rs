//! The default store: one [redb](https://docs.rs/redb) file on local disk.
//!
//! redb was chosen over SQLite because it is pure Rust (no C compiler, no `-sys` build in CI, a
//! few seconds of compile time), keeps everything in one file, and commits each write
//! transaction durably (copy-on-write pages and an fsync before `commit` returns), so a record
//! written before a Mews call is on disk when the call leaves, and `kill -9` at any point leaves
//! either the old or the new state. The file is locked: a second `lobby` on the same file fails
//! at start-up instead of corrupting it.
//!
//! Writes go through one writer thread that commits them in groups: every write that arrives
//! while a commit (and its fsync) is under way joins the next transaction, and each caller is
//! answered after the commit that holds its write. One fsync then serves many guests (at 100
//! messages a second, each written twice, one commit per write would queue behind the disk).
//! Reads run on Tokio's blocking pool.
//!
//! Two tables, keyed by tuples so that one thread's records are one range:
//! `sends` ((thread, client id) → JSON [`SendRecord`]) and `starts` ((property, key) → JSON
//! [`StartRecord`]). Values are JSON for easy inspection and forward-compatible fields. A claim
//! (read, decide, write the new owner) runs inside one write transaction: the single writer
//! thread applies the group's operations one after another, so two claims never interleave.
//! A third table, `bookings` ((property, reservation id) → thread id), holds the links of
//! "Find my booking".

use std::{path::Path, sync::Arc};

use futures::{FutureExt, future::BoxFuture};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::oneshot;

use super::{Claim, Decision, Owner, SendRecord, Sent, StartRecord, Store, StoreError, StoreResult, decide, no_owner};

const SENDS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("sends");
const STARTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("starts");
const BOOKINGS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("bookings");

/// Called with the outcome of the commit that held a write.
type Finish = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// One write: applied inside the group's transaction, answered after its commit.
type WriteOp = Box<dyn FnOnce(&WriteTransaction) -> Finish + Send>;

/// Writes in one transaction at most; bounds the time a commit keeps its callers.
const MAX_GROUP: usize = 512;

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    writer: Arc<Writer>,
}

/// The writer thread and its queue; the last clone of the store stops the thread and waits for
/// it, so the file is free again when the store is gone (a restart in the same process).
struct Writer {
    queue: Option<std::sync::mpsc::Sender<WriteOp>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

fn decode<T: DeserializeOwned>(b: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(b).map_err(err)
}

impl EmbeddedStore {
    /// Opens the database file, creating it (and its directory) on first start.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        }
        let db = Database::create(path).map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
        Self::init(db)
    }

    /// The same database in memory (the proxy's unit tests; nothing survives the process).
    pub fn in_memory() -> StoreResult<Self> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).map_err(err)?;
        Self::init(db)
    }

    fn init(db: Database) -> StoreResult<Self> {
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(SENDS).map_err(err)?;
        tx.open_table(STARTS).map_err(err)?;
        tx.open_table(BOOKINGS).map_err(err)?;
        tx.commit().map_err(err)?;
        let db = Arc::new(db);
        let (writes, queue) = std::sync::mpsc::channel::<WriteOp>();
        let writer_db = db.clone();
        let thread = std::thread::Builder::new()
            .name("lobby-store-writer".into())
            .spawn(move || write_groups(&writer_db, &queue))
            .map_err(err)?;
        Ok(Self { db, writer: Arc::new(Writer { queue: Some(writes), thread: Some(thread) }) })
    }

    /// Runs `f` in the next group transaction; answers after that transaction committed.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let (tx, rx) = oneshot::channel();
        let op: WriteOp = Box::new(move |txn| {
            let result = f(txn);
            Box::new(move |commit: StoreResult<()>| {
                let _ = tx.send(commit.and(result));
            })
        });
        let queued = match &self.writer.queue {
            Some(q) => q.send(op).map_err(|_| err("the store's writer stopped")),
            None => Err(err("the store is closed")),
        };
        async move {
            queued?;
            rx.await.map_err(|_| err("the store's writer stopped"))?
        }
        .boxed()
    }

    /// Runs `f` on the blocking pool.
    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let db = self.db.clone();
        async move { tokio::task::spawn_blocking(move || f(&db)).await.map_err(err)? }.boxed()
    }

    /// Claims `key` for `value`'s owner at `now_ms` (see [`Claim`]), in one write transaction.
    fn claim<T: Pending>(
        &self,
        table: TableDefinition<'static, (&'static str, &'static str), &'static [u8]>,
        key: (String, String),
        value: T,
        now_ms: i64,
    ) -> BoxFuture<'static, StoreResult<Claim<T>>> {
        let Some(caller) = value.owner().cloned() else {
            return futures::future::ready(Err(no_owner())).boxed();
        };
        self.write(move |tx| {
            let mut t = tx.open_table(table).map_err(err)?;
            let existing = t.get((key.0.as_str(), key.1.as_str())).map_err(err)?.map(|v| decode::<T>(v.value()));
            let Some(existing) = existing else {
                t.insert((key.0.as_str(), key.1.as_str()), encode(&value).as_slice()).map_err(err)?;
                return Ok(Claim::New);
            };
            let mut existing = existing?;
            Ok(match decide(existing.is_done(), existing.owner(), &caller, now_ms) {
                Decision::Done => Claim::Done(existing),
                Decision::Held => Claim::Held(existing),
                Decision::TakeOver => {
                    existing.set_owner(caller);
                    t.insert((key.0.as_str(), key.1.as_str()), encode(&existing).as_slice()).map_err(err)?;
                    Claim::TakenOver(existing)
                }
            })
        })
    }

    /// Extends the lease of the pending record under `key` if `owner.instance` owns it.
    fn renew<T: Pending>(
        &self,
        table: TableDefinition<'static, (&'static str, &'static str), &'static [u8]>,
        key: (String, String),
        owner: Owner,
    ) -> BoxFuture<'static, StoreResult<bool>> {
        self.write(move |tx| {
            let mut t = tx.open_table(table).map_err(err)?;
            let current = t.get((key.0.as_str(), key.1.as_str())).map_err(err)?.map(|v| decode::<T>(v.value()));
            let Some(current) = current else { return Ok(false) };
            let mut record = current?;
            if record.is_done() || record.owner().is_none_or(|o| o.instance != owner.instance) {
                return Ok(false);
            }
            record.set_owner(owner);
            t.insert((key.0.as_str(), key.1.as_str()), encode(&record).as_slice()).map_err(err)?;
            Ok(true)
        })
    }

    /// The record under `key`.
    fn get<T: DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, (&'static str, &'static str), &'static [u8]>,
        key: (String, String),
    ) -> BoxFuture<'static, StoreResult<Option<T>>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(table).map_err(err)?;
            let v = t.get((key.0.as_str(), key.1.as_str())).map_err(err)?;
            v.map(|v| decode::<T>(v.value())).transpose()
        })
    }

    /// Rewrites the record under `key` with `change` (nothing when absent).
    fn update<T: Serialize + DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, (&'static str, &'static str), &'static [u8]>,
        key: (String, String),
        change: impl FnOnce(&mut T) + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<()>> {
        self.write(move |tx| {
            {
                let mut t = tx.open_table(table).map_err(err)?;
                let current = t.get((key.0.as_str(), key.1.as_str())).map_err(err)?.map(|v| decode::<T>(v.value()));
                if let Some(current) = current {
                    let mut record = current?;
                    change(&mut record);
                    t.insert((key.0.as_str(), key.1.as_str()), encode(&record).as_slice()).map_err(err)?;
                }
            }
            Ok(())
        })
    }

    fn remove(
        &self,
        table: TableDefinition<'static, (&'static str, &'static str), &'static [u8]>,
        key: (String, String),
    ) -> BoxFuture<'static, StoreResult<()>> {
        self.write(move |tx| {
            tx.open_table(table).map_err(err)?.remove((key.0.as_str(), key.1.as_str())).map_err(err)?;
            Ok(())
        })
    }

    /// Every record of a table that `keep` accepts.
    fn scan<T: DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, (&'static str, &'static str), &'static [u8]>,
        keep: impl Fn(&T) -> bool + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<Vec<T>>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(table).map_err(err)?;
            let mut out = Vec::new();
            for row in t.iter().map_err(err)? {
                let (_, v) = row.map_err(err)?;
                let r: T = decode(v.value())?;
                if keep(&r) {
                    out.push(r);
                }
            }
            Ok(out)
        })
    }
}

/// What a claim needs to know of a record.
trait Pending: Serialize + DeserializeOwned + Send + 'static {
    fn is_done(&self) -> bool;
    fn owner(&self) -> Option<&Owner>;
    fn set_owner(&mut self, owner: Owner);
}

impl Pending for SendRecord {
    fn is_done(&self) -> bool {
        self.sent.is_some()
    }
    fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
    fn set_owner(&mut self, owner: Owner) {
        self.owner = Some(owner);
    }
}

impl Pending for StartRecord {
    fn is_done(&self) -> bool {
        self.thread.is_some()
    }
    fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
    fn set_owner(&mut self, owner: Owner) {
        self.owner = Some(owner);
    }
}

/// The writer thread: waits for a write, takes every write queued behind it (up to
/// [`MAX_GROUP`]), applies them in one transaction, commits, and answers each. Ends when the
/// store is dropped.
fn write_groups(db: &Database, queue: &std::sync::mpsc::Receiver<WriteOp>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let txn = match db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                // The ops are dropped unanswered: each caller sees "the store's writer stopped".
                tracing::error!(error = %err(e), "store: cannot begin a write");
                continue;
            }
        };
        let finishes: Vec<Finish> = group.into_iter().map(|op| op(&txn)).collect();
        let commit = txn.commit().map_err(err);
        for f in finishes {
            f(commit.clone());
        }
    }
}

impl Store for EmbeddedStore {
    fn begin_send(&self, record: SendRecord, now_ms: i64) -> BoxFuture<'_, StoreResult<Claim<SendRecord>>> {
        let key = (record.thread.clone(), record.client_id.clone());
        self.claim(SENDS, key, record, now_ms)
    }

    fn renew_send(&self, thread: &str, client_id: &str, owner: Owner) -> BoxFuture<'_, StoreResult<bool>> {
        self.renew::<SendRecord>(SENDS, (thread.to_owned(), client_id.to_owned()), owner)
    }

    fn send_record(&self, thread: &str, client_id: &str) -> BoxFuture<'_, StoreResult<Option<SendRecord>>> {
        self.get(SENDS, (thread.to_owned(), client_id.to_owned()))
    }

    fn finish_send(&self, thread: &str, client_id: &str, sent: Sent) -> BoxFuture<'_, StoreResult<()>> {
        self.update(SENDS, (thread.to_owned(), client_id.to_owned()), move |r: &mut SendRecord| r.sent = Some(sent))
    }

    fn forget_send(&self, thread: &str, client_id: &str) -> BoxFuture<'_, StoreResult<()>> {
        self.remove(SENDS, (thread.to_owned(), client_id.to_owned()))
    }

    fn sent_ids(&self, thread: &str) -> BoxFuture<'_, StoreResult<Vec<String>>> {
        let thread = thread.to_owned();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(SENDS).map_err(err)?;
            let mut ids = Vec::new();
            for row in t.range((thread.as_str(), "")..).map_err(err)? {
                let (k, v) = row.map_err(err)?;
                if k.value().0 != thread {
                    break;
                }
                if let Some(sent) = decode::<SendRecord>(v.value())?.sent {
                    ids.push(sent.id);
                }
            }
            Ok(ids)
        })
    }

    fn pending_sends(&self) -> BoxFuture<'_, StoreResult<Vec<SendRecord>>> {
        self.scan(SENDS, |r: &SendRecord| r.sent.is_none())
    }

    fn begin_start(&self, record: StartRecord, now_ms: i64) -> BoxFuture<'_, StoreResult<Claim<StartRecord>>> {
        let key = (record.property.clone(), record.key.clone());
        self.claim(STARTS, key, record, now_ms)
    }

    fn renew_start(&self, property: &str, key: &str, owner: Owner) -> BoxFuture<'_, StoreResult<bool>> {
        self.renew::<StartRecord>(STARTS, (property.to_owned(), key.to_owned()), owner)
    }

    fn start_record(&self, property: &str, key: &str) -> BoxFuture<'_, StoreResult<Option<StartRecord>>> {
        self.get(STARTS, (property.to_owned(), key.to_owned()))
    }

    fn finish_start(&self, property: &str, key: &str, thread: &str) -> BoxFuture<'_, StoreResult<()>> {
        let thread = thread.to_owned();
        self.update(STARTS, (property.to_owned(), key.to_owned()), move |r: &mut StartRecord| r.thread = Some(thread))
    }

    fn forget_start(&self, property: &str, key: &str) -> BoxFuture<'_, StoreResult<()>> {
        self.remove(STARTS, (property.to_owned(), key.to_owned()))
    }

    fn pending_starts(&self) -> BoxFuture<'_, StoreResult<Vec<StartRecord>>> {
        self.scan(STARTS, |r: &StartRecord| r.thread.is_none())
    }

    fn purge(&self, before: i64) -> BoxFuture<'_, StoreResult<usize>> {
        self.write(move |tx| {
            let mut n = 0;
            {
                let mut sends = tx.open_table(SENDS).map_err(err)?;
                let old = sends
                    .extract_if(|_, v| decode::<SendRecord>(v).map(|r| r.started < before).unwrap_or(true))
                    .map_err(err)?;
                n += old.count();
            }
            {
                let mut starts = tx.open_table(STARTS).map_err(err)?;
                let old = starts
                    .extract_if(|_, v| decode::<StartRecord>(v).map(|r| r.started < before).unwrap_or(true))
                    .map_err(err)?;
                n += old.count();
            }
            Ok(n)
        })
    }

    fn link_booking(&self, property: &str, reservation_id: &str, thread: &str) -> BoxFuture<'_, StoreResult<()>> {
        let (p, r, t) = (property.to_owned(), reservation_id.to_owned(), thread.to_owned());
        self.write(move |tx| {
            tx.open_table(BOOKINGS).map_err(err)?.insert((p.as_str(), r.as_str()), t.as_bytes()).map_err(err)?;
            Ok(())
        })
    }

    fn booking_thread(&self, property: &str, reservation_id: &str) -> BoxFuture<'_, StoreResult<Option<String>>> {
        let (p, r) = (property.to_owned(), reservation_id.to_owned());
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(BOOKINGS).map_err(err)?;
            let found = t.get((p.as_str(), r.as_str())).map_err(err)?;
            Ok(found.map(|v| String::from_utf8_lossy(v.value()).into_owned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SharedStore, conformance};

    fn open() -> (tempfile::TempDir, Arc<EmbeddedStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("sub/lobby.redb")).unwrap();
        (dir, Arc::new(store))
    }

    #[tokio::test]
    async fn sends_are_recorded_once() {
        conformance::sends_are_recorded_once(open().1).await;
    }

    #[tokio::test]
    async fn starts_are_recorded_once() {
        conformance::starts_are_recorded_once(open().1).await;
    }

    #[tokio::test]
    async fn old_records_are_purged() {
        conformance::old_records_are_purged(open().1).await;
    }

    #[tokio::test]
    async fn booking_links_are_kept() {
        conformance::booking_links_are_kept(open().1).await;
    }

    #[tokio::test]
    async fn sends_are_claimed_between_instances() {
        conformance::sends_are_claimed_between_instances(open().1).await;
    }

    #[tokio::test]
    async fn starts_are_claimed_between_instances() {
        conformance::starts_are_claimed_between_instances(open().1).await;
    }

    /// One file has one opener: the two clients are two handles on it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_have_one_winner() {
        let (_dir, store) = open();
        let other: SharedStore = store.clone();
        conformance::concurrent_claims_have_one_winner(store, other).await;
    }

    /// A pending record written before claims (no owner) counts as expired: taken over.
    #[tokio::test]
    async fn a_record_written_before_claims_is_taken_over() {
        let (_dir, store) = open();
        let old = br#"{"property":"p","thread":"t","client_id":"c","text":"hi","started":1,"sent":null}"#.to_vec();
        store
            .write(move |tx| {
                tx.open_table(SENDS).map_err(err)?.insert(("t", "c"), old.as_slice()).map_err(err)?;
                Ok(())
            })
            .await
            .unwrap();
        let me = conformance::owner("me", 2000);
        let mut retry = store.send_record("t", "c").await.unwrap().expect("the old record reads");
        assert_eq!(retry.owner, None);
        retry.owner = Some(me.clone());
        retry.text = "retry".into();
        let Claim::TakenOver(r) = store.begin_send(retry, 1000).await.unwrap() else { panic!("taken over") };
        assert_eq!((r.text.as_str(), r.owner), ("hi", Some(me)));
    }

    #[tokio::test]
    async fn records_survive_reopening_and_the_file_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lobby.redb");
        let store = EmbeddedStore::open(&path).unwrap();
        let r = SendRecord {
            property: "p".into(),
            thread: "t".into(),
            client_id: "c".into(),
            text: "hi".into(),
            started: 1,
            sent: None,
            owner: Some(conformance::owner("me", 2000)),
        };
        assert_eq!(store.begin_send(r.clone(), 1000).await.unwrap(), Claim::New);
        assert!(EmbeddedStore::open(&path).is_err(), "a second opener is refused while the first holds the file");
        drop(store);
        let reopened = EmbeddedStore::open(&path).unwrap();
        assert_eq!(reopened.pending_sends().await.unwrap(), vec![r]);
    }
}
