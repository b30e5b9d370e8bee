//! Cluster mode end to end: several real `lobby` processes (the program as shipped, as child
//! processes that a test can SIGKILL) on one real `redis-server`, in front of the simulator with
//! Mews's real limit (200 requests / 30 s per AccessToken), and guests whose requests a load
//! balancer spreads round-robin over the instances: the start on one, each send on the next,
//! the history on another, the SSE stream on one of them.
//!
//! [`ClusterStack`] is the set-up, [`ClusterGuest`] a guest behind the load balancer (a retry goes
//! to the next instance with the same `client_id`, as the widget's outbox retries), [`Screen`]
//! what a guest's widget shows (its stream, reopened on another instance when it ends, and the
//! `after=` sync). [`run_load`] is the load run the short test and `lobby-bench cluster` share;
//! with `instances: 1, clustered: false` it is the same run against one instance alone, for
//! the side-by-side figures.
//!
//! Webhooks lag 2–5 min (the simulator's `realistic`), so staff replies reach guests only through
//! the poller that holds the token's lease and the fan-out, which is what is being tested.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use lobby_protocol::{ChatMessage, History, NewMessage};
use lobby_test_redis::RedisServer;
use tokio::task::JoinHandle;

use crate::{
    PROPERTY, Ports, SimClient, Stack,
    guest::{Guest, SseStream, encode, retry_after},
    load::metric,
    process::LobbyProcess,
};

/// Every test guest comes from 127.0.0.1: the per-address limits and the per-property cap on new
/// conversations lifted (as [`crate::one_address_for_many_guests`]), the per-conversation ones as
/// configured by default.
pub const ONE_ADDRESS_FOR_MANY_GUESTS: &str = r#"
[guest_limits]
per_ip = { burst = 100000.0, per_second = 100000.0 }
reads_per_ip = { burst = 100000.0, per_second = 100000.0 }
stream_connects_per_ip = { burst = 100000.0, per_second = 100000.0 }
streams_per_ip = 100000
conversations_per_minute = 100000.0
"#;

/// The share of one token's Mews budget the proxy may use: 80 % of 200 per 30 s.
pub const BUDGET_PER_30S: usize = 160;

/// The generous bound on a send's round trip and a staff reply's way to the guest, p95.
pub const SLOW_MS: u128 = 5_000;

/// How long one guest request may go unanswered before the guest gives up on it and retries (a
/// browser has no such limit, but a guest notices a send spinning this long).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// `n` `lobby` processes, one Redis (cluster mode), the simulator.
pub struct ClusterStack {
    pub stack: Stack,
    redis: Option<RedisServer>,
    instances: Vec<Option<LobbyProcess>>,
    urls: Arc<Vec<String>>,
}

impl ClusterStack {
    /// `n` instances of `exe` (the `lobby` program) in cluster mode on one fresh Redis.
    pub async fn start(exe: &str, n: usize) -> Self {
        Self::start_mode(exe, n, true).await
    }

    /// One instance of `exe` alone (its embedded store, no Redis), on the same kind of stack: the
    /// reference for the side-by-side figures.
    pub async fn alone(exe: &str) -> Self {
        Self::start_mode(exe, 1, false).await
    }

    async fn start_mode(exe: &str, n: usize, clustered: bool) -> Self {
        let sim = mews_sim::Config { webhook_lag: mews_sim::WebhookLag::Realistic, ..Default::default() };
        let stack =
            Stack::start_custom(Ports::any(), sim, |c| c.guest_limits = crate::one_address_for_many_guests()).await;
        let redis = clustered.then(|| tokio::task::block_in_place(RedisServer::start));
        let top = match &redis {
            Some(r) => format!("redis_url = \"{}\"\nredis_prefix = \"lobby-e2e:\"", r.url()),
            None => String::new(),
        };
        let mut instances = Vec::new();
        for i in 0..n {
            // Unused in cluster mode, but each instance has its own, as in production.
            let store = stack.data_dir().join(format!("instance-{i}.redb"));
            instances.push(Some(
                LobbyProcess::start_configured(exe, &stack, &store, &top, ONE_ADDRESS_FOR_MANY_GUESTS).await,
            ));
        }
        let urls = Arc::new(instances.iter().map(|p| p.as_ref().unwrap().url.clone()).collect());
        Self { stack, redis, instances, urls }
    }

