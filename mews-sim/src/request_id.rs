//! The `Request-Id` every answer carries (spec §1.5), success or error, including `404`s.
//!
//! The middleware mints one id per request and runs the rest of the stack inside a task-local
//! scope, so [`crate::error::ApiError`] can put the same id in the error body without every handler
//! threading it through. The header is added to any response that lacks it.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::{
    extract::{Request, State},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};

use crate::state::AppState;

/// Header name, exactly as Mews spells it (HTTP header names are case-insensitive on the wire).
pub const HEADER: &str = "request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Mints request ids: `<instance prefix>:<8 hex digits>`, e.g. `0SIM6A1F3C2B:0000002A`.
#[derive(Debug)]
pub struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    pub fn new(seed: u64) -> Self {
        Self { prefix: format!("0SIM{:08X}", seed as u32), next: AtomicU64::new(1) }
    }

    pub fn mint(&self) -> String {
        format!("{}:{:08X}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

/// The id of the request being served, or a fresh one outside the middleware (e.g. when
/// [`crate::router`] is driven without it).
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| format!("0SIMNOSCOPE:{:08X}", rand::random::<u32>()))
}

/// Middleware: assign the id, run the request inside its scope, stamp the header.
pub async fn assign(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = state.inner.request_ids.mint();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if !response.headers().contains_key(HEADER)
        && let Ok(v) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert(HEADER, v);
    }
    response
}
