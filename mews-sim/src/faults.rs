//! Fault injection: rules that make chosen Connector API requests or webhook deliveries misbehave,
//! so the proxy's retry, backoff and reconciliation paths can be tested on purpose.
//!
//! A rule targets an operation (`messages/add`, ..., `*` for all four, or `webhook`), optionally
//! one `AccessToken`, and fires either for the next N matching requests or for a random fraction
//! of them. Fractions draw from a generator seeded with [`crate::Config::seed`], so a given request
//! sequence misbehaves the same way every run. Rules are checked in the order they were added; the
//! first that fires wins.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use crate::{api::Operation, error::ApiError};

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// `429`, with `Retry-After: retry_after` when given, without the header otherwise.
    TooManyRequests {
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// `408 Request Timeout`.
    RequestTimeout,
    /// A `5xx` (default `500`).
    ServerError {
        #[serde(default = "default_server_status")]
        status: u16,
    },
    /// Wait this long, then serve the request normally.
    Latency { ms: u64 },
    /// Close the connection without any HTTP answer; nothing is stored.
    Reset,
    /// Process the request (store, fire webhooks), then close the connection without answering.
    CommitThenDrop,
    /// Process the request, then wait this long before answering (a window in which the caller
    /// can be killed between Mews's commit and its answer).
    CommitThenStall { ms: u64 },
    /// Webhook: never send this request (it is lost, as after exhausted retries).
    Drop,
    /// Webhook: send this request twice.
    Duplicate,
    /// Webhook: hold this request and send it after the next one for the same integration.
    Reorder,
    /// Webhook: wait this much longer before sending.
    Delay { ms: u64 },
}

fn default_server_status() -> u16 {
    500
}

impl FaultKind {
    fn is_webhook(&self) -> bool {
        matches!(self, Self::Drop | Self::Duplicate | Self::Reorder | Self::Delay { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::RequestTimeout => "request_timeout",
            Self::ServerError { .. } => "server_error",
            Self::Latency { .. } => "latency",
            Self::Reset => "reset",
            Self::CommitThenDrop => "commit_then_drop",
            Self::CommitThenStall { .. } => "commit_then_stall",
            Self::Drop => "drop",
            Self::Duplicate => "duplicate",
            Self::Reorder => "reorder",
            Self::Delay { .. } => "delay",
        }
    }
}

/// The operation name webhook rules use.
pub const WEBHOOK: &str = "webhook";

/// `POST /admin/faults` body.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `messageThreads/add`, `messageThreads/getAll`, `messages/add`, `messages/getAll`, `*` or
    /// `webhook`. A leading `/api/connector/v1/` is accepted.
    pub operation: String,
    /// Only requests with this `AccessToken` (API rules only).
    #[serde(default)]
    pub access_token: Option<String>,
    pub kind: FaultKind,
    /// Fire for the next N matching requests (default 1 unless `fraction` is given).
    #[serde(default)]
    pub next: Option<u32>,
    /// Fire for this share (0–1] of matching requests; combined with `next`, at most N times.
    #[serde(default)]
    pub fraction: Option<f64>,
}

/// A stored rule, as `GET /admin/faults` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Fault {
    pub id: u64,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    pub kind: FaultKind,
    /// Remaining firings; `null` = unlimited (a fraction without `next`).
    pub remaining: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// How often it has fired.
    pub fired: u32,
}

/// What the Connector API pipeline must do for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestFault {
    /// Answer with this error instead of serving the request.
    Respond(ApiError),
    /// Sleep, then serve normally.
    Latency(Duration),
    /// Drop the connection without serving.
    Reset,
    /// Serve, then drop the connection.
    CommitThenDrop,
    /// Serve, then wait before answering.
    CommitThenStall(Duration),
}

/// What the webhook dispatcher must do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFault {
    Drop,
    Duplicate,
    Reorder,
    Delay(Duration),
}

