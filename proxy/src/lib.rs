//! Lobby's proxy: the server between a hotel's website widget and Mews.
//!
//! It holds each hotel's Mews Connector tokens (the browser never sees one), creates the Mews
//! message thread for a guest, relays the guest's messages with `messages/add`, learns of staff
//! replies by polling live threads and from `MessageAdded` webhooks, and pushes them to the
//! browser over server-sent events.
//!
//! The binary (`lobby`) is a thin shell over [`serve`]; tests bind port 0 and call the same.

pub mod assets;
pub mod cli;
pub mod client_ip;
pub mod cluster;
pub mod config;
pub mod conversation;
pub mod error;
pub mod guard;
pub mod identify;
pub mod metrics;
pub mod mews;
pub mod relay;
pub mod routes;
pub mod server;
pub mod session;
pub mod state;
pub mod store;
pub mod supervise;

use std::time::Duration;

pub use config::Config;
pub use routes::router;
pub use state::AppState;

/// Runs the proxy on `listener` until `shutdown` resolves, then tells SSE clients to reconnect
/// and drains in-flight requests, for at most `[server] shutdown_grace_secs` ([`server::run`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut pollers = Vec::new();
    for t in state.tokens() {
        let (upstream, properties) = (t.upstream.clone(), t.properties.clone());
        let name = format!("poller {}", t.properties.join(","));
        let stop = state.shutdown_signal();
        match t.cluster.clone() {
            None => pollers.push(supervise::spawn_supervised(
                &name,
                &state,
                relay::poller::run(state.clone(), upstream, properties, stop),
            )),
            Some(c) => {
                let sender = conversation::forward::run_sender(state.clone(), c.clone(), state.shutdown_signal());
                pollers.push(supervise::spawn_supervised(
                    &format!("sender {}", t.properties.join(",")),
                    &state,
                    sender,
                ));
                pollers.push(supervise::spawn_supervised(
                    &name,
                    &state,
                    relay::poller::run_clustered(state.clone(), upstream, properties, c, stop),
                ));
            }
        }
    }
    if let Some(cluster) = state.cluster() {
        pollers.push(supervise::spawn_supervised("cluster fan-out", &state, relay::fanout::run(state.clone())));
        let heartbeat = cluster::limits::SharedLimits::new(cluster).keep_alive();
        pollers.push(supervise::spawn_supervised("cluster heartbeat", &state, heartbeat));
        if let Some(share) = state.lease_share().cloned() {
            pollers.push(supervise::spawn_supervised("lease registry", &state, share.keep_registered()));
        }
    }
    pollers.push(supervise::spawn_supervised("recovery", &state, conversation::recovery::run(state.clone())));
    let sweeper_state = state.clone();
    let sweeper = supervise::spawn_supervised("sweeper", &state, async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            sweeper_state.hub().sweep();
            let before = (jiff::Timestamp::now() - store::KEEP_FOR).as_second();
            match sweeper_state.store().purge(before).await {
                Ok(n) if n > 0 => tracing::info!(records = n, "purged old send and start records"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging the store failed"),
            }
        }
    });
    let app = router(state.clone());
    let st = state.clone();
    let on_shutdown = move || {
        tracing::info!("shutting down: telling SSE clients to reconnect");
        st.begin_shutdown();
    };
    let result = server::run(listener, app, *state.server_limits(), shutdown, on_shutdown).await;
    sweeper.abort();
    for p in pollers {
        p.abort();
    }
    result
}

/// The log filter when `RUST_LOG` is not set: access logs and everything else at `info`.
pub const DEFAULT_LOG_FILTER: &str = "info,tower_http=info";

/// Installs the tracing subscriber (pretty or JSON), filtered by `RUST_LOG` (default `info`).
pub fn init_tracing(format: config::LogFormat) {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = fmt().with_env_filter(filter);
    let _ = match format {
        config::LogFormat::Json => builder.json().try_init(),
        config::LogFormat::Pretty => builder.try_init(),
    };
}
