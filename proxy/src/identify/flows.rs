//! The two lookups of `mews-guests.md` §5.2–5.3 against the hotel's Mews, every call through the
//! token's upstream in the read lane and counted against identification's own budget
//! ([`super::Budget`]): (a) confirmation number (Mews's or the channel's) + last name, (b) room
//! number + last name while in-house. No time windows: every lookup is by identifier.

use std::collections::HashSet;

use jiff::{Timestamp, tz::TimeZone};
use mews_wire::{
    Limitation,
    guests::{
        Customer, CustomerExtent, CustomersResponse, GetCustomersRequest, GetReservationsRequest, GetResourcesRequest,
        Reservation, ReservationsResponse, Resource, ResourceExtent, ResourcesResponse, SearchCustomersRequest,
        SearchCustomersResponse, paths,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::time::Instant;

use super::{
    Budget, Fail,
    fold::{fold, last_name_matches, variants},
    stay::{Stage, Stay, local_date, stage_of},
};
use crate::mews::{client::MewsError, upstream::Upstream};

/// One identification's calls: where they go, until when, and how many were made.
pub struct Calls<'a> {
    pub upstream: &'a Upstream,
    pub budget: &'a Budget,
    pub capacity: usize,
    pub deadline: Instant,
    pub made: u32,
}

impl Calls<'_> {
    /// One call in the read lane, after a slot of identification's budget.
    async fn call<B, R>(
        &mut self,
        op: &'static str,
        path: &'static str,
        body: impl Fn(mews_wire::Auth) -> B,
    ) -> Result<R, Fail>
    where
        B: Serialize,
        R: DeserializeOwned,
    {
        self.budget.take(self.upstream, self.capacity)?;
        self.made += 1;
        let body = &body;
        let result = self
            .upstream
            .read(op, Some(self.deadline), |c| async move {
                let b = body(c.auth());
                c.call::<B, R>(path, &b).await
            })
            .await;
        match result {
            Ok(r) => Ok(r),
            Err(MewsError::Rejected { status, request_id, .. }) => {
                if status == 401 {
                    tracing::error!(op, request_id, "Mews refused a guest lookup (401): is the endpoint certified?");
                } else {
                    tracing::warn!(op, status, request_id, "Mews refused a guest lookup");
                }
                Err(Fail::NotFound("rejected"))
            }
            Err(e) => Err(Fail::Upstream(e)),
        }
    }

    async fn reservations(
        &mut self,
        numbers: Option<Vec<String>>,
        channel: Option<Vec<String>>,
        count: u32,
        cursor: Option<String>,
    ) -> Result<ReservationsResponse, Fail> {
        self.call("reservations/getAll", paths::RESERVATIONS_GET_ALL, |auth| GetReservationsRequest {
            auth,
            enterprise_ids: None,
            reservation_ids: None,
            assigned_resource_ids: None,
            account_ids: None,
            numbers: numbers.clone(),
            channel_numbers: channel.clone(),
            states: None,
            scheduled_start_utc: None,
            actual_start_utc: None,
            scheduled_end_utc: None,
            actual_end_utc: None,
            colliding_utc: None,
            created_utc: None,
            updated_utc: None,
            limitation: Limitation { count, cursor: cursor.clone() },
        })
        .await
    }

    async fn customers(&mut self, ids: Vec<String>) -> Result<Vec<Customer>, Fail> {
        let r: CustomersResponse = self
            .call("customers/getAll", paths::CUSTOMERS_GET_ALL, |auth| GetCustomersRequest {
                auth,
                chain_ids: None,
                customer_ids: Some(ids.clone()),
                last_names: None,
                first_names: None,
                emails: None,
                activity_states: None,
                extent: CustomerExtent { customers: true, addresses: Some(false) },
                limitation: Limitation { count: 100, cursor: None },
            })
            .await?;
        Ok(r.customers)
    }

    pub async fn resources(
        &mut self,
        names: Option<Vec<String>>,
        cursor: Option<String>,
    ) -> Result<ResourcesResponse, Fail> {
        self.call("resources/getAll", paths::RESOURCES_GET_ALL, |auth| GetResourcesRequest {
            auth,
            enterprise_ids: None,
            resource_ids: None,
            names: names.clone(),
            extent: ResourceExtent { resources: true, inactive: false },
            limitation: Limitation { count: 1000, cursor: cursor.clone() },
        })
        .await
    }
}

/// Why nothing linked, for the log (never for the browser).
pub type Miss = &'static str;

/// A candidate: a reservation whose owner matched, with its stage.
struct Candidate {
    res: Reservation,
    customer: Customer,
    stage: Stage,
    unconfirmed: bool,
}

/// A2: the owners of `found`, kept when active, with a matching last name and a linkable stage.
async fn owners_matching(
    calls: &mut Calls<'_>,
    found: Vec<Reservation>,
    last_name: &str,
    now: Timestamp,
) -> Result<Vec<Candidate>, Fail> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = found.iter().map(|r| r.account_id.clone()).collect::<HashSet<_>>().into_iter().collect();
    ids.sort();
    ids.truncate(1000);
    let customers = calls.customers(ids).await?;
    let mut out = Vec::new();
    for res in found {
        let Some(c) = customers.iter().find(|c| c.id == res.account_id && c.is_active) else { continue };
        if !last_name_matches(last_name, &c.last_name, c.second_last_name.as_deref()) {
            continue;
        }
        let Some((stage, unconfirmed)) = stage_of(&res.state, res.scheduled_end_utc, res.actual_end_utc, now) else {
            continue;
        };
        out.push(Candidate { res, customer: c.clone(), stage, unconfirmed });
    }
    Ok(out)
}

