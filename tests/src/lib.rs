//! The harness shared by the end-to-end tests and `make demo`: it starts the real pieces on
//! loopback — the Mews simulator, the Lobby proxy (configured explicitly to use the simulator),
//! and a small server for the host pages in `public/` — and drives a real headless Chromium
//! through chromedriver.
//!
//! The host pages are served from a different origin than the proxy, as on a real hotel site,
//! so CORS, the loader's cross-origin module import and the Shadow DOM are exercised for real.

pub mod browser;
pub mod cluster;
pub mod cost;
pub mod front;
pub mod guest;
pub mod idle;
pub mod latency;
pub mod load;
pub mod process;
pub mod restart;

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use lobby_proxy::config::{Config as ProxyConfig, LogFormat, OpeningHours, PropertyConfig};
use mews_wire::demo;
use secrecy::SecretString;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// The demo hotel most tests use (Mews demo enterprise "Gross pricing").
pub const PROPERTY: &str = "grand-hotel";
/// A second demo hotel (Mews demo enterprise "Net pricing").
pub const PROPERTY_2: &str = "riverside";
/// Secret Mews puts in the webhook URL (demo/test only; the proxy wants at least 24 characters).
pub const WEBHOOK_TOKEN: &str = "demo-webhook-token-7f3a9c";

/// Where the pieces listen (0 = any free port).
#[derive(Clone, Debug)]
pub struct Ports {
    pub sim: u16,
    pub proxy: u16,
    pub pages: u16,
}

impl Ports {
    pub fn any() -> Self {
        Self { sim: 0, proxy: 0, pages: 0 }
    }
}

/// A running simulator + proxy + host-page server.
pub struct Stack {
    pub sim_url: String,
    pub proxy_url: String,
    pub pages_url: String,
    proxy_addr: SocketAddr,
    proxy_config: ProxyConfig,
    stops: Vec<oneshot::Sender<()>>,
    proxy_stop: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    tasks: Vec<JoinHandle<()>>,
    /// The proxy's data directory (its embedded store), kept across restarts, removed at the end.
    data: tempfile::TempDir,
    /// The proxy address the host pages embed (the stack's proxy unless a front is put before it).
    page_proxy: Arc<std::sync::RwLock<String>>,
}

/// The repository root (for `public/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where a test saves a screenshot: into `docs/screenshots/` (the ones the READMEs show) when
/// `LOBBY_UPDATE_SCREENSHOTS=1`, otherwise into `target/screenshots/`, so that an ordinary test
/// run leaves the working tree clean.
pub fn screenshot_path(file: &str) -> PathBuf {
    if std::env::var("LOBBY_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        repo_root().join("docs/screenshots").join(file)
    } else {
        repo_root().join("target/screenshots").join(file)
    }
}

fn property(id: &str, name: &str, sim_url: &str, access_token: &str, enterprise: &str, origin: &str) -> PropertyConfig {
    PropertyConfig {
        id: id.to_owned(),
        name: name.to_owned(),
        mews_url: sim_url.to_owned(),
        client_token: SecretString::from(demo::TOKEN_SETS[0].1),
        access_token: SecretString::from(access_token),
        enterprise_id: Some(enterprise.to_owned()),
        allowed_origins: vec![origin.to_owned()],
        greeting: format!("Welcome to {name}! How can we help with your stay?"),
        locale: "en".into(),
        color: "#1f6f5c".into(),
        away_message: "Our front desk is closed right now. Leave a message and we will answer as soon as we are back."
            .into(),
        reply_minutes: 5,
        phone: "+420 222 000 111".into(),
        email: "frontdesk@grand-hotel.example".into(),
        hours: OpeningHours::always(),
        booking: lobby_proxy::config::BookingSettings {
            enabled: true,
            timezone: jiff::tz::TimeZone::get(mews_sim::guests::TIME_ZONE).expect("the simulator's zone"),
        },
    }
}

/// Guest limits for runs where many guests share one address (every test guest is 127.0.0.1):
/// the per-address limits and the per-property cap on new conversations lifted, the
/// per-conversation ones as configured by default.
pub fn one_address_for_many_guests() -> lobby_proxy::guard::GuestLimits {
    use lobby_proxy::guard::{GuestLimits, Rate};
    let lifted = Rate { burst: 100_000.0, per_second: 100_000.0 };
    GuestLimits {
        per_ip: lifted,
        reads_per_ip: lifted,
        stream_connects_per_ip: lifted,
        streams_per_ip: 100_000,
        conversations_per_minute: 100_000.0,
        ..GuestLimits::default()
    }
}

