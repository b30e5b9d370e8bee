//! [`AppState`]: the one cloneable handle every handler, the webhook dispatcher and the console
//! share. It owns the directory, the store, the rate limiter, the fault rules, the request log and
//! the webhook queue, plus the settings the admin API may change at run time.
//!
//! Writes that must stay consistent with webhooks (a message stored ⇒ its `MessageAdded` queued)
//! are methods here, so the Connector API, the admin API and the console cannot diverge.

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use mews_wire::{Message, SenderKind};
use serde::{Deserialize, Serialize};

use crate::{
    config::{Config, WebhookLag, parse_rate_limit, retry_delay_for},
    directory::{Directory, short_hash},
    faults::Faults,
    guests::Guests,
    rate_limit::RateLimiter,
    request_id::RequestIds,
    request_log::RequestLog,
    store::{Store, now_utc},
    webhooks::Webhooks,
};

/// Locks a mutex, recovering from poisoning (a panicked holder cannot leave our data half-written
/// in a way that matters for a simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Settings the admin API can change while running (`GET`/`PUT /admin/config`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    pub rate_limit_requests: u32,
    #[serde(serialize_with = "ser_secs")]
    pub rate_limit_window: Duration,
    pub webhook_lag: WebhookLag,
    pub webhook_url: Option<String>,
    pub webhook_max_attempts: u32,
    #[serde(serialize_with = "ser_opt_secs")]
    pub webhook_retry_delay: Option<Duration>,
    pub webhook_batch_cap: usize,
    #[serde(serialize_with = "ser_secs")]
    pub webhook_timeout: Duration,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn ser_opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl Settings {
    fn from_config(c: &Config) -> Self {
        Self {
            rate_limit_requests: c.rate_limit_requests,
            rate_limit_window: c.rate_limit_window,
            webhook_lag: c.webhook_lag,
            webhook_url: c.webhook_url.clone(),
            webhook_max_attempts: c.webhook_max_attempts,
            webhook_retry_delay: c.webhook_retry_delay,
            webhook_batch_cap: c.webhook_batch_cap,
            webhook_timeout: c.webhook_timeout,
        }
    }

    pub fn retry_delay(&self) -> Duration {
        retry_delay_for(self.webhook_retry_delay, self.webhook_lag)
    }
}

/// `PUT /admin/config` body: every field optional; `webhook_url: null` removes the global URL.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// `"N/SECS"`.
    pub rate_limit: Option<String>,
    pub rate_limit_requests: Option<u32>,
    pub rate_limit_window_secs: Option<f64>,
    pub webhook_lag: Option<WebhookLag>,
    #[serde(default, deserialize_with = "double_option")]
    pub webhook_url: Option<Option<String>>,
    pub webhook_max_attempts: Option<u32>,
    #[serde(default, deserialize_with = "double_option")]
    pub webhook_retry_delay_secs: Option<Option<f64>>,
    pub webhook_batch_cap: Option<usize>,
    pub webhook_timeout_secs: Option<f64>,
}

fn double_option<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn positive_secs(name: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{name} must be a positive number of seconds"))
    }
}

impl SettingsPatch {
    fn apply(self, s: &mut Settings) -> Result<(), String> {
        let mut next = s.clone();
        if let Some(v) = self.rate_limit {
            (next.rate_limit_requests, next.rate_limit_window) = parse_rate_limit(&v).map_err(|e| e.to_string())?;
        }
        if let Some(v) = self.rate_limit_requests {
            if v == 0 {
                return Err("rate_limit_requests must be at least 1".into());
            }
            next.rate_limit_requests = v;
        }
        if let Some(v) = self.rate_limit_window_secs {
            next.rate_limit_window = positive_secs("rate_limit_window_secs", v)?;
        }
        if let Some(v) = self.webhook_lag {
            next.webhook_lag = v;
        }
        if let Some(v) = self.webhook_url {
            next.webhook_url = v;
        }
        if let Some(v) = self.webhook_max_attempts {
            if v == 0 {
                return Err("webhook_max_attempts must be at least 1".into());
            }
            next.webhook_max_attempts = v;
        }
        if let Some(v) = self.webhook_retry_delay_secs {
            next.webhook_retry_delay = v.map(|v| positive_secs("webhook_retry_delay_secs", v)).transpose()?;
        }
        if let Some(v) = self.webhook_batch_cap {
            if v == 0 {
                return Err("webhook_batch_cap must be at least 1".into());
            }
            next.webhook_batch_cap = v;
        }
        if let Some(v) = self.webhook_timeout_secs {
            next.webhook_timeout = positive_secs("webhook_timeout_secs", v)?;
        }
        *s = next;
        Ok(())
    }
}

