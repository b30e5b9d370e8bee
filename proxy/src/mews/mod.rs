//! Everything that talks to Mews: the typed Connector API [`client`], and the per-AccessToken
//! [`scheduler`] that keeps every call inside the rate budget, batches guest messages and retries
//! safely.

pub mod client;
#[cfg(test)]
pub mod in_process;
pub mod limiter;
pub mod scheduler;
