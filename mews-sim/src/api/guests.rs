//! The four read operations of "Find my booking" (`shared/spec/mews-guests.md` §1–§4, §6):
//! `reservations/getAll/2023-06-06`, `customers/getAll`, `customers/search`, `resources/getAll`.
//!
//! Validation follows §6: `Limitation` required where the docs say so (`Count` 1–1000), arrays
//! capped at 1000 or 100 where marked, intervals at most 3 months, `ScheduledStartUtc` and
//! `ActualStartUtc` (and the two ends) mutually exclusive, `Extent` required on the two `getAll`s
//! that need it, a filterless `customers/getAll` refused, and `ChainIds` required there for a
//! portfolio token. Semantics (inference, §6): filters AND, values within an array OR, strings
//! match exactly and case-sensitively, unknown ids give an empty result. Pages are newest first by
//! `CreatedUtc`, ties by `Id`; `Cursor` is the last `Id` or `null` when the page is empty.

use axum::{Json, response::IntoResponse, response::Response};
use jiff::Timestamp;
use mews_wire::{
    TimeInterval,
    guests::{
        Customer, CustomerSearchResult, GetCustomersRequest, GetReservationsRequest, GetResourcesRequest, Reservation,
        Reservation2017, SearchCustomersRequest, limits,
    },
};
use serde_json::{Value, json};

use super::{Call, enterprise_scope, fields::Fields, into_wire};
use crate::{
    error::ApiError,
    guests::{CHAIN_ID, GuestCustomer, Room, Stay},
    state::AppState,
};

const MONTHS: i64 = limits::MAX_INTERVAL_MONTHS;

/// Newest first by `(CreatedUtc, Id)`, from just after the cursor item; the cursor must be one of
/// `items` (else `400 Invalid Limitation.Cursor`).
fn page<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> (Timestamp, String),
    count: u32,
    cursor: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    items.sort_by_key(|i| std::cmp::Reverse(key(i)));
    let start = match cursor {
        None => 0,
        Some(c) => items.iter().position(|i| key(i).1 == c).ok_or_else(|| ApiError::invalid("Limitation.Cursor"))? + 1,
    };
    let page: Vec<T> = items.into_iter().skip(start).take(count as usize).collect();
    let cursor = page.last().map(|i| key(i).1);
    Ok((page, cursor))
}

fn in_interval(i: &Option<TimeInterval>, t: Option<Timestamp>) -> bool {
    match i {
        None => true,
        Some(i) => t.is_some_and(|t| i.contains(t)),
    }
}

fn one_of(filter: &Option<Vec<String>>, value: Option<&str>) -> bool {
    filter.as_ref().is_none_or(|f| value.is_some_and(|v| f.iter().any(|x| x == v)))
}

fn exclusive(f: &Fields, a: &str, b: &str) -> Result<(), ApiError> {
    if f.has(a) && f.has(b) {
        return Err(ApiError::bad(format!("Invalid {a}: {a} and {b} cannot be used together.")));
    }
    Ok(())
}

pub fn reservation_wire(s: &Stay) -> Reservation {
    Reservation {
        id: s.id.clone(),
        account_id: s.account_id.clone(),
        account_type: s.account_type.to_string(),
        number: s.number.clone(),
        channel_number: s.channel_number.clone(),
        state: s.state.clone(),
        group_id: s.group_id.clone(),
        assigned_resource_id: s.room.clone(),
        scheduled_start_utc: s.scheduled_start,
        actual_start_utc: s.actual_start,
        scheduled_end_utc: s.scheduled_end,
        actual_end_utc: s.actual_end,
    }
}

