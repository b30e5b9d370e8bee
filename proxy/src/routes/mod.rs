//! The HTTP surface of the proxy, assembled into one `Router`.
//!
//! | Path | Module |
//! |---|---|
//! | `/v1/…` widget JSON API | [`widget`] |
//! | `/v1/conversation/events` SSE | [`events`] |
//! | `/webhooks/mews` | [`webhooks`] |
//! | `/lobby.js`, `/widget/*` | [`assets`] |
//! | `/healthz`, `/readyz`, `/metrics` | [`ops`] |

pub mod assets;
pub mod cors;
pub mod events;
pub mod ops;
pub mod webhooks;
pub mod widget;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::HeaderValue,
    middleware,
    routing::{get, post},
};
use tower_http::{set_header::SetResponseHeaderLayer, trace::TraceLayer};

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
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            // Access log: method, path (never the query, which may hold a session or the webhook
            // token), status and latency. Headers are not recorded.
            TraceLayer::new_for_http().make_span_with(
                |req: &Request| tracing::info_span!("http", method = %req.method(), path = %req.uri().path()),
            ),
        )
        .with_state(state)
}