    /// The instances' base URLs, killed ones included (a load balancer keeps sending to a dead
    /// backend until its health check notices; the guest's retry goes to the next).
    pub fn urls(&self) -> Arc<Vec<String>> {
        self.urls.clone()
    }

    pub fn sim(&self) -> SimClient {
        self.stack.sim()
    }

    /// Whether instance `i` runs (was not killed).
    pub fn is_up(&self, i: usize) -> bool {
        self.instances[i].is_some()
    }

    /// SIGKILL to instance `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.instances[i].take() {
            p.kill();
        }
    }

    /// Instance `i`'s `/metrics` text (`None` when it does not answer).
    pub async fn metrics(&self, i: usize) -> Option<String> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        http.get(format!("{}/metrics", self.urls[i])).send().await.ok()?.text().await.ok()
    }

    /// The running instances that hold the poller lease (`lobby_poller_leases_held 1`).
    pub async fn holders(&self) -> Vec<usize> {
        let mut held = Vec::new();
        for i in 0..self.urls.len() {
            if self.is_up(i)
                && let Some(m) = self.metrics(i).await
                && metric(&m, "lobby_poller_leases_held") >= 1.0
            {
                held.push(i);
            }
        }
        held
    }

    /// The one instance that holds the lease, waiting up to `within` for there to be exactly one.
    pub async fn holder(&self, within: Duration) -> usize {
        crate::eventually(within, "exactly one instance holding the poller lease", || async {
            let h = self.holders().await;
            (h.len() == 1).then(|| h[0])
        })
        .await
    }

    /// `redis://127.0.0.1:PORT/` (cluster mode).
    pub fn redis_url(&self) -> Option<String> {
        self.redis.as_ref().map(RedisServer::url)
    }

    /// The Redis server (cluster mode).
    pub fn redis(&mut self) -> &mut RedisServer {
        self.redis.as_mut().expect("cluster mode")
    }

    /// Restarts Redis (graceful `SHUTDOWN`, the append-only file flushed, then a start on the same
    /// port and files); returns how long Redis was away.
    pub fn restart_redis(&mut self) -> Duration {
        let t = Instant::now();
        let redis = self.redis();
        tokio::task::block_in_place(|| redis.restart());
        t.elapsed()
    }

    /// SIGKILL to Redis (a crash: what `appendfsync always` wrote is all that survives).
    pub fn kill_redis(&mut self) {
        let redis = self.redis();
        tokio::task::block_in_place(|| redis.kill());
    }

    /// SIGSTOP to Redis: connections stay open, nothing is answered.
    pub fn freeze_redis(&mut self) {
        let redis = self.redis();
        tokio::task::block_in_place(|| redis.freeze());
    }

    /// SIGCONT to Redis.
    pub fn thaw_redis(&mut self) {
        let redis = self.redis();
        tokio::task::block_in_place(|| redis.thaw());
    }

    /// Redis's command counts since it started (`INFO commandstats`: calls per command), without
    /// the `INFO` calls of this harness. Empty when not in cluster mode.
    pub async fn redis_commands(&self) -> BTreeMap<String, u64> {
        let Some(redis) = &self.redis else { return BTreeMap::new() };
        let client = redis::Client::open(redis.url()).expect("a Redis URL");
        let mut con = client.get_multiplexed_async_connection().await.expect("connects to Redis");
        let info: String =
            redis::cmd("INFO").arg("commandstats").query_async(&mut con).await.expect("INFO commandstats");
        parse_commandstats(&info)
    }

    /// Guests `"{prefix} {g}"` start conversations at once, guest `g` on instance `g % n`, each
    /// retrying a `503` with its start key on the next instance. Returns them in order and the
    /// number of retries.
    pub async fn start_guests(&self, n: usize, prefix: &str) -> (Vec<ClusterGuest>, u32) {
        let starts: Vec<_> = (0..n)
            .map(|g| {
                let (urls, origin, name) = (self.urls(), self.stack.pages_url.clone(), format!("{prefix} {g}"));
                tokio::spawn(async move { ClusterGuest::start(urls, &origin, &name, g).await })
            })
            .collect();
        crate::load::gather_started(starts).await
    }

    /// The Mews thread of each guest, by the name it started with (the staff console's list).
    pub async fn threads_of(&self, guests: &[ClusterGuest]) -> Vec<String> {
        let by_name: HashMap<String, String> = self.sim().staff_threads().await.into_iter().collect();
        guests.iter().map(|g| by_name.get(&g.name).unwrap_or_else(|| panic!("{}'s thread", g.name)).clone()).collect()
    }

    pub async fn stop(mut self) {
        for p in &mut self.instances {
            if let Some(mut p) = p.take() {
                p.kill();
            }
        }
        self.stack.stop().await;
    }
}

