//! The cost matrix, one row: 100 live threads (each with an open stream) at 1 and 10 guest
//! messages/s, each measured over 15 s after 3 s at that rate. Zero 429s, every message in Mews
//! once, and the polling share per 30 s within `cost::POLLING_BAND` across the two rates: the
//! cost of keeping open widgets current does not grow with the message rate
//! (`lobby_e2e::cost`). The full matrix (10, 100, 1000 threads × 0.1, 1, 10) is `make bench`.

use std::time::Duration;

use lobby_e2e::cost::{self, Cost};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_cost_is_flat_in_the_message_rate() {
    cost::run(Cost {
        threads: vec![100],
        rates_per_100: vec![1.0, 10.0],
        warm_up: Duration::from_secs(3),
        window: Duration::from_secs(15),
    })
    .await;
}
