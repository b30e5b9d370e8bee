//! Serves the embedded loader and widget files with content negotiation (br → gzip → identity),
//! `ETag`s, and cache rules: hashed widget files are immutable, the loader is short-lived.
//! Widget files are fetched cross-origin by the loader (`import()` and `fetch` of the wasm are
//! CORS requests), so they are public to every origin; they hold no secret.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::extract::Path;
use crate::{assets::Asset, error::Error, state::AppState};

fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|c| c.trim().split(';').next() == Some(coding)))
}

fn etag(asset: &Asset) -> String {
    // FNV-1a of the raw bytes: stable across builds of the same content.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in asset.raw {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("\"{h:016x}\"")
}

fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let tag = etag(asset);
    let cache = if asset.immutable { "public, max-age=31536000, immutable" } else { "public, max-age=300" };
    let mut resp = if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(tag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (body, coding) = if accepts(headers, "br") {
            (asset.br, Some("br"))
        } else if accepts(headers, "gzip") {
            (asset.gz, Some("gzip"))
        } else {
            (asset.raw, None)
        };
        let mut r = body.into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        if let Some(c) = coding {
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(c));
        }
        r
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, HeaderValue::from_str(&tag).expect("hex etag"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    resp
}

pub async fn loader(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.assets().get("/lobby.js") {
        Some(a) => serve(a, &headers),
        None => Error::NotFound.into_response(),
    }
}

pub async fn widget_file(State(state): State<AppState>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    match state.assets().get(&format!("/widget/{file}")) {
        Some(a) => serve(a, &headers),
        None => Error::NotFound.into_response(),
    }
}