/// `INFO commandstats` → calls per command (`cmdstat_evalsha:calls=12,…` → `evalsha: 12`), `info`
/// left out.
pub fn parse_commandstats(info: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in info.lines() {
        let Some((name, rest)) = line.trim().strip_prefix("cmdstat_").and_then(|l| l.split_once(':')) else { continue };
        if name == "info" {
            continue;
        }
        let n = rest.split(',').find_map(|kv| kv.strip_prefix("calls=")?.parse::<u64>().ok()).unwrap_or(0);
        calls.insert(name.to_owned(), n);
    }
    calls
}

/// `after − before`, per command, the commands that ran.
pub fn commands_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v.saturating_sub(before.get(k).copied().unwrap_or(0))))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// One guest request's outcome, as a guest's browser would tell them apart.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub at: Instant,
    pub took: Duration,
    pub instance: usize,
    /// `200`, `503 busy`, `429 rate_limited`, `no answer (…)`, `timed out`, …
    pub outcome: String,
}

/// Every send attempt of a run, for the figures.
pub type Attempts = Arc<Mutex<Vec<Attempt>>>;

/// A send the proxy acknowledged.
#[derive(Clone, Debug)]
pub struct Acked {
    pub message: ChatMessage,
    /// From the first attempt to the acknowledgement.
    pub took: Duration,
    pub retries: u32,
}

/// A guest behind a round-robin load balancer: every request goes to the next instance.
#[derive(Clone)]
pub struct ClusterGuest {
    pub name: String,
    pub origin: String,
    pub session: String,
    urls: Arc<Vec<String>>,
    turn: Arc<AtomicUsize>,
    http: reqwest::Client,
}

impl ClusterGuest {
    /// Starts a conversation (no first message), the first attempt on instance `first % n`, a
    /// refused or unanswered attempt retried on the next with the same start key.
    pub async fn start(urls: Arc<Vec<String>>, origin: &str, name: &str, first: usize) -> (Self, u32) {
        // Idle connections are dropped before the proxy's 10 s keep-alive limit closes them: with
        // requests round-robin a guest reuses a connection to one instance only every few sends,
        // and a reused connection the server just closed would read as "no answer".
        let http = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().unwrap();
        let turn = Arc::new(AtomicUsize::new(first));
        let body = Guest::start_body(&uuid::Uuid::new_v4().to_string(), name, None);
        let mut retries = 0;
        loop {
            let i = turn.fetch_add(1, Ordering::Relaxed) % urls.len();
            let sent = http
                .post(format!("{}/v1/properties/{PROPERTY}/conversations", urls[i]))
                .header("origin", origin)
                .timeout(ATTEMPT_TIMEOUT)
                .json(&body)
                .send()
                .await;
            let pause = match sent {
                Ok(resp) if resp.status().is_success() => {
                    let started: lobby_protocol::Started = resp.json().await.unwrap();
                    let guest = Self {
                        name: name.to_owned(),
                        origin: origin.to_owned(),
                        session: started.session,
                        urls,
                        turn,
                        http,
                    };
                    return (guest, retries);
                }
                Ok(resp) => match retry_after(&resp) {
                    Some(p) => p,
                    None => {
                        panic!("{name}: start answered {}: {}", resp.status(), resp.text().await.unwrap_or_default())
                    }
                },
                Err(_) => Duration::from_millis(300),
            };
            retries += 1;
            assert!(retries < 200, "{name}: no instance started the conversation");
            tokio::time::sleep(pause).await;
        }
    }

    /// The index of the instance the next request goes to (and advances the turn).
    pub fn next_instance(&self) -> usize {
        self.turn.fetch_add(1, Ordering::Relaxed) % self.urls.len()
    }

