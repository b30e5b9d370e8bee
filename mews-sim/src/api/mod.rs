//! The Connector API surface: the four messaging paths of `mews_wire::paths` and the four guest
//! reads of `mews_wire::guests::paths` ([`guests`]), `POST` only, and the request pipeline they
//! share.
//!
//! Pipeline, in order (each step can end the request):
//! 1. `Content-Type` must be `application/json` (parameters such as `charset` allowed) → else `400`;
//! 2. body at most [`crate::Config::max_body_bytes`] → else `413`;
//! 3. strict JSON object → else `400 Invalid JSON`;
//! 4. injected faults (see [`crate::faults`]) — before auth, so a fault rule can target a token;
//! 5. `ClientToken` + `AccessToken` → else `401`;
//! 6. rate limit per `AccessToken` → else `429` with `Retry-After`;
//! 7. field validation and the operation itself (`400` naming the field on bad input).
//!
//! Wrong method or any other path under the prefix → `404` with the Mews error body.

pub mod fields;
pub mod guests;
pub mod messages;
pub mod threads;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use mews_wire::paths;
use serde_json::{Map, Value};

use crate::{
    connection::ConnHandle,
    directory::{AuthFailure, Caller},
    error::ApiError,
    faults::RequestFault,
    rate_limit::retry_after_secs,
    request_log::RequestNote,
    state::{AppState, lock},
    store::OrderKey,
};

/// The four operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    AddThread,
    GetThreads,
    AddMessages,
    GetMessages,
    GetReservations,
    GetCustomers,
    SearchCustomers,
    GetResources,
}

impl Operation {
    pub const ALL: [Operation; 8] = [
        Self::AddThread,
        Self::GetThreads,
        Self::AddMessages,
        Self::GetMessages,
        Self::GetReservations,
        Self::GetCustomers,
        Self::SearchCustomers,
        Self::GetResources,
    ];

    /// `resource/action`, as fault rules name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::AddThread => "messageThreads/add",
            Self::GetThreads => "messageThreads/getAll",
            Self::AddMessages => "messages/add",
            Self::GetMessages => "messages/getAll",
            Self::GetReservations => "reservations/getAll/2023-06-06",
            Self::GetCustomers => "customers/getAll",
            Self::SearchCustomers => "customers/search",
            Self::GetResources => "resources/getAll",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Self::AddThread => paths::MESSAGE_THREADS_ADD,
            Self::GetThreads => paths::MESSAGE_THREADS_GET_ALL,
            Self::AddMessages => paths::MESSAGES_ADD,
            Self::GetMessages => paths::MESSAGES_GET_ALL,
            Self::GetReservations => mews_wire::guests::paths::RESERVATIONS_GET_ALL,
            Self::GetCustomers => mews_wire::guests::paths::CUSTOMERS_GET_ALL,
            Self::SearchCustomers => mews_wire::guests::paths::CUSTOMERS_SEARCH,
            Self::GetResources => mews_wire::guests::paths::RESOURCES_GET_ALL,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// The Connector API routes (merged into [`crate::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::MESSAGE_THREADS_ADD, post(add_thread).fallback(not_found))
        .route(paths::MESSAGE_THREADS_GET_ALL, post(get_threads).fallback(not_found))
        .route(paths::MESSAGES_ADD, post(add_messages).fallback(not_found))
        .route(paths::MESSAGES_GET_ALL, post(get_messages).fallback(not_found))
        .route(Operation::GetReservations.path(), post(get_reservations).fallback(not_found))
        .route(Operation::GetCustomers.path(), post(get_customers).fallback(not_found))
        .route(Operation::SearchCustomers.path(), post(search_customers).fallback(not_found))
        .route(Operation::GetResources.path(), post(get_resources).fallback(not_found))
}

/// `404` with the Mews error body: unknown path, wrong method, trailing slash, wrong case.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn add_thread(State(s): State<AppState>, req: Request) -> Response {
    run(s, Operation::AddThread, req).await
}

async fn get_threads(State(s): State<AppState>, req: Request) -> Response {
    run(s, Operation::GetThreads, req).await
}

async fn add_messages(State(s): State<AppState>, req: Request) -> Response {
    run(s, Operation::AddMessages, req).await
}

async fn get_messages(State(s): State<AppState>, req: Request) -> Response {
    run(s, Operation::GetMessages, req).await
}

async fn get_reservations(State(s): State<AppState>, req: Request) -> Response {
    run(s, Operation::GetReservations, req).await
}

async fn get_customers(State(s): State<AppState>, req: Request) -> Response {
    run(s, Operation::GetCustomers, req).await
}

async fn search_customers(State(s): State<AppState>, req: Request) -> Response {
    run(s, Operation::SearchCustomers, req).await
}

async fn get_resources(State(s): State<AppState>, req: Request) -> Response {
    run(s, Operation::GetResources, req).await
}

/// What an operation needs besides the state.
pub struct Call<'a> {
    pub caller: &'a Caller,
    pub body: &'a Map<String, Value>,
    /// `Prefer: return=minimal` was sent.
    pub minimal: bool,
}

/// How the pipeline ends.
enum Outcome {
    Answer(Response),
    /// Close the connection without an answer (`reset`, `commit_then_drop`).
    Drop,
}