/// A4: in-house first, then the earliest arrival, then the latest checkout; ties by `Number`.
fn choose(mut c: Vec<Candidate>, typed_channel: Option<String>, tz: &TimeZone) -> Option<Stay> {
    let rank = |x: &Candidate| match x.stage {
        Stage::InHouse => (0, 0),
        Stage::BeforeArrival => (1, x.res.scheduled_start_utc.as_second()),
        Stage::CheckedOut => (2, -x.res.actual_end_utc.unwrap_or(x.res.scheduled_end_utc).as_second()),
    };
    c.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.res.number.cmp(&b.res.number)));
    let more = c.len().saturating_sub(1);
    let best = c.into_iter().next()?;
    Some(Stay {
        reservation_id: best.res.id,
        number: best.res.number,
        typed_channel,
        first_name: best.customer.first_name.filter(|f| !f.trim().is_empty()),
        last_name: best.customer.last_name,
        arrival: local_date(best.res.actual_start_utc.unwrap_or(best.res.scheduled_start_utc), tz),
        departure: local_date(best.res.actual_end_utc.unwrap_or(best.res.scheduled_end_utc), tz),
        stage: best.stage,
        unconfirmed: best.unconfirmed,
        more_rooms: more,
        language: best.customer.preferred_language_code.or(best.customer.language_code),
    })
}

/// Flow (a): A1 by Mews number, A2 owners; if nothing linked, A3 by channel number (at most 3
/// pages), A2 again.
pub async fn by_number(
    calls: &mut Calls<'_>,
    number: &str,
    last_name: &str,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<Result<Stay, Miss>, Fail> {
    let forms = variants(number);
    if forms.is_empty() {
        return Ok(Err("empty number"));
    }
    let a1 = calls.reservations(Some(forms.clone()), None, 10, None).await?;
    let found: Vec<Reservation> =
        a1.reservations.into_iter().filter(|r| forms.contains(&r.number) && r.account_type == "Customer").collect();
    let hit = !found.is_empty();
    let linked = owners_matching(calls, found, last_name, now).await?;
    if let Some(stay) = choose(linked, None, tz) {
        return Ok(Ok(stay));
    }
    let channel_forms: Vec<String> = forms.into_iter().take(100).collect();
    let mut found = Vec::new();
    let mut cursor = None;
    for _ in 0..3 {
        let page = calls.reservations(None, Some(channel_forms.clone()), 100, cursor.clone()).await?;
        let full = page.reservations.len() == 100;
        found.extend(page.reservations.into_iter().filter(|r| {
            r.channel_number.as_deref().is_some_and(|c| !c.is_empty() && channel_forms.iter().any(|f| f == c))
                && r.account_type == "Customer"
        }));
        cursor = page.cursor;
        if !full || cursor.is_none() {
            break;
        }
    }
    if found.is_empty() {
        return Ok(Err(if hit { "owner mismatch or not linkable" } else { "unknown number" }));
    }
    let linked = owners_matching(calls, found, last_name, now).await?;
    Ok(choose(linked, Some(number.trim().trim_start_matches('#').trim().to_owned()), tz)
        .ok_or("owner mismatch or not linkable"))
}

/// Flow (b): the room from the cached list (one `Names` lookup on a miss), then
/// `customers/search` per candidate room; only a `Started` reservation in that room links.
pub async fn by_room(
    calls: &mut Calls<'_>,
    rooms: &[Resource],
    room: &str,
    last_name: &str,
    tz: &TimeZone,
) -> Result<Result<Stay, Miss>, Fail> {
    let key = fold(room);
    let candidates: Vec<&Resource> = rooms.iter().filter(|r| r.is_active && fold(&r.name) == key).take(3).collect();
    if candidates.is_empty() {
        return Ok(Err("unknown room"));
    }
    let mut found: Vec<Candidate> = Vec::new();
    for r in candidates {
        let id = r.id.clone();
        let result: SearchCustomersResponse = calls
            .call("customers/search", paths::CUSTOMERS_SEARCH, |auth| SearchCustomersRequest {
                auth,
                name: None,
                resource_id: Some(id.clone()),
                extent: Some(CustomerExtent { customers: true, addresses: None }),
            })
            .await?;
        for item in result.customers {
            let Some(res) = item.reservation else { continue };
            if res.state != "Started" || res.assigned_resource_id.as_deref() != Some(&r.id) {
                continue;
            }
            let c = item.customer;
            if !c.is_active || !last_name_matches(last_name, &c.last_name, c.second_last_name.as_deref()) {
                continue;
            }
            let as2023 = Reservation {
                id: res.id,
                account_id: res.owner_id,
                account_type: "Customer".into(),
                number: res.number,
                channel_number: res.channel_number,
                state: res.state,
                group_id: String::new(),
                assigned_resource_id: res.assigned_resource_id,
                scheduled_start_utc: res.start_utc,
                actual_start_utc: None,
                scheduled_end_utc: res.end_utc,
                actual_end_utc: None,
            };
            if !found.iter().any(|f| f.res.id == as2023.id) {
                found.push(Candidate { res: as2023, customer: c, stage: Stage::InHouse, unconfirmed: false });
            }
        }
    }
    Ok(choose(found, None, tz).ok_or("nobody in-house with that name"))
}
