//! The admin JSON API (snake_case) that tests and demos use to play "hotel staff" and to observe
//! and steer the simulator: list threads, read messages, reply as staff (`Enterprise`), resolve,
//! reset, read the request and webhook logs, change settings, and inject faults.
//!
//! None of this exists in Mews; it replaces the Mews Operations UI and the support desk.

use axum::{
    Json, Router,
    extract::{FromRequest, Path, Request, State},
    routing::{get, post},
};
use mews_wire::{Message, SenderKind};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::{
    error::ApiError,
    faults::{Fault, FaultSpec},
    request_log::RequestRecord,
    state::{AppState, Settings, SettingsPatch, lock},
    store::{Store, Thread, now_utc},
    webhooks::DeliveryRecord,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/threads", get(list_threads))
        .route("/admin/threads/{id}/messages", get(thread_messages))
        .route("/admin/threads/{id}/reply", post(reply))
        .route("/admin/threads/{id}/resolve", post(resolve))
        .route("/admin/threads/{id}/read", post(mark_read))
        .route("/admin/reset", post(reset))
        .route("/admin/requests", get(requests))
        .route("/admin/webhooks", get(webhooks))
        .route("/admin/config", get(get_config).put(put_config))
        .route("/admin/faults", get(list_faults).post(add_fault).delete(clear_faults))
}

/// `Json` whose rejections use the Mews error body like everything else.
pub struct AdminJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state).await.map(|Json(v)| AdminJson(v)).map_err(|e| ApiError::bad(e.body_text()))
    }
}

/// A thread as the staff side sees it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdminThread {
    pub id: String,
    pub enterprise_id: String,
    pub enterprise_name: Option<String>,
    pub client_token_name: Option<String>,
    pub original_sender: String,
    pub subject: String,
    pub created_utc: String,
    pub updated_utc: String,
    pub is_resolved: bool,
    /// Guest (`Application`) messages newer than what staff last read.
    pub unread: bool,
    pub message_count: usize,
    pub last_message: Option<String>,
    /// The stay the subject names (`[Booking <Number>…`), as staff would look it up in Mews.
    pub linked_stay: Option<crate::guests::StaySummary>,
}

pub(crate) fn admin_thread(state: &AppState, store: &Store, t: &Thread) -> AdminThread {
    let dir = state.directory();
    AdminThread {
        id: t.id.clone(),
        enterprise_id: t.enterprise_id.clone(),
        enterprise_name: dir.enterprise(&t.enterprise_id).map(|e| e.name.clone()),
        client_token_name: dir.clients.get(t.client).map(|c| c.name.clone()),
        original_sender: t.original_sender.clone(),
        subject: t.subject.clone(),
        created_utc: mews_wire::format_utc(t.created_utc),
        updated_utc: mews_wire::format_utc(t.updated_utc),
        is_resolved: t.is_resolved,
        unread: store.is_unread(t),
        message_count: t.message_count(),
        last_message: store.last_message(&t.id).map(|m| m.text.clone()),
        linked_stay: state.guests().linked(&t.enterprise_id, &t.subject),
    }
}

/// All threads, most recently active first.
pub(crate) fn threads_newest_first(state: &AppState) -> Vec<AdminThread> {
    let store = state.store();
    let mut threads: Vec<&Thread> = store.threads().collect();
    threads.sort_by_key(|t| std::cmp::Reverse(t.updated_seq));
    threads.into_iter().map(|t| admin_thread(state, &store, t)).collect()
}

async fn list_threads(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "threads": threads_newest_first(&state) }))
}

fn known_thread(state: &AppState, id: &str) -> Result<(), ApiError> {
    match state.store().thread(id) {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound(format!("Unknown thread {id}."))),
    }
}

async fn thread_messages(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    known_thread(&state, &id)?;
    let messages: Vec<Message> = state.store().messages_of(&id).map(|m| m.to_wire()).collect();
    Ok(Json(json!({ "messages": messages })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    text: String,
}

/// Adds a staff (`Enterprise`) message and queues its webhook.
pub(crate) fn staff_reply(state: &AppState, id: &str, text: &str) -> Result<Message, ApiError> {
    known_thread(state, id)?;
    if text.trim().is_empty() {
        return Err(ApiError::bad("Invalid text: must not be empty."));
    }
    state
        .post_message(id, text, SenderKind::Enterprise)
        .ok_or_else(|| ApiError::NotFound(format!("Unknown thread {id}.")))
}

async fn reply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<ReplyBody>,
) -> Result<Json<Message>, ApiError> {
    staff_reply(&state, &id, &body.text).map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    resolved: bool,
}

pub(crate) fn set_resolved(state: &AppState, id: &str, resolved: bool) -> Result<AdminThread, ApiError> {
    let mut store = state.store();
    store.set_resolved(id, resolved, now_utc());
    let thread = store.thread(id).ok_or_else(|| ApiError::NotFound(format!("Unknown thread {id}.")))?;
    Ok(admin_thread(state, &store, thread))
}

async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<ResolveBody>,
) -> Result<Json<AdminThread>, ApiError> {
    set_resolved(&state, &id, body.resolved).map(Json)
}

async fn mark_read(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AdminThread>, ApiError> {
    known_thread(&state, &id)?;
    let mut store = state.store();
    store.mark_read(&id);
    let thread = store.thread(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(admin_thread(&state, &store, thread)))
}

async fn reset(State(state): State<AppState>) -> Json<Value> {
    state.reset();
    Json(json!({ "reset": true }))
}

async fn requests(State(state): State<AppState>) -> Json<Value> {
    let log = lock(&state.inner.request_log);
    let requests: Vec<&RequestRecord> = log.entries().collect();
    Json(json!({ "requests": requests }))
}

async fn webhooks(State(state): State<AppState>) -> Json<Value> {
    let deliveries: Vec<DeliveryRecord> = state.inner.webhooks.records();
    Json(json!({ "deliveries": deliveries }))
}

async fn get_config(State(state): State<AppState>) -> Json<Settings> {
    Json(state.settings())
}

async fn put_config(
    State(state): State<AppState>,
    AdminJson(patch): AdminJson<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    state.update_settings(patch).map(Json).map_err(|e| ApiError::bad(format!("Invalid config: {e}.")))
}

async fn list_faults(State(state): State<AppState>) -> Json<Value> {
    let faults: Vec<Fault> = lock(&state.inner.faults).list().to_vec();
    Json(json!({ "faults": faults }))
}

async fn add_fault(
    State(state): State<AppState>,
    AdminJson(spec): AdminJson<FaultSpec>,
) -> Result<Json<Fault>, ApiError> {
    lock(&state.inner.faults).add(spec).map(Json)
}

async fn clear_faults(State(state): State<AppState>) -> Json<Value> {
    lock(&state.inner.faults).clear();
    Json(json!({ "faults": [] }))
}
