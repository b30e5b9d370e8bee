//! One sender per token: the queue through which the other instances hand guests' messages to
//! the token's poller-lease holder, so that one batcher sends the whole cluster's messages of a
//! token (`conversation::forward` does the sending and the waiting).
//!
//! With a batcher per instance, three instances made 60 % more `messages/add` calls than one
//! under the same load, and each paced its batches by a third of the free budget, so a message
//! waited longer for its batch. The queue is a Redis list per token (`…:sendq:<tag>`) of
//! pointers to send records: a job carries no text and no authority. The record says what to
//! send and whether to read Mews back first, and the sender takes the record's claim over
//! atomically before sending ([`RedisStore::take_queued_send`]: only from its live owner, only
//! while it is marked queued), so a job seen twice, a job queued before its send was claimed
//! again, or one whose instance died is simply dropped. A lost job (Redis restarted without its
//! append-only file) is pushed again by its instance, which still owns the claim.

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::Cluster;
use crate::store::{
    Owner, StoreError, StoreResult,
    redis::{RedisStore, TakenSend},
};

/// How long a queue lives without a push (the sender takes jobs within a second or two).
const QUEUE_TTL_MS: i64 = 600_000;

/// A claimed guest message another instance should send: where its record is, who queued it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Job {
    pub property: String,
    pub thread: String,
    pub client_id: String,
    /// The instance that queued it and owns its claim until the sender takes it.
    pub origin: String,
}

/// The send queue of one token.
#[derive(Clone)]
pub struct SendQueue {
    redis: ConnectionManager,
    key: String,
    store: RedisStore,
}

impl SendQueue {
    pub fn new(cluster: &Cluster, tag: &str) -> Self {
        Self {
            redis: cluster.redis.clone(),
            key: cluster.key(&["sendq", tag]),
            store: RedisStore::from_manager(cluster.redis.clone(), &cluster.prefix),
        }
    }

    /// Marks the send `owner` owns as queued (read back from `recheck_since` first, Unix s) and
    /// queues its job. `false`: the send is no longer the owner's (done, or taken over).
    pub async fn push(&self, job: &Job, owner: &Owner, recheck_since: Option<i64>) -> StoreResult<bool> {
        if !self.store.queue_send(&job.thread, &job.client_id, owner, recheck_since).await? {
            return Ok(false);
        }
        let body = serde_json::to_string(job).expect("jobs serialise");
        redis::pipe()
            .rpush(&self.key, body)
            .ignore()
            .pexpire(&self.key, QUEUE_TTL_MS)
            .ignore()
            .query_async::<()>(&mut self.redis.clone())
            .await
            .map_err(|e| StoreError(format!("redis: send queue: {e}")))?;
        Ok(true)
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

    /// Takes a job's send over for `to` (see [`RedisStore::take_queued_send`]).
    pub async fn take_send(&self, job: &Job, to: &Owner, now_ms: i64) -> StoreResult<Option<TakenSend>> {
        self.store.take_queued_send(&job.thread, &job.client_id, &job.origin, to, now_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests_support::{another_instance, cluster};

    fn job(client_id: &str, origin: &str) -> Job {
        Job { property: "grand".into(), thread: "t1".into(), client_id: client_id.into(), origin: origin.into() }
    }

    /// Claims the send behind `job` for its origin (so that it can be queued).
    async fn claimed(q: &SendQueue, job: &Job) -> Owner {
        let owner = Owner { instance: job.origin.clone(), until_ms: crate::cluster::now_ms() + 30_000 };
        let record = crate::store::SendRecord {
            property: job.property.clone(),
            thread: job.thread.clone(),
            client_id: job.client_id.clone(),
            text: format!("text of {}", job.client_id),
            started: 100,
            sent: None,
            owner: Some(owner.clone()),
        };
        crate::store::Store::begin_send(&q.store, record, crate::cluster::now_ms()).await.unwrap();
        owner
    }

    #[tokio::test]
    async fn jobs_pushed_by_any_instance_are_taken_once_in_order() {
        let (redis, a) = cluster("sendq:").await;
        let b = another_instance(&redis, "sendq:").await;
        let (qa, qb) = (SendQueue::new(&a, "tok"), SendQueue::new(&b, "tok"));
        assert!(qa.take(10).await.unwrap().is_empty(), "an empty queue");
        for (q, j) in [(&qa, job("c1", "a")), (&qb, job("c2", "b")), (&qa, job("c3", "a"))] {
            let owner = claimed(q, &j).await;
            assert!(q.push(&j, &owner, None).await.unwrap());
        }
        assert_eq!(qb.take(2).await.unwrap(), vec![job("c1", "a"), job("c2", "b")]);
        assert_eq!(qa.take(10).await.unwrap(), vec![job("c3", "a")]);
        assert!(qb.take(10).await.unwrap().is_empty(), "each job once");
        // Only the send's owner queues it; another token's queue is another list.
        let j = job("c4", "a");
        let owner = claimed(&qa, &j).await;
        let not_owner = Owner { instance: "b".into(), ..owner.clone() };
        assert!(!qa.push(&j, &not_owner, None).await.unwrap());
        assert!(SendQueue::new(&a, "other").push(&j, &owner, None).await.unwrap());
        assert!(qa.take(10).await.unwrap().is_empty());
    }
}
