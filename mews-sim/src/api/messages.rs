//! `messages/add` and `messages/getAll` (spec §3.3, §3.4).
//!
//! Messages added through the API are `Sender: Application`. A batch is all-or-nothing: every
//! item is validated and every `MessageThreadId` checked (it must be a thread this application
//! created, in an enterprise the token covers, else `400 Invalid MessageThreadId`) before any
//! message is stored. Each stored message queues a `MessageAdded` webhook.

use axum::{Json, response::IntoResponse, response::Response};
use mews_wire::{
    AddMessagesRequest, AddMessagesResponse, AddedMessage, GetMessagesRequest, MessagesResponse, SenderKind,
};

use super::{Call, enterprise_scope, fields::Fields, into_wire, page_response, paginate};
use crate::{error::ApiError, state::AppState};

/// Messages' `CreatedUtc` filter may span at most this many calendar months.
pub const MAX_INTERVAL_MONTHS: i64 = 1;

pub fn add(state: &AppState, call: Call<'_>) -> Result<Response, ApiError> {
    let f = Fields::new(call.body);
    for item in f.objects("Messages")? {
        item.text("MessageThreadId")?;
        item.text("Text")?;
        item.optional_string("Identifier")?;
    }
    let req: AddMessagesRequest = into_wire(call.body)?;
    let caller = call.caller;
    {
        let store = state.store();
        for (i, m) in req.messages.iter().enumerate() {
            let ours = store
                .thread(&m.message_thread_id)
                .is_some_and(|t| t.client == caller.client && caller.enterprise_ids.contains(&t.enterprise_id));
            if !ours {
                return Err(ApiError::bad(format!(
                    "Invalid MessageThreadId: Messages[{i}].MessageThreadId is not a thread of \
                     this application and enterprise."
                )));
            }
        }
    }
    let mut added = Vec::with_capacity(req.messages.len());
    for m in req.messages {
        let message = state
            .post_message(&m.message_thread_id, &m.text, SenderKind::Application)
            .ok_or_else(|| ApiError::invalid("MessageThreadId"))?;
        added.push(AddedMessage { identifier: m.identifier, message });
    }
    Ok(Json(AddMessagesResponse { messages: added }).into_response())
}

pub fn get_all(state: &AppState, call: Call<'_>) -> Result<Response, ApiError> {
    let f = Fields::new(call.body);
    f.string_array("EnterpriseIds")?;
    if f.string_array("MessageThreadIds")?.is_none() {
        return Err(ApiError::bad("Missing required field MessageThreadIds."));
    }
    f.interval("CreatedUtc", MAX_INTERVAL_MONTHS)?;
    f.limitation()?;
    let req: GetMessagesRequest = into_wire(call.body)?;
    let caller = call.caller;
    let scope = enterprise_scope(caller, req.enterprise_ids)?;
    let store = state.store();
    let visible = |thread_id: &str| {
        store.thread(thread_id).is_some_and(|t| t.client == caller.client && scope.contains(&t.enterprise_id))
    };
    let cursor_key = match &req.limitation.cursor {
        None => None,
        Some(c) => Some(
            store
                .message(c)
                .filter(|m| visible(&m.thread_id))
                .ok_or_else(|| ApiError::invalid("Limitation.Cursor"))?
                .order_key(),
        ),
    };
    let mut thread_ids = req.message_thread_ids;
    thread_ids.sort();
    thread_ids.dedup();
    let matching: Vec<_> = thread_ids
        .iter()
        .filter(|id| visible(id))
        .flat_map(|id| store.messages_of(id))
        .filter(|m| req.created_utc.is_none_or(|i| i.contains(m.created_utc)))
        .collect();
    let (page, cursor) = paginate(matching, |m| m.order_key(), |m| &m.id, req.limitation.count, cursor_key);
    let empty = page.is_empty();
    let body = MessagesResponse { messages: page.into_iter().map(|m| m.to_wire()).collect(), cursor };
    Ok(page_response(&body, empty, call.minimal))
}
