//! The one shared state of a proxy instance, cloned into every handler with `with_state`.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Notify, watch};

use crate::{
    assets::Assets,
    config::{Config, PropertyConfig},
    guard::RateGuard,
    metrics::Metrics,
    mews::{
        client::{HttpTransport, MewsClient, Transport},
        limiter::Limiter,
        scheduler::Upstream,
    },
    relay::{hub::Hub, outbox::Outbox},
    session::SessionKeys,
};
use crate::{client_ip::ClientAddressConfig, server::ServerLimits, supervise::Health};

/// A hotel and its connection to Mews.
pub struct Property {
    pub config: PropertyConfig,
    pub upstream: Arc<Upstream>,
    /// Wakes the property's poller (webhook received, guest message sent, guest subscribed).
    pub wake: Notify,
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    properties: BTreeMap<String, Arc<Property>>,
    by_enterprise: HashMap<String, String>,
    origins: HashSet<String>,
    sessions: SessionKeys,
    webhook_token: SecretString,
    hub: Hub,
    outbox: Outbox,
    metrics: Arc<Metrics>,
    guard: RateGuard,
    assets: Assets,
    shutdown: watch::Sender<bool>,
    health: Health,
    server: ServerLimits,
    client_addresses: ClientAddressConfig,
}

impl AppState {
    /// Builds the state; must run inside a Tokio runtime (it starts one batching task per token).
    pub fn new(config: Config, assets: Assets) -> Self {
        let http = HttpTransport::client(config.upstream_timeout);
        Self::with_transport(config, assets, |p| Arc::new(HttpTransport::new(http.clone(), &p.mews_url)))
    }

    /// Like [`AppState::new`], with each token's requests sent through `transport(property)`
    /// (the proxy's unit tests pass the simulator in process).
    pub fn with_transport(
        config: Config,
        assets: Assets,
        transport: impl Fn(&PropertyConfig) -> Arc<dyn Transport>,
    ) -> Self {
        let metrics = Arc::new(Metrics::default());
        let capacity = (mews_wire::limits::RATE_LIMIT_REQUESTS as f64 * config.budget_share).floor() as usize;
        let window = Duration::from_secs(mews_wire::limits::RATE_LIMIT_WINDOW_SECS);
        // Properties that share an AccessToken share its budget.
        let mut upstreams: HashMap<(String, String), Arc<Upstream>> = HashMap::new();
        let mut properties = BTreeMap::new();
        let mut by_enterprise = HashMap::new();
        let mut origins = HashSet::new();
        for (id, p) in config.properties {
            let key = (p.mews_url.clone(), p.access_token.expose_secret().to_owned());
            let upstream = upstreams
                .entry(key)
                .or_insert_with(|| {
                    let client = MewsClient::new(
                        transport(&p),
                        p.client_token.clone(),
                        p.access_token.clone(),
                        config.client_name.clone(),
                    );
                    Upstream::start(client, Limiter::new(capacity, window), metrics.clone())
                })
                .clone();
            if let Some(e) = &p.enterprise_id {
                by_enterprise.insert(e.clone(), id.clone());
            }
            origins.extend(p.allowed_origins.iter().cloned());
            properties.insert(id, Arc::new(Property { config: p, upstream, wake: Notify::new() }));
        }
        Self {
            inner: Arc::new(Inner {
                properties,
                by_enterprise,
                origins,
                sessions: SessionKeys::new(config.session_secret, config.session),
                webhook_token: config.webhook_token,
                hub: Hub::default(),
                outbox: Outbox::default(),
                metrics,
                guard: RateGuard::new(config.guest_limits),
                assets,
                shutdown: watch::channel(false).0,
                health: Health::default(),
                server: config.server,
                client_addresses: config.client_addresses,
            }),
        }
    }

    pub fn property(&self, id: &str) -> Option<&Arc<Property>> {
        self.inner.properties.get(id)
    }

    pub fn properties(&self) -> impl Iterator<Item = &Arc<Property>> {
        self.inner.properties.values()
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

    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
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
        let _ = self.inner.shutdown.send(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Failed background tasks (`/readyz`); see [`crate::supervise`].
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// Connection and time limits (`[server]`).
    pub fn server_limits(&self) -> &ServerLimits {
        &self.inner.server
    }

    /// `trusted_proxies` and the forwarding header (see [`crate::client_ip`]).
    pub fn client_addresses(&self) -> &ClientAddressConfig {
        &self.inner.client_addresses
    }
}