/// The shared state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Config,
    pub settings: Mutex<Settings>,
    pub directory: Directory,
    pub store: Mutex<Store>,
    pub request_ids: RequestIds,
    pub rate_limiter: Mutex<RateLimiter>,
    pub faults: Mutex<Faults>,
    pub request_log: Mutex<RequestLog>,
    pub webhooks: Webhooks,
    /// Rooms, customers and reservations (`crate::guests`).
    pub guests: Mutex<Guests>,
}

impl AppState {
    pub fn new(config: Config) -> Self {
        let inner = Inner {
            settings: Mutex::new(Settings::from_config(&config)),
            directory: Directory::new(&config),
            store: Mutex::new(Store::new(config.seed)),
            request_ids: RequestIds::new(config.seed),
            rate_limiter: Mutex::new(RateLimiter::default()),
            faults: Mutex::new(Faults::new(config.seed)),
            request_log: Mutex::new(RequestLog::default()),
            webhooks: Webhooks::new(config.seed),
            guests: Mutex::new(Guests::seeded(jiff::Timestamp::now())),
            config,
        };
        Self { inner: Arc::new(inner) }
    }

    /// The configuration the simulator was started with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The current run-time settings.
    pub fn settings(&self) -> Settings {
        lock(&self.inner.settings).clone()
    }

    /// Applies a partial settings change; all-or-nothing.
    pub fn update_settings(&self, patch: SettingsPatch) -> Result<Settings, String> {
        let mut s = lock(&self.inner.settings);
        patch.apply(&mut s)?;
        Ok(s.clone())
    }

    pub(crate) fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    /// The guest side: rooms, customers, reservations.
    pub(crate) fn guests(&self) -> MutexGuard<'_, Guests> {
        lock(&self.inner.guests)
    }

    /// Seeds the demo stays again around `now` (default: the current time): a test pins the clock
    /// this way, and every check-in or cancellation made since is undone.
    pub fn reseed_guests(&self, now: Option<jiff::Timestamp>) {
        *self.guests() = Guests::seeded(now.unwrap_or_else(jiff::Timestamp::now));
    }

    /// How logs show an access token: its configured name, or a short hash of an unknown one.
    pub fn token_label(&self, token: &str) -> String {
        self.directory().token_name(token).map_or_else(|| short_hash(token), str::to_owned)
    }

    /// Stores a message and queues its `MessageAdded` webhook. `None` for an unknown thread.
    pub fn post_message(&self, thread_id: &str, text: &str, sender: SenderKind) -> Option<Message> {
        let (message, client, enterprise_id) = {
            let mut store = self.store();
            let message = store.add_message(thread_id, text, sender, now_utc())?;
            let thread = store.thread(thread_id)?;
            (message, thread.client, thread.enterprise_id.clone())
        };
        self.queue_message_added(client, &enterprise_id, &message.id);
        Some(message.to_wire())
    }

    pub(crate) fn queue_message_added(&self, client: usize, enterprise_id: &str, message_id: &str) {
        let settings = self.settings();
        let integration_id = self.directory().integration_id(client, enterprise_id);
        self.inner.webhooks.enqueue(
            client,
            enterprise_id,
            &integration_id,
            message_id,
            settings.webhook_lag,
            settings.webhook_batch_cap,
        );
    }

    /// `POST /admin/reset`: clears threads, messages, faults, logs, rate windows and the webhook
    /// queue. Configuration and settings stay.
    pub fn reset(&self) {
        self.store().clear();
        lock(&self.inner.faults).clear();
        lock(&self.inner.request_log).clear();
        lock(&self.inner.rate_limiter).clear();
        self.inner.webhooks.clear();
        let now = self.guests().now;
        self.reseed_guests(now);
    }
}
