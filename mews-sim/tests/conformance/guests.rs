//! The guest reads of "Find my booking" (`mews-guests.md` §1–§4, §6): shapes, filters, the
//! seeded demo stays and their traps, validation, paging, and the console's linked stay.

use mews_wire::guests::paths as gp;
use serde_json::{Value, json};

use crate::common::*;

async fn reservations(sim: &Sim, extra: Value) -> (u16, Value) {
    sim.call(gp::RESERVATIONS_GET_ALL, &body(CT, GROSS, extra)).await
}

fn numbers(v: &Value) -> Vec<String> {
    let mut n: Vec<String> =
        v["Reservations"].as_array().unwrap().iter().map(|r| r["Number"].as_str().unwrap().to_string()).collect();
    n.sort();
    n
}

fn message(v: &Value) -> &str {
    v["Message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn reservations_by_number_have_the_2023_shape_without_enterprise_id() {
    let sim = Sim::start().await;
    let (status, v) = reservations(&sim, json!({"Numbers": ["1001"], "Limitation": {"Count": 10}})).await;
    assert_eq!(status, 200, "{v}");
    let r = &v["Reservations"][0];
    for field in [
        "Id",
        "AccountId",
        "AccountType",
        "Number",
        "ChannelNumber",
        "State",
        "GroupId",
        "AssignedResourceId",
        "ScheduledStartUtc",
        "ActualStartUtc",
        "ScheduledEndUtc",
        "ActualEndUtc",
        "StartUtc",
        "EndUtc",
        "ServiceId",
        "CreatedUtc",
        "UpdatedUtc",
        "Options",
        "PersonCounts",
    ] {
        assert!(r.get(field).is_some(), "{field} missing in {r}");
    }
    assert!(r.get("EnterpriseId").is_none(), "the 2023 reservation has no EnterpriseId");
    assert_eq!((r["State"].as_str(), r["ChannelNumber"].as_str()), (Some("Confirmed"), Some("4123456789")));
    assert_eq!(v["Cursor"], r["Id"]);
    let parsed: mews_wire::guests::ReservationsResponse = serde_json::from_value(v).unwrap();
    assert_eq!(parsed.reservations[0].account_type, "Customer");
    // Exact, case-sensitive strings: the dotted OTA form is the caller's job.
    let (_, v) = reservations(&sim, json!({"ChannelNumbers": ["4123.456.789"], "Limitation": {"Count": 10}})).await;
    assert!(numbers(&v).is_empty());
}

#[tokio::test]
async fn the_demo_traps_are_seeded() {
    let sim = Sim::start().await;
    // A Mews number that is another booking's OTA number, 200 days ahead (beyond any 3-month window).
    let (_, v) = reservations(&sim, json!({"ChannelNumbers": ["1003"], "Limitation": {"Count": 100}})).await;
    assert_eq!(numbers(&v), ["1006"]);
    let (_, v) = reservations(&sim, json!({"Numbers": ["1003"], "Limitation": {"Count": 10}})).await;
    assert_eq!(v["Reservations"][0]["State"], "Processed");
    // One channel number, two rooms with their own owners.
    let (_, v) = reservations(&sim, json!({"ChannelNumbers": ["EXP-7788990"], "Limitation": {"Count": 100}})).await;
    assert_eq!(numbers(&v), ["1007", "1008"]);
    let owners: Vec<&str> =
        v["Reservations"].as_array().unwrap().iter().map(|r| r["AccountId"].as_str().unwrap()).collect();
    assert_ne!(owners[0], owners[1]);
    // Every state of the table, and the company owner.
    let (_, v) = reservations(&sim, json!({"Limitation": {"Count": 100}})).await;
    let all = v["Reservations"].as_array().unwrap();
    assert_eq!(all.len(), 12, "Limitation alone pages through all reservations");
    let state_of = |n: &str| all.iter().find(|r| r["Number"] == n).unwrap()["State"].as_str().unwrap().to_string();
    assert_eq!(
        ["1002", "1004", "1005", "1012"].map(state_of),
        ["Started", "Canceled", "Optional", "Processed"].map(String::from)
    );
    assert_eq!(all.iter().find(|r| r["Number"] == "1011").unwrap()["AccountType"], "Company");
    // Filters AND: a number with the wrong state finds nothing.
    let (_, v) =
        reservations(&sim, json!({"Numbers": ["1002"], "States": ["Confirmed"], "Limitation": {"Count": 10}})).await;
    assert!(numbers(&v).is_empty());
}

#[tokio::test]
async fn reservation_validation_follows_the_spec() {
    let sim = Sim::start().await;
    let iv = |a: &str, b: &str| json!({"StartUtc": a, "EndUtc": b});
    let cases = [
        (json!({"Numbers": ["1"]}), "Limitation"),
        (json!({"Limitation": {"Count": 0}}), "Limitation.Count"),
        (json!({"Limitation": {"Count": 1001}}), "Limitation.Count"),
        (json!({"ChannelNumbers": vec!["x"; 101], "Limitation": {"Count": 1}}), "ChannelNumbers"),
        (json!({"Numbers": vec!["x"; 1001], "Limitation": {"Count": 1}}), "Numbers"),
        (
            json!({"CreatedUtc": iv("2026-01-01T00:00:00Z", "2026-04-02T00:00:00Z"), "Limitation": {"Count": 1}}),
            "CreatedUtc",
        ),
        (
            json!({"ScheduledStartUtc": iv("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"),
                   "ActualStartUtc": iv("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"), "Limitation": {"Count": 1}}),
            "ScheduledStartUtc",
        ),
        (
            json!({"ScheduledEndUtc": iv("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"),
                   "ActualEndUtc": iv("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"), "Limitation": {"Count": 1}}),
            "ScheduledEndUtc",
        ),
    ];
    for (extra, field) in cases {
        let (status, e) = reservations(&sim, extra.clone()).await;
        assert_eq!(status, 400, "{extra}: {e}");
        assert!(message(&e).contains(field), "{extra}: {e}");
    }
    // The discontinued 2017 version.
    let (status, _) =
        sim.call(gp::RESERVATIONS_GET_ALL_2017, &body(CT, GROSS, json!({"Limitation": {"Count": 1}}))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn reservations_page_newest_first_by_cursor() {
    let sim = Sim::start().await;
    let (_, first) = reservations(&sim, json!({"Limitation": {"Count": 5}})).await;
    let cursor = first["Cursor"].as_str().unwrap().to_string();
    let (_, second) = reservations(&sim, json!({"Limitation": {"Count": 5, "Cursor": cursor}})).await;
    let created = |v: &Value| -> Vec<String> {
        v["Reservations"].as_array().unwrap().iter().map(|r| r["CreatedUtc"].as_str().unwrap().to_string()).collect()
    };
    let (a, b) = (created(&first), created(&second));
    assert_eq!((a.len(), b.len()), (5, 5));
    assert!(a.windows(2).all(|w| w[0] >= w[1]) && a.last() > b.first(), "{a:?} then {b:?}");
    let (_, empty) = reservations(&sim, json!({"Numbers": ["nope"], "Limitation": {"Count": 5}})).await;
    assert_eq!(empty["Cursor"], Value::Null);
}

#[tokio::test]
async fn customers_get_all_needs_extent_and_a_filter_and_chain_ids_on_portfolio_tokens() {
    let sim = Sim::start().await;
    let (_, r) = reservations(&sim, json!({"Numbers": ["1006"], "Limitation": {"Count": 1}})).await;
    let owner = r["Reservations"][0]["AccountId"].as_str().unwrap().to_string();
    let ok = json!({"CustomerIds": [owner], "Extent": {"Customers": true, "Addresses": false}, "Limitation": {"Count": 100}});
    let (status, v) = sim.call(gp::CUSTOMERS_GET_ALL, &body(CT, GROSS, ok.clone())).await;
    assert_eq!(status, 200, "{v}");
    let c = &v["Customers"][0];
    assert_eq!((c["LastName"].as_str(), c["PreferredLanguageCode"].as_str()), (Some("Østergaard"), Some("en-GB")));
    assert_eq!((c["LanguageCode"].as_str(), c["IsActive"].as_bool()), (Some("da-DK"), Some(true)));
    assert!(c["ChainId"].is_string() && c["Email"].is_string(), "other personal fields are there to be dropped");
    let mut no_extent = ok.clone();
    no_extent.as_object_mut().unwrap().remove("Extent");
    let (status, e) = sim.call(gp::CUSTOMERS_GET_ALL, &body(CT, GROSS, no_extent)).await;
    assert!(status == 400 && message(&e).contains("Extent"), "{e}");
    let (status, e) = sim
        .call(
            gp::CUSTOMERS_GET_ALL,
            &body(CT, GROSS, json!({"Extent": {"Customers": true}, "Limitation": {"Count": 1}})),
        )
        .await;
    assert!(status == 400 && message(&e).contains("CustomerIds"), "{e}");
    let (status, e) = sim.call(gp::CUSTOMERS_GET_ALL, &body(PORTFOLIO_CT, PORTFOLIO_AT, ok.clone())).await;
    assert!(status == 400 && message(&e).contains("ChainIds"), "{e}");
    let mut with_chain = ok.clone();
    with_chain["ChainIds"] = json!([c["ChainId"]]);
    let (status, _) = sim.call(gp::CUSTOMERS_GET_ALL, &body(PORTFOLIO_CT, PORTFOLIO_AT, with_chain)).await;
    assert_eq!(status, 200);
    // Without Extent.Customers: no customers, but a cursor.
    let mut none = ok;
    none["Extent"] = json!({"Customers": false});
    let (_, v) = sim.call(gp::CUSTOMERS_GET_ALL, &body(CT, GROSS, none)).await;
    assert_eq!(v["Customers"], json!([]));
    assert!(v["Cursor"].is_string());
}

async fn room_id(sim: &Sim, name: &str) -> String {
    let (status, v) = sim
        .call(
            gp::RESOURCES_GET_ALL,
            &body(CT, GROSS, json!({"Names": [name], "Extent": {"Resources": true}, "Limitation": {"Count": 10}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v["Resources"][0]["Id"].as_str().unwrap_or_else(|| panic!("no room {name}: {v}")).to_string()
}

#[tokio::test]
async fn customers_search_by_room_returns_only_the_checked_in_party_with_a_2017_reservation() {
    let sim = Sim::start().await;
    let search = |resource: Value| body(CT, GROSS, json!({"ResourceId": resource, "Extent": {"Customers": true}}));
    let (status, v) = sim.call(gp::CUSTOMERS_SEARCH, &search(json!(room_id(&sim, "101").await))).await;
    assert_eq!(status, 200, "{v}");
    let mut names: Vec<&str> =
        v["Customers"].as_array().unwrap().iter().map(|c| c["Customer"]["LastName"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Dvořák", "Dvořáková"], "owner and companion");
    let r = &v["Customers"][0]["Reservation"];
    assert_eq!((r["Number"].as_str(), r["State"].as_str()), (Some("1002"), Some("Started")));
    assert!(r["OwnerId"].is_string() && r["StartUtc"].is_string() && r.get("ScheduledStartUtc").is_none());
    assert!(v.get("Cursor").is_none(), "not paged");
    // 102 is assigned to a reservation not yet checked in; an unknown id gives an empty list.
    for resource in [json!(room_id(&sim, "102").await), json!("00000000-0000-4000-8000-000000000000")] {
        let (status, v) = sim.call(gp::CUSTOMERS_SEARCH, &search(resource)).await;
        assert_eq!((status, v["Customers"].clone()), (200, json!([])));
    }
    // No filter: every active customer, the paymaster with no reservation.
    let (_, v) = sim.call(gp::CUSTOMERS_SEARCH, &body(CT, GROSS, json!({"Extent": {"Customers": true}}))).await;
    let paymaster =
        v["Customers"].as_array().unwrap().iter().find(|c| c["Customer"]["LastName"] == "Paymaster").unwrap();
    assert_eq!(paymaster["Reservation"], Value::Null);
    // A check-in made at the front desk shows at once.
    let (status, _) = sim.admin_post("/admin/reservations/1001/state", json!({"state": "Started"})).await;
    assert_eq!(status, 200);
    let (_, v) = sim.call(gp::CUSTOMERS_SEARCH, &search(json!(room_id(&sim, "102").await))).await;
    assert_eq!(v["Customers"][0]["Customer"]["LastName"], "Müller");
}

#[tokio::test]
async fn resources_need_extent_and_hide_inactive_rooms_unless_asked() {
    let sim = Sim::start().await;
    let list = |extent: Value| body(CT, GROSS, json!({"Extent": extent, "Limitation": {"Count": 1000}}));
    let (status, v) = sim.call(gp::RESOURCES_GET_ALL, &list(json!({"Resources": true, "Inactive": false}))).await;
    assert_eq!(status, 200, "{v}");
    let names: Vec<&str> = v["Resources"].as_array().unwrap().iter().map(|r| r["Name"].as_str().unwrap()).collect();
    for n in ["101", "102", "103", "201", "12A", "Suite 1", "P7", "101A"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert!(!names.contains(&"999"));
    let bed = v["Resources"].as_array().unwrap().iter().find(|r| r["Name"] == "101A").unwrap();
    assert_eq!(bed["Data"]["Discriminator"], "Object");
    assert!(bed["ParentResourceId"].is_string());
    let (_, v) = sim.call(gp::RESOURCES_GET_ALL, &list(json!({"Resources": true, "Inactive": true}))).await;
    assert!(v["Resources"].as_array().unwrap().iter().any(|r| r["Name"] == "999" && r["IsActive"] == false));
    let (status, e) = sim.call(gp::RESOURCES_GET_ALL, &body(CT, GROSS, json!({"Limitation": {"Count": 10}}))).await;
    assert!(status == 400 && message(&e).contains("Extent"), "{e}");
    // The other enterprise has its own 101.
    let (_, v) = sim
        .call(
            gp::RESOURCES_GET_ALL,
            &body(CT, NET, json!({"Extent": {"Resources": true}, "Limitation": {"Count": 10}})),
        )
        .await;
    assert_eq!(v["Resources"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn guest_reads_count_against_the_token_rate_limit() {
    let mut config = config();
    config.rate_limit_requests = 2;
    let sim = Sim::with(config).await;
    for _ in 0..2 {
        assert_eq!(reservations(&sim, json!({"Limitation": {"Count": 1}})).await.0, 200);
    }
    let r = sim.post(gp::CUSTOMERS_SEARCH, &body(CT, GROSS, json!({}))).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn the_console_shows_the_stay_a_thread_is_linked_to() {
    let sim = Sim::start().await;
    let t = sim
        .add_thread_as(
            auth(CT, GROSS),
            "Anna Müller",
            "[Booking 1001] Anna Müller · 24 Mar–27 Mar 2026 · before arrival",
        )
        .await;
    let page = sim.http.get(sim.url(&format!("/threads/{}", t["Id"].as_str().unwrap()))).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("data-testid=\"linked-stay\""), "{page}");
    assert!(page.contains("Stay 1001 (channel 4123456789) · Anna Müller · room 102"), "{page}");
    let inbox = sim.http.get(sim.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(inbox.contains("data-testid=\"linked-stay\""));
    let threads = sim.admin_get("/admin/threads").await;
    assert_eq!(threads["threads"][0]["linked_stay"]["state"], "Confirmed");
}
