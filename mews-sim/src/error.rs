//! The one error type of the simulator and its single HTTP rendering: the Mews error body
//! `{"Message": ..., "RequestId": ...}` with a matching `Request-Id` header (spec §1.5).
//!
//! Every failing answer — Connector API, admin API, unknown paths — goes through
//! [`ApiError::into_response`], so the error shape cannot drift between endpoints.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use mews_wire::ErrorBody;

use crate::request_id;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The body is not valid JSON (including trailing commas).
    #[error("Invalid JSON")]
    InvalidJson,
    /// A malformed request: missing or mistyped field, out-of-range value, unknown identifier.
    #[error("{0}")]
    BadRequest(String),
    /// Unknown, missing or mismatched `ClientToken` / `AccessToken`.
    #[error("{0}")]
    Unauthorized(String),
    /// Wrong path, wrong method, unknown admin resource.
    #[error("{0}")]
    NotFound(String),
    /// Wrong method on an admin or console route (the Connector API answers `404` instead).
    #[error("Method Not Allowed.")]
    MethodNotAllowed,
    /// Injected fault.
    #[error("Request Timeout")]
    RequestTimeout,
    /// Body above the configured cap.
    #[error("Request body too large: the limit is {0} bytes.")]
    PayloadTooLarge(usize),
    /// Rate limit (real or injected); `retry_after` in whole seconds, `None` omits the header.
    #[error("Too many requests.")]
    TooManyRequests { retry_after: Option<u64> },
    /// Injected server fault (500, 503, ...).
    #[error("{message}")]
    Server { status: u16, message: String },
}

impl ApiError {
    /// `400 Invalid {what}`, the [OAD] wording for an unknown or unacceptable item.
    pub fn invalid(what: impl std::fmt::Display) -> Self {
        Self::BadRequest(format!("Invalid {what}."))
    }

    pub fn bad(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn not_found() -> Self {
        Self::NotFound("Not Found.".into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Server { status, .. } => StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = request_id::current();
        let body = ErrorBody { message: self.to_string(), request_id: Some(request_id.clone()) };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert(request_id::HEADER, v);
        }
        if let Self::TooManyRequests { retry_after: Some(secs) } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
