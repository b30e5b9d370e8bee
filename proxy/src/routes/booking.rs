//! "Find my booking" routes (`crate::identify` owns the use case): before a conversation
//! (`POST /v1/properties/{property}/booking`, no session) and inside one
//! (`POST /v1/conversation/booking`, session). Input is parsed here; every failure of the lookup
//! is `404 not_found`.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::HeaderMap,
};
use lobby_protocol::{BookingAnswer, FindBooking, limits};

use super::{
    cors::check_origin,
    extract::{Path, Session},
};
use crate::{
    client_ip::ClientAddr,
    error::{Error, Result},
    state::AppState,
};

/// The widget's attempt key: like a start key.
fn attempt_key(req: &FindBooking) -> Result<String> {
    let k = req.key.as_deref().unwrap_or("").trim();
    if k.len() < 16
        || k.len() > limits::MAX_CLIENT_ID_CHARS
        || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid("key", "key must be 16–64 letters, digits, '-' or '_'"));
    }
    Ok(k.to_owned())
}

pub async fn before_conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    body: std::result::Result<Json<FindBooking>, JsonRejection>,
) -> Result<Json<BookingAnswer>> {
    let p = state.property(&id).ok_or(Error::NotFound)?;
    check_origin(&headers, &p.config.allowed_origins)?;
    let Json(req) = body?;
    let key = attempt_key(&req)?;
    crate::identify::before_conversation(&state, p, &req, &key, client).await.map(Json)
}

pub async fn in_conversation(
    State(state): State<AppState>,
    Session(claims): Session,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    body: std::result::Result<Json<FindBooking>, JsonRejection>,
) -> Result<Json<BookingAnswer>> {
    let p = state.property(&claims.p).ok_or(Error::NotFound)?;
    check_origin(&headers, &p.config.allowed_origins)?;
    let Json(req) = body?;
    crate::identify::in_conversation(&state, p, &claims, &req, client).await.map(Json)
}
