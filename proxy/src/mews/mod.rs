//! Everything that talks to Mews: the typed Connector API [`client`], the sliding-window budget
//! [`limiter`], and the per-AccessToken [`upstream`] that keeps every call inside that budget,
//! batches guest messages and retries safely.

pub mod client;
#[cfg(test)]
pub mod in_process;
pub mod limiter;
pub mod upstream;
