//! The Mews Connector API customer-messaging wire format, exactly as `shared/spec/mews-messaging.md`
//! gives it: PascalCase names, body-token auth, `Limitation` pagination, time intervals, the
//! `{Discriminator, Value}` sender and the General Webhook envelope.
//!
//! Both sides use these types — the proxy's Mews client serialises requests and parses responses,
//! the simulator parses requests and serialises responses — so the two cannot drift apart silently.
//! Requests are typed for the *happy* shape; the simulator validates raw JSON before it trusts them.

pub mod guests;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The four messaging paths, spelled exactly as Mews compares them (case-sensitive, no trailing slash).
pub mod paths {
    pub const PREFIX: &str = "/api/connector/v1";
    pub const MESSAGE_THREADS_ADD: &str = "/api/connector/v1/messageThreads/add";
    pub const MESSAGE_THREADS_GET_ALL: &str = "/api/connector/v1/messageThreads/getAll";
    pub const MESSAGES_ADD: &str = "/api/connector/v1/messages/add";
    pub const MESSAGES_GET_ALL: &str = "/api/connector/v1/messages/getAll";
}

/// Documented caps (spec §1.8, §3.5).
pub mod limits {
    /// Max items in any array parameter (`Messages`, `MessageThreadIds`, `EnterpriseIds`).
    pub const MAX_ARRAY: usize = 1000;
    /// `Limitation.Count` range.
    pub const MIN_COUNT: u32 = 1;
    pub const MAX_COUNT: u32 = 1000;
    /// The published rate limit: requests per `AccessToken` per sliding window.
    pub const RATE_LIMIT_REQUESTS: u32 = 200;
    pub const RATE_LIMIT_WINDOW_SECS: u64 = 30;
}

/// Serialises a timestamp the way Mews does: `YYYY-MM-DDThh:mm:ssZ` (whole seconds, UTC).
pub fn format_utc(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `Timestamp` fields in Mews format. Parsing accepts any RFC 3339 instant.
pub mod utc {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_utc(*ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The body fields every operation carries (spec §1.2).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Auth {
    pub client_token: String,
    pub access_token: String,
    pub client: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culture_code: Option<String>,
}

/// Cursor pagination (spec §1.8). `Cursor` is the id of the item just *newer* than the wanted page.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Limitation {
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A time-interval filter (spec §1.4): half-open `StartUtc <= t < EndUtc`, or the exact instant
/// when both ends are equal.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TimeInterval {
    #[serde(with = "utc")]
    pub start_utc: Timestamp,
    #[serde(with = "utc")]
    pub end_utc: Timestamp,
}

impl TimeInterval {
    /// Whether `t` falls inside the filter, by the Jan 2026 rule.
    pub fn contains(&self, t: Timestamp) -> bool {
        if self.start_utc == self.end_utc { t == self.start_utc } else { self.start_utc <= t && t < self.end_utc }
    }
}

/// `POST messageThreads/add`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddThreadRequest {
    #[serde(flatten)]
    pub auth: Auth,
    pub original_sender: String,
    pub subject: String,
}

/// `POST messageThreads/getAll`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetThreadsRequest {
    #[serde(flatten)]
    pub auth: Auth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_utc: Option<TimeInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_utc: Option<TimeInterval>,
    pub limitation: Limitation,
}

/// A message thread (spec §3.5). `IsResolved` defaults to `false` when absent (the official example
/// omits it); the simulator always emits it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct MessageThread {
    pub id: String,
    pub original_sender: String,
    pub subject: String,
    #[serde(with = "utc")]
    pub created_utc: Timestamp,
    #[serde(with = "utc")]
    pub updated_utc: Timestamp,
    #[serde(default)]
    pub is_resolved: bool,
}

/// Response of both thread operations; `Cursor` only on `getAll`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThreadsResponse {
    pub message_threads: Vec<MessageThread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Option<String>>,
}

/// One item of `messages/add`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct MessageParameters {
    pub message_thread_id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

/// `POST messages/add`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddMessagesRequest {
    #[serde(flatten)]
    pub auth: Auth,
    pub messages: Vec<MessageParameters>,
}

/// Who wrote a message: Mews knows only the property's staff (`Enterprise`) and the integration
/// (`Application`) — a guest's text relayed by us comes back as `Application`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum SenderKind {
    Enterprise,
    Application,
}

/// `Sender` coproduct: `{ "Discriminator": "Enterprise", "Value": null }`. Also accepts the bare
/// string form an older generated SDK used (spec §3.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sender {
    pub discriminator: SenderKind,
}

impl Serialize for Sender {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Sender", 2)?;
        st.serialize_field("Discriminator", &self.discriminator)?;
        st.serialize_field("Value", &Option::<()>::None)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Sender {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Object {
                #[serde(rename = "Discriminator")]
                discriminator: SenderKind,
            },
            Bare(SenderKind),
        }
        Ok(match Form::deserialize(d)? {
            Form::Object { discriminator } | Form::Bare(discriminator) => Sender { discriminator },
        })
    }
}

/// A message (spec §3.5).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    pub id: String,
    pub message_thread_id: String,
    pub text: String,
    pub sender: Sender,
    #[serde(with = "utc")]
    pub created_utc: Timestamp,
}

/// One item of the `messages/add` answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AddedMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    pub message: Message,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddMessagesResponse {
    pub messages: Vec<AddedMessage>,
}

