//! Cross-origin rules for the widget API: only origins a property lists in `allowed_origins` may
//! call it from a browser. Preflights are answered here; each handler then checks the origin
//! against its own property with [`check_origin`], so one hotel's site cannot use another's
//! conversations. Requests without `Origin` (curl, server-to-server) pass through.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::Error, state::AppState};

pub async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let known = origin.to_str().is_ok_and(|o| state.origin_known(o));
    if !known {
        return Error::OriginNotAllowed.into_response();
    }
    let mut resp = if req.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, last-event-id"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("retry-after"));
    h.append(header::VARY, HeaderValue::from_static("origin"));
    resp
}

/// Rejects a browser request from an origin this property did not allow.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Error> {
    match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        None => Ok(()),
        Some(Ok(o)) if allowed.iter().any(|a| a == o) => Ok(()),
        Some(_) => Err(Error::OriginNotAllowed),
    }
}
