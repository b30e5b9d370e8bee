//! Every integration and end-to-end test of `lobby-e2e`, compiled into one test binary: each
//! module is one use case, and one link of the whole dependency graph (proxy, simulator,
//! fantoccini) serves them all instead of one link per file.
//!
//! Run one file's tests with a filter: `cargo test -p lobby-e2e --test e2e widget_tabs::`.

mod booking_api;
mod cluster;
mod exactly_once;
mod guest_chat;
mod proxy_edge;
mod proxy_faults;
mod proxy_relay;
mod proxy_security;
mod proxy_serving;
mod widget_a11y;
mod widget_booking;
mod widget_host_page;
mod widget_loader;
mod widget_locales;
mod widget_mobile;
mod widget_never_stuck;
mod widget_on_top;
mod widget_resilience;
mod widget_screenshots;
mod widget_start;
mod widget_tabs;

/// Tests whose assertions measure time (reply latency, throughput against the Mews budget, the
/// loader's main-thread blocking). `make test` runs them after the others, one at a time
/// (`-- timed:: --test-threads=1`), so no other test shares the machine's two cores with them.
mod timed {
    mod proxy_cluster;
    mod proxy_cost;
    mod proxy_edge_idle;
    mod proxy_flood;
    mod proxy_latency;
    mod proxy_load;
    mod proxy_quiet_latency;
    mod proxy_restart;
    mod widget_budget;
}
