//! The widget ⇄ proxy API, version 1. One crate so the WASM widget and the axum proxy agree on
//! every field name; it depends on `serde` only (no `serde_json`), so the widget chooses how to
//! (de)serialise.
//!
//! Routes (all JSON, all under `/v1`; the README documents them for integrators):
//!
//! | Method | Path | Auth | Body → Answer |
//! |---|---|---|---|
//! | GET  | `/v1/properties/{property}` | – | → [`PropertyInfo`] |
//! | POST | `/v1/properties/{property}/conversations` | – | [`StartConversation`] → [`Started`] |
//! | GET  | `/v1/conversation` | session | → [`ConversationInfo`] |
//! | GET  | `/v1/conversation/messages?before=ID&limit=N` | session | → [`History`] |
//! | POST | `/v1/conversation/messages` | session | [`NewMessage`] → [`ChatMessage`] |
//! | GET  | `/v1/conversation/events?session=S` | session (query: `EventSource` cannot set headers) | SSE |
//! | POST | `/v1/properties/{property}/booking` | – | [`FindBooking`] → [`BookingAnswer`] with a session |
//! | POST | `/v1/conversation/booking` | session | [`FindBooking`] → [`BookingAnswer`] |
//!
//! The session credential travels as `Authorization: Bearer <session>` except on the SSE stream.
//! Errors always answer with [`ErrorBody`].
//!
//! SSE: every event has an `id:` (for `Last-Event-ID` replay) and one of the [`events`] names; its
//! `data:` is the JSON named there.

use serde::{Deserialize, Serialize};

