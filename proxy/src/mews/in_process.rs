//! Test support: the Mews simulator (`mews-sim`), in process, as the proxy's [`Transport`], plus
//! the admin calls a test needs (staff replies, faults, the request log).
//!
//! Requests go to the simulator's real router with `tower::ServiceExt::oneshot`, no socket in
//! between, so a test under `tokio::time::pause()` spends virtual time only: the limiter's 30 s
//! window, Retry-After pauses, backoff and the poller's cadence take milliseconds of wall time,
//! and the same test gives the same answer however busy the machine is. The simulator's own rate
//! limit counts on Tokio's clock too, so it agrees with the proxy's limiter under paused time.
//! What a socket would add (a `reset` fault becomes a failing body here) is left to the
//! end-to-end tests in `tests/`.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Method, Request, header},
};
use mews_wire::demo;
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::client::{MewsClient, MewsError, MewsFuture, RawAnswer, Transport};

/// The simulator, answering in process.
#[derive(Clone)]
pub struct InProcessMews {
    router: Router,
    /// Like the HTTP client's timeout: no answer within it is [`MewsError::Timeout`].
    timeout: Duration,
}

impl Transport for InProcessMews {
    fn post(&self, path: &'static str, body: Vec<u8>) -> MewsFuture<'_, RawAnswer> {
        Box::pin(async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .expect("request builds");
            let answer = async {
                let resp = self.router.clone().oneshot(req).await.expect("the router is infallible");
                let (head, body) = resp.into_parts();
                let header = |name| head.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let (request_id, retry_after) = (header("request-id"), header("retry-after"));
                let status = head.status.as_u16();
                // A `reset` / `commit_then_drop` fault: the body fails before its first byte.
                let body =
                    axum::body::to_bytes(body, usize::MAX).await.map_err(|e| MewsError::Transport(e.to_string()))?;
                Ok(RawAnswer { status, request_id, retry_after, body: body.to_vec() })
            };
            tokio::time::timeout(self.timeout, answer).await.unwrap_or(Err(MewsError::Timeout))
        })
    }
}

/// A simulator with the default configuration (the real limit: 200 requests / 30 s per token).
impl Default for InProcessMews {
    fn default() -> Self {
        Self::with_config(mews_sim::Config::default())
    }
}

impl InProcessMews {
    pub fn with_config(config: mews_sim::Config) -> Self {
        Self { router: mews_sim::router(mews_sim::AppState::new(config)), timeout: Duration::from_secs(30) }
    }

    /// A proxy state with one property, `hotel` (allowed origin `https://hotel.example`), whose
    /// Mews is this simulator, with the demo tokens of [`InProcessMews::client`].
    pub fn app_state(&self) -> crate::AppState {
        let store = Arc::new(crate::store::embedded::EmbeddedStore::in_memory().expect("in-memory store"));
        self.state_with(store, None)
    }

    /// One instance of a cluster on `cluster`'s Redis (its store there), with this simulator as
    /// its Mews; its background tasks (poller, sender, bus) are the test's to start.
    pub fn cluster_state(&self, cluster: crate::cluster::Cluster) -> crate::AppState {
        let store = Arc::new(crate::store::redis::RedisStore::from_manager(cluster.redis.clone(), &cluster.prefix));
        self.state_with(store, Some(cluster))
    }

    fn state_with(
        &self,
        store: crate::store::SharedStore,
        cluster: Option<crate::cluster::Cluster>,
    ) -> crate::AppState {
        let (_, client_token, access_token, _) = demo::TOKEN_SETS[0];
        let env = move |k: &str| match k {
            "SESSION" => Some("s".repeat(40)),
            "HOOK" => Some("h".repeat(32)),
            "CLIENT" => Some(client_token.to_owned()),
            "ACCESS" => Some(access_token.to_owned()),
            _ => None,
        };
        let toml = r#"
            session_secret = { env = "SESSION" }
            webhook_token = { env = "HOOK" }
            [properties.hotel]
            name = "Hotel"
            mews_url = "https://mews.invalid"
            client_token = { env = "CLIENT" }
            access_token = { env = "ACCESS" }
            allowed_origins = ["https://hotel.example"]
        "#;
        let config = crate::Config::parse(Some(toml), &env).expect("config parses");
        let mews = self.clone();
        let transport = move |_: &crate::config::PropertyConfig| -> Arc<dyn Transport> { Arc::new(mews.clone()) };
        let state = crate::AppState::build(config, crate::assets::Assets::embedded(), store, transport, cluster);
        state.set_recovered(); // nothing was left pending by an earlier process
        state
    }

    /// A client for the demo tokens the simulator knows ("Gross pricing" enterprise).
    pub fn client(&self) -> MewsClient {
        let (_, client_token, access_token, _) = demo::TOKEN_SETS[0];
        MewsClient::new(
            Arc::new(self.clone()),
            SecretString::from(client_token),
            SecretString::from(access_token),
            "Lobby test".into(),
        )
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let req = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
        let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).expect("request builds");
        let resp = self.router.clone().oneshot(req).await.expect("the router is infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("admin answer");
        assert!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// Injects a fault (the admin API's rule format, e.g. `{"operation": "messages/add", ...}`).
    pub async fn fault(&self, rule: Value) {
        self.admin(Method::POST, "/admin/faults", Some(rule)).await;
    }

    /// Staff answer in a thread.
    pub async fn staff_reply(&self, thread_id: &str, text: &str) {
        self.admin(Method::POST, &format!("/admin/threads/{thread_id}/reply"), Some(json!({ "text": text }))).await;
    }

    /// Staff resolve a thread.
    pub async fn resolve(&self, thread_id: &str) {
        self.admin(Method::POST, &format!("/admin/threads/{thread_id}/resolve"), Some(json!({ "resolved": true })))
            .await;
    }

    /// The texts of a thread's messages, oldest first.
    pub async fn texts(&self, thread_id: &str) -> Vec<String> {
        let v = self.admin(Method::GET, &format!("/admin/threads/{thread_id}/messages"), None).await;
        v["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["Text"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// How many requests the simulator logged for `operation` (e.g. `messages/add`), and how many
    /// of them it answered with 429.
    pub async fn requests(&self, operation: &str) -> (usize, usize) {
        let v = self.admin(Method::GET, "/admin/requests", None).await;
        let path = format!("{}/{operation}", mews_wire::paths::PREFIX);
        let of_op: Vec<&Value> =
            v["requests"].as_array().expect("requests").iter().filter(|r| r["path"] == path).collect();
        (of_op.len(), of_op.iter().filter(|r| r["status"] == 429).count())
    }
}
