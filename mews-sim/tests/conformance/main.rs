//! The mews-sim conformance suite: one test per documented behaviour, each against a simulator
//! served on port 0 and driven with reqwest. Spec JSON examples live in `tests/fixtures/`.

mod admin;
mod binary;
mod common;
mod console;
mod faults;
mod guests;
mod operations;
mod pagination;
mod rate_limit;
mod transport;
mod webhooks;
