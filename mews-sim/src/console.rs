//! The staff console: server-rendered HTML standing in for the Mews Operations inbox.
//! (Placeholder until the full console lands.)

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
