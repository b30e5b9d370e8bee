//! Cluster mode: one sender per token. A guest's message that lands on an instance not holding
//! the token's poller lease is queued in Redis (`cluster::sendq`) for the holder, whose one
//! batcher sends every instance's messages of the token together — as one instance alone would:
//! the same number of `messages/add` calls, the same pacing, whatever the number of instances.
//!
//! **Who owns the send.** The queuing instance claimed it (`send::deliver`) and keeps renewing
//! its claim while the job waits. The sender takes the claim over atomically before sending
//! ([`crate::store::Store::hand_over_send`]: only from the queuing instance, only while its lease
//! is alive), so a job seen twice, a stale job, or the job of an instance that died is dropped,
//! and from then on the send is the sender's like any of its own (fenced before `messages/add`,
//! renewed while it waits, recorded when done, published on the bus).
//!
//! **Waiting.** The queuing instance waits for the bus note of the sent message (it carries the
//! widget's `client_id`), and every [`CHECK_EVERY`] looks at the record: done (a note missed);
//! still its own (not taken yet: renewed, and queued again after [`QUEUE_AGAIN_AFTER`] in case
//! the queue was lost); the sender's with a live lease (waiting); the sender's lease lapsed (it
//! died): claimed again, which reads Mews back before anything is sent again; gone (Mews
//! rejected it and the sender forgot it): the guest is told.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use jiff::Timestamp;
use lobby_protocol::ChatMessage;
use mews_wire::Message;
use tokio::{sync::oneshot, time::Instant};

use crate::{
    cluster::{bus::Note, sendq::Job},
    error::Error,
    mews::client::MewsError,
    relay::hub::{Thread, to_chat},
    state::{AppState, Property, TokenCluster},
};

/// How often a waiting instance looks at its queued send's record (and renews its claim).
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// A job the sender has not taken after this is queued again (a lost queue; a duplicate is
/// dropped by the hand-over).
const QUEUE_AGAIN_AFTER: Duration = Duration::from_secs(6);
/// The most jobs the sender takes at once (one `messages/add` carries at most this many).
const TAKE_AT_ONCE: usize = mews_wire::limits::MAX_ARRAY;
/// The sender looks at the queue this often even without a wake-up (a lost note).
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The instances' waits for messages their token's sender sent, by (thread, client id).
#[derive(Default)]
pub struct Waiting {
    map: Mutex<HashMap<(String, String), oneshot::Sender<Message>>>,
}

impl Waiting {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), oneshot::Sender<Message>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for (thread, client id); the entry is removed when the receiver is dropped… or when
    /// it is answered (see [`Waiting::arrived`]).
    fn wait(&self, thread: &str, client_id: &str) -> oneshot::Receiver<Message> {
        let (tx, rx) = oneshot::channel();
        self.map().insert((thread.to_owned(), client_id.to_owned()), tx);
        rx
    }

    fn forget(&self, thread: &str, client_id: &str) {
        self.map().remove(&(thread.to_owned(), client_id.to_owned()));
    }

    /// A message sent by another instance, with the widget's id: answers its wait, if any here.
    pub fn arrived(&self, client_id: &str, message: &Message) {
        if let Some(tx) = self.map().remove(&(message.message_thread_id.clone(), client_id.to_owned())) {
            let _ = tx.send(message.clone());
        }
    }
}

/// The token's sender is another instance: the token's cluster part, else `None` (not in
/// cluster mode, or this instance holds the lease and sends itself).
pub fn sender_elsewhere<'a>(state: &'a AppState, property: &Property) -> Option<&'a TokenCluster> {
    let tc = state.token_of(&property.upstream)?.cluster.as_ref()?;
    (!tc.holding()).then_some(tc)
}

/// What became of a queued send.
pub enum Forwarded {
    /// Sent (by the token's sender): the message as the widget shows it.
    Sent(ChatMessage),
    /// The sender took it and died before finishing: claim it again (and read Mews back).
    Lapsed,
}

