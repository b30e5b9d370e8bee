//! The one shared state of a proxy instance, cloned into every handler with `with_state`.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;

use crate::cluster::{
    Cluster,
    budget::SharedBudget,
    bus::Bus,
    lease::{Lease, LeaseShare},
    limits::SharedLimits,
    live::LiveThreads,
    sendq::SendQueue,
    token_tag,
};
use crate::{
    assets::Assets,
    config::{Config, PropertyConfig},
    conversation::{send::Sends, start::Starts},
    guard::RateGuard,
    metrics::Metrics,
    mews::{
        client::{HttpTransport, MewsClient, Transport},
        limiter::Limiter,
        upstream::Upstream,
    },
    relay::hub::Hub,
    session::SessionKeys,
    store::{Owner, SharedStore, StoreError, embedded::EmbeddedStore, redis::RedisStore},
};
use crate::{client_ip::ClientAddressConfig, server::ServerLimits, supervise::Health};

/// A hotel and its connection to Mews.
pub struct Property {
    pub config: PropertyConfig,
    /// The upstream of the property's `AccessToken`, shared with the other properties on it.
    pub upstream: Arc<Upstream>,
}

/// One `AccessToken`: its upstream and the properties it serves (one poller each).
pub struct Token {
    pub upstream: Arc<Upstream>,
    pub properties: Vec<String>,
    /// The token's name in Redis keys, notes and logs (a hash; see [`crate::cluster::token_tag`]).
    pub tag: String,
    /// Cluster mode: the token's poller lease and live-thread registry.
    pub cluster: Option<TokenCluster>,
}

/// What a token shares with the other instances (cluster mode).
#[derive(Clone)]
pub struct TokenCluster {
    pub lease: Lease,
    pub live: LiveThreads,
    /// Guests' messages queued for the lease holder, the token's one sender.
    pub queue: SendQueue,
    /// Whether this instance held the poller lease at its last renewal (it sends, the others
    /// queue; both at once for a moment is harmless: the claims decide who sends).
    pub holding: Arc<std::sync::atomic::AtomicBool>,
    /// Wakes this instance's sender when a message was queued.
    pub queued: Arc<tokio::sync::Notify>,
}

impl TokenCluster {
    pub fn holding(&self) -> bool {
        self.holding.load(std::sync::atomic::Ordering::Acquire)
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    properties: BTreeMap<String, Arc<Property>>,
    tokens: Vec<Token>,
    by_enterprise: HashMap<String, String>,
    origins: HashSet<String>,
    sessions: SessionKeys,
    webhook_token: SecretString,
    hub: Hub,
    store: SharedStore,
    /// Cluster mode: the connection to Redis and the fan-out channel.
    cluster: Option<(Cluster, Bus)>,
    /// Owner of this process's claims on pending sends and starts (the cluster's instance id).
    instance: String,
    /// How long a claim lasts without renewal: longer than one upstream call can take.
    claim_lease: Duration,
    sends: Sends,
    /// Cluster mode: sends handed to the token's sender, waiting for its bus note.
    forwarded: crate::conversation::forward::Waiting,
    starts: Starts,
    metrics: Arc<Metrics>,
    guard: RateGuard,
    assets: Assets,
    shutdown: watch::Sender<bool>,
    /// `true` once the records a previous process left pending are resolved (`conversation::recovery`).
    recovered: watch::Sender<bool>,
    health: Health,
    server: ServerLimits,
    client_addresses: ClientAddressConfig,
    identify: crate::identify::Identify,
    /// Cluster mode: this instance's share of the tokens' leases.
    lease_share: Option<LeaseShare>,
}

impl AppState {
    /// Builds the state with the embedded store at `config.store_path` (created on first start);
    /// must run inside a Tokio runtime (it starts one batching task per token). Cluster mode
    /// (`redis_url`) needs [`AppState::open`].
    pub fn new(config: Config, assets: Assets) -> Result<Self, StoreError> {
        if config.redis.is_some() {
            return Err(StoreError("redis_url is set: the state must be opened with AppState::open".into()));
        }
        let store: SharedStore = Arc::new(EmbeddedStore::open(&config.store_path)?);
        let http = HttpTransport::client(config.upstream_timeout);
        Ok(Self::with_parts(config, assets, store, |p| Arc::new(HttpTransport::new(http.clone(), &p.mews_url))))
    }

