//! A typed client for the four Mews messaging operations. It knows the wire format (from
//! `mews-wire`) and classifies every failure into [`MewsError`], so callers decide about
//! retries from the kind of error, never from raw status codes. It does not retry or rate-limit
//! by itself: that is the [`super::upstream`]'s job.
//!
//! How a request reaches Mews is a [`Transport`]: [`HttpTransport`] (reqwest) in production, the
//! simulator's router in process in the proxy's unit tests (`super::in_process`), where
//! `tokio::time::pause()` turns the upstream's and the poller's minutes of waiting into
//! milliseconds. The seam sits under the operations, not over them, so those tests also run the
//! real request encoding and error classification.
//!
//! Tokens live only inside the request bodies built here; errors and logs carry the Mews
//! `RequestId` and status, never a token.

use std::{pin::Pin, sync::Arc, time::Duration};

use jiff::Timestamp;
use mews_wire::{
    AddMessagesRequest, AddMessagesResponse, AddThreadRequest, AddedMessage, Auth, ErrorBody, GetMessagesRequest,
    GetThreadsRequest, Limitation, Message, MessageParameters, MessageThread, MessagesResponse, ThreadsResponse,
    TimeInterval, paths,
};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};

/// Why a Mews call failed, in the terms that decide what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MewsError {
    /// 429: back off for `retry_after` (when Mews said), else exponentially.
    #[error("Mews rate limit (429), retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    /// 408 from Mews, or no answer within our timeout. A write may have been committed.
    #[error("Mews request timed out")]
    Timeout,
    /// 5xx. A write may have been committed.
    #[error("Mews server error {status}")]
    Server { status: u16 },
    /// Connection refused/reset, or the answer was cut. A write may have been committed.
    #[error("Mews transport error: {0}")]
    Transport(String),
    /// 4xx other than 408/429: the request itself is wrong; retrying it unchanged is pointless.
    #[error("Mews rejected the request ({status}): {message} [RequestId {request_id}]")]
    Rejected { status: u16, message: String, request_id: String },
    /// A 2xx we could not read.
    #[error("unreadable Mews answer: {0}")]
    Decode(String),
    /// Not sent: the token's budget could not serve this call before its deadline (our own
    /// limit, not Mews's answer). Nothing happened upstream; ask again after `retry_after`.
    #[error("the hotel's Mews budget is busy; retry after {retry_after:?}")]
    Busy { retry_after: Duration },
}

impl MewsError {
    /// Worth trying again later (429, 408, 5xx, transport).
    pub fn is_transient(&self) -> bool {
        !matches!(self, MewsError::Rejected { .. } | MewsError::Decode(_) | MewsError::Busy { .. })
    }

    /// The write may have happened although we saw no success.
    pub fn maybe_committed(&self) -> bool {
        matches!(self, MewsError::Timeout | MewsError::Server { .. } | MewsError::Transport(_) | MewsError::Decode(_))
    }
}

/// Parses `Retry-After` as seconds or as an HTTP date (the docs do not say which Mews sends).
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let d = at.duration_since(now);
    Some(Duration::try_from(d).unwrap_or(Duration::ZERO))
}

/// One answer from Mews, before classification: what [`MewsClient`] needs of it.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: u16,
    /// The `Request-Id` header, for the logs.
    pub request_id: Option<String>,
    /// The `Retry-After` header as sent.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// A boxed future of a Mews call (the [`Transport`] trait is object-safe).
pub type MewsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, MewsError>> + Send + 'a>>;

/// How a JSON request body reaches Mews and its answer comes back. A transport reports only what
/// happened on the way (no answer in time: [`MewsError::Timeout`]; a refused, reset or cut
/// connection: [`MewsError::Transport`]); statuses are classified by [`MewsClient`].
pub trait Transport: Send + Sync {
    /// POSTs `body` (JSON) to `path` (one of [`mews_wire::paths`]).
    fn post(&self, path: &'static str, body: Vec<u8>) -> MewsFuture<'_, RawAnswer>;
}

/// Mews over HTTPS, with the upstream timeout of the shared reqwest client.
#[derive(Clone)]
pub struct HttpTransport {
    http: reqwest::Client,
    base: String,
}

impl HttpTransport {
    /// `base` is the Mews platform address, e.g. `https://api.mews.com`.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    /// Builds the shared HTTP client with the upstream timeout.
    pub fn client(timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .expect("reqwest client builds")
    }
}

impl Transport for HttpTransport {
    fn post(&self, path: &'static str, body: Vec<u8>) -> MewsFuture<'_, RawAnswer> {
        Box::pin(async move {
            let failed = |e: reqwest::Error| {
                if e.is_timeout() { MewsError::Timeout } else { MewsError::Transport(without_url(&e)) }
            };
            let resp = self
                .http
                .post(format!("{}{}", self.base, path))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(failed)?;
            let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let (request_id, retry_after) = (header("request-id"), header("retry-after"));
            let status = resp.status().as_u16();
            let body = resp.bytes().await.map_err(failed)?.to_vec();
            Ok(RawAnswer { status, request_id, retry_after, body })
        })
    }
}

/// One `AccessToken`'s connection to Mews.
#[derive(Clone)]
pub struct MewsClient {
    transport: Arc<dyn Transport>,
    client_token: SecretString,
    access_token: SecretString,
    client_name: String,
}

impl std::fmt::Debug for MewsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MewsClient").field("client_name", &self.client_name).finish_non_exhaustive()
    }
}

