//! The relay between Mews threads and guests' browsers: which threads are live, what each has
//! said so far, and how new messages reach every open tab.
//!
//! * [`hub`] keeps, per thread, an ordered log of the messages seen, its high-water mark and a
//!   broadcast channel that each SSE stream subscribes to. A thread is *live* while at least one
//!   stream is subscribed.
//! * [`poller`] reads the live threads of one `AccessToken` from their marks, about once a
//!   second, inside the token's budget; in cluster mode only the holder of the token's lease
//!   polls, for the live threads of every instance.
//! * [`fanout`] (cluster mode) carries what one instance learns to every other's hub.

pub mod fanout;
pub mod hub;
pub mod poller;
