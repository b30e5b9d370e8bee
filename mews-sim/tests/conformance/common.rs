//! Test harness: a simulator on port 0, a reqwest client, helpers for the four operations and the
//! admin API, and a tiny webhook receiver.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::{RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use mews_sim::{AppState, Config, serve};
use mews_wire::{demo, paths};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};

pub const CT: &str = demo::TOKEN_SETS[0].1;
pub const GROSS: &str = demo::TOKEN_SETS[0].2;
pub const NET: &str = demo::TOKEN_SETS[0].3;
pub const CT2: &str = demo::TOKEN_SETS[1].1;
pub const GROSS2: &str = demo::TOKEN_SETS[1].2;

pub const PORTFOLIO_CT: &str = "PORTFOLIO-CLIENT-TOKEN";
pub const PORTFOLIO_AT: &str = "PORTFOLIO-ACCESS-TOKEN";
pub const PORTFOLIO_GROSS_ONLY: &str = "PORTFOLIO-GROSS-ONLY";

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("fixture is JSON")
}

/// The demo config plus a portfolio client covering both demo enterprises.
pub fn config() -> Config {
    let mut c = Config::default();
    c.clients.push(mews_sim::config::ClientConfig {
        name: "Portfolio app".into(),
        client_token: PORTFOLIO_CT.into(),
        webhook_url: None,
        access_tokens: vec![
            mews_sim::config::AccessTokenConfig {
                name: "Portfolio both".into(),
                token: PORTFOLIO_AT.into(),
                enterprise_ids: vec![demo::GROSS_ID.into(), demo::NET_ID.into()],
            },
            mews_sim::config::AccessTokenConfig {
                name: "Portfolio gross".into(),
                token: PORTFOLIO_GROSS_ONLY.into(),
                enterprise_ids: vec![demo::GROSS_ID.into()],
            },
        ],
    });
    c
}

pub struct Sim {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Sim {
    pub async fn start() -> Sim {
        Self::with(config()).await
    }

    pub async fn with(config: Config) -> Sim {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(config);
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        Sim { base, http, stop: Some(tx) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a JSON body to a path.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url(path)).json(body).send().await.unwrap()
    }

    /// POSTs and returns status + JSON body (Null when the body is empty).
    pub async fn call(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self.post(path, body).await;
        let status = r.status().as_u16();
        let bytes = r.bytes().await.unwrap();
        let v = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        (status, v)
    }

    pub async fn add_thread_as(&self, auth: Value, sender: &str, subject: &str) -> Value {
        let mut body = auth;
        body["OriginalSender"] = json!(sender);
        body["Subject"] = json!(subject);
        let (status, v) = self.call(paths::MESSAGE_THREADS_ADD, &body).await;
        assert_eq!(status, 200, "{v}");
        v["MessageThreads"][0].clone()
    }

    pub async fn add_thread(&self) -> String {
        let t = self.add_thread_as(auth(CT, GROSS), "Jane Traveller", "Question about parking").await;
        t["Id"].as_str().unwrap().to_string()
    }

    pub async fn add_messages_as(&self, auth: Value, thread: &str, texts: &[&str]) -> Vec<Value> {
        let mut body = auth;
        body["Messages"] =
            texts.iter().map(|t| json!({"MessageThreadId": thread, "Text": t})).collect::<Vec<_>>().into();
        let (status, v) = self.call(paths::MESSAGES_ADD, &body).await;
        assert_eq!(status, 200, "{v}");
        v["Messages"].as_array().unwrap().iter().map(|m| m["Message"].clone()).collect()
    }

    pub async fn add_message(&self, thread: &str, text: &str) -> Value {
        self.add_messages_as(auth(CT, GROSS), thread, &[text]).await.remove(0)
    }

    pub async fn get_messages(&self, thread: &str, count: u32) -> Value {
        let mut body = auth(CT, GROSS);
        body["MessageThreadIds"] = json!([thread]);
        body["Limitation"] = json!({"Count": count});
        let (status, v) = self.call(paths::MESSAGES_GET_ALL, &body).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(path, &body).await
    }

    pub async fn fault(&self, spec: Value) {
        let (status, v) = self.admin_post("/admin/faults", spec).await;
        assert_eq!(status, 200, "{v}");
    }

    pub async fn reply(&self, thread: &str, text: &str) -> Value {
        let (status, v) = self.admin_post(&format!("/admin/threads/{thread}/reply"), json!({"text": text})).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    pub async fn deliveries(&self) -> Vec<Value> {
        self.admin_get("/admin/webhooks").await["deliveries"].as_array().unwrap().clone()
    }

    pub async fn requests(&self) -> Vec<Value> {
        self.admin_get("/admin/requests").await["requests"].as_array().unwrap().clone()
    }
}

pub fn auth(client_token: &str, access_token: &str) -> Value {
    json!({"ClientToken": client_token, "AccessToken": access_token, "Client": "mews-sim tests 1.0"})
}

/// `auth` plus extra fields.
pub fn body(client_token: &str, access_token: &str, extra: Value) -> Value {
    let mut b = auth(client_token, access_token);
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

/// A webhook receiver on port 0 that records every request and answers with queued statuses
/// (200 once the queue is empty), optionally after a delay.
#[derive(Clone, Default)]
pub struct Receiver {
    pub url: String,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    delay: Arc<Mutex<Option<Duration>>>,
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub query: Option<String>,
    pub body: Value,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let r = Receiver { url: format!("http://{addr}/webhooks/mews?Token=secret"), ..Receiver::default() };
        let app = Router::new()
            .route("/webhooks/mews", post(receive))
            .route("/webhooks/other", post(receive))
            .route(
                "/webhooks/moved",
                post(|| async {
                    Response::builder()
                        .status(307)
                        .header("location", "/webhooks/other?Token=secret")
                        .body(axum::body::Body::empty())
                        .unwrap()
                }),
            )
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.statuses.lock().unwrap().extend(statuses);
    }

    pub fn set_delay(&self, d: Option<Duration>) {
        *self.delay.lock().unwrap() = d;
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (or panics after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} webhook requests, got {}: {hits:?}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// All `MessageAdded` ids received, in arrival order.
    pub fn event_ids(&self) -> Vec<String> {
        self.hits()
            .iter()
            .flat_map(|h| h.body["Events"].as_array().cloned().unwrap_or_default())
            .map(|e| e["Value"]["Id"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn receive(
    State(r): State<Receiver>,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let delay = *r.delay.lock().unwrap();
    r.hits.lock().unwrap().push(Hit {
        path: uri.path().to_string(),
        query,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let status = r.statuses.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// Polls the admin delivery log until `pred` holds (or panics after `within`).
pub async fn wait_deliveries(sim: &Sim, within: Duration, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let d = sim.deliveries().await;
        if pred(&d) {
            return d;
        }
        assert!(tokio::time::Instant::now() < deadline, "delivery log never matched: {d:#?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The set of keys of a JSON object.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// Config with the webhook URL set and quick retries.
pub fn webhook_config(url: &str) -> Config {
    let mut c = config();
    c.webhook_url = Some(url.to_string());
    c.webhook_retry_delay = Some(Duration::from_millis(200));
    c
}
