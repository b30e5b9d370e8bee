//! The message list as pure functions: dedupe by id, confirm a guest message by its `client_id`,
//! status transitions, history merging, the outbox queue and the reconnect backoff.
//!
//! Invariants the functions keep: no two entries share an `id`; no two share a `client_id`;
//! messages the server has not confirmed (`id == None`) stay at the end, in the order typed.

use lobby_protocol::{Author, ChatMessage};

/// Delivery state of a guest message (`data-status` in the DOM).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Queued or in flight; sent automatically when the proxy is reachable.
    Sending,
    /// The proxy confirmed it (it has a server id).
    Sent,
    /// The proxy refused it; the guest may retry.
    Failed,
}

impl Status {
    /// The `data-status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }
}

/// One entry of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    /// Server id, once known.
    pub id: Option<String>,
    /// The widget's id for a guest message.
    pub client_id: Option<String>,
    pub author: Author,
    pub text: String,
    /// RFC 3339; for an unconfirmed message, when it was typed.
    pub at: String,
    pub status: Status,
}

impl Msg {
    /// A guest message typed now, not yet sent.
    pub fn pending(client_id: String, text: String, at: String) -> Msg {
        Msg { id: None, client_id: Some(client_id), author: Author::Guest, text, at, status: Status::Sending }
    }

    /// Stable key for the rendered list: the client id, else the server id.
    pub fn key(&self) -> &str {
        self.client_id.as_deref().or(self.id.as_deref()).unwrap_or_default()
    }

    fn from_server(m: ChatMessage) -> Msg {
        Msg { id: Some(m.id), client_id: m.client_id, author: m.author, text: m.text, at: m.at, status: Status::Sent }
    }
}

/// Position before the first unconfirmed message.
fn insertion_point(list: &[Msg]) -> usize {
    list.iter().position(|m| m.id.is_none()).unwrap_or(list.len())
}

/// Adds a server message (from SSE or a POST answer). Returns `true` when it is new to the list
/// (not a duplicate and not the confirmation of a message typed here).
pub fn merge(list: &mut Vec<Msg>, m: ChatMessage) -> bool {
    if list.iter().any(|x| x.id.as_deref() == Some(m.id.as_str())) {
        return false;
    }
    if let Some(cid) = m.client_id.as_deref()
        && let Some(i) = list.iter().position(|x| x.client_id.as_deref() == Some(cid))
    {
        let mut x = list.remove(i);
        x.id = Some(m.id);
        x.at = m.at;
        x.status = Status::Sent;
        let at = insertion_point(list);
        list.insert(at, x);
        return false;
    }
    let at = insertion_point(list);
    list.insert(at, Msg::from_server(m));
    true
}

/// The proxy answered the POST of `client_id` with `m`. If the SSE echo (without client id)
/// already added `m`, the local copy is dropped; otherwise the local copy becomes `m`.
pub fn confirm(list: &mut Vec<Msg>, client_id: &str, mut m: ChatMessage) {
    let echoed = list.iter().any(|x| x.id.as_deref() == Some(m.id.as_str()));
    if echoed {
        list.retain(|x| x.id.is_some() || x.client_id.as_deref() != Some(client_id));
        if let Some(x) = list.iter_mut().find(|x| x.id.as_deref() == Some(m.id.as_str())) {
            x.client_id = Some(client_id.to_owned());
        }
    } else {
        m.client_id = Some(client_id.to_owned());
        merge(list, m);
    }
}

/// Sets the status of the unconfirmed message `client_id`.
pub fn set_status(list: &mut [Msg], client_id: &str, status: Status) {
    for x in list.iter_mut() {
        if x.id.is_none() && x.client_id.as_deref() == Some(client_id) {
            x.status = status;
        }
    }
}

/// The next message to send: the oldest unconfirmed one in `Sending`.
pub fn next_pending(list: &[Msg]) -> Option<(String, String)> {
    list.iter()
        .find(|x| x.id.is_none() && x.status == Status::Sending)
        .and_then(|x| Some((x.client_id.clone()?, x.text.clone())))
}

/// The unconfirmed messages to persist (client id, text, typed at), in order.
pub fn outbox(list: &[Msg]) -> Vec<(String, String, String)> {
    list.iter()
        .filter(|x| x.id.is_none())
        .filter_map(|x| Some((x.client_id.clone()?, x.text.clone(), x.at.clone())))
        .collect()
}

/// A page of history (oldest first): it comes first, followed by what the list had that the page
/// does not contain (live messages newer than the page, and unconfirmed messages).
pub fn apply_history(list: &mut Vec<Msg>, page: Vec<ChatMessage>) {
    let mut out: Vec<Msg> = Vec::with_capacity(page.len() + list.len());
    for m in page {
        merge(&mut out, m);
    }
    for x in list.drain(..) {
        let dup = x.id.as_deref().is_some_and(|id| out.iter().any(|y| y.id.as_deref() == Some(id)));
        let confirmed = x.id.is_none()
            && x.client_id.as_deref().is_some_and(|c| out.iter().any(|y| y.client_id.as_deref() == Some(c)));
        if !dup && !confirmed {
            out.push(x);
        }
    }
    *list = out;
}

/// Older history (oldest first) goes in front of everything.
pub fn prepend_history(list: &mut Vec<Msg>, page: Vec<ChatMessage>) {
    let mut out: Vec<Msg> = Vec::with_capacity(page.len() + list.len());
    for m in page {
        if !list.iter().any(|x| x.id.as_deref() == Some(m.id.as_str())) {
            merge(&mut out, m);
        }
    }
    out.append(list);
    *list = out;
}

/// Delay before reconnect attempt `attempt` (0-based): 1 s doubling to 30 s, plus `jitter`
/// (0..1) of up to a third of it, so many widgets do not reconnect in step after a proxy restart.
pub fn backoff_ms(attempt: u32, jitter: f64) -> u32 {
    let base = 1000u32.saturating_mul(1 << attempt.min(5)).min(30_000);
    base + (f64::from(base) / 3.0 * jitter.clamp(0.0, 1.0)) as u32
}
