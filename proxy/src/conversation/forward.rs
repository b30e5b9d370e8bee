//! Cluster mode: one sender per token. A guest's message that lands on an instance not holding
//! the token's poller lease is queued in Redis (`cluster::sendq`) for the holder, whose one
//! batcher sends every instance's messages of the token together — as one instance alone would:
//! the same number of `messages/add` calls, the same pacing, whatever the number of instances.
//!
//! **Who owns the send.** The queuing instance claimed it (`send::deliver`), marks it queued
//! and keeps renewing its claim while the job waits. The sender takes the claim over atomically
//! before sending (`RedisStore::take_queued_send`: only from the queuing instance, only while
//! its lease is alive and the send is marked queued), so a job seen twice, a job queued before
//! the send was claimed again, or the job of an instance that died is dropped; the text and
//! whether to read Mews back first come from the record, not the job. From then on the send is
//! the sender's like any of its own (fenced before `messages/add`, renewed while it waits,
//! recorded when done, published on the bus). An instance that became the sender while its own
//! job waited takes it back and sends it itself.
//!
//! **Waiting.** The queuing instance waits for the bus note of the sent message (it carries the
//! widget's `client_id`), and every [`CHECK_EVERY`] looks at the record: done (a note missed);
//! still its own (not taken yet: renewed, and queued again after [`QUEUE_AGAIN_AFTER`] in case
//! the queue was lost); the sender's with a live lease (waiting); the sender's lease lapsed (it
//! died): claimed again, which reads Mews back before anything is sent again; gone (Mews
//! rejected it and the sender forgot it): the guest is told.

use std::{
    collections::HashMap,
    sync::{Mutex, atomic::Ordering},
    time::Duration,
};

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
/// A job the sender has not taken after this is queued again (a lost queue; a duplicate finds
/// nothing to take).
const QUEUE_AGAIN_AFTER: Duration = Duration::from_secs(6);
/// The most jobs the sender takes at once (one `messages/add` carries at most this many).
const TAKE_AT_ONCE: usize = mews_wire::limits::MAX_ARRAY;
/// The sender looks at the queue this often even without a wake-up (a lost note).
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// What a waiting send hears.
enum Answer {
    /// The token's sender sent it: the message as Mews has it.
    Sent(Message),
    /// This instance became the token's sender and took its own job back: send it here.
    SendHere { recheck_since: Option<Timestamp> },
}

type Key = (String, String);

/// The instance's sends waiting for their token's sender, by (thread, client id).
#[derive(Default)]
pub struct Waiting {
    map: Mutex<HashMap<Key, oneshot::Sender<Answer>>>,
}

impl Waiting {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, oneshot::Sender<Answer>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait(&self, thread: &str, client_id: &str) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        self.map().insert((thread.to_owned(), client_id.to_owned()), tx);
        rx
    }

    fn forget(&self, thread: &str, client_id: &str) {
        self.map().remove(&(thread.to_owned(), client_id.to_owned()));
    }

    fn answer(&self, thread: &str, client_id: &str, answer: Answer) -> bool {
        let tx = self.map().remove(&(thread.to_owned(), client_id.to_owned()));
        tx.is_some_and(|tx| tx.send(answer).is_ok())
    }

    /// A message another instance sent, with the widget's id: answers its wait, if any here.
    pub fn arrived(&self, client_id: &str, message: &Message) {
        self.answer(&message.message_thread_id, client_id, Answer::Sent(message.clone()));
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
    /// This instance is the token's sender now and took its own job back: send it here.
    SendHere { recheck_since: Option<Timestamp> },
}