impl Stack {
    /// Starts everything with the simulator's default (demo) configuration and instant webhooks.
    pub async fn start(ports: Ports) -> Self {
        Self::start_with(ports, mews_sim::Config::default()).await
    }

    /// Starts everything with a given simulator configuration (its webhook URL is set here).
    pub async fn start_with(ports: Ports, sim_config: mews_sim::Config) -> Self {
        Self::start_custom(ports, sim_config, |_| {}).await
    }

    /// Starts everything, letting the caller adjust the proxy configuration.
    pub async fn start_custom(
        ports: Ports,
        mut sim_config: mews_sim::Config,
        tweak: impl FnOnce(&mut ProxyConfig),
    ) -> Self {
        let proxy_listener = TcpListener::bind(("127.0.0.1", ports.proxy)).await.expect("bind proxy");
        let proxy_addr = proxy_listener.local_addr().unwrap();
        let proxy_url = format!("http://{proxy_addr}");
        let pages_listener = TcpListener::bind(("127.0.0.1", ports.pages)).await.expect("bind pages");
        let pages_url = format!("http://{}", pages_listener.local_addr().unwrap());
        let sim_listener = TcpListener::bind(("127.0.0.1", ports.sim)).await.expect("bind simulator");
        let sim_url = format!("http://{}", sim_listener.local_addr().unwrap());

        let mut stops = Vec::new();
        let mut tasks = Vec::new();

        sim_config.webhook_url = Some(format!("{proxy_url}/webhooks/mews?Token={WEBHOOK_TOKEN}"));
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(tx);
        let sim_state = mews_sim::AppState::new(sim_config);
        tasks.push(tokio::spawn(async move {
            let _ = mews_sim::serve(sim_listener, sim_state, async move {
                let _ = rx.await;
            })
            .await;
        }));

        let mut properties = BTreeMap::new();
        properties.insert(
            PROPERTY.to_owned(),
            property(PROPERTY, "Grand Hotel Vltava", &sim_url, demo::TOKEN_SETS[0].2, demo::GROSS_ID, &pages_url),
        );
        properties.insert(
            PROPERTY_2.to_owned(),
            property(PROPERTY_2, "Riverside Inn", &sim_url, demo::TOKEN_SETS[0].3, demo::NET_ID, &pages_url),
        );
        let proxy_config = ProxyConfig {
            listen: proxy_addr,
            log_format: LogFormat::Pretty,
            session_secret: SecretString::from("demo-session-secret-0123456789abcdef0123"),
            webhook_token: SecretString::from(WEBHOOK_TOKEN),
            client_name: "Lobby demo 0.1.0".into(),
            upstream_timeout: Duration::from_secs(10),
            budget_share: 0.8,
            store_path: PathBuf::new(), // set below, in the stack's own data directory
            redis: None,
            guest_limits: Default::default(),
            properties,
            server: Default::default(),
            client_addresses: Default::default(),
            session: Default::default(),
        };

        let data = tempfile::tempdir().expect("a data directory");
        let mut proxy_config = proxy_config;
        proxy_config.store_path = data.path().join("lobby.redb");
        tweak(&mut proxy_config);
        let (ptx, prx) = oneshot::channel::<()>();
        stops.push(ptx);
        let page_proxy = Arc::new(std::sync::RwLock::new(proxy_url.clone()));
        let pages_state = PagesState { proxy_url: page_proxy.clone() };
        tasks.push(tokio::spawn(async move {
            let app = Router::new()
                .route("/", get(demo_page))
                .route("/test-pages/{name}", get(test_page))
                .with_state(pages_state);
            let _ = axum::serve(pages_listener, app)
                .with_graceful_shutdown(async move {
                    let _ = prx.await;
                })
                .await;
        }));

        let mut stack = Self {
            sim_url,
            proxy_url,
            pages_url,
            proxy_addr,
            proxy_config,
            stops,
            proxy_stop: None,
            tasks,
            data,
            page_proxy,
        };
        stack.start_proxy(proxy_listener).await;
        stack
    }

    /// The proxy's configuration (its store path, for a test that runs the `lobby` binary on it).
    pub fn proxy_config(&self) -> &ProxyConfig {
        &self.proxy_config
    }

    /// Makes the host pages embed the widget from `url` (a load balancer in front of several
    /// instances) instead of the stack's own proxy.
    pub fn set_page_proxy(&self, url: &str) {
        *self.page_proxy.write().unwrap_or_else(|p| p.into_inner()) = url.to_owned();
    }