async fn run(state: AppState, op: Operation, req: Request) -> Response {
    let conn = req.extensions().get::<ConnectInfo<ConnHandle>>().map(|c| c.0.clone());
    let mut note = RequestNote::default();
    let outcome = pipeline(&state, op, req, &mut note).await;
    let mut response = match outcome {
        Ok(Outcome::Answer(r)) => r,
        Err(e) => e.into_response(),
        Ok(Outcome::Drop) => match conn {
            // Our listener: the first write of this (never sent) response fails and the socket
            // closes with a TCP reset.
            Some(conn) => {
                conn.kill();
                Response::new(Body::empty())
            }
            // Served by someone else's listener: a body that fails before its first byte makes
            // hyper drop the connection without sending the head (an orderly close, not a reset).
            None => {
                let failing = futures::stream::once(async {
                    Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault"))
                });
                Response::new(Body::from_stream(failing))
            }
        },
    };
    response.extensions_mut().insert(note);
    response
}

async fn pipeline(state: &AppState, op: Operation, req: Request, note: &mut RequestNote) -> Result<Outcome, ApiError> {
    let minimal = prefers_minimal(req.headers());
    check_content_type(req.headers())?;
    let max = state.config().max_body_bytes;
    let body = read_body(req.into_body(), max).await?;
    let value: Value = serde_json::from_slice(&body).map_err(|_| ApiError::InvalidJson)?;
    let Value::Object(body) = value else {
        return Err(ApiError::bad("Invalid request: the body must be a JSON object."));
    };
    let raw_access = body.get("AccessToken").and_then(Value::as_str);
    let raw_client = body.get("ClientToken").and_then(Value::as_str);
    note.access_token = raw_access.map(|t| state.token_label(t));
    note.client = body.get("Client").and_then(Value::as_str).map(str::to_owned);

    let fault = lock(&state.inner.faults).for_request(op, raw_access);
    let mut drop_after = false;
    let mut stall_after = None;
    if let Some((fault, name)) = fault {
        tracing::info!(operation = op.name(), fault = name, "injecting fault");
        note.fault = Some(name);
        match fault {
            RequestFault::Respond(e) => return Err(e),
            RequestFault::Latency(d) => tokio::time::sleep(d).await,
            RequestFault::Reset => return Ok(Outcome::Drop),
            RequestFault::CommitThenDrop => drop_after = true,
            RequestFault::CommitThenStall(d) => stall_after = Some(d),
        }
    }

    let caller = state.directory().authenticate(raw_client, raw_access).map_err(|f| match f {
        AuthFailure::ClientToken => ApiError::Unauthorized("Invalid ClientToken.".into()),
        AuthFailure::AccessToken => ApiError::Unauthorized("Invalid AccessToken.".into()),
    })?;

    crate::api::fields::Fields::new(&body).text("Client")?;

    let settings = state.settings();
    // Tokio's clock (the same as std's unless a test paused time), so that a client under
    // `tokio::time::pause()` and this limit agree on when 30 s have passed.
    let now = tokio::time::Instant::now().into_std();
    lock(&state.inner.rate_limiter)
        .check(&caller.access_token, settings.rate_limit_requests, settings.rate_limit_window, now)
        .map_err(|wait| ApiError::TooManyRequests { retry_after: Some(retry_after_secs(wait)) })?;

    let call = Call { caller: &caller, body: &body, minimal };
    let response = match op {
        Operation::AddThread => threads::add(state, call),
        Operation::GetThreads => threads::get_all(state, call),
        Operation::AddMessages => messages::add(state, call),
        Operation::GetMessages => messages::get_all(state, call),
        Operation::GetReservations => guests::get_reservations(state, call),
        Operation::GetCustomers => guests::get_customers(state, call),
        Operation::SearchCustomers => guests::search_customers(state, call),
        Operation::GetResources => guests::get_resources(state, call),
    }?;
    if let Some(d) = stall_after {
        tokio::time::sleep(d).await;
    }
    Ok(if drop_after { Outcome::Drop } else { Outcome::Answer(response) })
}

fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split([',', ';']).any(|p| p.trim().eq_ignore_ascii_case("return=minimal")))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::bad("Invalid Content-Type: expected application/json."))
    }
}

async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, max).await.map_err(|_| ApiError::PayloadTooLarge(max))
}

/// Newest-first cursor pagination (spec §1.8). `items` must be the filtered result; `cursor_key`
/// the position of the cursor item (already resolved); returns the page and the response cursor
/// (`None` only when the page is empty).
pub fn paginate<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> OrderKey,
    id: impl Fn(&T) -> &str,
    count: u32,
    cursor_key: Option<OrderKey>,
) -> (Vec<T>, Option<String>) {
    items.sort_by_key(|item| std::cmp::Reverse(key(item)));
    let page: Vec<T> =
        items.into_iter().filter(|item| cursor_key.is_none_or(|c| key(item) < c)).take(count as usize).collect();
    let cursor = page.last().map(|item| id(item).to_string());
    (page, cursor)
}

/// The enterprises a read may cover: the token's scope, narrowed by `EnterpriseIds`, each of which
/// must be within the scope (else `400 Invalid EnterpriseIds`).
pub fn enterprise_scope(caller: &Caller, requested: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    match requested {
        None => Ok(caller.enterprise_ids.clone()),
        Some(ids) => {
            if let Some(bad) = ids.iter().find(|id| !caller.enterprise_ids.contains(id)) {
                return Err(ApiError::bad(format!("Invalid EnterpriseIds: {bad} is not covered by the AccessToken.")));
            }
            Ok(ids)
        }
    }
}

/// `200` with JSON, or `204` without body and `Content-Type` for an empty page under
/// `Prefer: return=minimal`.
pub fn page_response<T: serde::Serialize>(body: &T, empty: bool, minimal: bool) -> Response {
    if empty && minimal { StatusCode::NO_CONTENT.into_response() } else { axum::Json(body).into_response() }
}

/// Converts validated JSON into the shared wire type; a failure here is still the caller's fault.
pub fn into_wire<T: serde::de::DeserializeOwned>(body: &Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(body.clone())).map_err(|e| ApiError::bad(format!("Invalid request: {e}.")))
}