/// Defines a wire type and, beside it, a module of its JSON field names (`keys::<type>::<field>`),
/// generated from the same field list. The widget reads and writes JSON through the browser's
/// `JSON` (no serde in the wasm) and must spell every field with these constants: renaming or
/// removing a field here makes the widget fail to compile where it used the old name. A field
/// must never get `#[serde(rename)]` (the constants are the Rust names; `keys_are_the_wire_names`
/// checks that for every type).
macro_rules! wire {
    ($(#[$sm:meta])* pub struct $name:ident => $keys:ident { $($(#[$fm:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$sm])*
        pub struct $name { $($(#[$fm])* pub $field: $ty,)* }

        #[doc = concat!("JSON field names of [`", stringify!($name), "`].")]
        #[allow(non_upper_case_globals)]
        pub mod $keys {
            $(#[doc = concat!("`", stringify!($field), "`")] pub const $field: &str = stringify!($field);)*
            /// Every field, in declaration order.
            pub const ALL: &[&str] = &[$(stringify!($field)),*];
        }
    };
}

/// The JSON field names of every wire type, one module per type (see the `wire!` macro).
pub mod keys {
    pub use super::{
        booking_answer, chat_message, conversation_info, error_body, error_detail, find_booking, history, new_message,
        property_info, resolved, start_conversation, started,
    };
}

/// Header carrying the session credential (`Bearer` scheme).
pub const AUTH_HEADER: &str = "authorization";
/// Query parameter carrying the session credential on the SSE stream.
pub const SESSION_QUERY: &str = "session";

/// Limits the proxy enforces; the widget mirrors them so a guest sees the limit before sending.
pub mod limits {
    /// Max characters of one message.
    pub const MAX_TEXT_CHARS: usize = 4000;
    /// Max characters of a guest name.
    pub const MAX_NAME_CHARS: usize = 80;
    /// Max characters of a topic.
    pub const MAX_TOPIC_CHARS: usize = 120;
    /// Max characters of email / reservation reference.
    pub const MAX_REF_CHARS: usize = 120;
    /// Max length of a client-generated message id.
    pub const MAX_CLIENT_ID_CHARS: usize = 64;
    /// Max page size of history.
    pub const MAX_HISTORY_PAGE: u32 = 100;
}

/// SSE event names.
pub mod events {
    /// `data:` is a [`super::ChatMessage`] (a staff reply, or the guest's own message from any tab).
    pub const MESSAGE: &str = "message";
    /// `data:` is [`super::Resolved`]: staff resolved the thread; the next message starts a new one.
    pub const RESOLVED: &str = "resolved";
    /// `data:` is `{}`: the proxy is shutting down; reconnect (with `Last-Event-ID`) shortly.
    pub const RECONNECT: &str = "reconnect";
}

wire! {
    /// What the widget shows before a conversation exists.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct PropertyInfo => property_info {
        pub id: String,
        /// The hotel's display name.
        pub name: String,
        /// Greeting shown above the start form.
        pub greeting: String,
        /// Default locale (BCP 47), used when the page does not choose one.
        pub locale: String,
        /// Accent colour, `#rrggbb`.
        pub color: String,
        /// Whether staff are within opening hours right now.
        pub open: bool,
        /// Shown when `open` is false.
        pub away_message: String,
        /// Typical reply time in minutes, shown to the guest.
        pub reply_minutes: u32,
        /// The hotel's phone number, shown when the chat cannot be reached (`""`: none).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub phone: String,
        /// The hotel's contact email, shown when the chat cannot be reached (`""`: none).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub email: String,
    }
}

wire! {
    /// Start a conversation: creates the Mews thread (`OriginalSender` = name, `Subject` = topic) and,
    /// when present, posts the first message.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct StartConversation => start_conversation {
        /// Generated by the widget once per conversation it starts and sent again on every retry,
        /// so a retry after a lost answer returns the same conversation instead of a second one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub key: Option<String>,
        pub name: String,
        pub topic: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub email: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reservation: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<NewMessage>,
    }
}

wire! {
    /// A guest message. `client_id` is generated by the widget once per message and reused on every
    /// retry, so the proxy adds it to Mews exactly once.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct NewMessage => new_message {
        pub client_id: String,
        pub text: String,
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    /// The guest (relayed through Mews as `Application`).
    Guest,
    /// Hotel staff (`Enterprise` in Mews).
    Hotel,
    /// A line from Lobby itself (e.g. "booking verified"); its `text` is empty and the widget
    /// shows its own translated line.
    System,
}

wire! {
    /// A message as the widget shows it.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct ChatMessage => chat_message {
        /// Mews message id; also the SSE event id that carried it.
        pub id: String,
        /// The widget's id for a guest message, when the proxy knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_id: Option<String>,
        pub author: Author,
        pub text: String,
        /// RFC 3339 UTC.
        pub at: String,
    }
}

wire! {
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct ConversationInfo => conversation_info {
        pub property: String,
        pub name: String,
        pub topic: String,
        pub resolved: bool,
    }
}

wire! {
    /// Answer to [`StartConversation`].
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct Started => started {
        /// The guest's credential for this one conversation. Store it; send it as a Bearer token.
        pub session: String,
        pub conversation: ConversationInfo,
        /// The first message, when one was sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<ChatMessage>,
    }
}

wire! {
    /// A page of history, oldest first within the page.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct History => history {
        pub messages: Vec<ChatMessage>,
        /// Whether older messages exist (ask again with `before` = the first id of this page).
        pub more: bool,
        pub resolved: bool,
    }
}

wire! {
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct Resolved => resolved {
        pub resolved: bool,
    }
}

/// "Find my booking": how the guest proves a stay.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum BookingBy {
    /// A confirmation number (the hotel's or the booking site's) + last name.
    Confirmation,
    /// A room number + last name, while staying.
    Room,
}

wire! {
    /// `POST …/booking`. Every failure is `404 not_found`, answered after the same time.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct FindBooking => find_booking {
        /// The widget's key for its attempts (like a start key); attempts are limited per key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub key: Option<String>,
        pub by: BookingBy,
        /// Confirmation or room number, as typed.
        pub number: String,
        pub last_name: String,
    }
}

wire! {
    /// A verified stay: all the browser learns of it.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct BookingAnswer => booking_answer {
        /// `linked`.
        pub status: String,
        /// The guest's first name, when the profile has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub first_name: Option<String>,
        /// Property-local dates, `YYYY-MM-DD`.
        pub arrival: String,
        pub departure: String,
        /// `before_arrival`, `in_house` or `checked_out`.
        pub stage: String,
        /// The guest's language from their profile (BCP 47, e.g. `fr-CA`), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub locale: Option<String>,
        /// Before a conversation: the session of the conversation now linked to the stay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub session: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub conversation: Option<ConversationInfo>,
        /// The conversation existed (the same booking was proved before): load its history.
        #[serde(default)]
        pub resumed: bool,
    }
}