    /// This guest talking to instance `i` only (the plain harness guest).
    pub fn on(&self, i: usize) -> Guest {
        Guest {
            proxy: self.urls[i].clone(),
            origin: self.origin.clone(),
            session: self.session.clone(),
            http: self.http.clone(),
        }
    }

    /// One send attempt on instance `i`, as is (a test may abandon it or expect it to fail).
    pub async fn send_once(&self, i: usize, client_id: &str, text: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/v1/conversation/messages", self.urls[i]))
            .header("origin", &self.origin)
            .bearer_auth(&self.session)
            .json(&NewMessage { client_id: client_id.into(), text: text.into() })
            .send()
            .await
    }

    /// Sends as the widget's outbox does, each attempt to the next instance: a `503` or `429`
    /// retried after its `Retry-After`, no answer (refused, reset, [`ATTEMPT_TIMEOUT`]) after
    /// 300 ms, always with the same `client_id`, until acknowledged or `give_up` has passed.
    /// Every attempt is recorded in `attempts`.
    pub async fn send(
        &self,
        client_id: &str,
        text: &str,
        attempts: &Attempts,
        give_up: Duration,
    ) -> Result<Acked, String> {
        let t0 = Instant::now();
        let mut retries = 0;
        loop {
            let i = self.next_instance();
            let at = Instant::now();
            let sent = self
                .http
                .post(format!("{}/v1/conversation/messages", self.urls[i]))
                .header("origin", &self.origin)
                .bearer_auth(&self.session)
                .timeout(ATTEMPT_TIMEOUT)
                .json(&NewMessage { client_id: client_id.into(), text: text.into() })
                .send()
                .await;
            let (outcome, pause, done) = match sent {
                Ok(resp) if resp.status().is_success() => match resp.json::<ChatMessage>().await {
                    Ok(m) => ("200".to_owned(), Duration::ZERO, Some(m)),
                    Err(e) => (format!("200, body lost ({e})"), Duration::from_millis(300), None),
                },
                Ok(resp) => {
                    let status = resp.status();
                    let pause = retry_after(&resp);
                    let body: serde_json::Value = resp.json().await.unwrap_or_default();
                    let code = body["error"]["code"].as_str().unwrap_or("?").to_owned();
                    match pause {
                        Some(p) => (format!("{} {code}", status.as_u16()), p, None),
                        None if status.is_server_error() => {
                            (format!("{} {code} (no Retry-After)", status.as_u16()), Duration::from_secs(1), None)
                        }
                        None => return Err(format!("{client_id}: {status} {body}")),
                    }
                }
                Err(e) if e.is_timeout() => ("timed out".to_owned(), Duration::ZERO, None),
                Err(_) => ("no answer".to_owned(), Duration::from_millis(300), None),
            };
            attempts.lock().unwrap().push(Attempt { at, took: at.elapsed(), instance: i, outcome });
            if let Some(message) = done {
                return Ok(Acked { message, took: t0.elapsed(), retries });
            }
            if t0.elapsed() > give_up {
                return Err(format!("{}: {client_id} not acknowledged after {:?}", self.name, t0.elapsed()));
            }
            retries += 1;
            tokio::time::sleep(pause).await;
        }
    }

