//! The log of Connector API requests the simulator received (`GET /admin/requests`): path,
//! status, which access token (by configured name or a short hash — never the full token), the
//! `Client` string, any injected fault, and timing. Tests use it to assert how often and how the
//! proxy called "Mews".
//!
//! The pipeline attaches a [`RequestNote`] to each Connector API response; the middleware here
//! records it together with what only it sees (method, path, status, duration).

use std::{collections::VecDeque, time::Instant};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use serde::Serialize;

use crate::{
    request_id,
    state::{AppState, lock},
    store::now_utc,
};

/// At most this many entries are kept; the oldest are dropped first.
pub const MAX_ENTRIES: usize = 10_000;

/// What the pipeline learned from the body, for the log.
#[derive(Clone, Debug, Default)]
pub struct RequestNote {
    pub access_token: Option<String>,
    pub client: Option<String>,
    pub fault: Option<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    pub request_id: String,
    pub time_utc: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Configured token name, or `#xxxxxxxx` (hash) for an unknown token; `null` if none was sent.
    pub access_token: Option<String>,
    pub client: Option<String>,
    /// Injected fault, if one fired (e.g. `reset`, `latency`).
    pub fault: Option<&'static str>,
    pub duration_ms: u64,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    entries: VecDeque<RequestRecord>,
}

impl RequestLog {
    pub fn push(&mut self, r: RequestRecord) {
        if self.entries.len() == MAX_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back(r);
    }

    pub fn entries(&self) -> impl Iterator<Item = &RequestRecord> {
        self.entries.iter()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Middleware on the whole router; records every request under `/api/` (404s included).
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let note = response.extensions().get::<RequestNote>().cloned().unwrap_or_default();
    let request_id = response
        .headers()
        .get(request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(request_id::current);
    let record = RequestRecord {
        request_id,
        time_utc: mews_wire::format_utc(now_utc()),
        method,
        path,
        status: response.status().as_u16(),
        access_token: note.access_token,
        client: note.client,
        fault: note.fault,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    lock(&state.inner.request_log).push(record);
    response
}
