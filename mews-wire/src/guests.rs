//! The four read operations of "Find my booking", exactly as `shared/spec/mews-guests.md` gives
//! them: `reservations/getAll` (ver 2023-06-06), `customers/getAll`, `customers/search` and
//! `resources/getAll`. Shared by the proxy's identification client and the simulator.
//!
//! Response types hold only the fields the proxy uses (and the simulator always emits): serde
//! drops every other field of a customer or reservation while parsing, so personal data Lobby has
//! no use for never reaches its memory. The simulator adds the other documented fields around
//! these types.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Auth, Limitation, TimeInterval};

/// The paths, spelled exactly as Mews compares them.
pub mod paths {
    pub const RESERVATIONS_GET_ALL: &str = "/api/connector/v1/reservations/getAll/2023-06-06";
    /// The deprecated 2017 version: discontinued, the simulator answers `404`.
    pub const RESERVATIONS_GET_ALL_2017: &str = "/api/connector/v1/reservations/getAll";
    pub const CUSTOMERS_GET_ALL: &str = "/api/connector/v1/customers/getAll";
    pub const CUSTOMERS_SEARCH: &str = "/api/connector/v1/customers/search";
    pub const RESOURCES_GET_ALL: &str = "/api/connector/v1/resources/getAll";
}

/// Array caps that differ from the general 1000 (spec §1.1, §2.1).
pub mod limits {
    /// `ChannelNumbers`, `PartnerCompanyIds`, `TravelAgencyIds`, `AvailabilityBlockIds`.
    pub const MAX_SMALL_ARRAY: usize = 100;
    /// `CompanyIds` of `customers/getAll`.
    pub const MAX_COMPANY_IDS: usize = 1;
    /// Reservation and customer intervals, in calendar months.
    pub const MAX_INTERVAL_MONTHS: i64 = 3;
}

/// `POST reservations/getAll/2023-06-06` (the filters Lobby sends; the simulator validates the
/// rest from raw JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetReservationsRequest {
    #[serde(flatten)]
    pub auth: Auth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_resource_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_numbers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_start_utc: Option<TimeInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_start_utc: Option<TimeInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_end_utc: Option<TimeInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_end_utc: Option<TimeInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colliding_utc: Option<TimeInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_utc: Option<TimeInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_utc: Option<TimeInterval>,
    pub limitation: Limitation,
}

/// A reservation (ver 2023-06-06), the fields Lobby reads.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Reservation {
    pub id: String,
    pub account_id: String,
    /// `Customer` or `Company`.
    pub account_type: String,
    pub number: String,
    #[serde(default)]
    pub channel_number: Option<String>,
    /// Service order state: `Inquired`, `Confirmed`, `Started`, `Processed`, `Canceled`,
    /// `Optional`, `Requested` (kept as text: an unknown value must not fail the whole page).
    pub state: String,
    pub group_id: String,
    #[serde(default)]
    pub assigned_resource_id: Option<String>,
    pub scheduled_start_utc: Timestamp,
    #[serde(default)]
    pub actual_start_utc: Option<Timestamp>,
    pub scheduled_end_utc: Timestamp,
    #[serde(default)]
    pub actual_end_utc: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReservationsResponse {
    #[serde(default)]
    pub reservations: Vec<Reservation>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `Extent` of the customer operations.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CustomerExtent {
    #[serde(default)]
    pub customers: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<bool>,
}

/// `POST customers/getAll`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCustomersRequest {
    #[serde(flatten)]
    pub auth: Auth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_states: Option<Vec<String>>,
    pub extent: CustomerExtent,
    pub limitation: Limitation,
}

/// A customer, the fields Lobby reads.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Customer {
    pub id: String,
    pub chain_id: String,
    #[serde(default)]
    pub first_name: Option<String>,
    pub last_name: String,
    #[serde(default)]
    pub second_last_name: Option<String>,
    #[serde(default)]
    pub preferred_language_code: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
    pub is_active: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomersResponse {
    #[serde(default)]
    pub customers: Vec<Customer>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `POST customers/search`: no `Limitation`, no paging.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchCustomersRequest {
    #[serde(flatten)]
    pub auth: Auth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extent: Option<CustomerExtent>,
}

/// The reservation (ver 2017-04-12) inside a search result, the fields Lobby reads. Its state
/// enum spells `Enquired` where the 2023 one has `Inquired`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Reservation2017 {
    pub id: String,
    pub number: String,
    #[serde(default)]
    pub channel_number: Option<String>,
    #[serde(default)]
    pub assigned_resource_id: Option<String>,
    pub owner_id: String,
    pub state: String,
    pub start_utc: Timestamp,
    pub end_utc: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomerSearchResult {
    pub customer: Customer,
    #[serde(default)]
    pub reservation: Option<Reservation2017>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchCustomersResponse {
    #[serde(default)]
    pub customers: Vec<CustomerSearchResult>,
}

/// `Extent` of `resources/getAll`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceExtent {
    #[serde(default)]
    pub resources: bool,
    #[serde(default)]
    pub inactive: bool,
}

/// `POST resources/getAll`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourcesRequest {
    #[serde(flatten)]
    pub auth: Auth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    pub extent: ResourceExtent,
    pub limitation: Limitation,
}

/// A resource (room, bed, parking space), the fields Lobby reads.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    pub id: String,
    pub enterprise_id: String,
    pub is_active: bool,
    pub name: String,
    #[serde(default)]
    pub parent_resource_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourcesResponse {
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub cursor: Option<String>,
}
