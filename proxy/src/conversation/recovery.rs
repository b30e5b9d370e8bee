//! Start-up recovery: what a previous process (crashed, killed, restarted) left pending in the
//! store is resolved before any new send or start goes to Mews.
//!
//! * A pending **start** is looked up in Mews by its conversation reference: found, it is
//!   completed (the guest's retry gets that thread); not found, it is forgotten (the retry
//!   creates the thread).
//! * A pending **send** is resumed: its thread is read back from Mews and the message adopted if
//!   it is there, sent otherwise — queued ahead of every new message, since new sends wait for
//!   recovery to finish.
//!
//! Guests' sends and starts wait for the end of recovery (at most `GUEST_WAIT`, then "busy, try
//! again"); reads and streams do not. When Mews cannot be reached, recovery retries with backoff.

use std::time::Duration;

use jiff::Timestamp;

use super::send;
use crate::state::AppState;

/// Resolves everything pending, then lets sends and starts through.
pub async fn run(state: AppState) {
    let mut backoff = Duration::from_millis(500);
    loop {
        match once(&state).await {
            Ok((starts, sends)) => {
                if starts + sends > 0 {
                    tracing::info!(starts, sends, "recovered what the previous process left pending");
                }
                state.set_recovered();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "recovery incomplete; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn once(state: &AppState) -> Result<(usize, usize), crate::error::Error> {
    // In a cluster, records that live instances are working on are theirs.
    let now = crate::cluster::now_ms();
    let orphaned = |owner: &Option<crate::store::Owner>| owner.as_ref().is_none_or(|o| !o.alive_at(now));
    let starts: Vec<_> = state.store().pending_starts().await?.into_iter().filter(|r| orphaned(&r.owner)).collect();
    for r in &starts {
        // Claimed first: a guest's retry on another instance may be taking it over right now.
        let mine = crate::store::StartRecord { owner: Some(state.claim_owner()), ..r.clone() };
        if !matches!(
            state.store().begin_start(mine, crate::cluster::now_ms()).await?,
            crate::store::Claim::TakenOver(_)
        ) {
            continue;
        }
        let Some(property) = state.property(&r.property) else {
            state.store().forget_start(&r.property, &r.key).await?;
            continue;
        };
        let since = Timestamp::from_second(r.started).unwrap_or_else(|_| Timestamp::now());
        match property.upstream.find_thread(&r.reference, since).await? {
            Some(t) => state.store().finish_start(&r.property, &r.key, &t.id).await?,
            None => state.store().forget_start(&r.property, &r.key).await?,
        }
    }
    let sends: Vec<_> = state.store().pending_sends().await?.into_iter().filter(|r| orphaned(&r.owner)).collect();
    let mut resumed = Vec::new();
    for r in sends.iter().cloned() {
        let Some(property) = state.property(&r.property).cloned() else {
            continue; // a property no longer configured: nothing can be sent for it
        };
        let state = state.clone();
        // Queued together, so the upstream reads them back in one batch.
        resumed.push(tokio::spawn(async move { send::resume(&state, &property, r).await }));
    }
    for r in resumed {
        if let Ok(Err(e)) = r.await {
            // Left pending in the store: the guest's retry tries again.
            tracing::warn!(error = %e, "a pending message could not be resolved yet");
        }
    }
    Ok((starts.len(), sends.len()))
}
