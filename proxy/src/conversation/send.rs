//! A guest message, exactly once (issue: "Exactly once across aborts and restarts").
//!
//! The widget generates one `client_id` per message and reuses it on every retry. The send runs
//! in its own task, detached from the HTTP request: a request that is aborted (navigation, a
//! timeout) does not cancel it, and a retry with the same (thread, `client_id`) joins the running
//! send on this instance. Before `messages/add` the send is written to the store as pending; after
//! Mews answered, it is completed with the Mews message. So a retry after the answer, or after a
//! restart, is answered from the store; a send a crashed process left pending is read back from
//! Mews before anything is sent again (`recheck_since`, see `mews::upstream`).
//!
//! Across instances (cluster mode) the record is also a claim ([`crate::store::Claim`]): the
//! instance sending it owns it, renews its lease while the message waits and checks it right
//! before `messages/add` (the upstream's fence); a retry that lands on another instance waits
//! for the owner's result, and takes the send over — reading Mews back first — only when the
//! owner's lease ran out (it died). An instance that does not hold the token's poller lease
//! hands its claimed messages to the holder, the token's one sender (`forward`).

use std::sync::Arc;

use jiff::Timestamp;
use lobby_protocol::{Author, ChatMessage};
use tokio::time::Instant;

use super::{GUEST_WAIT, busy, forward::Forwarded, running::Running};
use crate::{
    error::Error,
    mews::{client::MewsError, upstream::SendClaim},
    relay::hub::{Thread, to_chat},
    state::{AppState, Property},
    store::{Claim, SendRecord, Sent},
};

/// How often a pending send's claim is renewed while it waits, and a held one looked at.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
const HELD_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Sends running on this instance, by (thread, client id).
pub type Sends = Running<ChatMessage>;

/// Sends `text` as the guest's message `client_id` in `thread` and waits for the outcome (at most
/// [`GUEST_WAIT`]; the send goes on after that and a retry gets its result).
pub async fn send(
    state: &AppState,
    property: &Arc<Property>,
    thread: Arc<Thread>,
    client_id: &str,
    text: &str,
) -> Result<ChatMessage, Error> {
    let key = (thread.id.clone(), client_id.to_owned());
    let (st, property, client_id, text) = (state.clone(), property.clone(), client_id.to_owned(), text.to_owned());
    let rx = state.sends().join_or_spawn(key, move || async move {
        if !st.recovered_by(Instant::now() + GUEST_WAIT).await {
            return Err(Error::Upstream(busy(std::time::Duration::from_secs(5))));
        }
        deliver(&st, &property, &thread, &client_id, &text).await
    });
    Sends::outcome(rx, Instant::now() + GUEST_WAIT).await
}

/// Finishes a send a previous process left pending (start-up recovery): read back, then sent
/// only if Mews does not have it. Waits for the outcome.
pub async fn resume(state: &AppState, property: &Arc<Property>, record: SendRecord) -> Result<ChatMessage, Error> {
    let thread = state.hub().thread(&property.config.id, &record.thread);
    let key = (record.thread.clone(), record.client_id.clone());
    let (st, property) = (state.clone(), property.clone());
    let rx = state.sends().join_or_spawn(key, move || async move {
        deliver(&st, &property, &thread, &record.client_id, &record.text).await
    });
    Sends::outcome(rx, Instant::now() + std::time::Duration::from_secs(3600)).await
}

/// Waits while another live instance owns the send: `Some` with its result once done; `None`
/// when its owner's lease ran out or the record vanished (the caller claims again), or when this
/// instance became the owner (the token's sender took it over while this request waited: no
/// task of this instance sends it, since this one runs under the send's key; claiming again
/// takes it over with a read-back).
async fn wait_for_owner(state: &AppState, held: &SendRecord) -> Result<Option<ChatMessage>, Error> {
    let me = state.claim_owner().instance;
    loop {
        tokio::time::sleep(HELD_POLL).await;
        match state.store().send_record(&held.thread, &held.client_id).await? {
            Some(r) if r.sent.is_some() => return Ok(Some(from_record(&r, r.sent.as_ref().expect("sent")))),
            Some(r) if r.owner.as_ref().is_some_and(|o| o.instance != me && o.alive_at(crate::cluster::now_ms())) => {
                continue;
            }
            _ => return Ok(None),
        }
    }
}

pub(super) fn from_record(r: &SendRecord, sent: &Sent) -> ChatMessage {
    ChatMessage {
        id: sent.id.clone(),
        client_id: Some(r.client_id.clone()),
        author: Author::Guest,
        text: r.text.clone(),
        at: sent.at.clone(),
    }
}