    /// Builds the state as configured: alone on the embedded store, or, with `redis_url`, as one
    /// instance of a cluster (store, budgets, poller leases and fan-out in Redis).
    pub async fn open(config: Config, assets: Assets) -> Result<Self, StoreError> {
        let Some(redis) = config.redis.clone() else {
            return Self::new(config, assets);
        };
        let cluster = Cluster::connect(&redis).await.map_err(|e| StoreError(format!("cannot reach Redis: {e}")))?;
        let store: SharedStore = Arc::new(RedisStore::from_manager(cluster.redis.clone(), &cluster.prefix));
        let http = HttpTransport::client(config.upstream_timeout);
        tracing::info!(instance = %cluster.instance, "cluster mode: state shared through Redis");
        Ok(Self::build(
            config,
            assets,
            store,
            |p| Arc::new(HttpTransport::new(http.clone(), &p.mews_url)),
            Some(cluster),
        ))
    }

    /// Like [`AppState::new`], with a given store and each token's requests sent through
    /// `transport(property)` (the proxy's unit tests pass the simulator in process).
    pub fn with_parts(
        config: Config,
        assets: Assets,
        store: SharedStore,
        transport: impl Fn(&PropertyConfig) -> Arc<dyn Transport>,
    ) -> Self {
        Self::build(config, assets, store, transport, None)
    }

    /// Everything but the store's and Redis's connections, which the callers make.
    pub fn build(
        config: Config,
        assets: Assets,
        store: SharedStore,
        transport: impl Fn(&PropertyConfig) -> Arc<dyn Transport>,
        cluster: Option<Cluster>,
    ) -> Self {
        let metrics = Arc::new(Metrics::default());
        let health = Health::default();
        let capacity = (mews_wire::limits::RATE_LIMIT_REQUESTS as f64 * config.budget_share).floor() as usize;
        let window = Duration::from_secs(mews_wire::limits::RATE_LIMIT_WINDOW_SECS);
        // Properties that share an AccessToken (on the same Mews) share one upstream.
        let mut by_token: HashMap<(String, String), usize> = HashMap::new();
        let mut tokens: Vec<Token> = Vec::new();
        let mut properties = BTreeMap::new();
        let mut by_enterprise = HashMap::new();
        let mut origins = HashSet::new();
        for (id, p) in config.properties {
            let key = (p.mews_url.clone(), p.access_token.expose_secret().to_owned());
            let i = *by_token.entry(key).or_insert_with(|| {
                let client = MewsClient::new(
                    transport(&p),
                    p.client_token.clone(),
                    p.access_token.clone(),
                    config.client_name.clone(),
                );
                let tag = token_tag(&p.mews_url, p.access_token.expose_secret());
                let (limiter, token_cluster) = match &cluster {
                    None => (Limiter::new(capacity, window), None),
                    Some(c) => {
                        // In flight at most the upstream timeout (and a margin for the answer).
                        let in_flight = config.upstream_timeout.as_millis() as i64 + 5_000;
                        let budget =
                            SharedBudget::new(c, &tag, Limiter::lanes(capacity), window.as_millis() as i64, in_flight);
                        let shared = TokenCluster {
                            lease: Lease::new(c, &format!("poller:{tag}")),
                            live: LiveThreads::new(c, &tag),
                            queue: SendQueue::new(c, &tag),
                            holding: Default::default(),
                            queued: Default::default(),
                        };
                        (Limiter::shared(capacity, window, budget), Some(shared))
                    }
                };
                let upstream = Upstream::start(client, limiter, metrics.clone(), store.clone(), &health);
                tokens.push(Token { upstream, properties: Vec::new(), tag, cluster: token_cluster });
                tokens.len() - 1
            });
            tokens[i].properties.push(id.clone());
            if let Some(e) = &p.enterprise_id {
                by_enterprise.insert(e.clone(), id.clone());
            }
            origins.extend(p.allowed_origins.iter().cloned());
            let upstream = tokens[i].upstream.clone();
            properties.insert(id, Arc::new(Property { config: p, upstream }));
        }
        let lease_share = cluster.as_ref().map(|c| LeaseShare::new(c, tokens.len()));
        let guard = match &cluster {
            None => RateGuard::new(config.guest_limits),
            Some(c) => RateGuard::shared(config.guest_limits, SharedLimits::new(c)),
        };
        Self {
            inner: Arc::new(Inner {
                properties,
                tokens,
                by_enterprise,
                origins,
                sessions: SessionKeys::new(config.session_secret, config.session),
                webhook_token: config.webhook_token,
                hub: Hub::default(),
                store,
                instance: cluster
                    .as_ref()
                    .map_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(), |c| c.instance.clone()),
                claim_lease: config.upstream_timeout + Duration::from_secs(10),
                cluster: cluster.map(|c| {
                    let bus = Bus::new(&c);
                    (c, bus)
                }),
                sends: Sends::default(),
                forwarded: Default::default(),
                starts: Starts::default(),
                metrics,
                guard,
                assets,
                shutdown: watch::channel(false).0,
                recovered: watch::channel(false).0,
                health,
                server: config.server,
                client_addresses: config.client_addresses,
                identify: crate::identify::Identify::new(config.guest_limits.identify_budget),
                lease_share,
            }),
        }
    }

