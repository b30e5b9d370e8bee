//! The guest side of the simulated enterprise: rooms, customers and reservations, seeded with the
//! demo stays of `shared/spec/mews-guests.md` §6 (every state and trap it lists), relative to a
//! `now` that tests can pin (`POST /admin/guests/reseed`). Only the demo "Gross" enterprise has
//! stays; its time zone is `America/New_York`, so local dates and UTC dates differ in the evening.
//!
//! Companions are held here but exposed by no in-scope operation, exactly like Mews: only
//! `customers/search` reveals them, as members of a checked-in reservation. Everything is
//! synthetic.

use jiff::{Timestamp, ToSpan, civil, tz::TimeZone};
use mews_wire::demo;

/// The enterprise's IANA time zone (the proxy takes it from its `enterprise_timezone` setting).
pub const TIME_ZONE: &str = "America/New_York";
/// Every demo customer's chain.
pub const CHAIN_ID: &str = "5e1f0c2a-7d3b-4c9e-8a61-2f4b6d8e0a13";

#[derive(Clone, Debug)]
pub struct Room {
    pub id: String,
    pub enterprise_id: String,
    pub name: String,
    pub is_active: bool,
    pub parent: Option<String>,
    /// `Space` or `Object`.
    pub kind: &'static str,
    pub created_utc: Timestamp,
}

#[derive(Clone, Debug)]
pub struct GuestCustomer {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: String,
    pub second_last_name: Option<String>,
    pub language_code: Option<String>,
    pub preferred_language_code: Option<String>,
    pub nationality_code: Option<String>,
    pub email: Option<String>,
    pub is_active: bool,
    /// A company's paymaster account: "active" in `customers/search` with no reservation.
    pub paymaster: bool,
    pub created_utc: Timestamp,
}

#[derive(Clone, Debug)]
pub struct Stay {
    pub id: String,
    pub enterprise_id: String,
    pub number: String,
    pub channel_number: Option<String>,
    pub state: String,
    pub account_id: String,
    /// `Customer` or `Company`.
    pub account_type: &'static str,
    pub companions: Vec<String>,
    pub group_id: String,
    pub room: Option<String>,
    pub scheduled_start: Timestamp,
    pub scheduled_end: Timestamp,
    pub actual_start: Option<Timestamp>,
    pub actual_end: Option<Timestamp>,
    pub created_utc: Timestamp,
    pub updated_utc: Timestamp,
}

impl Stay {
    /// The earlier of scheduled start and check-in (the deprecated `StartUtc`).
    pub fn start_utc(&self) -> Timestamp {
        self.actual_start.map_or(self.scheduled_start, |a| a.min(self.scheduled_start))
    }

