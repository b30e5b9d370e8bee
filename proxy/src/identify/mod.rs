//! "Find my booking": a guest proves a stay at the hotel, and the chat is tied to it
//! (`shared/spec/mews-guests.md`; issue 13). This module owns the use case; the route is
//! `routes::booking`.
//!
//! * **Two flows** ([`flows`]): confirmation number (Mews's or the channel's) + last name, and
//!   room number + last name while in-house, with the spec's comparison rules ([`fold`]) and stage
//!   rule ([`stay`]); dates are property-local (`enterprise_timezone`).
//! * **Linking** — before a conversation exists, a verified stay opens one: the thread is created
//!   with the stay in its `Subject` (staff see it in the inbox list) and the link (property,
//!   reservation id) → thread is kept in the store, so the same booking proved again on another
//!   device gets that conversation back with its history (unless staff resolved it: then a new
//!   one is opened and linked). From inside a conversation, a "booking
//!   verified" note is posted to the thread for staff (the guest sees a system line) and the link
//!   is kept.
//! * **Privacy** — every failure is the same `404 not_found`, answered at a multiple of
//!   [`PAD`] after the request arrived whatever happened, so neither the outcome nor the number
//!   of Mews calls shows in the timing. The browser gets the first name, the local dates, the
//!   stage and the profile language, nothing else of Mews. Logs carry reservation ids and
//!   outcomes, never names or typed input.
//! * **Abuse and budget** — attempts are limited per widget and per client address
//!   (`guard::RateGuard::admit_identify`, refused before any Mews call; cluster-wide in cluster
//!   mode); unsuccessful inputs are remembered for [`NEGATIVE_FOR`] and answered without Mews
//!   (per instance); identification may spend at most
//!   [`BUDGET_CALLS`] calls per [`BUDGET_WINDOW`] of a token (beyond: `503 busy`), and its calls
//!   take the read lane of the token's limiter, which always leaves guest messages their share.

pub mod flows;
pub mod fold;
pub mod stay;

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use jiff::Timestamp;
use lobby_protocol::{BookingAnswer, BookingBy, ConversationInfo, FindBooking};
use mews_wire::guests::Resource;
use tokio::time::Instant;

use crate::{
    error::Error,
    mews::{client::MewsError, upstream::Upstream},
    session::Claims,
    state::{AppState, Property},
};
use flows::Calls;
pub use stay::{NOTE_PREFIX, is_note};

/// Every answer leaves at a multiple of this after the request arrived.
pub const PAD: Duration = Duration::from_millis(1500);
/// Calls identification may make per token and window by default (of the 160 Lobby uses of
/// Mews's 200); `[guest_limits] identify_budget`.
pub const BUDGET_CALLS: usize = 30;
pub const BUDGET_WINDOW: Duration = Duration::from_secs(30);
/// How long an input that found nothing is answered without Mews.
pub const NEGATIVE_FOR: Duration = Duration::from_secs(60);
/// The cached room list is read again after this.
pub const ROOMS_FOR: Duration = Duration::from_secs(3600);
/// A room name missing from the list is looked up at most this often.
pub const ROOM_MISS_EVERY: Duration = Duration::from_secs(30);
/// The longest a lookup may wait for budget and answers.
const LOOKUP_WAIT: Duration = Duration::from_secs(10);

