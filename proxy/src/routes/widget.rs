//! The widget's JSON API (v1): property info, starting a conversation, sending a message, reading
//! history. Input is parsed and validated here, at the edge, into clear `invalid_input` errors
//! naming the field; everything behind trusts it.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::HeaderMap,
};
use jiff::Timestamp;
use lobby_protocol::{
    ChatMessage, ConversationInfo, History, NewMessage, PropertyInfo, StartConversation, Started, limits,
};
use serde::Deserialize;

use super::{
    cors::check_origin,
    extract::{Path, Query, Session},
};
use crate::{
    client_ip::ClientAddr,
    conversation::{self, GUEST_WAIT, history::load_newest},
    error::{Error, Result},
    session::Claims,
    state::{AppState, Property},
};

fn property<'a>(state: &'a AppState, id: &str) -> Result<&'a std::sync::Arc<Property>> {
    state.property(id).ok_or(Error::NotFound)
}

/// Trims and checks a required or optional text field.
fn text_field(field: &'static str, value: &str, max: usize, required: bool) -> Result<Option<String>> {
    let v = value.trim();
    if v.is_empty() {
        return if required { Err(Error::invalid(field, format!("{field} is required"))) } else { Ok(None) };
    }
    if v.chars().count() > max {
        return Err(Error::invalid(field, format!("{field} is longer than {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(Error::invalid(field, format!("{field} contains control characters")));
    }
    Ok(Some(v.to_owned()))
}

/// Bidirectional controls (embeddings, overrides, isolates, marks) that can make a name or topic
/// read differently in the staff inbox (`Ann\u{202E}gnp.exe`).
const BIDI_CONTROLS: [char; 12] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    '\u{200E}', '\u{200F}', '\u{061C}',
];

fn single_line(field: &'static str, value: &str, max: usize, required: bool) -> Result<Option<String>> {
    let v = text_field(field, value, max, required)?;
    if v.as_deref().is_some_and(|v| v.contains(['\n', '\r', '\t'])) {
        return Err(Error::invalid(field, format!("{field} must be a single line")));
    }
    if v.as_deref().is_some_and(|v| v.contains(BIDI_CONTROLS)) {
        return Err(Error::invalid(field, format!("{field} contains text-direction control characters")));
    }
    Ok(v)
}

/// A validated guest message.
struct GuestMessage {
    client_id: String,
    text: String,
}

fn parse_message(m: &NewMessage) -> Result<GuestMessage> {
    let id = m.client_id.trim();
    if id.is_empty()
        || id.len() > limits::MAX_CLIENT_ID_CHARS
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid("client_id", "client_id must be 1–64 letters, digits, '-' or '_'"));
    }
    let text = text_field("text", &m.text, limits::MAX_TEXT_CHARS, true)?.expect("required");
    Ok(GuestMessage { client_id: id.to_owned(), text })
}

pub async fn property_info(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PropertyInfo>> {
    let p = property(&state, &id)?;
    check_origin(&headers, &p.config.allowed_origins)?;
    let c = &p.config;
    Ok(Json(PropertyInfo {
        id: c.id.clone(),
        name: c.name.clone(),
        greeting: c.greeting.clone(),
        locale: c.locale.clone(),
        color: c.color.clone(),
        open: c.hours.is_open(Timestamp::now()),
        away_message: c.away_message.clone(),
        reply_minutes: c.reply_minutes,
    }))
}

pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    body: std::result::Result<Json<StartConversation>, JsonRejection>,
) -> Result<Json<Started>> {
    let p = property(&state, &id)?;
    check_origin(&headers, &p.config.allowed_origins)?;
    let Json(req) = body?;
    let name = single_line("name", &req.name, limits::MAX_NAME_CHARS, true)?.expect("required");
    let topic = single_line("topic", &req.topic, limits::MAX_TOPIC_CHARS, false)?;
    let email = single_line("email", req.email.as_deref().unwrap_or(""), limits::MAX_REF_CHARS, false)?;
    if let Some(e) = &email {
        let ok = e.split_once('@').is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !d.ends_with('.'));
        if !ok || e.contains(' ') {
            return Err(Error::invalid("email", "email does not look like an address"));
        }
    }
    let reservation =
        single_line("reservation", req.reservation.as_deref().unwrap_or(""), limits::MAX_REF_CHARS, false)?;
    let first = req.message.as_ref().map(parse_message).transpose()?;
    state.guard().admit_start(&id, client).await?;

    // Staff see the guest's contact details in the inbox list, where they decide what to open.
    let topic_text = topic.unwrap_or_else(|| "Website chat".to_owned());
    let mut subject = topic_text.clone();
    if let Some(e) = &email {
        subject.push_str(&format!(" · {e}"));
    }
    if let Some(r) = &reservation {
        subject.push_str(&format!(" · Reservation {r}"));
    }
    let key = req.key.as_deref().map(parse_key).transpose()?;
    let opened =
        conversation::start::start(&state, p, conversation::start::Request { key, name, topic: topic_text, subject })
            .await?;
    let started = opened.record;
    let thread_id = started.thread.clone().expect("a started conversation has a thread");
    let claims = Claims {
        p: id.clone(),
        t: thread_id.clone(),
        n: started.name.clone(),
        s: started.topic.clone(),
        iat: Timestamp::now().as_second(),
    };
    let session = state.sessions().sign(&claims);
    let slot = state.hub().thread(&id, &thread_id);
    if opened.new && !slot.resolved_known() {
        slot.mark_new(); // a new thread has no history to load
    }
    let message = match first {
        Some(m) => match conversation::send::send(&state, p, slot, &m.client_id, &m.text).await {
            Ok(chat) => Some(chat),
            Err(e) => {
                // The thread exists; the widget keeps the message and sends it again with the
                // same client_id through POST /v1/conversation/messages.
                tracing::warn!(error = %e, "first message not delivered yet");
                None
            }
        },
        None => None,
    };
    Ok(Json(Started {
        session,
        conversation: ConversationInfo { property: id, name: started.name, topic: started.topic, resolved: false },
        message,
    }))
}