/// `POST messages/getAll`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMessagesRequest {
    #[serde(flatten)]
    pub auth: Auth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_ids: Option<Vec<String>>,
    pub message_thread_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_utc: Option<TimeInterval>,
    pub limitation: Limitation,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessagesResponse {
    pub messages: Vec<Message>,
    /// Always present on a paginated answer; `null` only when the page is empty.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The error body every non-2xx answer carries (spec §1.5).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// General Webhook envelope (spec §4.2). `Events` may carry other discriminators; only
/// `MessageAdded` matters to Lobby.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookEnvelope {
    pub enterprise_id: String,
    pub integration_id: String,
    pub events: Vec<WebhookEvent>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookEvent {
    pub discriminator: String,
    pub value: EntityId,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct EntityId {
    pub id: String,
}

pub const MESSAGE_ADDED: &str = "MessageAdded";

/// The public demo credentials and enterprises (spec §2.2), preloaded by the simulator and used by
/// the demo configuration. They are published by Mews and are not secrets.
pub mod demo {
    /// `(integration name, ClientToken, AccessToken Gross UK, AccessToken Net US-DC)`.
    pub const TOKEN_SETS: [(&str, &str, &str, &str); 4] = [
        (
            "Are you ready to integrate with Mews?",
            "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
            "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
            "4D6C7ABE0E6A4681B0AFB16900AE5D86-DF50CBC89E1D4FF5859DDF021649ED5",
        ),
        (
            "Connector API Test Client 2",
            "E916C341431C4D28A866AD200152DBD3-A046EB5583FFBE94DE1172237763712",
            "CC150C355D6A4048A220AD20015483AB-B6D09C0C84B09538077CB8FFBB907B4",
            "1AEFA58C55E74D65BDC7AD2001564C12-66633E0B736F523379B9E5966165A55",
        ),
        (
            "Connector API Test Client 3",
            "2CC71B0660F345019882AD200155B4FE-4A1FC9080A4DD2A404734003674F77E",
            "5F56B9903A834F199E28AD20015E58CA-5C6A1A00550634911534AD6A098E8B7",
            "682C235379B64D909941AD2001577525-BFC60A026081F1350FAA99CAB9F7510",
        ),
        (
            "Connector API Test Client 4",
            "07AB1F14B55C49B8BDD6AD200158423B-273A4497AFF5E20566D7199DB3DC2BA",
            "39E301DD5A1C4A569087AD20015F60DD-50DC28896E9090CCA0995C9BBD90351",
            "BFD4298010F54B069F3DAD20015D53EA-D5561FADFBA4EFC8EA4C179C6BC461F",
        ),
    ];
    /// The extra pair from the getting-started example (Net pricing enterprise).
    pub const GETTING_STARTED: (&str, &str) = (
        "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
        "7059D2C25BF64EA681ACAB3A00B859CC-D91BFF2B1E3047A3E0DEC1D57BE1382",
    );
    /// Enterprise names as the demo shows them. The ids are the simulator's own (Mews publishes none).
    pub const GROSS_NAME: &str = "Connector API Hotel (Gross Pricing) TEST";
    pub const NET_NAME: &str = "Connector API Hotel (Net Pricing) TEST";
    pub const GROSS_ID: &str = "3fa5c4e9-1b2d-4e6f-8a90-0b1c2d3e4f50";
    pub const NET_ID: &str = "8b7a6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c51";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_accepts_object_and_bare_forms_and_emits_object() {
        let a: Sender = serde_json::from_str(r#"{"Discriminator":"Enterprise","Value":null}"#).unwrap();
        let b: Sender = serde_json::from_str(r#""Enterprise""#).unwrap();
        assert_eq!(a, b);
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"Discriminator":"Enterprise","Value":null}"#);
    }

    #[test]
    fn spec_message_example_round_trips() {
        let raw = r#"{"Id":"c4d5e6f7-0819-4a2b-9c3d-4e5f60718293","MessageThreadId":"5d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6","Text":"Good evening!","Sender":{"Discriminator":"Enterprise","Value":null},"CreatedUtc":"2026-03-14T21:09:40Z"}"#;
        let m: Message = serde_json::from_str(raw).unwrap();
        assert_eq!(m.sender.discriminator, SenderKind::Enterprise);
        assert_eq!(serde_json::to_string(&m).unwrap(), raw);
    }

    #[test]
    fn thread_without_is_resolved_defaults_to_false() {
        let raw = r#"{"Id":"x","OriginalSender":"Jane","Subject":"s","CreatedUtc":"2026-03-14T21:05:12Z","UpdatedUtc":"2026-03-14T21:05:12Z"}"#;
        let t: MessageThread = serde_json::from_str(raw).unwrap();
        assert!(!t.is_resolved);
    }

    #[test]
    fn interval_is_half_open_with_equal_ends_meaning_an_instant() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let i = TimeInterval { start_utc: t("2026-03-01T00:00:00Z"), end_utc: t("2026-03-02T00:00:00Z") };
        assert!(i.contains(t("2026-03-01T00:00:00Z")));
        assert!(!i.contains(t("2026-03-02T00:00:00Z")));
        let p = TimeInterval { start_utc: t("2026-03-01T00:00:00Z"), end_utc: t("2026-03-01T00:00:00Z") };
        assert!(p.contains(t("2026-03-01T00:00:00Z")));
        assert!(!p.contains(t("2026-03-01T00:00:01Z")));
    }
}