#[derive(Debug)]
pub struct Faults {
    rules: Vec<Fault>,
    next_id: u64,
    rng: StdRng,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Self { rules: Vec::new(), next_id: 1, rng: StdRng::seed_from_u64(seed ^ 0xFA17) }
    }

    /// Validates and stores a rule.
    pub fn add(&mut self, spec: FaultSpec) -> Result<Fault, ApiError> {
        let operation = spec
            .operation
            .strip_prefix(mews_wire::paths::PREFIX)
            .map(|s| s.trim_start_matches('/'))
            .unwrap_or(&spec.operation)
            .to_string();
        let is_webhook_rule = operation == WEBHOOK;
        if !is_webhook_rule && operation != "*" && Operation::from_name(&operation).is_none() {
            return Err(ApiError::bad(format!(
                "Invalid operation `{operation}`: expected messageThreads/add, messageThreads/getAll, \
                 messages/add, messages/getAll, * or webhook."
            )));
        }
        if is_webhook_rule != spec.kind.is_webhook() {
            return Err(ApiError::bad(format!(
                "Fault kind `{}` does not apply to operation `{operation}`: drop, duplicate, reorder \
                 and delay are for `webhook` only, the others for API operations only.",
                spec.kind.name()
            )));
        }
        if let FaultKind::ServerError { status } = spec.kind
            && !(500..=599).contains(&status)
        {
            return Err(ApiError::bad("Invalid kind.status: expected a 5xx status."));
        }
        if let Some(f) = spec.fraction
            && !(f > 0.0 && f <= 1.0)
        {
            return Err(ApiError::bad("Invalid fraction: expected a number in (0, 1]."));
        }
        if spec.next == Some(0) {
            return Err(ApiError::bad("Invalid next: expected at least 1."));
        }
        let remaining = match (spec.next, spec.fraction) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some(1),
        };
        let fault = Fault {
            id: self.next_id,
            operation,
            access_token: spec.access_token,
            kind: spec.kind,
            remaining,
            fraction: spec.fraction,
            fired: 0,
        };
        self.next_id += 1;
        self.rules.push(fault.clone());
        Ok(fault)
    }

    pub fn list(&self) -> &[Fault] {
        &self.rules
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Finds the first rule that fires for `operation` and consumes one firing.
    fn fire(&mut self, operation: &str, access_token: Option<&str>) -> Option<FaultKind> {
        for rule in &mut self.rules {
            if rule.remaining == Some(0) {
                continue;
            }
            let op_matches = rule.operation == operation || (rule.operation == "*" && operation != WEBHOOK);
            let token_matches = match &rule.access_token {
                Some(t) => Some(t.as_str()) == access_token,
                None => true,
            };
            if !op_matches || !token_matches {
                continue;
            }
            if let Some(f) = rule.fraction
                && self.rng.random::<f64>() >= f
            {
                continue;
            }
            if let Some(r) = rule.remaining.as_mut() {
                *r -= 1;
            }
            rule.fired += 1;
            return Some(rule.kind.clone());
        }
        None
    }

    /// The fault (if any) for a Connector API request.
    pub fn for_request(
        &mut self,
        operation: Operation,
        access_token: Option<&str>,
    ) -> Option<(RequestFault, &'static str)> {
        let kind = self.fire(operation.name(), access_token)?;
        let name = kind.name();
        let fault = match kind {
            FaultKind::TooManyRequests { retry_after } => {
                RequestFault::Respond(ApiError::TooManyRequests { retry_after })
            }
            FaultKind::RequestTimeout => RequestFault::Respond(ApiError::RequestTimeout),
            FaultKind::ServerError { status } => RequestFault::Respond(ApiError::Server {
                status,
                message: "An unexpected error occurred (injected fault).".into(),
            }),
            FaultKind::Latency { ms } => RequestFault::Latency(Duration::from_millis(ms)),
            FaultKind::Reset => RequestFault::Reset,
            FaultKind::CommitThenDrop => RequestFault::CommitThenDrop,
            FaultKind::CommitThenStall { ms } => RequestFault::CommitThenStall(Duration::from_millis(ms)),
            FaultKind::Drop | FaultKind::Duplicate | FaultKind::Reorder | FaultKind::Delay { .. } => {
                return None;
            }
        };
        Some((fault, name))
    }

    /// The fault (if any) for a webhook request about to be sent for the first time.
    pub fn for_webhook(&mut self) -> Option<WebhookFault> {
        match self.fire(WEBHOOK, None)? {
            FaultKind::Drop => Some(WebhookFault::Drop),
            FaultKind::Duplicate => Some(WebhookFault::Duplicate),
            FaultKind::Reorder => Some(WebhookFault::Reorder),
            FaultKind::Delay { ms } => Some(WebhookFault::Delay(Duration::from_millis(ms))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> FaultSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn next_n_fires_exactly_n_times_for_the_matching_operation_and_token() {
        let mut f = Faults::new(1);
        f.add(spec(r#"{"operation":"messages/add","access_token":"A","kind":{"type":"request_timeout"},"next":2}"#))
            .unwrap();
        assert!(f.for_request(Operation::AddMessages, Some("B")).is_none());
        assert!(f.for_request(Operation::GetMessages, Some("A")).is_none());
        assert!(f.for_request(Operation::AddMessages, Some("A")).is_some());
        assert!(f.for_request(Operation::AddMessages, Some("A")).is_some());
        assert!(f.for_request(Operation::AddMessages, Some("A")).is_none());
        assert_eq!(f.list()[0].remaining, Some(0));
        assert_eq!(f.list()[0].fired, 2);
    }

    #[test]
    fn fractions_are_reproducible_with_the_seed() {
        let run = |seed| {
            let mut f = Faults::new(seed);
            f.add(spec(r#"{"operation":"*","kind":{"type":"server_error","status":503},"fraction":0.3}"#)).unwrap();
            (0..200).map(|_| f.for_request(Operation::GetThreads, None).is_some()).collect::<Vec<_>>()
        };
        let a = run(5);
        assert_eq!(a, run(5));
        let hits = a.iter().filter(|h| **h).count();
        assert!((30..=90).contains(&hits), "{hits} of 200");
    }

    #[test]
    fn invalid_rules_are_refused() {
        let mut f = Faults::new(1);
        assert!(f.add(spec(r#"{"operation":"messages/nope","kind":{"type":"reset"}}"#)).is_err());
        assert!(f.add(spec(r#"{"operation":"webhook","kind":{"type":"reset"}}"#)).is_err());
        assert!(f.add(spec(r#"{"operation":"*","kind":{"type":"drop"}}"#)).is_err());
        assert!(f.add(spec(r#"{"operation":"*","kind":{"type":"server_error","status":404}}"#)).is_err());
        assert!(f.add(spec(r#"{"operation":"*","kind":{"type":"reset"},"fraction":1.5}"#)).is_err());
        assert!(f.add(spec(r#"{"operation":"/api/connector/v1/messages/add","kind":{"type":"reset"}}"#)).is_ok());
    }
}