/// The widget's start key: like a client id.
fn parse_key(key: &str) -> Result<String> {
    let k = key.trim();
    if k.is_empty()
        || k.len() > limits::MAX_CLIENT_ID_CHARS
        || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid("key", "key must be 16–64 letters, digits, '-' or '_'"));
    }
    Ok(k.to_owned())
}

pub async fn conversation(
    State(state): State<AppState>,
    Session(claims): Session,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
) -> Result<Json<ConversationInfo>> {
    let p = property(&state, &claims.p)?;
    check_origin(&headers, &p.config.allowed_origins)?;
    state.guard().admit_read(&claims.t, client).await?;
    let thread = state.hub().thread(&claims.p, &claims.t);
    load_newest(p, &thread, tokio::time::Instant::now() + GUEST_WAIT).await?;
    Ok(Json(ConversationInfo { property: claims.p, name: claims.n, topic: claims.s, resolved: thread.resolved() }))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    before: Option<String>,
    /// The last event the widget has (its SSE id): only what came after it.
    after: Option<String>,
    limit: Option<u32>,
}

pub async fn history(
    State(state): State<AppState>,
    Session(claims): Session,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<History>> {
    let p = property(&state, &claims.p)?;
    check_origin(&headers, &p.config.allowed_origins)?;
    state.guard().admit_read(&claims.t, client).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, limits::MAX_HISTORY_PAGE);
    for (field, v) in [("before", &q.before), ("after", &q.after)] {
        if v.as_ref().is_some_and(|v| v.is_empty() || v.len() > 120) {
            return Err(Error::invalid(field, format!("{field} must be a message id")));
        }
    }
    let thread = state.hub().thread(&claims.p, &claims.t);
    let page = conversation::history::page(&state, p, &thread, q.before.as_deref(), q.after.as_deref(), limit).await?;
    Ok(Json(page))
}

pub async fn send(
    State(state): State<AppState>,
    Session(claims): Session,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    body: std::result::Result<Json<NewMessage>, JsonRejection>,
) -> Result<Json<ChatMessage>> {
    let p = property(&state, &claims.p)?;
    check_origin(&headers, &p.config.allowed_origins)?;
    let Json(req) = body?;
    let m = parse_message(&req)?;
    state.guard().admit_write(&claims.t, client).await?;
    let thread = state.hub().thread(&claims.p, &claims.t);
    if !thread.is_current() {
        load_newest(p, &thread, tokio::time::Instant::now() + GUEST_WAIT).await?;
    }
    if thread.resolved() {
        return Err(Error::ConversationResolved);
    }
    let chat = conversation::send::send(&state, p, thread, &m.client_id, &m.text).await?;
    Ok(Json(chat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_validation_names_the_field() {
        let bad_id = NewMessage { client_id: "a b".into(), text: "hi".into() };
        assert!(matches!(parse_message(&bad_id), Err(Error::InvalidInput { field: Some("client_id"), .. })));
        let empty = NewMessage { client_id: "c1".into(), text: "  \n ".into() };
        assert!(matches!(parse_message(&empty), Err(Error::InvalidInput { field: Some("text"), .. })));
        let long = NewMessage { client_id: "c1".into(), text: "x".repeat(limits::MAX_TEXT_CHARS + 1) };
        assert!(matches!(parse_message(&long), Err(Error::InvalidInput { field: Some("text"), .. })));
        let ok = NewMessage { client_id: "c1".into(), text: "  <b>hello</b>\nthere ".into() };
        assert_eq!(parse_message(&ok).unwrap().text, "<b>hello</b>\nthere");
    }

    #[test]
    fn names_are_single_lines() {
        assert!(single_line("name", "Jane\nDoe", 80, true).is_err());
        assert_eq!(single_line("name", " Jane ", 80, true).unwrap().as_deref(), Some("Jane"));
        assert_eq!(single_line("topic", "", 80, false).unwrap(), None);
    }

    #[test]
    fn names_and_topics_reject_bidi_controls() {
        for c in BIDI_CONTROLS {
            let name = format!("Ann{c}gnp.exe");
            assert!(
                matches!(single_line("name", &name, 80, true), Err(Error::InvalidInput { field: Some("name"), .. })),
                "U+{:04X}",
                c as u32
            );
        }
        assert!(matches!(
            single_line("topic", "a\u{2067}b", 80, false),
            Err(Error::InvalidInput { field: Some("topic"), .. })
        ));
        assert_eq!(
            single_line("name", "مريم", 80, true).unwrap().as_deref(),
            Some("مريم"),
            "right-to-left text is fine"
        );
    }
}
