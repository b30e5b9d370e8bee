//! The connection layer: accepting TCP connections and serving HTTP/1.1 on them with limits that
//! keep one client from holding the proxy.
//!
//! `axum::serve` gives hyper no timer, so a connection that never finishes its headers is held for
//! ever. Here each connection is served by hyper's HTTP/1 builder with a Tokio timer and a
//! header-read timeout; the router is wrapped in a request timeout (headers to answer, body
//! included; an SSE answer counts as made once its headers are out, so streams are not cut) and a
//! body timeout (a body that stalls between chunks). The number of open connections is capped
//! below the open-file limit, so that `/healthz` and real guests always find a descriptor: past
//! the cap a connection gets a short JSON 503 and is closed, not a silent hang. At start the soft
//! `RLIMIT_NOFILE` is raised to the hard limit (1024 is systemd's default soft limit). Shutdown
//! is graceful but bounded: after `shutdown_grace` every remaining connection is dropped, so a
//! client trickling a body cannot keep the process alive past `SIGTERM`.
//!
//! Plain HTTP/1.1 only: TLS and HTTP/2 end at the terminator in front (see `trusted_proxies`).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, error_handling::HandleErrorLayer, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    task::JoinSet,
};
use tower::{ServiceBuilder, ServiceExt};

use crate::error::Error;

/// Descriptors kept free below the open-file limit for everything that is not a guest
/// connection: Mews calls, refusals in flight, log files.
pub const FD_RESERVE: u64 = 128;
/// Connections being refused at once (each holds a descriptor for up to a second).
const MAX_REFUSING: usize = 64;

/// Connection and time limits (config `[server]`).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerLimits {
    /// Open connections at most (default 10 000; lowered to the open-file limit minus
    /// [`FD_RESERVE`] when that is smaller).
    pub max_connections: usize,
    /// A client must send a request's headers within this time (default 10 s).
    #[serde(rename = "header_read_timeout_secs", deserialize_with = "secs")]
    pub header_read_timeout: Duration,
    /// Headers to answer, body included, for every route; an SSE stream only until its headers
    /// are sent (default 60 s: a guest message may wait for the Mews budget).
    #[serde(rename = "request_timeout_secs", deserialize_with = "secs")]
    pub request_timeout: Duration,
    /// Longest pause between two chunks of a request body (default 10 s).
    #[serde(rename = "body_timeout_secs", deserialize_with = "secs")]
    pub body_timeout: Duration,
    /// A guest's SSE stream sends `reconnect` and ends after this long; the widget reconnects
    /// with its last event id (default 30 min).
    #[serde(rename = "max_stream_secs", deserialize_with = "secs")]
    pub max_stream: Duration,
    /// On shutdown, connections still open after this long are dropped (default 10 s; keep it
    /// below the orchestrator's kill timeout).
    #[serde(rename = "shutdown_grace_secs", deserialize_with = "secs")]
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            max_stream: Duration::from_secs(30 * 60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

fn secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let v = f64::deserialize(d)?;
    Duration::try_from_secs_f64(v).map_err(|_| serde::de::Error::custom(format!("`{v}` is not a number of seconds")))
}

impl ServerLimits {
    /// Checks what serde cannot: no zero timeouts, at least a few connections.
    pub fn validate(&self) -> Result<(), String> {
        let times = [
            ("header_read_timeout_secs", self.header_read_timeout),
            ("request_timeout_secs", self.request_timeout),
            ("body_timeout_secs", self.body_timeout),
            ("max_stream_secs", self.max_stream),
        ];
        if let Some((name, _)) = times.iter().find(|(_, d)| d.is_zero()) {
            return Err(format!("server.{name} must be more than 0"));
        }
        if self.max_connections < 16 {
            return Err("server.max_connections must be at least 16".into());
        }
        Ok(())
    }
}

/// Raises the soft open-file limit to the hard one and returns the connection cap that fits
/// under it (the configured cap, or less).
pub fn connection_cap(configured: usize) -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            let fits = limit.saturating_sub(FD_RESERVE).max(16);
            let cap = configured.min(usize::try_from(fits).unwrap_or(usize::MAX));
            tracing::info!(open_file_limit = limit, max_connections = cap, "open-file limit raised to the hard limit");
            if cap < configured {
                tracing::warn!(configured, cap, "max_connections lowered to fit under the open-file limit");
            }
            cap
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit; max_connections as configured");
            configured
        }
    }
}

/// Wraps the router in the request and body timeouts; both answer with our JSON error.
pub fn with_timeouts(app: Router, limits: &ServerLimits) -> Router {
    app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_timeout)).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|_: tower::BoxError| async { Error::RequestTimeout }))
            .layer(tower::timeout::TimeoutLayer::new(limits.request_timeout)),
    )
}

/// Serves `app` on `listener` until `shutdown` resolves; then calls `on_shutdown` (SSE streams
/// say `reconnect`), closes idle connections, lets requests in flight finish and drops whatever
/// is still open after `limits.shutdown_grace`.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_shutdown: impl FnOnce(),
) -> std::io::Result<()> {
    let app = with_timeouts(app, &limits);
    let cap = connection_cap(limits.max_connections);
    let slots = Arc::new(Semaphore::new(cap));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors (EMFILE) or a connection reset before accept: back
                        // off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let (app, drain) = (app.clone(), drain_rx.clone());
                        connections.spawn(async move {
                            serve_connection(stream, peer, app, &limits, drain).await;
                            drop(slot);
                        });
                    }
                    Err(_) => match refusing.clone().try_acquire_owned() {
                        Ok(permit) => {
                            connections.spawn(async move {
                                refuse(stream).await;
                                drop(permit);
                            });
                        }
                        // Refusing too many already: close without a word.
                        Err(_) => drop(stream),
                    },
                }
            }
        }
    }
    on_shutdown();
    drop(listener);
    let _ = drain_tx.send(true);
    let drained =
        tokio::time::timeout(limits.shutdown_grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace = ?limits.shutdown_grace,
            "shutdown grace over: dropping the connections still open"
        );
        connections.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &ServerLimits,
    mut drain: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = async { let _ = drain.wait_for(|d| *d).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Answers a connection over the cap with our JSON 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    let body = Error::Overloaded.body_json();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client sent before closing, or the kernel answers it with a reset that
        // can discard our answer before the client reads it.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
    // Debug, not warn: under a flood this would be one line per refused connection.
    tracing::debug!("connection refused: max_connections reached");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_seconds_and_reject_zero() {
        let l: ServerLimits = toml::from_str("max_connections = 500\nheader_read_timeout_secs = 2.5").unwrap();
        assert_eq!(l.max_connections, 500);
        assert_eq!(l.header_read_timeout, Duration::from_millis(2500));
        assert_eq!(l.request_timeout, ServerLimits::default().request_timeout);
        let zero: ServerLimits = toml::from_str("body_timeout_secs = 0").unwrap();
        assert!(zero.validate().unwrap_err().contains("body_timeout_secs"));
        assert!(toml::from_str::<ServerLimits>("header_read_timeout_secs = -1").is_err());
    }
}
