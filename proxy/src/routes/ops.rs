//! Operational endpoints: liveness, readiness and Prometheus metrics, plus the JSON 404.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{error::Error, state::AppState};

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: configured, the widget was built into the binary, and not shutting down.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    if state.properties().next().is_none() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no properties configured").into_response();
    }
    if !state.assets().widget_built() {
        return (StatusCode::SERVICE_UNAVAILABLE, "widget assets missing: build with `make widget`").into_response();
    }
    "ready".into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let budget: Vec<(String, usize, usize)> = state
        .properties()
        .map(|p| (p.config.id.clone(), p.upstream.limiter().used(), p.upstream.limiter().capacity()))
        .collect();
    let body = state.metrics().render(state.hub().live_count(), &budget);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

pub async fn not_found() -> Error {
    Error::NotFound
}

/// A known path with a method it does not take.
pub async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}
