//! A new conversation: a Mews thread, exactly once per start key.
//!
//! The widget generates a key when the guest submits the start form and reuses it on every
//! retry. As for sends, the work runs detached from the request (a retry joins it) and is
//! recorded in the store before `messageThreads/add` and completed after. A start that may have
//! reached Mews without its answer (a lost answer, a crash) is found again by its conversation
//! reference: a random code shown at the end of the thread's subject (`… · #K7Q2M9XD3A`), which
//! only this request knows. Staff can also quote it to the guest. A thread is never matched by
//! the guest's name or topic: another guest could choose the same.
//!
//! Across instances the record is a claim, as for sends: a retry on another instance while the
//! start runs waits for its thread; the start is taken over (and looked up by its reference
//! first) only when its owner's lease ran out. The owner renews its claim while the thread is
//! being created, and gives up the creation when another instance took it over meanwhile.

use std::sync::Arc;

use jiff::Timestamp;
use rand::Rng;
use tokio::time::Instant;

use super::{GUEST_WAIT, busy, running::Running};
use crate::{
    error::Error,
    state::{AppState, Property},
    store::{Claim, StartRecord},
};

/// How often a pending start's claim is renewed while it waits, and a held one looked at.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
const HELD_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Starts running on this instance, by (property, start key).
pub type Starts = Running<Opened>;

/// A started conversation.
#[derive(Clone, Debug)]
pub struct Opened {
    pub record: StartRecord,
    /// Created by this start (or found after its answer was lost): no message can be in it yet.
    /// `false` when the key's conversation was answered before (a retry after a lost answer).
    pub new: bool,
}

/// Characters of a conversation reference: no 0/O, 1/I/L, U (Crockford's choice).
const REFERENCE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 10 characters: 50 bits, never guessed, short enough to read over the phone.
const REFERENCE_LEN: usize = 10;

pub fn new_reference() -> String {
    let mut rng = rand::rng();
    (0..REFERENCE_LEN).map(|_| REFERENCE_ALPHABET[rng.random_range(0..REFERENCE_ALPHABET.len())] as char).collect()
}

/// What the guest asked for.
pub struct Request {
    /// The widget's start key; `None` (an older widget): not idempotent across retries.
    pub key: Option<String>,
    pub name: String,
    pub topic: String,
    /// The subject without the reference (topic and contact details).
    pub subject: String,
}

/// Creates the conversation (or returns the one this key created) and waits for it, at most
/// [`GUEST_WAIT`].
pub async fn start(state: &AppState, property: &Arc<Property>, req: Request) -> Result<Opened, Error> {
    let key = req.key.clone().unwrap_or_else(|| format!("anonymous-{}", new_reference()));
    let (st, p) = (state.clone(), property.clone());
    let rx = state.starts().join_or_spawn((property.config.id.clone(), key.clone()), move || async move {
        create(&st, &p, key, req).await
    });
    Starts::outcome(rx, Instant::now() + GUEST_WAIT).await
}

async fn create(state: &AppState, property: &Property, key: String, req: Request) -> Result<Opened, Error> {
    if !state.recovered_by(Instant::now() + GUEST_WAIT).await {
        return Err(Error::Upstream(busy(std::time::Duration::from_secs(5))));
    }
    let req_subject = req.subject.clone();
    let record = loop {
        let reference = new_reference();
        let record = StartRecord {
            property: property.config.id.clone(),
            key: key.clone(),
            subject: format!("{} · #{reference}", req.subject),
            reference,
            name: req.name.clone(),
            topic: req.topic.clone(),
            started: Timestamp::now().as_second(),
            thread: None,
            owner: Some(state.claim_owner()),
        };
        let claim = state.store().begin_start(record.clone(), crate::cluster::now_ms()).await?;
        // A retry repeats its form; a key that comes back with another guest's details is not a
        // retry (a guessed or replayed key) and gets nothing of the first conversation.
        if let Claim::Done(e) | Claim::TakenOver(e) | Claim::Held(e) = &claim
            && (e.name != record.name || e.topic != record.topic || !e.subject.starts_with(&req_subject))
        {
            return Err(Error::invalid("key", "this key belongs to another conversation; start again"));
        }
        match claim {
            Claim::New => break record,
            Claim::Done(done) => return Ok(Opened { record: done, new: false }),
            // Left pending: it may exist in Mews already.
            Claim::TakenOver(pending) => {
                let since = Timestamp::from_second(pending.started).unwrap_or_else(|_| Timestamp::now());
                if let Some(t) = property.upstream.find_thread(&pending.reference, since).await? {
                    return finish(state, pending, t.id).await;
                }
                break pending;
            }
            // Another instance is creating it: its thread, or claim again when its owner died.
            Claim::Held(held) => {
                if let Some(done) = wait_for_owner(state, &held).await? {
                    return Ok(Opened { record: done, new: false });
                }
            }
        }
    };
    let since = Timestamp::from_second(record.started).unwrap_or_else(|_| Timestamp::now());
    let creating = property.upstream.add_thread(&record.name, &record.subject, &record.reference, since);
    let thread = if state.cluster().is_some() {
        // Keep the claim while the thread waits for budget; stop if another instance took it over
        // (this one stalled past its lease): the new owner looks the reference up and creates it.
        tokio::pin!(creating);
        loop {
            tokio::select! {
                t = &mut creating => break t,
                _ = tokio::time::sleep(RENEW_EVERY) => {
                    match state.store().renew_start(&record.property, &record.key, state.claim_owner()).await {
                        Ok(false) => {
                            tracing::warn!("a start was taken over by another instance; not creating it here");
                            return Err(Error::Upstream(busy(std::time::Duration::from_secs(1))));
                        }
                        Ok(true) => {}
                        Err(e) => tracing::warn!(error = %e, "could not renew a start's claim"),
                    }
                }
            }
        }
    } else {
        creating.await
    };
    match thread {
        Ok(t) => finish(state, record, t.id).await,
        Err(e) => {
            if !e.maybe_committed() {
                let _ = state.store().forget_start(&record.property, &record.key).await;
            }
            Err(Error::Upstream(e))
        }
    }
}

/// Waits while another live instance owns the start: `Some` with its record once the thread
/// exists; `None` when its owner's lease ran out or the record vanished (claim again).
async fn wait_for_owner(state: &AppState, held: &StartRecord) -> Result<Option<StartRecord>, Error> {
    loop {
        tokio::time::sleep(HELD_POLL).await;
        match state.store().start_record(&held.property, &held.key).await? {
            Some(r) if r.thread.is_some() => return Ok(Some(r)),
            Some(r) if r.owner.as_ref().is_some_and(|o| o.alive_at(crate::cluster::now_ms())) => continue,
            _ => return Ok(None),
        }
    }
}

async fn finish(state: &AppState, mut record: StartRecord, thread: String) -> Result<Opened, Error> {
    if let Err(e) = state.store().finish_start(&record.property, &record.key, &thread).await {
        // The thread exists; a retry finds it by its reference.
        tracing::error!(error = %e, "could not record a created thread");
    }
    record.thread = Some(thread);
    Ok(Opened { record, new: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_long_unambiguous_and_differ() {
        let a = new_reference();
        assert_eq!(a.len(), REFERENCE_LEN);
        assert!(a.bytes().all(|b| REFERENCE_ALPHABET.contains(&b)), "{a}");
        assert_ne!(a, new_reference());
    }
}