    /// The stack's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    async fn start_proxy(&mut self, listener: TcpListener) {
        let (tx, rx) = oneshot::channel::<()>();
        // A stopped instance's last tasks may hold the store file for a moment.
        let mut tries = 0;
        let state = loop {
            match lobby_proxy::AppState::open(self.proxy_config.clone(), lobby_proxy::assets::Assets::embedded()).await
            {
                Ok(s) => break s,
                Err(e) if tries < 50 => {
                    tries += 1;
                    if tries == 1 {
                        eprintln!("waiting for the store: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the proxy cannot open its store: {e}"),
            }
        };
        let handle = tokio::spawn(lobby_proxy::serve(listener, state, async move {
            let _ = rx.await;
        }));
        self.proxy_stop = Some((tx, handle));
    }

    /// Stops the proxy gracefully and starts a fresh instance on the same address with the same
    /// configuration (sessions must survive).
    pub async fn restart_proxy(&mut self) {
        if let Some((tx, handle)) = self.proxy_stop.take() {
            let _ = tx.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
        let listener = TcpListener::bind(self.proxy_addr).await.expect("rebind proxy");
        self.start_proxy(listener).await;
    }

    /// URL of the demo hotel page.
    pub fn demo_page(&self) -> String {
        format!("{}/", self.pages_url)
    }

    /// The proxy's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.proxy_url)).await.unwrap().text().await.unwrap()
    }

    /// Client for the simulator (Connector API and admin API).
    pub fn sim(&self) -> SimClient {
        SimClient { base: self.sim_url.clone(), http: reqwest::Client::new() }
    }

    pub async fn stop(mut self) {
        if let Some((tx, handle)) = self.proxy_stop.take() {
            let _ = tx.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

#[derive(Clone)]
struct PagesState {
    proxy_url: Arc<std::sync::RwLock<String>>,
}

fn page(state: &PagesState, file: PathBuf) -> Response {
    match std::fs::read_to_string(&file) {
        Ok(html) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
            html.replace("{{PROXY}}", &state.proxy_url.read().unwrap_or_else(|p| p.into_inner()))
                .replace("{{PROPERTY}}", PROPERTY),
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

async fn demo_page(State(state): State<PagesState>) -> Response {
    page(&state, repo_root().join("public/demo/index.html"))
}

async fn test_page(State(state): State<PagesState>, Path(name): Path<String>) -> Response {
    if !name.ends_with(".html") || name.contains('/') || name.contains("..") {
        return (StatusCode::NOT_FOUND, "no such page").into_response();
    }
    page(&state, repo_root().join("public/test-pages").join(name))
}

/// Talks to the simulator the way Mews's own users would: the Connector API with the demo
/// tokens, and the staff side (admin API) to reply as the hotel.
#[derive(Clone)]
pub struct SimClient {
    pub base: String,
    pub http: reqwest::Client,
}

impl SimClient {
    fn auth(access_token: &str) -> serde_json::Value {
        serde_json::json!({
            "ClientToken": demo::TOKEN_SETS[0].1,
            "AccessToken": access_token,
            "Client": "Lobby e2e checker 1.0",
        })
    }

    /// `POST /api/connector/v1/{path}` with the demo Gross-hotel tokens merged into `body`.
    pub async fn connector(&self, path: &str, mut body: serde_json::Value) -> serde_json::Value {
        let auth = Self::auth(demo::TOKEN_SETS[0].2);
        for (k, v) in auth.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = self.http.post(format!("{}/api/connector/v1/{path}", self.base)).json(&body).send().await.unwrap();
        let status = resp.status();
        let json: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
        assert!(status.is_success(), "{path} answered {status}: {json}");
        json
    }

    /// Threads created in the last day, newest first (Connector API).
    pub async fn recent_threads(&self) -> Vec<mews_wire::MessageThread> {
        let now = jiff::Timestamp::now();
        let body = serde_json::json!({
            "CreatedUtc": {
                "StartUtc": mews_wire::format_utc(now - jiff::SignedDuration::from_hours(24)),
                "EndUtc": mews_wire::format_utc(now + jiff::SignedDuration::from_hours(1)),
            },
            "Limitation": { "Count": 1000 },
        });
        let v = self.connector("messageThreads/getAll", body).await;
        serde_json::from_value(v["MessageThreads"].clone()).unwrap()
    }

    /// All messages of a thread, oldest first (Connector API).
    pub async fn messages(&self, thread_id: &str) -> Vec<mews_wire::Message> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut body = serde_json::json!({ "MessageThreadIds": [thread_id], "Limitation": { "Count": 1000 } });
            if let Some(c) = &cursor {
                body["Limitation"]["Cursor"] = serde_json::json!(c);
            }
            let v = self.connector("messages/getAll", body).await;
            let page: Vec<mews_wire::Message> = serde_json::from_value(v["Messages"].clone()).unwrap();
            let n = page.len();
            all.extend(page);
            cursor = v["Cursor"].as_str().map(str::to_owned);
            if n < 1000 || cursor.is_none() {
                break;
            }
        }
        all.reverse();
        all
    }

    /// Adds a fault rule (the simulator's admin API), e.g.
    /// `{"operation":"messages/add","kind":{"type":"reset"},"next":2}`.
    pub async fn fault(&self, rule: serde_json::Value) {
        let resp = self.http.post(format!("{}/admin/faults", self.base)).json(&rule).send().await.unwrap();
        assert!(resp.status().is_success(), "fault rule refused: {} {}", resp.status(), resp.text().await.unwrap());
    }

    /// The simulator's fault rules with their firing counts.
    pub async fn faults(&self) -> serde_json::Value {
        self.http.get(format!("{}/admin/faults", self.base)).send().await.unwrap().json().await.unwrap()
    }

    /// The simulator's log of Connector API requests.
    pub async fn requests(&self) -> serde_json::Value {
        self.http.get(format!("{}/admin/requests", self.base)).send().await.unwrap().json().await.unwrap()
    }

    /// How many guest lookups ("Find my booking": reservations, customers, rooms) the simulator's
    /// log holds.
    pub async fn guest_reads(&self) -> usize {
        use mews_wire::guests::paths::*;
        const READS: [&str; 5] =
            [RESERVATIONS_GET_ALL, RESERVATIONS_GET_ALL_2017, CUSTOMERS_GET_ALL, CUSTOMERS_SEARCH, RESOURCES_GET_ALL];
        let log = self.requests().await;
        log["requests"].as_array().unwrap().iter().filter(|r| READS.iter().any(|p| r["path"] == *p)).count()
    }

    /// Replies as hotel staff (the simulator's admin API).
    pub async fn staff_reply(&self, thread_id: &str, text: &str) -> serde_json::Value {
        let resp = self
            .http
            .post(format!("{}/admin/threads/{thread_id}/reply", self.base))
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "staff reply failed: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// Marks a thread resolved (or not) as staff.
    pub async fn resolve(&self, thread_id: &str, resolved: bool) {
        let resp = self
            .http
            .post(format!("{}/admin/threads/{thread_id}/resolve", self.base))
            .json(&serde_json::json!({ "resolved": resolved }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "resolve failed: {}", resp.status());
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl SimClient {
    /// Waits (up to 10 s) for the thread a guest called `name` started, and returns its id.
    pub async fn thread_of(&self, name: &str) -> String {
        eventually(Duration::from_secs(10), "the guest's thread in Mews", || async {
            self.recent_threads().await.into_iter().find(|t| t.original_sender == name).map(|t| t.id)
        })
        .await
    }

    /// Every thread as the staff console lists it, as (guest name, thread id). Through the admin
    /// API: unlike the Connector API it does not spend the token's budget the proxy runs on.
    pub async fn staff_threads(&self) -> Vec<(String, String)> {
        let v: serde_json::Value =
            self.http.get(format!("{}/admin/threads", self.base)).send().await.unwrap().json().await.unwrap();
        let threads = v["threads"].as_array().expect("threads");
        threads
            .iter()
            .map(|t| (t["original_sender"].as_str().unwrap().to_owned(), t["id"].as_str().unwrap().to_owned()))
            .collect()
    }

    /// The texts of a thread's messages, oldest first, as staff see them (admin API).
    pub async fn staff_texts(&self, thread_id: &str) -> Vec<String> {
        let url = format!("{}/admin/threads/{thread_id}/messages", self.base);
        let v: serde_json::Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        v["messages"].as_array().expect("messages").iter().map(|m| m["Text"].as_str().unwrap().to_owned()).collect()
    }

    /// How many messages of the thread have exactly `text`.
    pub async fn count_text(&self, thread_id: &str, text: &str) -> usize {
        self.messages(thread_id).await.iter().filter(|m| m.text == text).count()
    }
}