/// Queues the claimed message for the token's sender and waits for what becomes of it (see the
/// module docs). `recheck_since`: an earlier attempt may have reached Mews.
pub async fn via_sender(
    state: &AppState,
    tc: &TokenCluster,
    property: &Property,
    thread: &Thread,
    client_id: &str,
    text: &str,
    recheck_since: Option<Timestamp>,
) -> Result<Forwarded, Error> {
    let job = Job {
        property: property.config.id.clone(),
        thread: thread.id.clone(),
        client_id: client_id.to_owned(),
        text: text.to_owned(),
        recheck_since: recheck_since.map(|t| t.as_second()),
        origin: state.claim_owner().instance,
    };
    let waiting = state.forwarded();
    let mut arrived = waiting.wait(&thread.id, client_id);
    let outcome = async {
        queue(state, tc, &job).await?;
        let mut queued_at = Instant::now();
        loop {
            tokio::select! {
                m = &mut arrived => if let Ok(m) = m {
                    return Ok(Forwarded::Sent(to_chat(&m, Some(client_id.to_owned()))));
                },
                _ = tokio::time::sleep(CHECK_EVERY) => {}
            }
            let store = state.store();
            if store.renew_send(&thread.id, client_id, state.claim_owner()).await? {
                // Not taken yet: still ours.
                if queued_at.elapsed() >= QUEUE_AGAIN_AFTER {
                    queue(state, tc, &job).await?;
                    queued_at = Instant::now();
                }
                continue;
            }
            match store.send_record(&thread.id, client_id).await? {
                Some(r) => match &r.sent {
                    Some(sent) => {
                        return Ok(Forwarded::Sent(ChatMessage {
                            id: sent.id.clone(),
                            client_id: Some(r.client_id.clone()),
                            author: lobby_protocol::Author::Guest,
                            text: r.text.clone(),
                            at: sent.at.clone(),
                        }));
                    }
                    None if r.owner.as_ref().is_some_and(|o| o.alive_at(crate::cluster::now_ms())) => continue,
                    None => return Ok(Forwarded::Lapsed),
                },
                None => {
                    return Err(Error::Upstream(MewsError::Rejected {
                        status: 400,
                        message: "Mews did not accept the message".into(),
                        request_id: String::new(),
                    }));
                }
            }
        }
    }
    .await;
    waiting.forget(&thread.id, client_id);
    outcome
}

async fn queue(state: &AppState, tc: &TokenCluster, job: &Job) -> Result<(), Error> {
    tc.queue.push(job).await.map_err(|e| Error::Store(crate::store::StoreError(format!("redis: queue: {e}"))))?;
    if let Some(bus) = state.bus() {
        let token = state.property(&job.property).and_then(|p| state.token_of(&p.upstream)).map(|t| t.tag.clone());
        if let Some(token) = token
            && let Err(e) = bus.publish(&Note::Queued { origin: bus.instance.clone(), token }).await
        {
            tracing::debug!(error = %e, "could not wake the token's sender; it looks within a second");
        }
    }
    Ok(())
}

/// The token's sender (cluster mode): while this instance holds the token's lease, takes the
/// queued jobs, takes each send's claim over and sends it through this instance's batcher.
pub async fn run_sender(state: AppState, tc: TokenCluster, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tc.queued.notified() => {}
            _ = tokio::time::sleep(LOOK_EVERY) => {}
            _ = shutdown.changed() => return,
        }
        if !tc.holding() {
            continue;
        }
        let jobs = match tc.queue.take(TAKE_AT_ONCE).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the send queue");
                continue;
            }
        };
        let takes = jobs.into_iter().map(|job| {
            let state = state.clone();
            async move {
                let owner = state.claim_owner();
                match state
                    .store()
                    .hand_over_send(&job.thread, &job.client_id, &job.origin, owner, crate::cluster::now_ms())
                    .await
                {
                    Ok(true) => Some(job),
                    Ok(false) => None, // a duplicate, done, or its instance died: not ours to send
                    Err(e) => {
                        // Unknown whether we own it: not sent; its instance queues it again.
                        tracing::warn!(error = %e, "could not take a queued send over");
                        None
                    }
                }
            }
        });
        // In queue order, so each guest's messages keep theirs in the batch.
        for job in futures::future::join_all(takes).await.into_iter().flatten() {
            let Some(property) = state.property(&job.property).cloned() else { continue };
            let thread = state.hub().thread(&property.config.id, &job.thread);
            let recheck_since = job.recheck_since.and_then(|s| Timestamp::from_second(s).ok());
            super::send::send_taken(&state, &property, thread, &job.client_id, &job.text, recheck_since);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_note_answers_only_its_own_wait() {
        let w = Waiting::default();
        let mut a = w.wait("t1", "c1");
        let mut b = w.wait("t1", "c2");
        let m = Message {
            id: "m1".into(),
            message_thread_id: "t1".into(),
            text: "hello".into(),
            sender: mews_wire::Sender { discriminator: mews_wire::SenderKind::Application },
            created_utc: Timestamp::now(),
        };
        w.arrived("c1", &m);
        assert_eq!(a.try_recv().unwrap().id, "m1");
        assert!(b.try_recv().is_err(), "another message's wait goes on");
        w.arrived("c1", &m); // a note heard twice: nothing waits any more
        w.forget("t1", "c2");
        assert!(w.map().is_empty());
    }
}
