//! A guest message, exactly once (issue: "Exactly once across aborts and restarts").
//!
//! The widget generates one `client_id` per message and reuses it on every retry. The send runs
//! in its own task, detached from the HTTP request: a request that is aborted (navigation, a
//! timeout) does not cancel it, and a retry with the same (thread, `client_id`) joins the running
//! send on this instance. Before `messages/add` the send is written to the store as pending; after
//! Mews answered, it is completed with the Mews message. So a retry after the answer, or after a
//! restart, is answered from the store; a send a crashed process left pending is read back from
//! Mews before anything is sent again (`recheck_since`, see `mews::upstream`).

use std::sync::Arc;

use jiff::Timestamp;
use lobby_protocol::{Author, ChatMessage};
use tokio::time::Instant;

use super::{GUEST_WAIT, busy, running::Running};
use crate::{
    error::Error,
    mews::client::MewsError,
    relay::hub::{Thread, to_chat},
    state::{AppState, Property},
    store::{Claim, Owner, SendRecord, Sent},
};

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

fn from_record(r: &SendRecord, sent: &Sent) -> ChatMessage {
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
    let record = SendRecord {
        property: property.config.id.clone(),
        thread: thread.id.clone(),
        client_id: client_id.to_owned(),
        text: text.to_owned(),
        started: Timestamp::now().as_second(),
        sent: None,
        // Interim, until claims across instances are wired in: one instance owns everything, so a
        // claim is never held and a pending record is taken over (read back), as before.
        owner: Some(Owner { instance: "local".into(), until_ms: i64::MAX }),
    };
    let claim = state.store().begin_send(record, Timestamp::now().as_millisecond()).await?;
    let existing = match claim {
        Claim::New => None,
        Claim::Done(r) | Claim::TakenOver(r) | Claim::Held(r) => Some(r),
    };
    let (text, recheck_since) = match existing {
        None => (text.to_owned(), None),
        // Answered before (maybe by a previous process): the same answer again.
        Some(r) if r.sent.is_some() => return Ok(from_record(&r, r.sent.as_ref().expect("sent"))),
        // Left pending (a crash, or every attempt failed ambiguously): may be in Mews already.
        Some(r) => (r.text.clone(), Timestamp::from_second(r.started).ok()),
    };
    thread.touch();
    match property.upstream.add_message(&thread.id, &text, recheck_since).await {
        Ok(m) => {
            let sent = Sent { id: m.id.clone(), at: mews_wire::format_utc(m.created_utc) };
            if let Err(e) = state.store().finish_send(&thread.id, client_id, sent).await {
                // Mews has it; a retry reads the thread back and adopts it rather than resend.
                tracing::error!(error = %e, "could not record a delivered message");
            }
            thread.remember_client_id(&m.id, client_id);
            thread.publish(std::slice::from_ref(&m));
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
