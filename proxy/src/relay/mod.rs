//! The relay between Mews threads and guests' browsers: which threads are live, what each has
//! said so far, and how new messages reach every open tab.
//!
//! * [`hub`] keeps, per thread, an ordered log of the messages seen and a broadcast channel that
//!   each SSE stream subscribes to. A thread is *live* while at least one stream is subscribed.
//! * [`poller`] fetches new messages of live threads from Mews at an adaptive cadence and on every
//!   `MessageAdded` webhook, inside the hotel's budget.
//! * [`outbox`] makes a guest message idempotent by the widget's `client_id`.

pub mod hub;
pub mod outbox;
pub mod poller;
