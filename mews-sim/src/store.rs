//! The in-memory data: message threads and messages, with the staff-side state Mews keeps but the
//! Connector API never shows (who owns a thread, which enterprise it is in, what staff have read).
//!
//! Every thread and message gets a monotonically increasing sequence number. Timestamps are
//! whole seconds (as Mews emits them), so ordering "newest first" uses `(CreatedUtc, seq)`: ties
//! inside one second are broken deterministically by insertion order.

use std::collections::HashMap;

use jiff::Timestamp;
use mews_wire::{Message, MessageThread, Sender, SenderKind};
use rand::{SeedableRng, rngs::StdRng};

use crate::directory::random_uuid;

/// The sort key used for "newest first" pagination.
pub type OrderKey = (Timestamp, u64);

#[derive(Clone, Debug)]
pub struct Thread {
    pub id: String,
    pub seq: u64,
    /// Index of the owning client application (the only one that can see it via the API).
    pub client: usize,
    pub enterprise_id: String,
    pub original_sender: String,
    pub subject: String,
    pub created_utc: Timestamp,
    pub updated_utc: Timestamp,
    /// Sequence of the last change, for ordering the staff inbox by activity.
    pub updated_seq: u64,
    pub is_resolved: bool,
    /// Sequence number of the newest message staff have seen.
    pub staff_read_seq: u64,
    /// Indices into the message list, oldest first.
    messages: Vec<usize>,
}

impl Thread {
    pub fn order_key(&self) -> OrderKey {
        (self.created_utc, self.seq)
    }

    pub fn to_wire(&self) -> MessageThread {
        MessageThread {
            id: self.id.clone(),
            original_sender: self.original_sender.clone(),
            subject: self.subject.clone(),
            created_utc: self.created_utc,
            updated_utc: self.updated_utc,
            is_resolved: self.is_resolved,
        }
    }

    pub fn message_count(&self) -> usize {
        self.messages.len()
    }
}

#[derive(Clone, Debug)]
pub struct StoredMessage {
    pub id: String,
    pub seq: u64,
    pub thread_id: String,
    pub text: String,
    pub sender: SenderKind,
    pub created_utc: Timestamp,
}

impl StoredMessage {
    pub fn order_key(&self) -> OrderKey {
        (self.created_utc, self.seq)
    }

    pub fn to_wire(&self) -> Message {
        Message {
            id: self.id.clone(),
            message_thread_id: self.thread_id.clone(),
            text: self.text.clone(),
            sender: Sender { discriminator: self.sender },
            created_utc: self.created_utc,
        }
    }
}

/// The current time truncated to whole seconds, as Mews emits timestamps.
pub fn now_utc() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[derive(Debug)]
pub struct Store {
    threads: Vec<Thread>,
    thread_index: HashMap<String, usize>,
    messages: Vec<StoredMessage>,
    message_index: HashMap<String, usize>,
    next_seq: u64,
    ids: StdRng,
}

impl Store {
    pub fn new(seed: u64) -> Self {
        Self {
            threads: Vec::new(),
            thread_index: HashMap::new(),
            messages: Vec::new(),
            message_index: HashMap::new(),
            next_seq: 1,
            ids: StdRng::seed_from_u64(seed),
        }
    }

    /// Drops all threads and messages. The id generator keeps going, so ids handed out before a
    /// reset are never reused.
    pub fn clear(&mut self) {
        self.threads.clear();
        self.thread_index.clear();
        self.messages.clear();
        self.message_index.clear();
    }

    fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    pub fn add_thread(
        &mut self,
        client: usize,
        enterprise_id: &str,
        original_sender: &str,
        subject: &str,
        now: Timestamp,
    ) -> &Thread {
        let id = random_uuid(&mut self.ids);
        let seq = self.seq();
        self.thread_index.insert(id.clone(), self.threads.len());
        self.threads.push(Thread {
            id,
            seq,
            client,
            enterprise_id: enterprise_id.to_string(),
            original_sender: original_sender.to_string(),
            subject: subject.to_string(),
            created_utc: now,
            updated_utc: now,
            updated_seq: seq,
            is_resolved: false,
            staff_read_seq: 0,
            messages: Vec::new(),
        });
        self.threads.last().expect("just pushed")
    }

    pub fn thread(&self, id: &str) -> Option<&Thread> {
        self.thread_index.get(id).map(|&i| &self.threads[i])
    }

    fn thread_mut(&mut self, id: &str) -> Option<&mut Thread> {
        self.thread_index.get(id).map(|&i| &mut self.threads[i])
    }

    /// All threads, oldest first.
    pub fn threads(&self) -> impl Iterator<Item = &Thread> {
        self.threads.iter()
    }

