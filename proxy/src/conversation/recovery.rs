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
    let starts = state.store().pending_starts().await?;
    for r in &starts {
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
    let sends = state.store().pending_sends().await?;
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