    pub fn end_utc(&self) -> Timestamp {
        self.actual_end.unwrap_or(self.scheduled_end)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Guests {
    pub now: Option<Timestamp>,
    pub rooms: Vec<Room>,
    pub customers: Vec<GuestCustomer>,
    pub stays: Vec<Stay>,
}

type CustomerSeed = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);
type StaySeed = (&'static str, Option<&'static str>, &'static str, u32, Option<&'static str>, i64, i64, &'static [u32]);

/// A stable, readable GUID per seeded object (`kind` 1 room, 2 customer, 3 reservation, 4 group).
fn guid(kind: u32, n: u32) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

pub fn time_zone() -> TimeZone {
    TimeZone::get(TIME_ZONE).unwrap_or(TimeZone::UTC)
}

/// Property-local `now + days` at `hh:mm`, as an instant.
fn local(now: Timestamp, days: i64, hour: i8, minute: i8) -> Timestamp {
    let tz = time_zone();
    let date = now.to_zoned(tz.clone()).date().checked_add(days.days()).unwrap_or(civil::date(2026, 1, 1));
    date.at(hour, minute, 0, 0).to_zoned(tz).map(|z| z.timestamp()).unwrap_or(now)
}

impl Guests {
    /// The demo world around `now`.
    pub fn seeded(now: Timestamp) -> Self {
        let e1 = demo::GROSS_ID;
        let e2 = demo::NET_ID;
        let created = local(now, -90, 9, 0);
        let mut g = Guests { now: Some(now), ..Guests::default() };
        let rooms = [
            ("101", true, None, "Space", e1),
            ("102", true, None, "Space", e1),
            ("103", true, None, "Space", e1),
            ("201", true, None, "Space", e1),
            ("12A", true, None, "Space", e1),
            ("Suite 1", true, None, "Space", e1),
            ("P7", true, None, "Space", e1),
            ("101A", true, Some(1), "Object", e1),
            ("999", false, None, "Space", e1),
            ("101", true, None, "Space", e2),
        ];
        for (i, (name, active, parent, kind, e)) in rooms.into_iter().enumerate() {
            let n = i as u32 + 1;
            g.rooms.push(Room {
                id: guid(1, n),
                enterprise_id: e.to_string(),
                name: name.to_string(),
                is_active: active,
                parent: parent.map(|p| guid(1, p)),
                kind,
                created_utc: created + (n as i64).seconds(),
            });
        }
        // (first, last, second last, LanguageCode, PreferredLanguageCode, nationality)
        let customers: [CustomerSeed; 10] = [
            ("Anna", "Müller", None, Some("de-DE"), Some("de-DE"), Some("DE")),
            ("Tomáš", "Dvořák", None, Some("cs-CZ"), None, Some("CZ")),
            ("Jana", "Dvořáková", None, Some("cs-CZ"), None, Some("CZ")),
            ("Siobhán", "O'Brien", None, Some("en-GB"), Some("en-GB"), Some("IE")),
            ("John", "Smith", None, Some("en-US"), None, Some("US")),
            ("Lucía", "García", Some("López"), Some("es-ES"), None, Some("ES")),
            ("Søren", "Østergaard", None, Some("da-DK"), Some("en-GB"), Some("DK")),
            ("Chloé", "Lefèvre", None, Some("fr-FR"), Some("fr-CA"), Some("FR")),
            ("Kenji", "Tanaka", None, None, None, None),
            ("Conference", "Paymaster", None, Some("en-US"), None, Some("US")),
        ];
        for (i, (first, last, second, lang, preferred, nat)) in customers.into_iter().enumerate() {
            let n = i as u32 + 1;
            g.customers.push(GuestCustomer {
                id: guid(2, n),
                first_name: Some(first.to_string()),
                last_name: last.to_string(),
                second_last_name: second.map(str::to_string),
                language_code: lang.map(str::to_string),
                preferred_language_code: preferred.map(str::to_string),
                nationality_code: nat.map(str::to_string),
                email: Some(format!("guest{n}@example.invalid")),
                is_active: true,
                paymaster: n == 10,
                created_utc: created + (n as i64).seconds(),
            });
        }
        let room = |name: &str| g.rooms.iter().find(|r| r.name == name && r.enterprise_id == e1).map(|r| r.id.clone());
        // (number, channel, state, owner customer index or 0 for a company, room, start day, end day, companions)
        let stays: [StaySeed; 12] = [
            ("1001", Some("4123456789"), "Confirmed", 1, Some("102"), 10, 13, &[]),
            ("1002", None, "Started", 2, Some("101"), -1, 2, &[3]),
            ("1003", None, "Processed", 4, Some("201"), -7, -3, &[]),
            ("1004", None, "Canceled", 5, None, 20, 22, &[]),
            ("1005", None, "Optional", 6, None, 30, 33, &[]),
            ("1006", Some("1003"), "Confirmed", 7, None, 200, 204, &[]),
            ("1007", Some("EXP-7788990"), "Confirmed", 8, None, 5, 7, &[]),
            ("1008", Some("EXP-7788990"), "Confirmed", 9, None, 5, 7, &[]),
            ("1009", None, "Confirmed", 5, None, -10, -8, &[]),
            ("1010", None, "Started", 8, Some("12A"), -2, 1, &[]),
            ("1011", None, "Confirmed", 0, None, 3, 4, &[]),
            ("1012", None, "Processed", 4, Some("103"), -60, -57, &[]),
        ];
        let shared_group = guid(4, 7);
        for (i, (number, channel, state, owner, room_name, start, end, companions)) in stays.into_iter().enumerate() {
            let n = i as u32 + 1;
            let scheduled_start = local(now, start, 15, 0);
            let scheduled_end = local(now, end, 11, 0);
            let actual_start = matches!(state, "Started" | "Processed").then(|| scheduled_start + 25.minutes());
            let actual_end = (state == "Processed").then(|| scheduled_end - 40.minutes());
            g.stays.push(Stay {
                id: guid(3, n),
                enterprise_id: e1.to_string(),
                number: number.to_string(),
                channel_number: channel.map(str::to_string),
                state: state.to_string(),
                account_id: if owner == 0 { guid(5, 1) } else { guid(2, owner) },
                account_type: if owner == 0 { "Company" } else { "Customer" },
                companions: companions.iter().map(|c| guid(2, *c)).collect(),
                group_id: if number == "1007" || number == "1008" { shared_group.clone() } else { guid(4, n) },
                room: room_name.and_then(room),
                scheduled_start,
                scheduled_end,
                actual_start,
                actual_end,
                created_utc: created + (100 + n as i64).seconds(),
                updated_utc: created + (100 + n as i64).seconds(),
            });
        }
        g
    }

    pub fn customer(&self, id: &str) -> Option<&GuestCustomer> {
        self.customers.iter().find(|c| c.id == id)
    }

    pub fn room(&self, id: &str) -> Option<&Room> {
        self.rooms.iter().find(|r| r.id == id)
    }

    /// The stay with this `Number` (or id) in an enterprise.
    pub fn stay_mut(&mut self, key: &str) -> Option<&mut Stay> {
        self.stays.iter_mut().find(|s| s.number == key || s.id == key)
    }
}

/// The staff-side view of a stay, for the console and `GET /admin/guests`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaySummary {
    pub id: String,
    pub number: String,
    pub channel_number: Option<String>,
    pub state: String,
    pub guest: String,
    pub room: Option<String>,
    /// Property-local dates.
    pub arrival: String,
    pub departure: String,
}

impl Guests {
    pub fn summary(&self, s: &Stay) -> StaySummary {
        let tz = time_zone();
        let guest = self.customer(&s.account_id).map_or_else(
            || "(company)".to_string(),
            |c| format!("{} {}", c.first_name.as_deref().unwrap_or(""), c.last_name).trim().to_string(),
        );
        StaySummary {
            id: s.id.clone(),
            number: s.number.clone(),
            channel_number: s.channel_number.clone(),
            state: s.state.clone(),
            guest,
            room: s.room.as_deref().and_then(|r| self.room(r)).map(|r| r.name.clone()),
            arrival: s.actual_start.unwrap_or(s.scheduled_start).to_zoned(tz.clone()).date().to_string(),
            departure: s.actual_end.unwrap_or(s.scheduled_end).to_zoned(tz).date().to_string(),
        }
    }

