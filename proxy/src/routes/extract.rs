//! The extractors the handlers use: axum's `Path` and `Query`, whose rejections (a query that does
//! not parse, a path segment that is not UTF-8) answer with our JSON error body, like every other
//! failure, instead of axum's plain text; and the guest's verified session ([`Session`], and
//! [`StreamSession`] for the SSE stream), checked against the keys in `crate::session` and the
//! configured properties.

use axum::extract::{FromRequestParts, rejection::PathRejection, rejection::QueryRejection};

use axum::{extract::FromRef, http::request::Parts};
use jiff::Timestamp;

use crate::{error::Error, session::Claims, state::AppState};

/// axum's `Path`, rejecting with [`Error::InvalidInput`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// axum's `Query`, rejecting with [`Error::InvalidInput`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

impl From<PathRejection> for Error {
    fn from(r: PathRejection) -> Self {
        Error::InvalidInput { field: None, message: format!("invalid path: {}", r.body_text()) }
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Self {
        Error::InvalidInput { field: None, message: format!("invalid query: {}", r.body_text()) }
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

fn check(state: &AppState, token: Option<String>) -> Result<Claims, Error> {
    let claims = token.and_then(|t| state.sessions().verify(&t, Timestamp::now())).ok_or(Error::Unauthorized)?;
    if state.property(&claims.p).is_none() {
        return Err(Error::Unauthorized);
    }
    Ok(claims)
}

/// Extracts a verified session from `Authorization: Bearer …`.
#[derive(Clone, Debug)]
pub struct Session(pub Claims);

impl<S> FromRequestParts<S> for Session
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        check(&AppState::from_ref(state), bearer(parts)).map(Session)
    }
}

/// The SSE stream's session: `Authorization: Bearer …` or, failing that, `?session=…`
/// (`EventSource` cannot set headers). No other route takes the query form.
#[derive(Clone, Debug)]
pub struct StreamSession(pub Claims);

impl<S> FromRequestParts<S> for StreamSession
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).or_else(|| {
            parts
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("session=")).map(|v| v.to_owned()))
        });
        check(&AppState::from_ref(state), token).map(StreamSession)
    }
}