/// The 2023 reservation with the other documented fields (unused by Lobby) around it, including
/// the deprecated but required `StartUtc`/`EndUtc`; no `EnterpriseId`.
fn reservation_json(s: &Stay) -> Value {
    let mut v = serde_json::to_value(reservation_wire(s)).expect("serializes");
    let extra = json!({
        "ServiceId": "7a6b5c4d-0000-4000-8000-00000000aaaa",
        "CreatorProfileId": "7a6b5c4d-0000-4000-8000-00000000bbbb",
        "UpdaterProfileId": "7a6b5c4d-0000-4000-8000-00000000bbbb",
        "BookerId": s.account_id,
        "Origin": if s.channel_number.is_some() { "Channel" } else { "Connector" },
        "CommanderOrigin": null,
        "OriginDetails": null,
        "CreatedUtc": mews_wire::format_utc(s.created_utc),
        "UpdatedUtc": mews_wire::format_utc(s.updated_utc),
        "CancelledUtc": (s.state == "Canceled").then(|| mews_wire::format_utc(s.updated_utc)),
        "VoucherId": null,
        "BusinessSegmentId": null,
        "Options": {"OwnerCheckedIn": s.actual_start.is_some(), "AllCompanionsCheckedIn": s.actual_start.is_some(),
                    "AnyCompanionCheckedIn": s.actual_start.is_some(), "ConnectorCheckIn": false},
        "RateId": "7a6b5c4d-0000-4000-8000-00000000cccc",
        "CreditCardId": null,
        "RequestedResourceCategoryId": "7a6b5c4d-0000-4000-8000-00000000dddd",
        "AvailabilityBlockId": null,
        "PartnerCompanyId": null,
        "TravelAgencyId": null,
        "AssignedResourceLocked": false,
        "ChannelManagerNumber": null,
        "CancellationReason": null,
        "ReleasedUtc": null,
        "Purpose": "Leisure",
        "QrCodeData": null,
        "PersonCounts": [{"AgeCategoryId": "7a6b5c4d-0000-4000-8000-00000000eeee", "Count": 1 + s.companions.len()}],
        "StartUtc": mews_wire::format_utc(s.start_utc()),
        "EndUtc": mews_wire::format_utc(s.end_utc()),
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
        o.extend(e);
    }
    v
}

/// The 2017 reservation inside a search result (state `Inquired` spelled `Enquired`).
fn reservation_2017_json(s: &Stay) -> Value {
    let wire = Reservation2017 {
        id: s.id.clone(),
        number: s.number.clone(),
        channel_number: s.channel_number.clone(),
        assigned_resource_id: s.room.clone(),
        owner_id: s.account_id.clone(),
        state: if s.state == "Inquired" { "Enquired".into() } else { s.state.clone() },
        start_utc: s.start_utc(),
        end_utc: s.end_utc(),
    };
    let mut v = serde_json::to_value(wire).expect("serializes");
    let extra = json!({
        "ServiceId": "7a6b5c4d-0000-4000-8000-00000000aaaa", "GroupId": s.group_id, "Origin": "Connector",
        "CreatedUtc": mews_wire::format_utc(s.created_utc), "UpdatedUtc": mews_wire::format_utc(s.updated_utc),
        "RequestedCategoryId": "7a6b5c4d-0000-4000-8000-00000000dddd", "AssignedResourceLocked": false,
        "AssignedSpaceLocked": false, "RateId": "7a6b5c4d-0000-4000-8000-00000000cccc",
        "AdultCount": 1 + s.companions.len(), "ChildCount": 0, "CustomerId": s.account_id,
        "CompanionIds": s.companions, "PersonCounts": [],
        "Options": {"OwnerCheckedIn": true, "AllCompanionsCheckedIn": true, "AnyCompanionCheckedIn": true},
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
        o.extend(e);
    }
    v
}

pub fn customer_wire(c: &GuestCustomer) -> Customer {
    Customer {
        id: c.id.clone(),
        chain_id: CHAIN_ID.to_string(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        second_last_name: c.second_last_name.clone(),
        preferred_language_code: c.preferred_language_code.clone(),
        language_code: c.language_code.clone(),
        is_active: c.is_active,
    }
}

/// The customer with the other documented (synthetic) personal fields that Lobby must drop.
fn customer_json(c: &GuestCustomer) -> Value {
    let mut v = serde_json::to_value(customer_wire(c)).expect("serializes");
    let extra = json!({
        "Number": c.id[c.id.len() - 6..], "Title": null, "Sex": null, "NationalityCode": c.nationality_code,
        "BirthDate": "1980-01-01", "Email": c.email, "HasOtaEmail": false, "Phone": "+1 555 0100",
        "LoyaltyCode": null, "Notes": "synthetic demo profile", "CreatedUtc": mews_wire::format_utc(c.created_utc),
        "UpdatedUtc": mews_wire::format_utc(c.created_utc), "AddressId": null, "Classifications": [],
        "Options": [], "CompanyId": null, "MergeTargetId": null, "ActivityState": if c.is_active { "Active" } else { "Deleted" },
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
        o.extend(e);
    }
    v
}

fn room_json(r: &Room) -> Value {
    json!({
        "Id": r.id, "EnterpriseId": r.enterprise_id, "IsActive": r.is_active, "ParentResourceId": r.parent,
        "Name": r.name, "State": "Clean", "CreatedUtc": mews_wire::format_utc(r.created_utc),
        "UpdatedUtc": mews_wire::format_utc(r.created_utc), "Descriptions": {}, "ExternalNames": {}, "Directions": {},
        "Data": if r.kind == "Space" {
            json!({"Discriminator": "Space", "Value": {"FloorNumber": r.name.chars().next().filter(char::is_ascii_digit).map(String::from), "LocationNotes": null}})
        } else {
            json!({"Discriminator": "Object", "Value": {}})
        },
    })
}

pub fn get_reservations(state: &AppState, call: Call<'_>) -> Result<Response, ApiError> {
    let f = Fields::new(call.body);
    f.string_array("EnterpriseIds")?;
    for field in ["ReservationIds", "ReservationGroupIds", "AssignedResourceIds", "ServiceIds", "AccountIds", "Numbers"]
    {
        f.string_array(field)?;
    }
    for field in ["PartnerCompanyIds", "TravelAgencyIds", "AvailabilityBlockIds", "ChannelNumbers"] {
        f.string_array_max(field, limits::MAX_SMALL_ARRAY)?;
    }
    f.string_array("States")?;
    for field in [
        "CreatedUtc",
        "UpdatedUtc",
        "CollidingUtc",
        "ScheduledStartUtc",
        "ActualStartUtc",
        "ScheduledEndUtc",
        "ActualEndUtc",
    ] {
        f.interval(field, MONTHS)?;
    }
    exclusive(&f, "ScheduledStartUtc", "ActualStartUtc")?;
    exclusive(&f, "ScheduledEndUtc", "ActualEndUtc")?;
    let limitation = f.limitation()?;
    let req: GetReservationsRequest = into_wire(call.body)?;
    let scope = enterprise_scope(call.caller, req.enterprise_ids.clone())?;
    let group_ids = f.string_array("ReservationGroupIds")?;
    let guests = state.guests();
    let visible: Vec<&Stay> = guests.stays.iter().filter(|s| scope.contains(&s.enterprise_id)).collect();
    let matching: Vec<&Stay> = visible
        .into_iter()
        .filter(|s| one_of(&req.reservation_ids, Some(&s.id)))
        .filter(|s| one_of(&group_ids, Some(&s.group_id)))
        .filter(|s| one_of(&req.assigned_resource_ids, s.room.as_deref()))
        .filter(|s| one_of(&req.account_ids, Some(&s.account_id)))
        .filter(|s| one_of(&req.numbers, Some(&s.number)))
        .filter(|s| one_of(&req.channel_numbers, s.channel_number.as_deref()))
        .filter(|s| one_of(&req.states, Some(&s.state)))
        .filter(|s| in_interval(&req.created_utc, Some(s.created_utc)))
        .filter(|s| in_interval(&req.updated_utc, Some(s.updated_utc)))
        .filter(|s| in_interval(&req.scheduled_start_utc, Some(s.scheduled_start)))
        .filter(|s| in_interval(&req.actual_start_utc, s.actual_start))
        .filter(|s| in_interval(&req.scheduled_end_utc, Some(s.scheduled_end)))
        .filter(|s| in_interval(&req.actual_end_utc, s.actual_end))
        .filter(|s| req.colliding_utc.is_none_or(|i| s.scheduled_start < i.end_utc && s.scheduled_end > i.start_utc))
        .collect();
    let (items, cursor) =
        page(matching, |s| (s.created_utc, s.id.clone()), limitation.count, limitation.cursor.as_deref())?;
    let reservations: Vec<Value> = items.into_iter().map(reservation_json).collect();
    Ok(Json(json!({ "Reservations": reservations, "Cursor": cursor })).into_response())
}

fn customer_extent(f: &Fields, required: bool) -> Result<bool, ApiError> {
    if !required && !f.has("Extent") {
        return Ok(false);
    }
    let e = f.object("Extent")?;
    for flag in ["Customers", "Addresses", "Documents"] {
        e.optional_bool(flag)?;
    }
    Ok(e.optional_bool("Customers")?.unwrap_or(false))
}

pub fn get_customers(state: &AppState, call: Call<'_>) -> Result<Response, ApiError> {
    let f = Fields::new(call.body);
    let with_customers = customer_extent(&f, true)?;
    for field in ["ChainIds", "CustomerIds", "Emails", "FirstNames", "LastNames", "LoyaltyCodes", "ActivityStates"] {
        f.string_array(field)?;
    }
    f.string_array_max("CompanyIds", limits::MAX_COMPANY_IDS)?;
    for field in ["CreatedUtc", "UpdatedUtc", "DeletedUtc"] {
        f.interval(field, MONTHS)?;
    }
    let limitation = f.limitation()?;
    let filters = ["CustomerIds", "Emails", "FirstNames", "LastNames", "LoyaltyCodes", "CompanyIds"];
    let intervals = ["CreatedUtc", "UpdatedUtc", "DeletedUtc"];
    if !filters.iter().chain(intervals.iter()).any(|field| f.has(field)) {
        return Err(ApiError::bad("Invalid CustomerIds: required if no other filter is provided."));
    }
    let req: GetCustomersRequest = into_wire(call.body)?;
    if call.caller.enterprise_ids.len() > 1 && req.chain_ids.is_none() {
        return Err(ApiError::bad("Invalid ChainIds: required with a portfolio access token."));
    }
    let created = f.interval("CreatedUtc", MONTHS)?;
    // The default is undocumented (spec §7.12); the simulator returns active customers only.
    let states = req.activity_states.clone().unwrap_or_else(|| vec!["Active".into()]);
    let guests = state.guests();
    let matching: Vec<&GuestCustomer> = guests
        .customers
        .iter()
        .filter(|_| one_of(&req.chain_ids, Some(CHAIN_ID)))
        .filter(|c| one_of(&req.customer_ids, Some(&c.id)))
        .filter(|c| one_of(&req.last_names, Some(&c.last_name)))
        .filter(|c| one_of(&req.first_names, c.first_name.as_deref()))
        .filter(|c| one_of(&req.emails, c.email.as_deref()))
        .filter(|c| states.iter().any(|s| s == if c.is_active { "Active" } else { "Deleted" }))
        .filter(|c| in_interval(&created, Some(c.created_utc)))
        .collect();
    let (items, cursor) =
        page(matching, |c| (c.created_utc, c.id.clone()), limitation.count, limitation.cursor.as_deref())?;
    // Without `Extent.Customers` no customers come back, though a cursor does (spec §2.1).
    let customers: Vec<Value> = if with_customers { items.into_iter().map(customer_json).collect() } else { vec![] };
    Ok(Json(json!({ "Customers": customers, "Documents": null, "Cursor": cursor })).into_response())
}

/// `customers/search`: customers "active at the moment": owners and companions of `Started`
/// reservations, and paymaster accounts (with `Reservation: null`). Not paged.
pub fn search_customers(state: &AppState, call: Call<'_>) -> Result<Response, ApiError> {
    let f = Fields::new(call.body);
    f.optional_string("Name")?;
    f.optional_string("ResourceId")?;
    let with_customers = customer_extent(&f, false)? || !f.has("Extent");
    let req: SearchCustomersRequest = into_wire(call.body)?;
    let scope = &call.caller.enterprise_ids;
    let guests = state.guests();
    let mut found: Vec<Value> = Vec::new();
    let name_matches = |c: &GuestCustomer| {
        req.name.as_deref().is_none_or(|n| {
            let n = n.to_lowercase();
            let full = format!("{} {}", c.first_name.as_deref().unwrap_or(""), c.last_name).to_lowercase();
            c.last_name.to_lowercase() == n
                || c.first_name.as_deref().is_some_and(|f| f.to_lowercase() == n)
                || full == n
        })
    };
    for s in guests.stays.iter().filter(|s| s.state == "Started" && scope.contains(&s.enterprise_id)) {
        if req.resource_id.as_deref().is_some_and(|r| s.room.as_deref() != Some(r)) {
            continue;
        }
        let members = std::iter::once(&s.account_id).filter(|_| s.account_type == "Customer").chain(&s.companions);
        for id in members {
            if let Some(c) = guests.customer(id).filter(|c| name_matches(c)) {
                found.push(json!({"Customer": customer_json(c), "Reservation": reservation_2017_json(s)}));
            }
        }
    }
    if req.resource_id.is_none() {
        for c in guests.customers.iter().filter(|c| c.paymaster && name_matches(c)) {
            found.push(json!({"Customer": customer_json(c), "Reservation": null}));
        }
    }
    if !with_customers {
        found.clear();
    }
    // The shape is checked against the shared type before it leaves.
    debug_assert!(found.iter().all(|v| serde_json::from_value::<CustomerSearchResult>(v.clone()).is_ok()));
    Ok(Json(json!({ "Customers": found, "Documents": null })).into_response())
}

pub fn get_resources(state: &AppState, call: Call<'_>) -> Result<Response, ApiError> {
    let f = Fields::new(call.body);
    let extent = f.object("Extent")?;
    for flag in [
        "Resources",
        "Inactive",
        "ResourceCategories",
        "ResourceCategoryAssignments",
        "ResourceCategoryImageAssignments",
        "ResourceFeatures",
        "ResourceFeatureAssignments",
    ] {
        extent.optional_bool(flag)?;
    }
    let with_resources = extent.optional_bool("Resources")?.unwrap_or(false);
    let inactive = extent.optional_bool("Inactive")?.unwrap_or(false);
    for field in ["EnterpriseIds", "ResourceIds", "Names"] {
        f.string_array(field)?;
    }
    let created = f.interval("CreatedUtc", MONTHS)?;
    let updated = f.interval("UpdatedUtc", MONTHS)?;
    let limitation = f.limitation()?;
    let req: GetResourcesRequest = into_wire(call.body)?;
    let scope = enterprise_scope(call.caller, req.enterprise_ids.clone())?;
    let guests = state.guests();
    let matching: Vec<&Room> = guests
        .rooms
        .iter()
        .filter(|r| scope.contains(&r.enterprise_id))
        .filter(|r| r.is_active || inactive)
        .filter(|r| one_of(&req.resource_ids, Some(&r.id)))
        .filter(|r| one_of(&req.names, Some(&r.name)))
        .filter(|r| in_interval(&created, Some(r.created_utc)))
        .filter(|r| in_interval(&updated, Some(r.created_utc)))
        .collect();
    let (items, cursor) =
        page(matching, |r| (r.created_utc, r.id.clone()), limitation.count, limitation.cursor.as_deref())?;
    let resources: Vec<Value> = if with_resources { items.into_iter().map(room_json).collect() } else { vec![] };
    Ok(Json(json!({
        "Resources": resources, "ResourceCategories": null, "ResourceCategoryAssignments": null,
        "ResourceCategoryImageAssignments": null, "ResourceFeatures": null, "ResourceFeatureAssignments": null,
        "Cursor": cursor,
    }))
    .into_response())
}