wire! {
    /// Every error answer of the proxy.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct ErrorBody => error_body {
        pub error: ErrorDetail,
    }
}

wire! {
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
    pub struct ErrorDetail => error_detail {
        /// Stable machine code, e.g. `invalid_input`, `unauthorized`, `not_found`, `rate_limited`,
        /// `upstream_unavailable`, `conversation_resolved`, `payload_too_large`.
        pub code: String,
        /// Human-readable, safe to show.
        pub message: String,
        /// The offending field, for validation errors.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub field: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_is_lowercase_on_the_wire() {
        let m = ChatMessage {
            id: "m1".into(),
            client_id: None,
            author: Author::Hotel,
            text: "<b>hi</b>".into(),
            at: "2026-11-21T10:00:00Z".into(),
        };
        let s = serde_json::to_string(&m).unwrap();
        assert!(s.contains(r#""author":"hotel""#), "{s}");
        assert!(!s.contains("client_id"), "{s}");
    }

    fn wire_keys<T: Serialize>(v: &T) -> Vec<String> {
        let j = serde_json::to_value(v).unwrap();
        j.as_object().unwrap().keys().cloned().collect()
    }

    /// The constants the widget spells fields with are the names serde writes.
    #[test]
    fn keys_are_the_wire_names() {
        let msg = ChatMessage {
            id: "m1".into(),
            client_id: Some("c1".into()),
            author: Author::Guest,
            text: "hi".into(),
            at: "2026-11-21T10:00:00Z".into(),
        };
        let info = PropertyInfo {
            id: "p".into(),
            name: "n".into(),
            greeting: "g".into(),
            locale: "en".into(),
            color: "#000000".into(),
            open: true,
            away_message: "a".into(),
            reply_minutes: 5,
            phone: "+1".into(),
            email: "e@x".into(),
        };
        let start = StartConversation {
            key: Some("k".into()),
            name: "n".into(),
            topic: "t".into(),
            email: Some("e".into()),
            reservation: Some("r".into()),
            message: Some(NewMessage { client_id: "c".into(), text: "t".into() }),
        };
        let conv = ConversationInfo { property: "p".into(), name: "n".into(), topic: "t".into(), resolved: false };
        let started = Started { session: "s".into(), conversation: conv.clone(), message: Some(msg.clone()) };
        let history = History { messages: vec![], more: false, resolved: false };
        let detail = ErrorDetail { code: "c".into(), message: "m".into(), field: Some("f".into()) };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let all = |k: &[&str]| sorted(k.iter().map(|s| s.to_string()).collect());
        assert_eq!(sorted(wire_keys(&msg)), all(chat_message::ALL));
        assert_eq!(sorted(wire_keys(&info)), all(property_info::ALL));
        assert_eq!(sorted(wire_keys(&start)), all(start_conversation::ALL));
        assert_eq!(sorted(wire_keys(&conv)), all(conversation_info::ALL));
        assert_eq!(sorted(wire_keys(&started)), all(started::ALL));
        assert_eq!(sorted(wire_keys(&history)), all(history::ALL));
        assert_eq!(sorted(wire_keys(&Resolved { resolved: true })), all(resolved::ALL));
        assert_eq!(sorted(wire_keys(&ErrorBody { error: detail.clone() })), all(error_body::ALL));
        assert_eq!(sorted(wire_keys(&detail)), all(error_detail::ALL));
        assert_eq!(sorted(wire_keys(&NewMessage { client_id: "c".into(), text: "t".into() })), all(new_message::ALL));
        let find =
            FindBooking { key: Some("k".into()), by: BookingBy::Room, number: "1".into(), last_name: "l".into() };
        assert_eq!(sorted(wire_keys(&find)), all(find_booking::ALL));
        let answer = BookingAnswer {
            status: "linked".into(),
            first_name: Some("f".into()),
            arrival: "2026-12-01".into(),
            departure: "2026-12-03".into(),
            stage: "in_house".into(),
            locale: Some("de".into()),
            session: Some("s".into()),
            conversation: Some(conv.clone()),
            resumed: true,
        };
        assert_eq!(sorted(wire_keys(&answer)), all(booking_answer::ALL));
    }
}
