//! The proxy's one error type. Every failure a guest's browser can see goes through
//! [`Error`]'s `IntoResponse`, which answers with the protocol's JSON error body
//! (`{"error":{"code","message","field"}}`) and a fitting status. Upstream details (Mews request
//! ids, token names) are logged, never sent to the browser.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use lobby_protocol::{ErrorBody, ErrorDetail};

use crate::mews::client::MewsError;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    InvalidInput { field: Option<&'static str>, message: String },
    #[error("missing or invalid session")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("this conversation was resolved; start a new one")]
    ConversationResolved,
    #[error("too many requests; wait a moment")]
    RateLimited { retry_after_secs: u64 },
    /// The request (headers, body and handler) took longer than `[server] request_timeout_secs`.
    #[error("the request took too long")]
    RequestTimeout,
    /// Every connection slot is taken (`[server] max_connections`); answered by the server layer.
    #[error("the chat service is busy; try again in a moment")]
    Overloaded,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("the hotel's messaging service is unavailable; your message is kept, try again shortly")]
    Upstream(#[from] MewsError),
    #[error("internal error")]
    Internal(String),
    /// The store that makes sends exactly-once cannot be used: nothing is sent without it.
    #[error("temporarily unavailable; your message is kept, try again shortly")]
    Store(#[from] crate::store::StoreError),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidInput { field: Some(field), message: message.into() }
    }

    /// The JSON error body, for the few places that answer outside axum (the server layer).
    pub fn body_json(&self) -> String {
        let (_, code) = self.status_and_code();
        let body = ErrorBody { error: ErrorDetail { code: code.into(), message: self.to_string(), field: None } };
        serde_json::to_string(&body).expect("the error body serialises")
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::InvalidInput { .. } => (StatusCode::BAD_REQUEST, "invalid_input"),
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Error::OriginNotAllowed => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            Error::ConversationResolved => (StatusCode::CONFLICT, "conversation_resolved"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Error::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::Upstream(MewsError::Busy { .. }) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Error::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Error::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Error::Upstream(_) => (StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Error::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Error::Upstream(e) => tracing::warn!(error = %e, "upstream failure answered to guest"),
            Error::Internal(e) => tracing::error!(error = %e, "internal error"),
            Error::Store(e) => tracing::error!(error = %e, "store failure answered to guest"),
            _ => {}
        }
        let field = match &self {
            Error::InvalidInput { field, .. } => field.map(str::to_owned),
            _ => None,
        };
        let message = match &self {
            Error::Upstream(MewsError::Busy { .. }) => {
                "the hotel's chat is busy right now; nothing is lost, try again in a few seconds".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody { error: ErrorDetail { code: code.into(), message, field } };
        let mut resp = (status, Json(body)).into_response();
        let retry_after = match &self {
            Error::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Error::Upstream(MewsError::Busy { retry_after }) => Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
            Error::Store(_) => Some(5),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Turns axum's body/JSON rejections into our typed 4xx with the JSON error body.
impl From<axum::extract::rejection::JsonRejection> for Error {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as J;
        match r {
            J::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
            J::BytesRejection(b) if body_timed_out(&b) => Error::RequestTimeout,
            J::MissingJsonContentType(_) => {
                Error::InvalidInput { field: None, message: "send JSON with Content-Type: application/json".into() }
            }
            other => Error::InvalidInput { field: None, message: format!("invalid JSON body: {}", other.body_text()) },
        }
    }
}

/// Whether a body read failed because the client stopped sending (`[server] body_timeout_secs`).
fn body_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() || err.is::<tokio::time::error::Elapsed>() {
            return true;
        }
        cur = err.source();
    }
    false
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