/// Why an identification did not link.
#[derive(Debug)]
pub enum Fail {
    /// Answered as `not_found`; the reason is for the log only.
    NotFound(&'static str),
    /// Identification's budget or the token's read lane is exhausted.
    Busy,
    Upstream(MewsError),
}

/// A property's rooms and when they were read.
type RoomList = (Instant, Arc<Vec<Resource>>);

/// Identification's own state: its share of each token's budget, the room lists, the inputs
/// that found nothing.
#[derive(Default)]
pub struct Identify {
    budget: Budget,
    capacity: usize,
    rooms: Mutex<HashMap<String, RoomList>>,
    room_misses: Mutex<HashMap<String, Instant>>,
    negative: Mutex<HashMap<String, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A sliding window of identification calls per token (keyed by its upstream).
#[derive(Default)]
pub struct Budget {
    windows: Mutex<HashMap<usize, VecDeque<Instant>>>,
}

impl Budget {
    /// Takes one of `capacity` calls of `upstream`'s identification budget, or says it is spent.
    pub fn take(&self, upstream: &Upstream, capacity: usize) -> Result<(), Fail> {
        let now = Instant::now();
        let mut w = lock(&self.windows);
        let q = w.entry(upstream as *const Upstream as usize).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= BUDGET_WINDOW) {
            q.pop_front();
        }
        if q.len() >= capacity {
            return Err(Fail::Busy);
        }
        q.push_back(now);
        Ok(())
    }
}

/// A validated request.
struct Input {
    by: BookingBy,
    number: String,
    last_name: String,
}

fn validate(req: &FindBooking) -> Result<Input, Error> {
    for (field, v) in [("number", &req.number), ("last_name", &req.last_name)] {
        if v.trim().is_empty() {
            return Err(Error::invalid(field, format!("{field} is required")));
        }
        if v.chars().count() > fold::MAX_INPUT || v.chars().any(char::is_control) {
            return Err(Error::invalid(field, format!("{field} is longer than {} characters", fold::MAX_INPUT)));
        }
    }
    Ok(Input { by: req.by, number: req.number.trim().to_owned(), last_name: req.last_name.trim().to_owned() })
}

/// Runs `work` and answers at the next multiple of [`PAD`] after `since`.
async fn padded<T>(since: Instant, work: impl Future<Output = T>) -> T {
    let out = work.await;
    let elapsed = since.elapsed();
    let steps = (elapsed.as_millis() / PAD.as_millis()) as u32 + 1;
    tokio::time::sleep_until(since + PAD * steps).await;
    out
}

impl Identify {
    /// With `capacity` calls per token and [`BUDGET_WINDOW`].
    pub fn new(capacity: usize) -> Self {
        Self { capacity, ..Self::default() }
    }

    fn negative_key(property: &str, i: &Input) -> String {
        format!("{property}\u{1f}{:?}\u{1f}{}\u{1f}{}", i.by, fold::fold(&i.number), fold::fold(&i.last_name))
    }

    fn known_negative(&self, key: &str) -> bool {
        let mut n = lock(&self.negative);
        let now = Instant::now();
        if n.len() > 10_000 {
            n.retain(|_, at| now.duration_since(*at) < NEGATIVE_FOR);
        }
        n.get(key).is_some_and(|at| now.duration_since(*at) < NEGATIVE_FOR)
    }

    /// The property's active rooms, from the cache or read (and cached) now; a `name` that is
    /// not in the list is looked up once more by name (at most every [`ROOM_MISS_EVERY`]).
    async fn rooms(&self, property: &Property, calls: &mut Calls<'_>, name: &str) -> Result<Arc<Vec<Resource>>, Fail> {
        let id = &property.config.id;
        let cached = lock(&self.rooms).get(id).filter(|(at, _)| at.elapsed() < ROOMS_FOR).map(|(_, r)| r.clone());
        let mut rooms = match cached {
            Some(r) => r,
            None => {
                let mut all = Vec::new();
                let mut cursor = None;
                loop {
                    let page = calls.resources(None, cursor).await?;
                    let full = page.resources.len() >= 1000;
                    all.extend(page.resources);
                    cursor = page.cursor;
                    if !full || cursor.is_none() {
                        break;
                    }
                }
                let all = Arc::new(all);
                lock(&self.rooms).insert(id.clone(), (Instant::now(), all.clone()));
                all
            }
        };
        let folded = fold::fold(name);
        if !rooms.iter().any(|r| r.is_active && fold::fold(&r.name) == folded) {
            let miss_key = format!("{id}\u{1f}{folded}");
            let due = lock(&self.room_misses).get(&miss_key).is_none_or(|at| at.elapsed() >= ROOM_MISS_EVERY);
            if due {
                lock(&self.room_misses).insert(miss_key, Instant::now());
                let found = calls.resources(Some(vec![name.trim().to_owned()]), None).await?.resources;
                if !found.is_empty() {
                    let mut merged: Vec<Resource> =
                        rooms.iter().filter(|r| !found.iter().any(|f| f.id == r.id)).cloned().collect();
                    merged.extend(found);
                    rooms = Arc::new(merged);
                    lock(&self.rooms).insert(id.clone(), (Instant::now(), rooms.clone()));
                }
            }
        }
        Ok(rooms)
    }

