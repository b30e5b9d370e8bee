//! The HTTP surface of the proxy, assembled into one `Router`.
//!
//! | Path | Module |
//! |---|---|
//! | `/v1/…` widget JSON API | [`widget`] |
//! | `/v1/conversation/events` SSE | [`events`] |
//! | `/v1/…/booking` "Find my booking" | [`booking`] |
//! | `/webhooks/mews` | [`webhooks`] |
//! | `/lobby.js`, `/widget/*` | [`assets`] |
//! | `/healthz`, `/readyz`, `/metrics` | [`ops`] |

pub mod assets;
pub mod booking;
pub mod cors;
pub mod events;
pub mod extract;
pub mod ops;
pub mod webhooks;
pub mod widget;

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::HeaderValue,
    middleware,
    routing::{get, post},
};
use tower_http::{
    LatencyUnit,
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::state::AppState;

/// Largest widget API body (a message is at most 4000 characters).
pub const WIDGET_BODY_LIMIT: usize = 32 * 1024;
/// Largest webhook body (batches of hundreds of events).
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/properties/{property}", get(widget::property_info))
        .route("/v1/properties/{property}/conversations", post(widget::start))
        .route("/v1/conversation", get(widget::conversation))
        .route("/v1/conversation/messages", get(widget::history).post(widget::send))
        .route("/v1/conversation/events", get(events::stream))
        .route("/v1/properties/{property}/booking", post(booking::before_conversation))
        .route("/v1/conversation/booking", post(booking::in_conversation))
        // Before the CORS layer, so that it wraps this fallback too (preflight `OPTIONS`); the
        // router-wide one below only fills in where no fallback is set yet.
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(WIDGET_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), cors::cors));
    let hooks =
        Router::new().route("/webhooks/mews", post(webhooks::receive)).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT));
    Router::new()
        .merge(api)
        .merge(hooks)
        .route("/lobby.js", get(assets::loader))
        .route("/widget/{file}", get(assets::widget_file))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            // Access log at the default level: method, matched route (the path for the 404
            // fallback; never the query, which may hold a session or the webhook token), status
            // and latency, one line per answer. Headers are not recorded.
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req.extensions().get::<MatchedPath>().map_or(req.uri().path(), MatchedPath::as_str);
                    tracing::info_span!("http", method = %req.method(), route = %route)
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(LatencyUnit::Millis))
                .on_failure(()),
        )
        .with_state(state)
}

/// Bad requests answer with our JSON error body, whatever part of the request is wrong.
#[cfg(test)]
mod tests {
    use axum::{body::Body, http::StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::{mews::in_process::InProcessMews, session::Claims};

    async fn call(state: &AppState, method: &str, uri: &str, session: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri).header("origin", "https://hotel.example");
        if let Some(s) = session {
            req = req.header("authorization", format!("Bearer {s}"));
        }
        let resp = router(state.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        // Bounded: an answer that turned into an endless stream (SSE) fails instead of hanging.
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX);
        let bytes =
            tokio::time::timeout(std::time::Duration::from_secs(10), body).await.expect("a finite answer").unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A session for thread `t-1` of the in-process property.
    fn session_for(state: &AppState) -> String {
        let claims = Claims {
            p: "hotel".into(),
            t: "t-1".into(),
            n: "Ann".into(),
            s: String::new(),
            iat: jiff::Timestamp::now().as_second(),
        };
        state.sessions().sign(&claims)
    }

    #[tokio::test]
    async fn a_bad_query_path_or_method_gets_the_json_error_body() {
        let state = InProcessMews::default().app_state();
        let session = session_for(&state);
        let cases = [
            ("GET", "/v1/conversation/messages?limit=abc", Some(&session), StatusCode::BAD_REQUEST, "invalid_input"),
            ("GET", "/v1/properties/%FF", None, StatusCode::BAD_REQUEST, "invalid_input"),
            ("PUT", "/v1/conversation/messages", Some(&session), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ("GET", "/nowhere", None, StatusCode::NOT_FOUND, "not_found"),
        ];
        for (method, uri, session, status, code) in cases {
            let (got, body) = call(&state, method, uri, session.map(String::as_str)).await;
            assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{method} {uri}: {body}");
        }
    }

    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// One line per answer at the default level, with the route and never the query. The
    /// subscriber is global (the binary's only one): a thread-local one misses events when other
    /// tests run in parallel, through tracing's per-callsite interest cache.
    #[tokio::test]
    async fn an_access_log_line_at_the_default_level_names_the_route_not_the_query() {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(crate::DEFAULT_LOG_FILTER))
            .with_writer(move || Capture(writer.clone()))
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");
        let state = InProcessMews::default().app_state();
        let session = session_for(&state);
        let (status, _) = call(&state, "GET", "/v1/conversation/messages?limit=abc&marker=q9z", Some(&session)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        let line = text
            .lines()
            .find(|l| l.contains("method=GET") && l.contains("route=/v1/conversation/messages"))
            .unwrap_or_else(|| panic!("no access-log line in:\n{text}"));
        assert!(line.contains("status=400") && line.contains("latency="), "{line}");
        assert!(!text.contains("q9z") && !text.contains("limit=abc"), "a query reached the log:\n{text}");
        assert!(!text.contains(&session), "a session reached the log");
    }
}
