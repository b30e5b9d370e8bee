//! `Path` and `Query` as the handlers use them: axum's extractors whose rejections (a query that
//! does not parse, a path segment that is not UTF-8) answer with our JSON error body, like every
//! other failure, instead of axum's plain text.

use axum::extract::{FromRequestParts, rejection::PathRejection, rejection::QueryRejection};

use crate::error::Error;

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