    /// The stay a thread subject names (`[Booking <Number>…`), as Lobby writes it, in `enterprise`.
    pub fn linked(&self, enterprise_id: &str, subject: &str) -> Option<StaySummary> {
        let rest = subject.strip_prefix("[Booking ")?;
        let number: String = rest.chars().take_while(|c| !matches!(c, ' ' | ']')).collect();
        self.stays.iter().find(|s| s.enterprise_id == enterprise_id && s.number == number).map(|s| self.summary(s))
    }
}

/// Admin hooks for the guest side (not Mews; they stand in for front-desk actions).
pub mod admin {
    use axum::{
        Json, Router,
        extract::{Path, State},
        routing::{get, post},
    };
    use jiff::Timestamp;
    use serde::Deserialize;
    use serde_json::{Value, json};

    use crate::{admin::AdminJson, error::ApiError, state::AppState, store::now_utc};

    pub fn routes() -> Router<AppState> {
        Router::new()
            .route("/admin/guests", get(list))
            .route("/admin/guests/reseed", post(reseed))
            .route("/admin/reservations/{number}/state", post(set_state))
            .route("/admin/resources/{id}/name", post(rename))
    }

    async fn list(State(state): State<AppState>) -> Json<Value> {
        let g = state.guests();
        let stays: Vec<_> = g.stays.iter().map(|s| g.summary(s)).collect();
        Json(json!({ "now": g.now.map(|n| n.to_string()), "stays": stays }))
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Reseed {
        #[serde(default)]
        now: Option<Timestamp>,
    }

    /// Seeds the demo stays again around `now` (pins the clock) or the current time.
    async fn reseed(State(state): State<AppState>, AdminJson(body): AdminJson<Reseed>) -> Json<Value> {
        state.reseed_guests(body.now);
        Json(json!({ "reseeded": true }))
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SetState {
        /// `Started` (check in), `Processed` (check out), `Canceled`, or any other state.
        state: String,
    }

    /// Check in, check out or cancel a reservation, by `Number` or id.
    async fn set_state(
        State(state): State<AppState>,
        Path(number): Path<String>,
        AdminJson(body): AdminJson<SetState>,
    ) -> Result<Json<Value>, ApiError> {
        let mut g = state.guests();
        let now = now_utc();
        let stay = g.stay_mut(&number).ok_or_else(|| ApiError::NotFound(format!("Unknown reservation {number}.")))?;
        match body.state.as_str() {
            "Started" => stay.actual_start = Some(now),
            "Processed" => stay.actual_end = Some(now),
            _ => {}
        }
        stay.state = body.state;
        stay.updated_utc = now;
        let stay = stay.clone();
        Ok(Json(json!(g.summary(&stay))))
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rename {
        name: String,
    }

    async fn rename(
        State(state): State<AppState>,
        Path(id): Path<String>,
        AdminJson(body): AdminJson<Rename>,
    ) -> Result<Json<Value>, ApiError> {
        let mut g = state.guests();
        let room = g
            .rooms
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| ApiError::NotFound(format!("Unknown resource {id}.")))?;
        room.name = body.name;
        Ok(Json(json!({ "id": room.id, "name": room.name })))
    }
}
