//! The Mews General Webhook receiver.
//!
//! Authenticated by the shared secret Mews puts in the URL (`?Token=`, at least 24 characters,
//! checked at start-up), compared in constant time; a missing or wrong token gets 401 before a
//! byte of the body is read (the handler takes the body unread and reads it only after the check,
//! up to [`super::WEBHOOK_BODY_LIMIT`]; a larger declared `Content-Length` is 413 unread). The body is parsed leniently as to
//! `Content-Type` (Mews promises none). The answer is 202 at once — well under Mews's 5 s
//! deadline — and the work happens in the property's poller, which the webhook only wakes: a
//! `MessageAdded` carries nothing but a message id, and the poller fetches all live threads of
//! that enterprise in one call. Ids already relayed are ignored, so duplicates cost nothing.

use axum::{
    body::Body,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
};
use mews_wire::{MESSAGE_ADDED, WebhookEnvelope};
use secrecy::ExposeSecret;
use std::{collections::HashMap, sync::atomic::Ordering};
use subtle::ConstantTimeEq;

use crate::{
    error::{Error, Result},
    state::AppState,
};

pub async fn receive(
    State(state): State<AppState>,
    query: std::result::Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    // An unreadable query has no readable token either.
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let expected = state.webhook_token().expose_secret().as_bytes();
    let given = q.get("Token").map_or("", String::as_str).as_bytes();
    if !bool::from(given.ct_eq(expected)) {
        state.metrics().webhooks_rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("webhook rejected: missing or wrong token");
        return Err(Error::Unauthorized);
    }
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > super::WEBHOOK_BODY_LIMIT as u64) {
        return Err(Error::PayloadTooLarge);
    }
    let body = axum::body::to_bytes(body, super::WEBHOOK_BODY_LIMIT).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            Error::PayloadTooLarge
        } else {
            Error::InvalidInput { field: None, message: "the request body could not be read".into() }
        }
    })?;
    let envelope: WebhookEnvelope = serde_json::from_slice(&body)
        .map_err(|e| Error::InvalidInput { field: None, message: format!("not a Mews webhook envelope: {e}") })?;
    state.metrics().webhooks_received.fetch_add(1, Ordering::Relaxed);
    let fresh = envelope
        .events
        .iter()
        .filter(|e| e.discriminator == MESSAGE_ADDED)
        .any(|e| !state.hub().seen_anywhere(&e.value.id));
    if fresh {
        match state.property_for_enterprise(&envelope.enterprise_id) {
            Some(p) => crate::relay::fanout::need_poll(&state, p, None).await,
            // Unknown enterprise id (not configured): wake every token; idle ones do nothing.
            None => {
                for p in state.properties() {
                    crate::relay::fanout::need_poll(&state, p, None).await;
                }
            }
        }
    }
    Ok(StatusCode::ACCEPTED)
}