    /// The first history page, from the next instance (retried on the next while refused).
    pub async fn history(&self) -> History {
        for _ in 0..20 {
            let i = self.next_instance();
            let resp = self
                .http
                .get(format!("{}/v1/conversation/messages", self.urls[i]))
                .header("origin", &self.origin)
                .bearer_auth(&self.session)
                .timeout(ATTEMPT_TIMEOUT)
                .send()
                .await;
            if let Ok(r) = resp
                && r.status().is_success()
            {
                return r.json().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        panic!("{}: no instance answered the history", self.name)
    }

    async fn open_stream(&self, i: usize, last_event_id: Option<&str>) -> Result<SseStream, String> {
        let mut url = format!("{}/v1/conversation/events?session={}", self.urls[i], self.session);
        if let Some(id) = last_event_id {
            url.push_str(&format!("&last_event_id={}", encode(id)));
        }
        let resp = self
            .http
            .get(url)
            .header("origin", &self.origin)
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status() != 200 {
            return Err(format!("events answered {}", resp.status()));
        }
        Ok(SseStream::new(resp))
    }

    /// Opens the guest's stream on the next instance and keeps a widget's screen from it (see
    /// [`ClusterGuest::watch_on`]).
    pub async fn watch(&self) -> (Shared, JoinHandle<()>) {
        let i = self.next_instance();
        self.watch_on(i).await
    }

    /// Opens the guest's stream on instance `i` (returns once it is open) and, on a task, records
    /// what the widget shows. When the stream ends (its instance died) or says `reconnect`, the
    /// widget reopens it 300 ms later on the next instance with its last event id (retrying every
    /// 500 ms), then syncs with `?after=` as the widget does.
    pub async fn watch_on(&self, i: usize) -> (Shared, JoinHandle<()>) {
        let screen = Shared::default();
        let mut sse = self.open_stream(i, None).await.unwrap_or_else(|e| panic!("{}: {e}", self.name));
        screen.lock().unwrap().instance = i;
        let (me, guest) = (screen.clone(), self.clone());
        let task = tokio::spawn(async move {
            loop {
                match sse.next(Duration::from_secs(3600)).await {
                    Some(ev) if ev.event == "message" => {
                        let m: ChatMessage = serde_json::from_str(&ev.data).expect("message JSON");
                        let mut s = me.lock().unwrap();
                        *s.on_stream.entry(m.text.clone()).or_default() += 1;
                        s.show(m);
                        if ev.id.is_some() {
                            s.last_event_id = ev.id;
                        }
                    }
                    Some(ev) if ev.event != "reconnect" => {}
                    _ => {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        let last = me.lock().unwrap().last_event_id.clone();
                        let (j, reopened) = loop {
                            let j = guest.next_instance();
                            match guest.open_stream(j, last.as_deref()).await {
                                Ok(s) => break (j, s),
                                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                            }
                        };
                        sse = reopened;
                        {
                            let mut s = me.lock().unwrap();
                            s.instance = j;
                            s.reconnects += 1;
                        }
                        if let Some(last) = last {
                            let (guest, me) = (guest.clone(), me.clone());
                            tokio::spawn(async move {
                                for _ in 0..20 {
                                    if let Ok(h) = guest.on(guest.next_instance()).try_after(&last).await {
                                        let mut s = me.lock().unwrap();
                                        for m in h.messages {
                                            s.show(m);
                                        }
                                        return;
                                    }
                                    tokio::time::sleep(Duration::from_millis(500)).await;
                                }
                            });
                        }
                    }
                }
            }
        });
        (screen, task)
    }
}

/// What one guest's widget shows.
#[derive(Default, Debug)]
pub struct Screen {
    /// Every message shown, by Mews id (streams and syncs merged, as the widget dedupes by id).
    pub by_id: HashMap<String, String>,
    /// When each text was first shown.
    pub first_shown: HashMap<String, Instant>,
    /// How many times each text came on a stream (no dedupe: a doubled event counts twice).
    pub on_stream: HashMap<String, usize>,
    pub last_event_id: Option<String>,
    /// The instance the stream is on now.
    pub instance: usize,
    /// Streams reopened after their instance died or said `reconnect`.
    pub reconnects: usize,
}

impl Screen {
    fn show(&mut self, m: ChatMessage) {
        self.first_shown.entry(m.text.clone()).or_insert_with(Instant::now);
        self.by_id.insert(m.id, m.text);
    }

    /// How many distinct messages (by id) with this text the widget shows.
    pub fn shown(&self, text: &str) -> usize {
        self.by_id.values().filter(|t| *t == text).count()
    }
}

pub type Shared = Arc<Mutex<Screen>>;

/// The Connector API requests the proxies made (the simulator's request log, the checker's own
/// calls left out), as Unix seconds of their answer and status.
pub async fn proxy_requests(sim: &SimClient) -> Vec<(i64, u64, String)> {
    let log = sim.requests().await;
    log["requests"]
        .as_array()
        .expect("request log")
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/api/connector/")))
        .filter(|r| !r["client"].as_str().is_some_and(|c| c.contains("checker")))
        .map(|r| {
            let at: jiff::Timestamp = r["time_utc"].as_str().unwrap().parse().unwrap();
            (at.as_second(), r["status"].as_u64().unwrap_or(0), r["path"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// Mews requests per 30 s: consecutive windows from the first request, and the largest count in
/// any 30 whole seconds (the log's times are whole seconds).
#[derive(Debug)]
pub struct Windows {
    pub consecutive: Vec<usize>,
    pub max_sliding: usize,
    pub too_many: usize,
}

pub fn windows(requests: &[(i64, u64, String)]) -> Windows {
    let mut secs: Vec<i64> = requests.iter().map(|r| r.0).collect();
    secs.sort_unstable();
    let too_many = requests.iter().filter(|r| r.1 == 429).count();
    let Some(&first) = secs.first() else { return Windows { consecutive: vec![], max_sliding: 0, too_many } };
    let last = *secs.last().unwrap();
    let mut consecutive = vec![0; ((last - first) / 30 + 1) as usize];
    for s in &secs {
        consecutive[((s - first) / 30) as usize] += 1;
    }
    let max_sliding =
        (first..=last).map(|t| secs.iter().filter(|s| (t..t + 30).contains(*s)).count()).max().unwrap_or(0);
    Windows { consecutive, max_sliding, too_many }
}

/// Milliseconds at percentile `p` of `ms` (sorted here).
pub fn percentile(ms: &mut [u128], p: f64) -> u128 {
    if ms.is_empty() {
        return 0;
    }
    ms.sort_unstable();
    ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1]
}

/// Outcomes of `attempts` (optionally only those begun in `[from, to)`), counted by outcome.
pub fn tally(attempts: &[Attempt], from: Option<Instant>, to: Option<Instant>) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for a in attempts {
        if from.is_some_and(|f| a.at < f) || to.is_some_and(|e| a.at >= e) {
            continue;
        }
        *t.entry(a.outcome.clone()).or_default() += 1;
    }
    t
}

/// Every guest message in Mews exactly once and in the order sent, per thread (read through the
/// staff side, which costs the token no budget): `sent[g]` are guest `g`'s texts in order. Staff
/// replies (texts not among the guest's) are ignored. Panics naming the first thread that differs.
pub async fn assert_once_in_order(sim: &SimClient, threads: &[String], sent: &[Vec<String>]) {
    for (g, thread) in threads.iter().enumerate() {
        let texts = sim.staff_texts(thread).await;
        let guest_texts: Vec<&String> = texts.iter().filter(|t| sent[g].contains(t)).collect();
        let want: Vec<&String> = sent[g].iter().collect();
        assert_eq!(guest_texts, want, "guest {g}'s thread {thread}: each message once, in order");
    }
}

/// The shape of one cluster load run.
#[derive(Clone, Copy, Debug)]
pub struct ClusterLoad {
    pub instances: usize,
    /// `false`: one instance alone on its embedded store (the reference).
    pub clustered: bool,
    pub guests: usize,
    /// Guest messages per second, all guests together, round-robin over the guests.
    pub rate_per_sec: usize,
    pub seconds: usize,
}

/// What a cluster load run measured (also printed).
#[derive(Debug)]
pub struct ClusterLoadReport {
    pub messages: usize,
    pub windows: Windows,
    pub send_p50: u128,
    pub send_p95: u128,
    pub reply_p50: u128,
    pub reply_p95: u128,
    /// Redis commands while the guests sent, per guest message, and net of the idle rate
    /// (commands per second with the streams open and nobody sending, measured before).
    pub redis_per_message: f64,
    pub redis_per_message_net: f64,
    pub redis_idle_per_sec: f64,
    pub redis_by_command: BTreeMap<String, u64>,
}

/// Runs `shape` on a fresh [`ClusterStack`] of `exe`: guests open conversations (round-robin over
/// the instances), each holds a stream (on the next instance) and sends its share of the combined
/// rate (each send on the next instance), while staff answer each guest once. Panics when Mews
/// answered 429, a 30 s window held more than [`BUDGET_PER_30S`] requests, a message is missing,
/// doubled or out of order, or a staff reply did not reach its guest's screen within 30 s (the
/// callers bound the waits: [`ClusterLoadReport::assert_guests_wait_little`]).
pub async fn run_load(exe: &str, shape: ClusterLoad) -> ClusterLoadReport {
    let ClusterLoad { instances, clustered, guests: n, rate_per_sec, seconds } = shape;
    let what = if clustered { format!("{instances} instances on one Redis") } else { "one instance alone".into() };
    let cs = if clustered { ClusterStack::start(exe, instances).await } else { ClusterStack::alone(exe).await };
    let t0 = Instant::now();
    let (guests, start_retries) = cs.start_guests(n, "Cluster guest").await;
    let created_in = t0.elapsed();
    let threads = cs.threads_of(&guests).await;
    let mut screens = Vec::new();
    let mut watchers = Vec::new();
    for g in &guests {
        let (s, t) = g.watch().await;
        screens.push(s);
        watchers.push(t);
    }
    // The idle rate of Redis commands: streams open, nobody sending (lease, registry, budget of
    // the polls).
    let idle_for = Duration::from_secs(3);
    let r0 = cs.redis_commands().await;
    tokio::time::sleep(idle_for).await;
    let r1 = cs.redis_commands().await;
    let idle: u64 = commands_between(&r0, &r1).values().sum();
    let redis_idle_per_sec = idle as f64 / idle_for.as_secs_f64();

    // Who sends what: message i to guest i % n, its (i / n)-th.
    let total = rate_per_sec * seconds;
    let sent: Vec<Vec<String>> =
        (0..n).map(|g| (0..total).filter(|i| i % n == g).map(|i| format!("message {}", i / n)).collect()).collect();
    let attempts = Attempts::default();
    let start = Instant::now();
    // Staff answer each guest once, spread over the sending time.
    let replies = {
        let (sim, threads) = (cs.sim(), threads.clone());
        tokio::spawn(async move {
            let mut posted = Vec::new();
            for (g, t) in threads.iter().enumerate() {
                let due = start + Duration::from_secs_f64(seconds as f64 * g as f64 / threads.len() as f64);
                tokio::time::sleep_until(due.into()).await;
                sim.staff_reply(t, &format!("reply {g}")).await;
                posted.push(Instant::now());
            }
            posted
        })
    };
    // Each guest sends in order, one message after the other is acknowledged (the widget's
    // outbox): a queue per guest, fed at the combined rate.
    let mut queues = Vec::new();
    let mut outboxes = Vec::new();
    for g in &guests {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
        queues.push(tx);
        let (guest, attempts) = (g.clone(), attempts.clone());
        outboxes.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            while let Some(k) = rx.recv().await {
                let a =
                    guest.send(&format!("m{k}"), &format!("message {k}"), &attempts, Duration::from_secs(120)).await;
                acked.push(a.unwrap_or_else(|e| panic!("a send was never acknowledged: {e}")));
            }
            acked
        }));
    }
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate_per_sec as f64);
        tokio::time::sleep_until(due.into()).await;
        queues[i % n].send(i / n).unwrap();
    }
    drop(queues);
    let offered_in = start.elapsed();
    let mut send_ms = Vec::new();
    let mut retries = 0;
    for t in outboxes {
        for acked in t.await.unwrap() {
            send_ms.push(acked.took.as_millis());
            retries += acked.retries;
        }
    }
    let drained_in = start.elapsed();
    let posted = replies.await.unwrap();
    let r2 = cs.redis_commands().await;
    let busy_secs = drained_in.as_secs_f64();

