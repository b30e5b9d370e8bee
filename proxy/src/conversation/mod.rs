//! What a guest does, one module per use case, over the per-token upstream (`mews::upstream`),
//! the thread logs (`relay`) and the store (`store`). The HTTP routes parse and check requests
//! and call these; nothing here knows about HTTP.
//!
//! * [`start`] — a new conversation (a Mews thread), exactly once per start key.
//! * [`send`] — a guest message, exactly once per `client_id`, detached from the request.
//! * [`history`] — pages of a conversation, from the log where possible, single-flight loads.
//! * [`recovery`] — at start-up, resolves what a previous process left pending.
//! * [`forward`] — cluster mode: a send handed to the token's one sender, and that sender.

pub mod forward;
pub mod history;
pub mod recovery;
pub mod running;
pub mod send;
pub mod start;

use std::time::Duration;

use crate::mews::client::MewsError;

/// How long a guest's request waits for Mews work (budget, a load, a send) before it is told
/// "busy, try again in N s". The work itself goes on when it was a send or a start.
pub const GUEST_WAIT: Duration = Duration::from_secs(15);

/// The answer for a guest whose wait ran out.
pub fn busy(retry_after: Duration) -> MewsError {
    MewsError::Busy { retry_after: retry_after.max(Duration::from_secs(1)) }
}
