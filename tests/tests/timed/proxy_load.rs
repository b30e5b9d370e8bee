//! Load, short: 100 guests sending a combined 100 messages/s for 10 s (10 each, inside the
//! per-session limit's burst) through one hotel's Mews connection with the real limit. Zero 429s;
//! every message in Mews exactly once, in order per thread (`lobby_e2e::load`). The full run
//! (500 guests for 60 s) is `make bench`.

use lobby_e2e::load::{self, Load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_guests_at_100_messages_per_second_stay_inside_the_budget() {
    load::run(Load { guests: 100, rate_per_sec: 100, seconds: 10 }).await;
}
