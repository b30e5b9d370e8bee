//! A proxy restart with 100 open streams while staff keep replying: every stream resumes from its
//! last event id, every reply arrives once (none missed, none doubled), and the reload costs Mews
//! at most a few calls per 1000 threads beyond the regular polls (`lobby_e2e::restart`).
//! `make bench` runs it with 500 streams.

use lobby_e2e::restart::{self, Restart};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_100_open_streams_resumes_each_once_for_a_few_mews_calls() {
    restart::run(Restart { guests: 100 }).await;
}
