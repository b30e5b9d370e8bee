//! All HTTP of the widget: the routes of `lobby_protocol` (API v1) over `fetch`, and the
//! `EventSource` of the live stream. JSON goes through the browser's own `JSON` (no serde_json in
//! the wasm: it would cost ~16 KB brotli); the accessors below read the protocol's field names.
//!
//! Requests never carry cookies (`credentials: omit`); the session travels as
//! `Authorization: Bearer <session>`, and as `?session=` on the SSE stream.

use js_sys::{JSON, Object, Reflect};
use lobby_protocol::{Author, ChatMessage, PropertyInfo};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{EventSource, Headers, RequestCredentials, RequestInit, Response};

/// A failed call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status; 0 when the request never got an answer (offline, proxy down, CORS).
    pub status: u16,
    /// `ErrorBody.error.code`, or `network`.
    pub code: String,
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
    ApiError { status: 0, code: "network".into() }
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
    let author = match s(v, "author").as_str() {
        "guest" => Author::Guest,
        "hotel" => Author::Hotel,
        "system" => Author::System,
        _ => return None,
    };
    let id = opt(v, "id").filter(|i| !i.is_empty())?;
    Some(ChatMessage { id, client_id: opt(v, "client_id"), author, text: s(v, "text"), at: s(v, "at") })
}

/// Parses JSON text (an SSE `data:`).
pub fn parse(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

fn messages(v: &JsValue) -> Vec<ChatMessage> {
    let arr: js_sys::Array = field(v, "messages").dyn_into().unwrap_or_default();
    arr.iter().filter_map(|m| message(&m)).collect()
}

/// The proxy's origin, the property id and the session: what every call needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Api {
    pub proxy: String,
    pub property: String,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        session: Option<&str>,
        body: Option<Object>,
    ) -> Result<JsValue, ApiError> {
        let init = RequestInit::new();
        init.set_method(method);
        init.set_credentials(RequestCredentials::Omit);
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
            Err(ApiError { status: resp.status(), code: s(&field(&json, "error"), "code") })
        }
    }

    /// POSTs a JSON body (with the session when given): for steps that read their own answers
    /// (`components::booking`).
    pub async fn post_json(&self, path: &str, session: Option<&str>, body: Object) -> Result<JsValue, ApiError> {
        self.call("POST", path, session, Some(body)).await
    }

    fn property_path(&self) -> String {
        String::from("/v1/properties/") + &String::from(js_sys::encode_uri_component(&self.property))
    }

    /// `GET /v1/properties/{property}`.
    pub async fn property_info(&self) -> Result<PropertyInfo, ApiError> {
        let v = self.call("GET", &self.property_path(), None, None).await?;
        Ok(PropertyInfo {
            id: s(&v, "id"),
            name: s(&v, "name"),
            greeting: s(&v, "greeting"),
            locale: s(&v, "locale"),
            color: s(&v, "color"),
            open: Reflect::get(&v, &"open".into()).ok().and_then(|x| x.as_bool()).unwrap_or(true),
            away_message: s(&v, "away_message"),
            reply_minutes: Reflect::get(&v, &"reply_minutes".into()).ok().and_then(|x| x.as_f64()).unwrap_or(0.0)
                as u32,
        })
    }

    /// `POST /v1/properties/{property}/conversations`: returns the session and the first message.
    pub async fn start(&self, form: &StartForm) -> Result<(String, Option<ChatMessage>), ApiError> {
        let body = Object::new();
        set(&body, "key", &form.key.as_str().into());
        set(&body, "name", &form.name.as_str().into());
        set(&body, "topic", &form.topic.as_str().into());
        if !form.reference.is_empty() {
            let key = if form.reference.contains('@') { "email" } else { "reservation" };
            set(&body, key, &form.reference.as_str().into());
        }
        if !form.text.is_empty() {
            set(&body, "message", &new_message(&form.client_id, &form.text));
        }
        let path = self.property_path() + "/conversations";
        let v = self.call("POST", &path, None, Some(body)).await?;
        let session = opt(&v, "session")
            .filter(|s| !s.is_empty())
            .ok_or(ApiError { status: 200, code: "invalid_answer".into() })?;
        Ok((session, message(&field(&v, "message"))))
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
        let v = self.call("GET", &path, Some(session), None).await?;
        Ok((messages(&v), b(&v, "more"), b(&v, "resolved")))
    }

    /// `POST /v1/conversation/messages`.
    pub async fn send(&self, session: &str, client_id: &str, text: &str) -> Result<ChatMessage, ApiError> {
        let body: Object = new_message(client_id, text).unchecked_into();
        let v = self.call("POST", "/v1/conversation/messages", Some(session), Some(body)).await?;
        message(&v).ok_or(ApiError { status: 200, code: "invalid_answer".into() })
    }

    /// The live stream: `GET /v1/conversation/events?session=S[&last_event_id=ID]`.
    pub fn events(&self, session: &str, last_event_id: Option<&str>) -> Option<EventSource> {
        let enc = |x: &str| String::from(js_sys::encode_uri_component(x));
        let mut url = self.proxy.clone() + "/v1/conversation/events?session=" + &enc(session);
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
    if ms.is_finite() { format!("{}.{}", (ms / 1000.0) as i64, m.id) } else { m.id.clone() }
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

fn new_message(client_id: &str, text: &str) -> JsValue {
    let m = Object::new();
    set(&m, "client_id", &client_id.into());
    set(&m, "text", &text.into());
    m.into()
}
