//! All HTTP of the widget: the routes of `lobby_protocol` (API v1) over `fetch`, and the
//! `EventSource` of the live stream. JSON goes through the browser's own `JSON` (no serde_json in
//! the wasm: it would cost ~16 KB brotli); every field is spelled with the protocol's generated
//! constants (`lobby_protocol::keys`), so renaming a field there breaks this crate's build.
//!
//! Requests never carry cookies (`credentials: omit`); the session travels as
//! `Authorization: Bearer <session>`, and as `?session=` on the SSE stream. Every request has a
//! timeout ([`Api::call`]); a timed-out request is a network error (retried like one).

use js_sys::{JSON, Object, Reflect};
use lobby_protocol::keys::{chat_message as cm, error_body, error_detail, history, new_message, property_info as pi};
use lobby_protocol::keys::{find_booking as fb, start_conversation as sc, started};
use lobby_protocol::{Author, ChatMessage, PropertyInfo};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, EventSource, Headers, RequestCredentials, RequestInit, Response};

/// Timeout of the property's config and of a locale file: the panel shows the hotel's own contact
/// within 5 s of opening when the proxy cannot be reached.
pub const SHORT_MS: u32 = 3_500;
/// Timeout of every other request (the proxy answers a busy Mews with `503` after 15 s).
pub const LONG_MS: u32 = 20_000;

/// A failed call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status; 0 when the request never got an answer (offline, proxy down, CORS, timeout).
    pub status: u16,
    /// `ErrorBody.error.code`, or `network`.
    pub code: String,
    /// Seconds the proxy asked to wait (`Retry-After` of a `429` or `503`); 0 when it did not.
    pub retry_after: u32,
}

impl ApiError {
    /// Worth retrying later by itself: no answer, 5xx, or rate limited.
    pub fn transient(&self) -> bool {
        self.status == 0 || self.status >= 500 || self.status == 429 || self.status == 408
    }

    /// The session is unknown or expired.
    pub fn unauthorized(&self) -> bool {
        self.status == 401 || self.status == 404
    }
}

fn network() -> ApiError {
    ApiError { status: 0, code: "network".into(), retry_after: 0 }
}

fn invalid() -> ApiError {
    ApiError { status: 200, code: "invalid_answer".into(), retry_after: 0 }
}

/// A string field of a JSON object (`""` when absent).
pub fn s(v: &JsValue, key: &str) -> String {
    Reflect::get(v, &key.into()).ok().and_then(|x| x.as_string()).unwrap_or_default()
}

/// An optional string field.
pub fn opt(v: &JsValue, key: &str) -> Option<String> {
    Reflect::get(v, &key.into()).ok().and_then(|x| x.as_string())
}

/// A boolean field (`false` when absent).
pub fn b(v: &JsValue, key: &str) -> bool {
    Reflect::get(v, &key.into()).ok().and_then(|x| x.as_bool()).unwrap_or(false)
}