async fn deliver(
    state: &AppState,
    property: &Property,
    thread: &Thread,
    client_id: &str,
    text: &str,
) -> Result<ChatMessage, Error> {
    loop {
        let (text, mut recheck_since) = match claim(state, property, thread, client_id, text).await? {
            Claimed::Done(m) => return Ok(m),
            Claimed::Ours { text, recheck_since } => (text, recheck_since),
        };
        thread.touch();
        if let Some(tc) = super::forward::sender_elsewhere(state, property) {
            match super::forward::via_sender(state, tc, property, thread, client_id, recheck_since).await? {
                Forwarded::Sent(m) => {
                    thread.remember_client_id(&m.id, client_id);
                    return Ok(m);
                }
                // The sender died holding it: claim again (a takeover, read back first).
                Forwarded::Lapsed => continue,
                // This instance became the sender and took the job back.
                Forwarded::SendHere { recheck_since: since } => recheck_since = since,
            }
        }
        return send_here(state, property, thread, client_id, &text, recheck_since).await;
    }
}

/// A claimed send: its result (done before), or ours to send now (`recheck_since`: an earlier
/// attempt may have reached Mews).
enum Claimed {
    Done(ChatMessage),
    Ours { text: String, recheck_since: Option<Timestamp> },
}

async fn claim(
    state: &AppState,
    property: &Property,
    thread: &Thread,
    client_id: &str,
    text: &str,
) -> Result<Claimed, Error> {
    loop {
        let record = SendRecord {
            property: property.config.id.clone(),
            thread: thread.id.clone(),
            client_id: client_id.to_owned(),
            text: text.to_owned(),
            started: Timestamp::now().as_second(),
            sent: None,
            owner: Some(state.claim_owner()),
        };
        match state.store().begin_send(record, crate::cluster::now_ms()).await? {
            Claim::New => return Ok(Claimed::Ours { text: text.to_owned(), recheck_since: None }),
            // Answered before (maybe by a previous process): the same answer again.
            Claim::Done(r) => {
                return Ok(Claimed::Done(from_record(&r, r.sent.as_ref().expect("done records are sent"))));
            }
            // Left pending (a crash, or every attempt failed ambiguously): may be in Mews already.
            Claim::TakenOver(r) => {
                let since = Timestamp::from_second(r.started).ok();
                return Ok(Claimed::Ours { text: r.text.clone(), recheck_since: since });
            }
            // Another instance is sending it: its result, or claim again when its owner died.
            Claim::Held(r) => {
                if let Some(done) = wait_for_owner(state, &r).await? {
                    return Ok(Claimed::Done(done));
                }
            }
        }
    }
}

/// Sends a send the token's sender took over from another instance (`forward::run_sender`),
/// as a task of its own under the send's key (a retry here joins it).
pub fn send_taken(
    state: &AppState,
    property: &Arc<Property>,
    thread: Arc<Thread>,
    client_id: &str,
    text: &str,
    recheck_since: Option<Timestamp>,
) {
    let key = (thread.id.clone(), client_id.to_owned());
    let (st, property, client_id, text) = (state.clone(), property.clone(), client_id.to_owned(), text.to_owned());
    let _ = state.sends().join_or_spawn(key, move || async move {
        thread.touch();
        send_here(&st, &property, &thread, &client_id, &text, recheck_since).await
    });
}

/// Sends a send this instance owns through its upstream's batcher, renewing the claim while it
/// waits, and records and publishes the outcome.
async fn send_here(
    state: &AppState,
    property: &Property,
    thread: &Thread,
    client_id: &str,
    text: &str,
    recheck_since: Option<Timestamp>,
) -> Result<ChatMessage, Error> {
    let claim = state.cluster().map(|c| SendClaim {
        client_id: client_id.to_owned(),
        instance: c.instance.clone(),
        lease: state.claim_lease(),
    });
    let sending = property.upstream.add_message(&thread.id, text, recheck_since, claim);
    let answer = if state.cluster().is_some() {
        // Keep the claim alive while the message waits for budget or a batch.
        tokio::pin!(sending);
        loop {
            tokio::select! {
                a = &mut sending => break a,
                _ = tokio::time::sleep(RENEW_EVERY) => {
                    if let Err(e) = state.store().renew_send(&thread.id, client_id, state.claim_owner()).await {
                        tracing::warn!(error = %e, "could not renew a send's claim");
                    }
                }
            }
        }
    } else {
        sending.await
    };
    match answer {
        Ok(m) => {
            let sent = Sent { id: m.id.clone(), at: mews_wire::format_utc(m.created_utc) };
            if let Err(e) = state.store().finish_send(&thread.id, client_id, sent).await {
                // Mews has it; a retry reads the thread back and adopts it rather than resend.
                tracing::error!(error = %e, "could not record a delivered message");
            }
            thread.remember_client_id(&m.id, client_id);
            thread.publish(std::slice::from_ref(&m));
            crate::relay::fanout::publish_sent(state, &property.config.id, &m, client_id).await;
            Ok(to_chat(&m, Some(client_id.to_owned())))
        }
        Err(e @ MewsError::Rejected { .. }) => {
            // Certainly not in Mews: a retry may try again from scratch.
            let _ = state.store().forget_send(&thread.id, client_id).await;
            Err(Error::Upstream(e))
        }
        // Maybe in Mews: the record stays pending and the next attempt reads back first.
        Err(e) => Err(Error::Upstream(e)),
    }
}
