//! `messageThreads/add` and `messageThreads/getAll` (spec §3.1, §3.2).
//!
//! A thread belongs to the client application (`ClientToken`) that created it and to the one
//! enterprise of the access token used; only that application sees it, and only through a token
//! covering that enterprise. A portfolio token (several enterprises) cannot create threads: the
//! operation has no `EnterpriseId`, so the enterprise would be a guess (`400 Invalid AccessToken`).

use axum::{Json, response::IntoResponse, response::Response};
use mews_wire::{AddThreadRequest, GetThreadsRequest, ThreadsResponse};

use super::{Call, enterprise_scope, fields::Fields, into_wire, page_response, paginate};
use crate::{error::ApiError, state::AppState, store::now_utc};

/// Threads' `CreatedUtc` and `UpdatedUtc` filters may span at most this many calendar months.
pub const MAX_INTERVAL_MONTHS: i64 = 3;

pub fn add(state: &AppState, call: Call<'_>) -> Result<Response, ApiError> {
    let f = Fields::new(call.body);
    f.text("OriginalSender")?;
    f.text("Subject")?;
    let req: AddThreadRequest = into_wire(call.body)?;
    let [enterprise_id] = call.caller.enterprise_ids.as_slice() else {
        return Err(ApiError::bad(
            "Invalid AccessToken: a portfolio access token covers several enterprises and \
             messageThreads/add has no EnterpriseId; use the enterprise's own access token.",
        ));
    };
    let thread = state
        .store()
        .add_thread(call.caller.client, enterprise_id, &req.original_sender, &req.subject, now_utc())
        .to_wire();
    Ok(Json(ThreadsResponse { message_threads: vec![thread], cursor: None }).into_response())
}

pub fn get_all(state: &AppState, call: Call<'_>) -> Result<Response, ApiError> {
    let f = Fields::new(call.body);
    f.string_array("EnterpriseIds")?;
    f.string_array("MessageThreadIds")?;
    f.interval("CreatedUtc", MAX_INTERVAL_MONTHS)?;
    f.interval("UpdatedUtc", MAX_INTERVAL_MONTHS)?;
    f.limitation()?;
    let req: GetThreadsRequest = into_wire(call.body)?;
    if req.message_thread_ids.is_none() && req.created_utc.is_none() && req.updated_utc.is_none() {
        return Err(ApiError::bad("At least one of MessageThreadIds, CreatedUtc or UpdatedUtc is required."));
    }
    let scope = enterprise_scope(call.caller, req.enterprise_ids)?;
    let store = state.store();
    let visible: Vec<_> =
        store.threads().filter(|t| t.client == call.caller.client && scope.contains(&t.enterprise_id)).collect();
    let cursor_key = match &req.limitation.cursor {
        None => None,
        Some(c) => {
            Some(visible.iter().find(|t| &t.id == c).ok_or_else(|| ApiError::invalid("Limitation.Cursor"))?.order_key())
        }
    };
    let matching: Vec<_> = visible
        .into_iter()
        .filter(|t| req.message_thread_ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
        .filter(|t| req.created_utc.is_none_or(|i| i.contains(t.created_utc)))
        .filter(|t| req.updated_utc.is_none_or(|i| i.contains(t.updated_utc)))
        .collect();
    let (page, cursor) = paginate(matching, |t| t.order_key(), |t| &t.id, req.limitation.count, cursor_key);
    let empty = page.is_empty();
    let body =
        ThreadsResponse { message_threads: page.into_iter().map(|t| t.to_wire()).collect(), cursor: Some(cursor) };
    Ok(page_response(&body, empty, call.minimal))
}