fn field(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn set(o: &Object, key: &str, v: &JsValue) {
    let _ = Reflect::set(o, &key.into(), v);
}

/// Reads a [`ChatMessage`]; `None` unless `id` and `author` are valid.
pub fn message(v: &JsValue) -> Option<ChatMessage> {
    let author = match s(v, cm::author).as_str() {
        "guest" => Author::Guest,
        "hotel" => Author::Hotel,
        "system" => Author::System,
        _ => return None,
    };
    let id = opt(v, cm::id).filter(|i| !i.is_empty())?;
    Some(ChatMessage { id, client_id: opt(v, cm::client_id), author, text: s(v, cm::text), at: s(v, cm::at) })
}

/// Parses JSON text (an SSE `data:`).
pub fn parse(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

fn messages(v: &JsValue) -> Vec<ChatMessage> {
    let arr: js_sys::Array = field(v, history::messages).dyn_into().unwrap_or_default();
    arr.iter().filter_map(|m| message(&m)).collect()
}

/// The proxy's origin, the property id and the session: what every call needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Api {
    pub proxy: String,
    pub property: String,
    /// The widget files' stem on the proxy (`/widget/<H>`): locale files are `<stem>.<code>.json`.
    pub assets: String,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        session: Option<&str>,
        body: Option<Object>,
        timeout_ms: u32,
    ) -> Result<JsValue, ApiError> {
        let init = RequestInit::new();
        init.set_method(method);
        init.set_credentials(RequestCredentials::Omit);
        init.set_signal(Some(&AbortSignal::timeout_with_u32(timeout_ms)));
        let headers = Headers::new().map_err(|_| network())?;
        if let Some(session) = session {
            let _ = headers.set(lobby_protocol::AUTH_HEADER, &(String::from("Bearer ") + session));
        }
        if let Some(body) = body {
            let _ = headers.set("content-type", "application/json");
            let text = JSON::stringify(&body).map_err(|_| network())?;
            init.set_body(&text);
        }
        init.set_headers(&headers);
        let url = self.proxy.clone() + path;
        let win = web_sys::window().ok_or_else(network)?;
        let resp: Response =
            JsFuture::from(win.fetch_with_str_and_init(&url, &init)).await.map_err(|_| network())?.unchecked_into();
        let json = match resp.json() {
            Ok(p) => JsFuture::from(p).await.unwrap_or(JsValue::NULL),
            Err(_) => JsValue::NULL,
        };
        if resp.ok() {
            Ok(json)
        } else {
            // Seconds only (the proxy never sends an HTTP date); at most 5 min, like the proxy's own.
            let retry_after = resp
                .headers()
                .get("retry-after")
                .ok()
                .flatten()
                .and_then(|v| v.trim().parse::<u32>().ok())
                .map_or(0, |v| v.min(300));
            let code = s(&field(&json, error_body::error), error_detail::code);
            Err(ApiError { status: resp.status(), code, retry_after })
        }
    }

    fn property_path(&self) -> String {
        String::from("/v1/properties/") + &String::from(js_sys::encode_uri_component(&self.property))
    }

    /// `GET /v1/properties/{property}`.
    pub async fn property_info(&self) -> Result<PropertyInfo, ApiError> {
        let v = self.call("GET", &self.property_path(), None, None, SHORT_MS).await?;
        Ok(PropertyInfo {
            id: s(&v, pi::id),
            name: s(&v, pi::name),
            greeting: s(&v, pi::greeting),
            locale: s(&v, pi::locale),
            color: s(&v, pi::color),
            open: field(&v, pi::open).as_bool().unwrap_or(true),
            away_message: s(&v, pi::away_message),
            reply_minutes: field(&v, pi::reply_minutes).as_f64().unwrap_or(0.0) as u32,
            phone: s(&v, pi::phone),
            email: s(&v, pi::email),
        })
    }

    /// "Find my booking": `POST /v1/properties/{property}/booking` before a conversation,
    /// `POST /v1/conversation/booking` in one. Returns the [`lobby_protocol::BookingAnswer`] as JSON.
    pub async fn find_booking(
        &self,
        session: Option<&str>,
        key: &str,
        room: bool,
        number: &str,
        last_name: &str,
    ) -> Result<JsValue, ApiError> {
        let body = Object::new();
        set(&body, fb::key, &key.into());
        set(&body, fb::by, &(if room { "room" } else { "confirmation" }).into());
        set(&body, fb::number, &number.into());
        set(&body, fb::last_name, &last_name.into());
        let path = match session {
            Some(_) => String::from("/v1/conversation/booking"),
            None => self.property_path() + "/booking",
        };
        self.call("POST", &path, session, Some(body), LONG_MS).await
    }

    /// A locale file (`<stem>.<code>.json`, flat key → string).
    pub async fn locale(&self, code: &str) -> Result<JsValue, ApiError> {
        if self.assets.is_empty() {
            return Err(network());
        }
        let path = self.assets.clone() + "." + code + ".json";
        self.call("GET", &path, None, None, SHORT_MS).await
    }

    /// `POST /v1/properties/{property}/conversations`: returns the session and the first message.
    pub async fn start(&self, form: &StartForm) -> Result<(String, Option<ChatMessage>), ApiError> {
        let body = Object::new();
        set(&body, sc::key, &form.key.as_str().into());
        set(&body, sc::name, &form.name.as_str().into());
        set(&body, sc::topic, &form.topic.as_str().into());
        if !form.reference.is_empty() {
            let key = if form.reference.contains('@') { sc::email } else { sc::reservation };
            set(&body, key, &form.reference.as_str().into());
        }
        if !form.text.is_empty() {
            set(&body, sc::message, &new_msg(&form.client_id, &form.text));
        }
        let path = self.property_path() + "/conversations";
        let v = self.call("POST", &path, None, Some(body), LONG_MS).await?;
        let session = opt(&v, started::session).filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        Ok((session, message(&field(&v, started::message))))
    }

    /// `GET /v1/conversation/messages`: the newest page, the page before a message
    /// (`Page::Before`), or what came after the last event seen (`Page::After`, an SSE id).
    /// Returns (messages oldest first, more, resolved).
    pub async fn history(&self, session: &str, page: Page<'_>) -> Result<(Vec<ChatMessage>, bool, bool), ApiError> {
        let mut path = String::from("/v1/conversation/messages?limit=50");
        let enc = |v: &str| String::from(js_sys::encode_uri_component(v));
        match page {
            Page::Newest => {}
            Page::Before(id) => path = path + "&before=" + &enc(id),
            Page::After(event) => path = path + "&after=" + &enc(event),
        }
        let v = self.call("GET", &path, Some(session), None, LONG_MS).await?;
        Ok((messages(&v), b(&v, history::more), b(&v, history::resolved)))
    }

    /// `POST /v1/conversation/messages`.
    pub async fn send(&self, session: &str, client_id: &str, text: &str) -> Result<ChatMessage, ApiError> {
        let body: Object = new_msg(client_id, text).unchecked_into();
        let v = self.call("POST", "/v1/conversation/messages", Some(session), Some(body), LONG_MS).await?;
        message(&v).ok_or_else(invalid)
    }

    /// The live stream: `GET /v1/conversation/events?session=S[&last_event_id=ID]`.
    pub fn events(&self, session: &str, last_event_id: Option<&str>) -> Option<EventSource> {
        let enc = |x: &str| String::from(js_sys::encode_uri_component(x));
        let mut url =
            self.proxy.clone() + "/v1/conversation/events?" + lobby_protocol::SESSION_QUERY + "=" + &enc(session);
        if let Some(id) = last_event_id {
            url = url + "&last_event_id=" + &enc(id);
        }
        EventSource::new(&url).ok()
    }
}

/// Which page of history to ask for.
pub enum Page<'a> {
    Newest,
    Before(&'a str),
    After(&'a str),
}

/// The SSE event id of a message (`"<CreatedUtc seconds>.<id>"`, as the proxy sends them), so a
/// stream resumed from a history page gives the proxy the time to catch up from.
pub fn event_id(m: &ChatMessage) -> String {
    let ms = js_sys::Date::parse(&m.at);
    if ms.is_finite() && ms >= 0.0 { crate::i18n::num((ms / 1000.0) as u32) + "." + &m.id } else { m.id.clone() }
}

/// What the start form collected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartForm {
    pub name: String,
    pub topic: String,
    /// Email (contains `@`) or reservation number; may be empty.
    pub reference: String,
    /// The start key: one per form, reused when the guest submits again after a failure, so a
    /// start whose answer was lost does not open a second conversation.
    pub key: String,
    pub client_id: String,
    pub text: String,
}

fn new_msg(client_id: &str, text: &str) -> JsValue {
    let m = Object::new();
    set(&m, new_message::client_id, &client_id.into());
    set(&m, new_message::text, &text.into());
    m.into()
}
