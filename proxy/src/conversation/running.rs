//! Work that outlives the request that asked for it: one task per key, joined by every request
//! with the same key while it runs (a guest's retry after a timeout or an aborted request). An
//! entry lives only while its task runs; what outlasts it is in the store.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::{sync::watch, time::Instant};

use super::busy;
use crate::error::Error;

type Outcome<T> = Option<Result<T, Error>>;
type Map<T> = Arc<Mutex<HashMap<(String, String), watch::Receiver<Outcome<T>>>>>;

pub struct Running<T> {
    map: Map<T>,
}

impl<T> Default for Running<T> {
    fn default() -> Self {
        Self { map: Arc::default() }
    }
}

impl<T: Clone + Send + Sync + 'static> Running<T> {
    /// How many tasks run now.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Joins the task running for `key`, or spawns `work` for it.
    pub fn join_or_spawn<F>(&self, key: (String, String), work: impl FnOnce() -> F) -> watch::Receiver<Outcome<T>>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = map.get(&key) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.clone(), rx.clone());
        drop(map);
        let (map, fut) = (self.map.clone(), work());
        tokio::spawn(async move {
            let outcome = fut.await;
            let _ = tx.send(Some(outcome));
            map.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        });
        rx
    }

    /// Waits for the outcome until `deadline`; then "busy, try again" (the task goes on).
    pub async fn outcome(mut rx: watch::Receiver<Outcome<T>>, deadline: Instant) -> Result<T, Error> {
        match tokio::time::timeout_at(deadline, rx.wait_for(Option::is_some)).await {
            Ok(Ok(v)) => v.clone().expect("waited for Some"),
            Ok(Err(_)) => Err(Error::Internal("task ended without an outcome".into())),
            Err(_) => Err(Error::Upstream(busy(std::time::Duration::from_secs(3)))),
        }
    }
}
