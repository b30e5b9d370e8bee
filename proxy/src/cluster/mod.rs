//! Cluster mode: several `lobby` instances behind a load balancer act as one, through one Redis
//! (`redis_url`). Without it an instance runs alone and nothing here is used.
//!
//! What the instances share, and where it lives:
//! * the exactly-once records (`store::redis`), so a retry on another instance finds the send;
//! * each `AccessToken`'s Mews budget ([`budget`]): one sliding window for the whole cluster,
//!   counted in Redis by a Lua script, with the write lane ahead of reads and 429 pauses shared;
//! * one poller per token ([`lease`]): a lease renewed every second, taken over within seconds
//!   when its holder dies;
//! * new messages and resolved states ([`bus`]): published once on a Redis channel and delivered
//!   into every instance's hub, so a guest's stream gets every reply whichever instance serves it;
//!   threads with streams anywhere are listed in Redis ([`live`]) so the poller reads them all;
//! * the guest limits of `guard` ([`limits`]): rate buckets and open-stream counts;
//! * one sender per token ([`sendq`]): guests' messages received anywhere are queued for the
//!   poller's lease holder, whose one batcher sends them all.
//!
//! Redis features used are plain commands and Lua scripts (no modules: managed Redis rarely
//! allows them). All times in scripts are the caller's Unix milliseconds, so the scripts are
//! unit-tested with chosen clocks; instances' clocks only need to agree to well under a second
//! (NTP), which the 80 % budget share absorbs many times over.

pub mod budget;
pub mod bus;
pub mod lease;
pub mod limits;
pub mod live;
pub mod sendq;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::config::RedisConfig;

/// How long one Redis command may take before it counts as failed: Redis answers in well under a
/// millisecond; a longer wait means it is down or unreachable, and callers must not hang on it.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// This instance's connection to the cluster's Redis.
#[derive(Clone)]
pub struct Cluster {
    pub redis: ConnectionManager,
    pub client: redis::Client,
    pub prefix: String,
    /// Random per process: owner of leases and claims.
    pub instance: String,
}

impl Cluster {
    /// Connects (bounded by [`CONNECT_TIMEOUT`]); the connection manager reconnects by itself
    /// afterwards.
    pub async fn connect(config: &RedisConfig) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(config.url.expose_secret())?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let redis =
            tokio::time::timeout(CONNECT_TIMEOUT * 2, ConnectionManager::new_with_config(client.clone(), manager))
                .await
                .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connecting to Redis timed out")))??;
        let instance = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Ok(Self { redis, client, prefix: config.prefix.clone(), instance })
    }

    /// A key or channel name under this deployment's prefix.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        k.push_str(&parts.join(":"));
        k
    }
}

/// A name for an `AccessToken` in Redis keys and logs: the first 16 hex digits of the SHA-256 of
/// the Mews address and the token. The token itself never leaves the process.
pub fn token_tag(mews_url: &str, access_token: &str) -> String {
    let digest = Sha256::digest(format!("{mews_url}\n{access_token}").as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Unix milliseconds now (the clock every script is given).
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A real `redis-server` for the cluster's unit tests, and instances connected to it.
#[cfg(test)]
pub(crate) mod tests_support {
    use lobby_test_redis::RedisServer;
    use secrecy::SecretString;

    use super::Cluster;
    use crate::config::RedisConfig;

    pub async fn connect(server: &RedisServer, prefix: &str) -> Cluster {
        let config = RedisConfig { url: SecretString::from(server.url()), prefix: prefix.to_owned() };
        Cluster::connect(&config).await.expect("connects to the test Redis")
    }

    /// A fresh Redis and one instance on it.
    pub async fn cluster(prefix: &str) -> (RedisServer, Cluster) {
        let server = RedisServer::start();
        let c = connect(&server, prefix).await;
        (server, c)
    }

    /// Another instance (its own connection and instance id) on the same Redis.
    pub async fn another_instance(server: &RedisServer, prefix: &str) -> Cluster {
        connect(server, prefix).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_tags_hide_the_token_and_differ_per_token_and_address() {
        let a = super::token_tag("https://api.mews.com", "secret-token-1");
        assert_eq!(a.len(), 16);
        assert!(!a.contains("secret"));
        assert_ne!(a, super::token_tag("https://api.mews.com", "secret-token-2"));
        assert_ne!(a, super::token_tag("https://api.mews-demo.com", "secret-token-1"));
    }
}
