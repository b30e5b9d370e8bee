//! Background tasks that cannot die unnoticed.
//!
//! A panic in a spawned task (a poller, the batching task) kills only that task: the process
//! keeps answering `/healthz` while guests get 503s or no replies. [`spawn_supervised`] watches
//! the task; a panic is logged as an error and marks the shared [`Health`] degraded, which turns `/readyz` to 503 so the orchestrator
//! restarts the instance. A task that returns (a poller on shutdown) or is aborted on purpose is
//! not a failure.

use std::sync::{Arc, Mutex};

use tokio::task::AbortHandle;

/// The names of background tasks that failed; empty while healthy.
#[derive(Clone, Default)]
pub struct Health {
    failed: Arc<Mutex<Vec<String>>>,
}

impl Health {
    pub fn degraded(&self) -> bool {
        !self.failed.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// The tasks that failed, for `/readyz`.
    pub fn failed(&self) -> Vec<String> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn mark_failed(&self, task: &str) {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).push(task.to_owned());
    }
}

impl AsRef<Health> for Health {
    fn as_ref(&self) -> &Health {
        self
    }
}

impl AsRef<Health> for crate::state::AppState {
    fn as_ref(&self) -> &Health {
        self.health()
    }
}

/// Spawns `task` and watches it: a panic marks `health` degraded and is logged with `name`. Returns the handle to abort it on shutdown.
pub fn spawn_supervised<F>(name: &str, health: &impl AsRef<Health>, task: F) -> AbortHandle
where
    F: Future<Output = ()> + Send + 'static,
{
    let handle = tokio::spawn(task);
    let abort = handle.abort_handle();
    let (name, health) = (name.to_owned(), health.as_ref().clone());
    tokio::spawn(async move {
        match handle.await {
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                let panic = e.into_panic();
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                tracing::error!(task = %name, panic = %message, "background task panicked; /readyz now fails");
                health.mark_failed(&name);
            }
            Ok(()) => tracing::debug!(task = %name, "background task ended"),
        }
    });
    abort
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_panic_degrades_health_and_an_abort_does_not() {
        let health = Health::default();
        let quiet = spawn_supervised("quiet", &health, std::future::pending());
        quiet.abort();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!health.degraded(), "an abort is not a failure");
        spawn_supervised("poller grand-hotel", &health, async { panic!("boom") });
        for _ in 0..100 {
            if health.degraded() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(health.failed(), ["poller grand-hotel"]);
    }
}