    /// Looks the stay up. `Ok(None)`: not found (already logged).
    async fn find(&self, property: &Property, input: &Input) -> Result<Option<stay::Stay>, Error> {
        let negative = Self::negative_key(&property.config.id, input);
        let flow = match input.by {
            BookingBy::Confirmation => "a",
            BookingBy::Room => "b",
        };
        if self.known_negative(&negative) {
            tracing::info!(property = %property.config.id, flow, outcome = "not_found", calls = 0, reason = "recently not found");
            return Ok(None);
        }
        let mut calls = Calls {
            upstream: &property.upstream,
            budget: &self.budget,
            capacity: self.capacity,
            deadline: Instant::now() + LOOKUP_WAIT,
            made: 0,
        };
        let tz = &property.config.booking.timezone;
        let result = match input.by {
            BookingBy::Confirmation => {
                flows::by_number(&mut calls, &input.number, &input.last_name, tz, Timestamp::now()).await
            }
            BookingBy::Room => match self.rooms(property, &mut calls, &input.number).await {
                Ok(rooms) => flows::by_room(&mut calls, &rooms, &input.number, &input.last_name, tz).await,
                Err(e) => Err(e),
            },
        };
        let made = calls.made;
        match result {
            Ok(Ok(stay)) => {
                tracing::info!(property = %property.config.id, flow, outcome = "linked", reservation = %stay.reservation_id, calls = made);
                Ok(Some(stay))
            }
            Ok(Err(reason)) | Err(Fail::NotFound(reason)) => {
                lock(&self.negative).insert(negative, Instant::now());
                tracing::info!(property = %property.config.id, flow, outcome = "not_found", calls = made, reason);
                Ok(None)
            }
            Err(Fail::Busy) | Err(Fail::Upstream(MewsError::Busy { .. })) => {
                tracing::warn!(property = %property.config.id, flow, outcome = "busy", calls = made);
                Err(Error::Upstream(MewsError::Busy { retry_after: Duration::from_secs(10) }))
            }
            Err(Fail::Upstream(e)) => {
                tracing::warn!(property = %property.config.id, flow, outcome = "upstream_error", calls = made, error = %e);
                Err(Error::Upstream(e))
            }
        }
    }
}

fn answer(stay: &stay::Stay) -> BookingAnswer {
    BookingAnswer {
        status: "linked".into(),
        first_name: stay.first_name.clone(),
        arrival: stay.arrival.to_string(),
        departure: stay.departure.to_string(),
        stage: serde_json::to_value(stay.stage).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        locale: stay.language.clone(),
        session: None,
        conversation: None,
        resumed: false,
    }
}

/// The guest's display name in the widget: the first name only (Mews's spelling of the last name
/// never reaches the browser).
fn display_name(stay: &stay::Stay) -> String {
    stay.first_name.clone().unwrap_or_else(|| "Guest".to_owned())
}

const TOPIC: &str = "Website chat";

/// What both flows check first: the feature is on for the property, the input is valid, and the
/// attempt is within the limits of `attempt` (the widget's or the conversation's) and the address.
async fn admit(
    state: &AppState,
    property: &Property,
    req: &FindBooking,
    attempt: &str,
    ip: std::net::IpAddr,
) -> Result<Input, Error> {
    if !property.config.booking.enabled {
        return Err(Error::NotFound);
    }
    let input = validate(req)?;
    state.guard().admit_identify(attempt, ip).await?;
    Ok(input)
}

/// Before a conversation exists: a verified stay resumes the conversation linked to it, or opens
/// one whose `Subject` carries the stay.
pub async fn before_conversation(
    state: &AppState,
    property: &Arc<Property>,
    req: &FindBooking,
    attempt_key: &str,
    ip: std::net::IpAddr,
) -> Result<BookingAnswer, Error> {
    let since = Instant::now();
    let input = admit(state, property, req, &format!("k:{}:{attempt_key}", property.config.id), ip).await?;
    padded(since, async {
        let Some(stay) = state.identify().find(property, &input).await? else { return Err(Error::NotFound) };
        let id = &property.config.id;
        let previous = state.store().booking_thread(id, &stay.reservation_id).await?;
        // Only an open conversation comes back: one staff resolved gives way to a new one.
        let linked = match previous.clone() {
            Some(t) => {
                let slot = state.hub().thread(id, &t);
                let deadline = Instant::now() + crate::conversation::GUEST_WAIT;
                crate::conversation::history::load_newest(property, &slot, deadline).await?;
                (!slot.resolved()).then_some(t)
            }
            None => None,
        };
        let (thread, resumed) = match linked {
            Some(t) => (t, true),
            None => {
                let start = crate::conversation::start::Request {
                    // Named after what it replaces: two devices proving the booking at once
                    // join one start.
                    key: Some(format!(
                        "booking-{}-after-{}",
                        stay.reservation_id,
                        previous.as_deref().unwrap_or("none")
                    )),
                    name: stay.full_name(),
                    topic: TOPIC.to_owned(),
                    subject: stay.subject(),
                };
                let opened = crate::conversation::start::start(state, property, start).await?;
                let thread = opened.record.thread.clone().expect("a started conversation has a thread");
                state.store().link_booking(id, &stay.reservation_id, &thread).await?;
                let slot = state.hub().thread(id, &thread);
                if opened.new && !slot.resolved_known() {
                    slot.mark_new();
                }
                (thread, false)
            }
        };
        tracing::info!(property = %id, reservation = %stay.reservation_id, resumed, "booking conversation");
        let name = display_name(&stay);
        let claims = Claims {
            p: id.clone(),
            t: thread,
            n: name.clone(),
            s: TOPIC.to_owned(),
            iat: Timestamp::now().as_second(),
        };
        let mut a = answer(&stay);
        a.session = Some(state.sessions().sign(&claims));
        a.conversation =
            Some(ConversationInfo { property: id.clone(), name, topic: TOPIC.to_owned(), resolved: false });
        a.resumed = resumed;
        Ok(a)
    })
    .await
}

/// Inside a conversation: a verified stay is linked to it and staff get a note in the thread.
pub async fn in_conversation(
    state: &AppState,
    property: &Arc<Property>,
    claims: &Claims,
    req: &FindBooking,
    ip: std::net::IpAddr,
) -> Result<BookingAnswer, Error> {
    let since = Instant::now();
    let input = admit(state, property, req, &format!("t:{}", claims.t), ip).await?;
    padded(since, async {
        let Some(stay) = state.identify().find(property, &input).await? else { return Err(Error::NotFound) };
        let id = &property.config.id;
        let already = state.store().booking_thread(id, &stay.reservation_id).await?;
        if already.as_deref() != Some(claims.t.as_str()) {
            property.upstream.add_message(&claims.t, &stay.note(), None, None).await?;
            state.store().link_booking(id, &stay.reservation_id, &claims.t).await?;
        }
        Ok(answer(&stay))
    })
    .await
}

#[cfg(test)]
mod tests;
