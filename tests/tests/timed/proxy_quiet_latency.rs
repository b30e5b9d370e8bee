//! A reply to a quiet conversation reaches the open stream as fast as one to an active
//! conversation: 20 conversations, quiet for 5 s with their streams open, then one staff reply
//! each over 10 s, webhooks lagging minutes: p95 within 2 s (`lobby_e2e::latency::run_quiet`).
//!
//! The quiet conversation has had no message for 3 min or more; `make bench` waits that
//! long. 5 s exercises the same code path: the proxy has no slower cadence for idle threads (a
//! thread with an open stream is read once a second from its high-water mark however long it has
//! been quiet), so nothing changes between 5 s and 3 min of quiet.

use std::time::Duration;

use lobby_e2e::latency::{self, Quiet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_quiet_conversation_reaches_the_stream_within_two_seconds_p95() {
    latency::run_quiet(Quiet { guests: 20, quiet: Duration::from_secs(5), over: Duration::from_secs(10) }).await;
}