    pub fn message(&self, id: &str) -> Option<&StoredMessage> {
        self.message_index.get(id).map(|&i| &self.messages[i])
    }

    /// Messages of a thread, oldest first (empty for an unknown thread).
    pub fn messages_of<'a>(&'a self, thread_id: &str) -> impl Iterator<Item = &'a StoredMessage> {
        self.thread(thread_id).map(|t| t.messages.as_slice()).unwrap_or_default().iter().map(|&i| &self.messages[i])
    }

    /// Appends a message. `UpdatedUtc` of the thread moves to `now` (an inference: the docs do not
    /// say what moves it). A staff (`Enterprise`) message also marks the thread read for staff.
    /// Returns `None` for an unknown thread.
    pub fn add_message(
        &mut self,
        thread_id: &str,
        text: &str,
        sender: SenderKind,
        now: Timestamp,
    ) -> Option<StoredMessage> {
        let &thread_pos = self.thread_index.get(thread_id)?;
        let id = random_uuid(&mut self.ids);
        let seq = self.seq();
        let message = StoredMessage {
            id: id.clone(),
            seq,
            thread_id: thread_id.to_string(),
            text: text.to_string(),
            sender,
            created_utc: now,
        };
        let index = self.messages.len();
        self.messages.push(message.clone());
        self.message_index.insert(id, index);
        let thread = &mut self.threads[thread_pos];
        thread.messages.push(index);
        thread.updated_utc = now;
        thread.updated_seq = seq;
        if sender == SenderKind::Enterprise {
            thread.staff_read_seq = seq;
        }
        Some(message)
    }

    /// Resolves or reopens a thread; moves `UpdatedUtc` when the state changes.
    pub fn set_resolved(&mut self, thread_id: &str, resolved: bool, now: Timestamp) -> Option<&Thread> {
        let seq = self.next_seq;
        let thread = self.thread_mut(thread_id)?;
        let changed = thread.is_resolved != resolved;
        if changed {
            thread.is_resolved = resolved;
            thread.updated_utc = now;
            thread.updated_seq = seq;
        }
        if changed {
            self.next_seq += 1;
        }
        self.thread(thread_id)
    }

    /// Staff have now seen every message of the thread.
    pub fn mark_read(&mut self, thread_id: &str) {
        let last = self.messages_of(thread_id).map(|m| m.seq).max().unwrap_or(0);
        if let Some(t) = self.thread_mut(thread_id) {
            t.staff_read_seq = t.staff_read_seq.max(last);
        }
    }

    /// Whether the thread has guest (`Application`) messages newer than what staff last read.
    pub fn is_unread(&self, thread: &Thread) -> bool {
        self.messages_of(&thread.id).any(|m| m.sender == SenderKind::Application && m.seq > thread.staff_read_seq)
    }

    /// The newest message of a thread.
    pub fn last_message(&self, thread_id: &str) -> Option<&StoredMessage> {
        self.messages_of(thread_id).last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_move_updated_utc_and_unread_tracks_staff_reads() {
        let mut s = Store::new(1);
        let t0: Timestamp = "2026-03-14T21:05:12Z".parse().unwrap();
        let t1: Timestamp = "2026-03-14T21:06:00Z".parse().unwrap();
        let id = s.add_thread(0, "e", "Jane", "Parking", t0).id.clone();
        assert!(!s.is_unread(s.thread(&id).unwrap()));
        s.add_message(&id, "hi", SenderKind::Application, t1).unwrap();
        let t = s.thread(&id).unwrap();
        assert_eq!(t.updated_utc, t1);
        assert!(s.is_unread(t));
        s.mark_read(&id);
        assert!(!s.is_unread(s.thread(&id).unwrap()));
        s.add_message(&id, "hello", SenderKind::Enterprise, t1).unwrap();
        s.add_message(&id, "again", SenderKind::Application, t1).unwrap();
        assert!(s.is_unread(s.thread(&id).unwrap()));
        assert_eq!(s.messages_of(&id).count(), 3);
        assert!(s.add_message("nope", "x", SenderKind::Application, t1).is_none());
    }

    #[test]
    fn ids_are_seeded_lowercase_guids() {
        let mut a = Store::new(7);
        let mut b = Store::new(7);
        let now = now_utc();
        let ia = a.add_thread(0, "e", "J", "S", now).id.clone();
        let ib = b.add_thread(0, "e", "J", "S", now).id.clone();
        assert_eq!(ia, ib);
        assert_eq!(ia, ia.to_lowercase());
        assert_eq!(ia.len(), 36);
    }
}
