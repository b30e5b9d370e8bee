//! Browser storage, namespaced `lobby:<property>:<key>`, written only after consent.
//!
//! Consent is given when the guest opens the chat or the host page calls `Lobby.consent()`;
//! before that every write is dropped (reads are harmless: the keys exist only if the guest
//! consented earlier). Storage that throws (private mode, sandboxed frames) behaves as empty.

use std::cell::{Cell, RefCell};

use wasm_bindgen::JsCast;
use web_sys::Storage;

thread_local! {
    static CONSENT: Cell<bool> = const { Cell::new(false) };
    static PREFIX: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Keys used (after the `lobby:<property>:` prefix).
pub mod keys {
    /// The guest's session credential (localStorage).
    pub const SESSION: &str = "session";
    /// Unsent messages, JSON `[[client_id, text, at], …]` (localStorage).
    pub const OUTBOX: &str = "outbox";
    /// `"1"` when the guest muted the sound (localStorage).
    pub const MUTED: &str = "muted";
    /// Ids of the last staff replies a tab played a sound for, space-separated (localStorage).
    pub const SOUND: &str = "sound";
    /// `"1"` while the panel is open, so it reopens on the next page (sessionStorage).
    pub const OPEN: &str = "open";
}

/// Sets the property the keys belong to.
pub fn init(property: &str) {
    PREFIX.with(|p| *p.borrow_mut() = String::from("lobby:") + property + ":");
}

/// Records consent; writes are allowed from now on.
pub fn consent() {
    CONSENT.with(|c| c.set(true));
}

/// Whether writes are allowed.
pub fn has_consent() -> bool {
    CONSENT.with(Cell::get)
}

fn key(k: &str) -> String {
    PREFIX.with(|p| p.borrow().clone()) + k
}

fn storage(session: bool) -> Option<Storage> {
    let w = web_sys::window()?;
    if session { w.session_storage().ok()? } else { w.local_storage().ok()? }
}

/// Reads `k` from localStorage (`session == false`) or sessionStorage.
pub fn get(k: &str, session: bool) -> Option<String> {
    storage(session)?.get_item(&key(k)).ok()?
}

/// Writes `k` (a no-op before consent); `None` removes it.
pub fn set(k: &str, v: Option<&str>, session: bool) {
    if !has_consent() {
        return;
    }
    if let Some(s) = storage(session) {
        let _ = match v {
            Some(v) => s.set_item(&key(k), v),
            None => s.remove_item(&key(k)),
        };
    }
}

/// Encodes the outbox as JSON.
pub fn encode_outbox(items: &[(String, String, String)]) -> String {
    let arr = js_sys::Array::new();
    for (c, t, a) in items {
        arr.push(&js_sys::Array::of3(&c.into(), &t.into(), &a.into()));
    }
    js_sys::JSON::stringify(&arr).map(String::from).unwrap_or_default()
}

/// Decodes [`encode_outbox`]; garbage gives an empty outbox.
pub fn decode_outbox(json: &str) -> Vec<(String, String, String)> {
    let Ok(v) = js_sys::JSON::parse(json) else {
        return Vec::new();
    };
    let Some(arr) = v.dyn_ref::<js_sys::Array>() else {
        return Vec::new();
    };
    arr.iter()
        .filter_map(|e| {
            let e = e.dyn_into::<js_sys::Array>().ok()?;
            Some((e.get(0).as_string()?, e.get(1).as_string()?, e.get(2).as_string().unwrap_or_default()))
        })
        .collect()
}