    // Every reply on its guest's screen.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && !screens.iter().enumerate().all(|(g, s)| s.lock().unwrap().first_shown.contains_key(&format!("reply {g}")))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut reply_ms = Vec::new();
    let mut missing = Vec::new();
    for (g, s) in screens.iter().enumerate() {
        match s.lock().unwrap().first_shown.get(&format!("reply {g}")) {
            Some(at) => reply_ms.push(at.saturating_duration_since(posted[g]).as_millis()),
            None => missing.push(g),
        }
    }
    let doubled: usize = screens
        .iter()
        .enumerate()
        .filter(|(g, s)| s.lock().unwrap().on_stream.get(&format!("reply {g}")).copied().unwrap_or(0) > 1)
        .count();

    let by_command = commands_between(&r1, &r2);
    let during: u64 = by_command.values().sum();
    let per_message = during as f64 / total as f64;
    let net = (during as f64 - redis_idle_per_sec * busy_secs).max(0.0) / total as f64;
    let requests = proxy_requests(&cs.sim()).await;
    let w = windows(&requests);
    let mut by_op: BTreeMap<String, usize> = BTreeMap::new();
    for r in &requests {
        *by_op.entry(r.2.trim_start_matches("/api/connector/v1/").to_owned()).or_default() += 1;
    }
    let report = ClusterLoadReport {
        messages: total,
        send_p50: percentile(&mut send_ms.clone(), 0.5),
        send_p95: percentile(&mut send_ms, 0.95),
        reply_p50: percentile(&mut reply_ms.clone(), 0.5),
        reply_p95: percentile(&mut reply_ms, 0.95),
        redis_per_message: per_message,
        redis_per_message_net: net,
        redis_idle_per_sec,
        redis_by_command: by_command,
        windows: w,
    };
    println!(
        "[{what}] {n} conversations opened in {:.1} s (starts round-robin; {start_retries} retried after 503 busy)",
        created_in.as_secs_f64()
    );
    println!(
        "[{what}] {total} messages offered in {:.1} s (each send on the next instance), all acknowledged after {:.1} s; \
         send round trip p50 {} ms, p95 {} ms; retries {retries}; attempts {:?}",
        offered_in.as_secs_f64(),
        drained_in.as_secs_f64(),
        report.send_p50,
        report.send_p95,
        tally(&attempts.lock().unwrap(), None, None)
    );
    println!(
        "[{what}] Mews requests per 30 s window (consecutive, from the first): {:?}; most in any 30 s: {} (80 % of 200: {BUDGET_PER_30S}); \
         429s: {}; by operation: {by_op:?}",
        report.windows.consecutive, report.windows.max_sliding, report.windows.too_many
    );
    println!(
        "[{what}] staff replies: {} of {n} on their guest's screen, p50 {} ms, p95 {} ms; replies on a stream twice: {doubled}",
        n - missing.len(),
        report.reply_p50,
        report.reply_p95
    );
    if clustered {
        println!(
            "[{what}] Redis: {during} commands while sending ({per_message:.1} per guest message; {net:.1} net of the idle \
             {redis_idle_per_sec:.1}/s); by command: {:?}",
            report.redis_by_command
        );
    }
    assert_eq!(report.windows.too_many, 0, "Mews answered 429");
    assert!(
        report.windows.max_sliding <= BUDGET_PER_30S,
        "{} Mews requests in 30 s (at most {BUDGET_PER_30S})",
        report.windows.max_sliding
    );
    assert_once_in_order(&cs.sim(), &threads, &sent).await;
    assert!(missing.is_empty(), "staff replies never shown to guests {missing:?}");
    assert_eq!(doubled, 0, "a reply came twice on a stream");
    for w in watchers {
        w.abort();
    }
    cs.stop().await;
    report
}

