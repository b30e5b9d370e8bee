//! One sender per token: the queue through which the other instances hand guests' messages to
//! the token's poller-lease holder, so that one batcher sends the whole cluster's messages of a
//! token (`conversation::forward` does the sending and the waiting).
//!
//! With a batcher per instance, three instances made 60 % more `messages/add` calls than one
//! under the same load, and each paced its batches by a third of the free budget, so a message
//! waited three times as long for its batch. The queue is a Redis list per token
//! (`…:sendq:<tag>`) of small jobs; a job carries no authority of its own: the sender takes the
//! send's claim from the queuing instance atomically before sending (`Store::hand_over_send`),
//! so a job seen twice, a stale job, or one whose instance died is simply dropped. A lost job
//! (Redis restarted without its append-only file) is pushed again by its instance, which still
//! owns the claim.

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::Cluster;

/// How long a queue lives without a push (the sender takes jobs within a second or two).
const QUEUE_TTL_MS: i64 = 600_000;

/// A claimed guest message another instance should send.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Job {
    pub property: String,
    pub thread: String,
    pub client_id: String,
    pub text: String,
    /// Set when an earlier attempt may have reached Mews: read back first (Unix s).
    pub recheck_since: Option<i64>,
    /// The instance that queued it and owns its claim until the sender takes it.
    pub origin: String,
}

/// The send queue of one token.
#[derive(Clone)]
pub struct SendQueue {
    redis: ConnectionManager,
    key: String,
}

impl SendQueue {
    pub fn new(cluster: &Cluster, tag: &str) -> Self {
        Self { redis: cluster.redis.clone(), key: cluster.key(&["sendq", tag]) }
    }

    pub async fn push(&self, job: &Job) -> redis::RedisResult<()> {
        let body = serde_json::to_string(job).expect("jobs serialise");
        redis::pipe()
            .rpush(&self.key, body)
            .ignore()
            .pexpire(&self.key, QUEUE_TTL_MS)
            .ignore()
            .query_async::<()>(&mut self.redis.clone())
            .await
    }

    /// Up to `max` jobs, oldest first, removed from the queue.
    pub async fn take(&self, max: usize) -> redis::RedisResult<Vec<Job>> {
        let bodies: Option<Vec<String>> =
            redis::cmd("LPOP").arg(&self.key).arg(max).query_async(&mut self.redis.clone()).await?;
        Ok(bodies
            .unwrap_or_default()
            .iter()
            .filter_map(|b| match serde_json::from_str(b) {
                Ok(j) => Some(j),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable job in the send queue");
                    None
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests_support::{another_instance, cluster};

    fn job(client_id: &str, origin: &str) -> Job {
        Job {
            property: "grand".into(),
            thread: "t1".into(),
            client_id: client_id.into(),
            text: format!("text of {client_id}"),
            recheck_since: None,
            origin: origin.into(),
        }
    }

    #[tokio::test]
    async fn jobs_pushed_by_any_instance_are_taken_once_in_order() {
        let (redis, a) = cluster("sendq:").await;
        let b = another_instance(&redis, "sendq:").await;
        let (qa, qb) = (SendQueue::new(&a, "tok"), SendQueue::new(&b, "tok"));
        assert!(qa.take(10).await.unwrap().is_empty(), "an empty queue");
        qa.push(&job("c1", "a")).await.unwrap();
        qb.push(&job("c2", "b")).await.unwrap();
        qa.push(&job("c3", "a")).await.unwrap();
        assert_eq!(qb.take(2).await.unwrap(), vec![job("c1", "a"), job("c2", "b")]);
        assert_eq!(qa.take(10).await.unwrap(), vec![job("c3", "a")]);
        assert!(qb.take(10).await.unwrap().is_empty(), "each job once");
        // Another token's queue is another list.
        SendQueue::new(&a, "other").push(&job("c4", "a")).await.unwrap();
        assert!(qa.take(10).await.unwrap().is_empty());
    }
}