    pub fn property(&self, id: &str) -> Option<&Arc<Property>> {
        self.inner.properties.get(id)
    }

    pub fn properties(&self) -> impl Iterator<Item = &Arc<Property>> {
        self.inner.properties.values()
    }

    /// One entry per `AccessToken`.
    pub fn tokens(&self) -> &[Token] {
        &self.inner.tokens
    }

    pub fn property_for_enterprise(&self, enterprise_id: &str) -> Option<&Arc<Property>> {
        self.inner.by_enterprise.get(enterprise_id).and_then(|id| self.property(id))
    }

    /// Whether any property allows this origin (CORS preflight).
    pub fn origin_known(&self, origin: &str) -> bool {
        self.inner.origins.contains(origin)
    }

    pub fn sessions(&self) -> &SessionKeys {
        &self.inner.sessions
    }

    pub fn webhook_token(&self) -> &SecretString {
        &self.inner.webhook_token
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    pub fn store(&self) -> &SharedStore {
        &self.inner.store
    }

    /// This process as the owner of claims, with a lease from now (see [`crate::store::Claim`]).
    /// Alone on the embedded store (whose file only one process can open) the lease is already
    /// over when written: whatever a previous process left is taken over at once.
    pub fn claim_owner(&self) -> Owner {
        let until_ms = match self.inner.cluster {
            Some(_) => crate::cluster::now_ms() + self.inner.claim_lease.as_millis() as i64,
            None => 0,
        };
        Owner { instance: self.inner.instance.clone(), until_ms }
    }

    pub fn claim_lease(&self) -> Duration {
        self.inner.claim_lease
    }

    /// Cluster mode: this instance's connection to Redis.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.inner.cluster.as_ref().map(|(c, _)| c)
    }

    /// Cluster mode: the channel every instance hears (see [`crate::relay::fanout`]).
    pub fn bus(&self) -> Option<&Bus> {
        self.inner.cluster.as_ref().map(|(_, b)| b)
    }

    /// The token an upstream belongs to.
    pub fn token_of(&self, upstream: &Arc<Upstream>) -> Option<&Token> {
        self.inner.tokens.iter().find(|t| Arc::ptr_eq(&t.upstream, upstream))
    }

    pub fn sends(&self) -> &Sends {
        &self.inner.sends
    }

    /// Cluster mode: this instance's share of the tokens' leases.
    pub fn lease_share(&self) -> Option<&LeaseShare> {
        self.inner.lease_share.as_ref()
    }

    /// Cluster mode: this instance's sends waiting for the token's sender.
    pub fn forwarded(&self) -> &crate::conversation::forward::Waiting {
        &self.inner.forwarded
    }

    pub fn starts(&self) -> &Starts {
        &self.inner.starts
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn guard(&self) -> &RateGuard {
        &self.inner.guard
    }

    pub fn assets(&self) -> &Assets {
        &self.inner.assets
    }

    /// Flips to `true` when the proxy starts shutting down (SSE streams tell clients to reconnect).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Marks the records of a previous process as resolved: sends and starts may proceed.
    pub fn set_recovered(&self) {
        self.inner.recovered.send_replace(true);
    }

    pub fn is_recovered(&self) -> bool {
        *self.inner.recovered.borrow()
    }

    /// Waits until recovery is done, at most until `deadline`.
    pub async fn recovered_by(&self, deadline: tokio::time::Instant) -> bool {
        let mut rx = self.inner.recovered.subscribe();
        tokio::time::timeout_at(deadline, rx.wait_for(|r| *r)).await.is_ok_and(|r| r.is_ok())
    }

    /// Failed background tasks (`/readyz`); see [`crate::supervise`].
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// Connection and time limits (`[server]`).
    pub fn server_limits(&self) -> &ServerLimits {
        &self.inner.server
    }

    /// "Find my booking" (`crate::identify`): its budget share, room lists, negative cache.
    pub fn identify(&self) -> &crate::identify::Identify {
        &self.inner.identify
    }

    /// `trusted_proxies` and the forwarding header (see [`crate::client_ip`]).
    pub fn client_addresses(&self) -> &ClientAddressConfig {
        &self.inner.client_addresses
    }
}
