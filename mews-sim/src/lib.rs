//! `mews-sim`: a local simulator of the Mews Connector API's customer-messaging part, for Lobby's
//! tests and demo. It follows `shared/spec/mews-messaging.md` and speaks the `mews_wire` types.
//!
//! - [`router`] builds the whole HTTP surface: the four Connector API operations under
//!   `/api/connector/v1/`, the staff console at `/`, and the admin JSON API under `/admin/`.
//! - [`serve`] runs it on a bound listener until `shutdown` resolves, together with the webhook
//!   dispatcher. Tests bind port 0.
//! - [`Config`] is the one configuration type; [`AppState`] the one shared state.

pub mod admin;
pub mod api;
pub mod config;
mod connection;
pub mod console;
pub mod directory;
pub mod error;
pub mod faults;
pub mod guests;
pub mod rate_limit;
pub mod request_id;
pub mod request_log;
pub mod state;
pub mod store;
pub mod webhooks;

use std::future::Future;

use axum::{Router, middleware::from_fn_with_state};
use tokio::net::TcpListener;

pub use config::{Config, ConfigError, WebhookLag};
pub use connection::ConnHandle;
pub use error::ApiError;
pub use state::AppState;

/// The complete HTTP surface. Every answer carries a `Request-Id`; unknown paths get a Mews-style
/// `404`. Served by anything but [`serve`], the `reset`/`commit_then_drop` faults degrade to an
/// aborted response body and webhooks are not sent (see [`run_webhook_dispatcher`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(admin::routes())
        .merge(guests::admin::routes())
        .merge(console::routes())
        .fallback(api::not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), request_log::record))
        .layer(from_fn_with_state(state.clone(), request_id::assign))
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Runs the webhook dispatcher forever; [`serve`] does this for you. Use it only when serving
/// [`router`] some other way.
pub async fn run_webhook_dispatcher(state: AppState) {
    webhooks::run_dispatcher(state).await
}

/// Serves [`router`] on `listener` and runs the webhook dispatcher, until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let dispatcher = tokio::spawn(webhooks::run_dispatcher(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<ConnHandle>();
    let result = axum::serve(connection::SimListener::new(listener), app).with_graceful_shutdown(shutdown).await;
    dispatcher.abort();
    result
}