impl MewsClient {
    pub fn new(
        transport: Arc<dyn Transport>,
        client_token: SecretString,
        access_token: SecretString,
        client_name: String,
    ) -> Self {
        Self { transport, client_token, access_token, client_name }
    }

    /// The body tokens (for the guest reads of `crate::identify`, which build their own requests).
    pub(crate) fn auth(&self) -> Auth {
        Auth {
            client_token: self.client_token.expose_secret().to_owned(),
            access_token: self.access_token.expose_secret().to_owned(),
            client: self.client_name.clone(),
            language_code: None,
            culture_code: None,
        }
    }

    /// POSTs one request and classifies the answer (also used by `crate::identify`).
    pub(crate) async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &'static str,
        body: &B,
    ) -> Result<R, MewsError> {
        let body = serde_json::to_vec(body).expect("Mews requests serialize");
        let RawAnswer { status, request_id, retry_after, body: bytes } = self.transport.post(path, body).await?;
        let status = StatusCode::from_u16(status).map_err(|e| MewsError::Decode(e.to_string()))?;
        if status.is_success() {
            if status == StatusCode::NO_CONTENT || bytes.is_empty() {
                // `Prefer: return=minimal` style empty page.
                return serde_json::from_str("{}").map_err(|e| MewsError::Decode(e.to_string()));
            }
            return serde_json::from_slice(&bytes).map_err(|e| MewsError::Decode(e.to_string()));
        }
        let retry_after = retry_after.and_then(|v| parse_retry_after(&v, Timestamp::now()));
        let request_id = request_id.unwrap_or_else(|| "-".to_owned());
        let message = serde_json::from_slice::<ErrorBody>(&bytes).map(|b| b.message).unwrap_or_default();
        tracing::debug!(path, status = status.as_u16(), request_id, "Mews error answer");
        Err(match status.as_u16() {
            429 => MewsError::RateLimited { retry_after },
            408 => MewsError::Timeout,
            s if s >= 500 => MewsError::Server { status: s },
            s => MewsError::Rejected { status: s, message, request_id },
        })
    }

    /// `messageThreads/add`: one thread per call.
    pub async fn add_thread(&self, original_sender: &str, subject: &str) -> Result<MessageThread, MewsError> {
        let req = AddThreadRequest {
            auth: self.auth(),
            original_sender: original_sender.to_owned(),
            subject: subject.to_owned(),
        };
        let resp: ThreadsResponse = self.call(paths::MESSAGE_THREADS_ADD, &req).await?;
        resp.message_threads.into_iter().next().ok_or_else(|| MewsError::Decode("no thread in answer".into()))
    }

    /// `messageThreads/getAll` by ids (≤ 1000).
    pub async fn get_threads(&self, ids: &[String]) -> Result<Vec<MessageThread>, MewsError> {
        let req = GetThreadsRequest {
            auth: self.auth(),
            enterprise_ids: None,
            message_thread_ids: Some(ids.to_vec()),
            created_utc: None,
            updated_utc: None,
            limitation: Limitation { count: ids.len().clamp(1, 1000) as u32, cursor: None },
        };
        let resp: ThreadsResponse = self.call(paths::MESSAGE_THREADS_GET_ALL, &req).await?;
        Ok(resp.message_threads)
    }

    /// `messageThreads/getAll` by creation window (≤ 3 months), newest first, one page of 1000.
    pub async fn get_threads_created(&self, created: TimeInterval) -> Result<Vec<MessageThread>, MewsError> {
        let req = GetThreadsRequest {
            auth: self.auth(),
            enterprise_ids: None,
            message_thread_ids: None,
            created_utc: Some(created),
            updated_utc: None,
            limitation: Limitation { count: 1000, cursor: None },
        };
        let resp: ThreadsResponse = self.call(paths::MESSAGE_THREADS_GET_ALL, &req).await?;
        Ok(resp.message_threads)
    }

    /// `messages/add` (≤ 1000 items, any threads).
    pub async fn add_messages(&self, messages: Vec<MessageParameters>) -> Result<Vec<AddedMessage>, MewsError> {
        let req = AddMessagesRequest { auth: self.auth(), messages };
        let resp: AddMessagesResponse = self.call(paths::MESSAGES_ADD, &req).await?;
        Ok(resp.messages)
    }

    /// One page of `messages/getAll`, newest first.
    pub async fn get_messages(
        &self,
        thread_ids: &[String],
        created: Option<TimeInterval>,
        count: u32,
        cursor: Option<String>,
    ) -> Result<MessagesResponse, MewsError> {
        let req = GetMessagesRequest {
            auth: self.auth(),
            enterprise_ids: None,
            message_thread_ids: thread_ids.to_vec(),
            created_utc: created,
            limitation: Limitation { count, cursor },
        };
        let resp: MessagesResponse = self.call(paths::MESSAGES_GET_ALL, &req).await?;
        Ok(resp)
    }
}

/// reqwest errors print the URL; ours carry no secret in the URL, but keep logs short anyway.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<mews>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Turns a newest-first Mews page into oldest-first order, keeping Mews's order among messages
/// created in the same second.
pub fn oldest_first(mut v: Vec<Message>) -> Vec<Message> {
    v.reverse();
    v.sort_by_key(|m| m.created_utc);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sat, 21 Nov 2026 10:00:12 GMT", now), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("Sat, 21 Nov 2026 09:59:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