/// Queues the claimed message for the token's sender and waits for what becomes of it (see the
/// module docs). `recheck_since`: an earlier attempt may have reached Mews.
pub async fn via_sender(
    state: &AppState,
    tc: &TokenCluster,
    property: &Property,
    thread: &Thread,
    client_id: &str,
    recheck_since: Option<Timestamp>,
) -> Result<Forwarded, Error> {
    let job = Job {
        property: property.config.id.clone(),
        thread: thread.id.clone(),
        client_id: client_id.to_owned(),
        origin: state.claim_owner().instance,
    };
    let recheck = recheck_since.map(|t| t.as_second());
    let waiting = state.forwarded();
    let mut heard = waiting.wait(&thread.id, client_id);
    let outcome = async {
        if queue(state, tc, &job, recheck).await? {
            state.metrics().sends_queued.fetch_add(1, Ordering::Relaxed);
        }
        let mut queued_at = Instant::now();
        loop {
            tokio::select! {
                a = &mut heard, if !heard.is_terminated() => match a {
                    Ok(Answer::Sent(m)) => return Ok(Forwarded::Sent(to_chat(&m, Some(client_id.to_owned())))),
                    Ok(Answer::SendHere { recheck_since }) => return Ok(Forwarded::SendHere { recheck_since }),
                    Err(_) => {} // replaced: the record tells
                },
                _ = tokio::time::sleep(CHECK_EVERY) => {}
            }
            // Still ours: not taken yet. Renewed, and queued again after a while (a lost queue).
            if state.store().renew_send(&thread.id, client_id, state.claim_owner()).await? {
                if queued_at.elapsed() >= QUEUE_AGAIN_AFTER {
                    queue(state, tc, &job, recheck).await?;
                    queued_at = Instant::now();
                }
                continue;
            }
            match state.store().send_record(&thread.id, client_id).await? {
                Some(r) => match &r.sent {
                    Some(sent) => return Ok(Forwarded::Sent(super::send::from_record(&r, sent))),
                    // The sender has it.
                    None if r.owner.as_ref().is_some_and(|o| o.alive_at(crate::cluster::now_ms())) => continue,
                    None => return Ok(Forwarded::Lapsed),
                },
                // Mews refused it and its sender forgot it.
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

/// Marks the send queued and pushes its job, then wakes the token's sender. `false`: the send is
/// no longer this instance's (done, or the sender already has it).
async fn queue(state: &AppState, tc: &TokenCluster, job: &Job, recheck_since: Option<i64>) -> Result<bool, Error> {
    if !tc.queue.push(job, &state.claim_owner(), recheck_since).await? {
        return Ok(false);
    }
    if let Some(bus) = state.bus() {
        let token = state.property(&job.property).and_then(|p| state.token_of(&p.upstream)).map(|t| t.tag.clone());
        if let Some(token) = token
            && let Err(e) = bus.publish(&Note::Queued { origin: bus.instance.clone(), token }).await
        {
            tracing::debug!(error = %e, "could not wake the token's sender; it looks within a second");
        }
    }
    tc.queued.notify_one(); // this instance may hold the lease by now
    Ok(true)
}

/// The token's sender (cluster mode): while this instance holds the token's lease, takes the
/// queued jobs, takes each send's claim over and sends it through this instance's batcher.
pub async fn run_sender(state: AppState, tc: TokenCluster, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut more = false;
    loop {
        if !more {
            tokio::select! {
                _ = tc.queued.notified() => {}
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
        more = false;
        if !tc.holding() {
            continue;
        }
        let jobs = match tc.queue.take(TAKE_AT_ONCE).await {
            Ok(jobs) => {
                more = jobs.len() == TAKE_AT_ONCE; // a full take: look again at once
                jobs
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the send queue");
                continue;
            }
        };
        let me = state.claim_owner();
        let takes = jobs.into_iter().map(|job| {
            let (state, tc, me) = (state.clone(), tc.clone(), me.clone());
            async move {
                let Some(property) = state.property(&job.property).cloned() else {
                    // Left to its instance (which queues it again): every instance needs the same
                    // properties (README, "Running as a cluster").
                    tracing::error!(property = %job.property, "a queued send for a property this instance does not have");
                    return None;
                };
                match tc.queue.take_send(&job, &me, crate::cluster::now_ms()).await {
                    Ok(Some(taken)) => Some((job, property, taken)),
                    Ok(None) => None, // a duplicate, done, or its instance died: not ours to send
                    Err(e) => {
                        // Unknown whether the take went through: not sent here. If it did not, its
                        // instance queues it again; if it did, its instance claims it again once
                        // this lease lapsed (and reads Mews back first).
                        tracing::warn!(error = %e, "could not take a queued send over");
                        None
                    }
                }
            }
        });
        // In queue order, so each guest's messages keep theirs in the batch.
        for (job, property, taken) in futures::future::join_all(takes).await.into_iter().flatten() {
            state.metrics().sends_taken.fetch_add(1, Ordering::Relaxed);
            let recheck_since = taken.recheck_since.and_then(|s| Timestamp::from_second(s).ok());
            if job.origin == me.instance {
                // Our own job (we became the sender while it waited): its waiting send sends it.
                if !state.forwarded().answer(&job.thread, &job.client_id, Answer::SendHere { recheck_since }) {
                    tracing::warn!("took back a queued send nobody here waits for; a retry claims it again");
                }
                continue;
            }
            let thread = state.hub().thread(&property.config.id, &job.thread);
            super::send::send_taken(&state, &property, thread, &job.client_id, &taken.record.text, recheck_since);
        }
    }
}

#[cfg(test)]
mod tests {
    use lobby_test_redis::RedisServer;

    use super::*;
    use crate::{cluster::tests_support::connect, conversation::send, mews::in_process::InProcessMews};

    /// Two instances of a cluster on one Redis and one simulator; `a` holds the token's lease
    /// and runs its sender; both listen to the bus. Returns them and the thread of a conversation.
    async fn two_instances(mews: &InProcessMews, redis: &RedisServer) -> (AppState, AppState, String) {
        let (a, b) =
            (mews.cluster_state(connect(redis, "fwd:").await), mews.cluster_state(connect(redis, "fwd:").await));
        for s in [&a, &b] {
            s.set_recovered();
            tokio::spawn(crate::relay::fanout::run(s.clone()));
        }
        let ta = token(&a);
        assert!(ta.lease.hold(crate::cluster::now_ms()).await.unwrap());
        ta.holding.store(true, Ordering::Release);
        tokio::spawn(run_sender(a.clone(), ta, a.shutdown_signal()));
        let reference = crate::conversation::start::new_reference();
        let up = &a.property("hotel").unwrap().upstream;
        let thread = up.add_thread("Ann", &format!("Chat · #{reference}"), &reference, Timestamp::now()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await; // the bus subscriptions
        (a, b, thread.id)
    }

    fn token(s: &AppState) -> TokenCluster {
        s.tokens()[0].cluster.clone().expect("cluster mode")
    }

    async fn send(s: &AppState, thread: &str, client_id: &str, text: &str) -> Result<ChatMessage, Error> {
        let p = s.property("hotel").unwrap().clone();
        send::send(s, &p, s.hub().thread("hotel", thread), client_id, text).await
    }

    fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn messages_received_without_the_lease_are_sent_by_the_holder_once_with_its_own() {
        let (mews, redis) = (InProcessMews::default(), RedisServer::start());
        let (a, b, thread) = two_instances(&mews, &redis).await;
        let texts = ["from b 1", "from a", "from b 2"];
        let (b1, on_a, b2) = tokio::join!(
            send(&b, &thread, "c1", texts[0]),
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                send(&a, &thread, "c2", texts[1]).await
            },
            async {
                tokio::time::sleep(Duration::from_millis(40)).await;
                send(&b, &thread, "c3", texts[2]).await
            },
        );
        let in_mews = mews.texts(&thread).await;
        assert_eq!(in_mews.len(), 3, "each once: {in_mews:?}");
        for m in [b1.unwrap(), on_a.unwrap(), b2.unwrap()] {
            assert!(in_mews.contains(&m.text), "{m:?}");
        }
        assert_eq!(count(&b.metrics().sends_queued), 2, "b queued its two");
        assert_eq!(count(&a.metrics().sends_taken), 2, "the holder took them");
        assert_eq!(count(&b.metrics().guest_messages), 0, "b sent nothing itself");
        assert_eq!(count(&a.metrics().guest_messages), 3, "the holder sent all three");
        // A retry of a queued message on either instance: the same message, not a second one.
        let again = send(&a, &thread, "c1", texts[0]).await.unwrap();
        assert_eq!(again.text, texts[0]);
        assert_eq!(mews.texts(&thread).await.len(), 3);
    }

    #[tokio::test]
    async fn an_instance_that_becomes_the_sender_while_its_message_waits_sends_it_itself() {
        let (mews, redis) = (InProcessMews::default(), RedisServer::start());
        let (a, b, thread) = two_instances(&mews, &redis).await;
        // a stops sending (as if its lease moved on before it took the job), b gets the lease.
        a.begin_shutdown();
        token(&a).holding.store(false, Ordering::Release);
        let waiting = tokio::spawn({
            let (b, thread) = (b.clone(), thread.clone());
            async move { send(&b, &thread, "c1", "queued, then sent here").await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(mews.texts(&thread).await.is_empty(), "queued, nobody sends yet");
        let tb = token(&b);
        token(&a).lease.release(crate::cluster::now_ms()).await.unwrap();
        assert!(tb.lease.hold(crate::cluster::now_ms()).await.unwrap());
        tb.holding.store(true, Ordering::Release);
        tokio::spawn(run_sender(b.clone(), tb, b.shutdown_signal()));
        let m = waiting.await.unwrap().unwrap();
        assert_eq!(mews.texts(&thread).await, [m.text], "sent once, by b");
        assert_eq!(count(&b.metrics().guest_messages), 1);
    }

    #[tokio::test]
    async fn a_sender_that_dies_holding_a_message_leaves_it_to_be_read_back_and_sent_once() {
        let (mews, redis) = (InProcessMews::default(), RedisServer::start());
        let (a, b, thread) = two_instances(&mews, &redis).await;
        a.begin_shutdown(); // a's sender stops: its "death" is played by hand below
        let ta = token(&a);
        ta.holding.store(false, Ordering::Release);
        let waiting = tokio::spawn({
            let (b, thread) = (b.clone(), thread.clone());
            async move { send(&b, &thread, "c1", "taken by a dying sender").await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // a takes the job over with a short lease and dies before sending it.
        let jobs = ta.queue.take(10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        let dying =
            crate::store::Owner { instance: a.claim_owner().instance, until_ms: crate::cluster::now_ms() + 500 };
        assert!(ta.queue.take_send(&jobs[0], &dying, crate::cluster::now_ms()).await.unwrap().is_some());
        // b is the sender now; its waiting send sees a's claim lapse, claims it again and reads back.
        let tb = token(&b);
        tb.holding.store(true, Ordering::Release);
        let reads_before = mews.requests("messages/getAll").await.0;
        let m = waiting.await.unwrap().unwrap();
        assert_eq!(mews.texts(&thread).await, [m.text], "sent once");
        assert!(mews.requests("messages/getAll").await.0 > reads_before, "read back before sending");
    }

    #[test]
    fn a_sent_note_answers_only_its_own_wait() {
        let w = Waiting::default();
        let mut a = w.wait("t1", "c1");
        let mut b = w.wait("t1", "c2");
        let sent = |a: &mut oneshot::Receiver<Answer>| match a.try_recv() {
            Ok(Answer::Sent(m)) => Some(m.id),
            _ => None,
        };
        let m = Message {
            id: "m1".into(),
            message_thread_id: "t1".into(),
            text: "hello".into(),
            sender: mews_wire::Sender { discriminator: mews_wire::SenderKind::Application },
            created_utc: Timestamp::now(),
        };
        w.arrived("c1", &m);
        assert_eq!(sent(&mut a).as_deref(), Some("m1"));
        assert_eq!(sent(&mut b), None, "another message's wait goes on");
        w.arrived("c1", &m); // a note heard twice: nothing waits any more
        w.forget("t1", "c2");
        assert!(w.map().is_empty());
    }
}
