//! Staff replies reach the guest fast even though Mews webhooks lag minutes: 60 replies over
//! ~12 s across 20 conversations, p95 within 2 s (`lobby_e2e::latency`). `make bench` runs a
//! longer distribution.

use std::time::Duration;

use lobby_e2e::latency::{self, Latency};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_replies_reach_the_stream_within_two_seconds_p95_despite_webhook_lag() {
    latency::run(Latency { guests: 20, replies: 60, every: Duration::from_millis(200) }).await;
}
