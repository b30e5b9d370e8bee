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

/// Readiness: configured, the widget was built into the binary, no background task has
/// panicked ([`crate::supervise`]), and not shutting down.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    if state.health().degraded() {
        let failed = state.health().failed().join(", ");
        return (StatusCode::SERVICE_UNAVAILABLE, format!("background task failed: {failed}")).into_response();
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

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;

    use crate::{mews::in_process::InProcessMews, supervise::spawn_supervised};

    #[tokio::test]
    async fn a_panicking_background_task_turns_readyz_to_503() {
        let state = InProcessMews::default().app_state();
        let readyz = || async {
            let req = Request::get("/readyz").body(Body::empty()).unwrap();
            let resp = crate::router(state.clone()).oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
            (status.as_u16(), String::from_utf8_lossy(&body).into_owned())
        };
        // The widget may not be built in this checkout; readiness then fails for that reason.
        let (before, _) = readyz().await;
        spawn_supervised("batcher", &state, async { panic!("limiter overflow") });
        for _ in 0..100 {
            if state.health().degraded() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let (after, text) = readyz().await;
        assert_eq!(after, 503, "{text}");
        if before == 200 {
            assert!(text.contains("batcher"), "{text}");
        }
    }
}