impl ClusterLoadReport {
    /// Generous bounds on what a guest waits for, p95 of sends and of staff replies within
    /// [`SLOW_MS`] (one instance alone: a send p95 of a few hundred ms, a reply p95 about 1 s;
    /// the latency runs assert 2 s). The callers assert it after printing what they compare.
    pub fn assert_guests_wait_little(&self) {
        assert!(self.send_p95 <= SLOW_MS, "send round trip p95 {} ms (at most {SLOW_MS} ms)", self.send_p95);
        assert!(self.reply_p95 <= SLOW_MS, "staff reply p95 {} ms (at most {SLOW_MS} ms)", self.reply_p95);
    }
}

/// The `lobby` program for runs outside `cargo test` (the bench): `LOBBY_RELEASE_BIN` when set,
/// else `lobby-proc` next to the running binary (`cargo build -p lobby-e2e --bins`).
pub fn lobby_exe() -> String {
    if let Ok(p) = std::env::var("LOBBY_RELEASE_BIN") {
        return p;
    }
    let me = std::env::current_exe().expect("the running binary");
    let sibling = me.parent().unwrap().join("lobby-proc");
    assert!(
        Path::new(&sibling).exists(),
        "no lobby program: set LOBBY_RELEASE_BIN or build lobby-proc (cargo build -p lobby-e2e --bins)"
    );
    sibling.display().to_string()
}
