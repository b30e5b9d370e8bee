//! The admin JSON API and the request log.

use mews_wire::{demo, paths};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn admin_threads_lists_threads_with_staff_side_fields() {
    let sim = Sim::start().await;
    let older = sim.add_thread().await;
    let newer = sim.add_thread_as(auth(CT2, GROSS2), "Bob", "Late check-in").await["Id"].clone();
    sim.add_message(&older, "hello").await; // most recent activity
    let list = sim.admin_get("/admin/threads").await["threads"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], json!(older), "most recently active first");
    assert_eq!(list[1]["id"], newer);
    let t = &list[0];
    for k in [
        "id",
        "enterprise_id",
        "client_token_name",
        "original_sender",
        "subject",
        "created_utc",
        "updated_utc",
        "is_resolved",
        "unread",
        "message_count",
    ] {
        assert!(t.get(k).is_some(), "missing {k}");
    }
    assert_eq!(t["enterprise_id"], demo::GROSS_ID);
    assert_eq!(t["client_token_name"], demo::TOKEN_SETS[0].0);
    assert_eq!(t["message_count"], 1);
    assert_eq!(t["unread"], true);
    assert_eq!(list[1]["unread"], false);
}

#[tokio::test]
async fn admin_messages_are_oldest_first_in_wire_form() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let a = sim.add_message(&thread, "first").await;
    let b = sim.reply(&thread, "second").await;
    let v = sim.admin_get(&format!("/admin/threads/{thread}/messages")).await;
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0], a);
    assert_eq!(msgs[1], b);
    assert_eq!(msgs[1]["Sender"], json!({"Discriminator": "Enterprise", "Value": null}));
}

#[tokio::test]
async fn admin_reply_adds_an_enterprise_message_the_application_can_read() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let reply = sim.reply(&thread, "We have a garage.").await;
    assert_eq!(reply["MessageThreadId"], json!(thread));
    assert_eq!(reply["Text"], "We have a garage.");
    let _: mews_wire::Message = serde_json::from_value(reply.clone()).unwrap();
    let via_api = sim.get_messages(&thread, 10).await;
    assert_eq!(via_api["Messages"][0], reply);
    let (status, e) = sim.admin_post(&format!("/admin/threads/{thread}/reply"), json!({"text": "  "})).await;
    assert_eq!(status, 400);
    assert!(e["Message"].is_string());
    let (status, _) = sim.admin_post("/admin/threads/nope/reply", json!({"text": "x"})).await;
    assert_eq!(status, 404);
    let (status, _) = sim.admin_post(&format!("/admin/threads/{thread}/reply"), json!({"txt": "x"})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn admin_resolve_and_reopen() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let (status, t) = sim.admin_post(&format!("/admin/threads/{thread}/resolve"), json!({"resolved": true})).await;
    assert_eq!(status, 200);
    assert_eq!(t["is_resolved"], true);
    let (_, t) = sim.admin_post(&format!("/admin/threads/{thread}/resolve"), json!({"resolved": false})).await;
    assert_eq!(t["is_resolved"], false);
    // Messages can still be added to a resolved thread; it stays resolved.
    sim.admin_post(&format!("/admin/threads/{thread}/resolve"), json!({"resolved": true})).await;
    sim.add_message(&thread, "one more thing").await;
    let list = sim.admin_get("/admin/threads").await;
    assert_eq!(list["threads"][0]["is_resolved"], true);
    assert_eq!(list["threads"][0]["unread"], true);
    let (status, _) = sim.admin_post("/admin/threads/nope/resolve", json!({"resolved": true})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unread_means_guest_messages_newer_than_the_staff_last_read() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let unread = || async { sim.admin_get("/admin/threads").await["threads"][0]["unread"].clone() };
    assert_eq!(unread().await, false);
    sim.add_message(&thread, "hi").await;
    assert_eq!(unread().await, true);
    let (status, _) = sim.admin_post(&format!("/admin/threads/{thread}/read"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(unread().await, false);
    sim.add_message(&thread, "hello?").await;
    assert_eq!(unread().await, true);
    sim.reply(&thread, "answering marks it read").await;
    assert_eq!(unread().await, false);
}

#[tokio::test]
async fn admin_reset_clears_threads_faults_logs_and_rate_windows() {
    let mut c = config();
    c.rate_limit_requests = 3;
    let sim = Sim::with(c).await;
    let thread = sim.add_thread().await;
    sim.add_message(&thread, "x").await;
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await.0, 200);
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await.0, 429);
    sim.fault(json!({"operation": "*", "kind": {"type": "server_error"}, "next": 5})).await;
    let (status, _) = sim.admin_post("/admin/reset", json!({})).await;
    assert_eq!(status, 200);
    assert!(sim.admin_get("/admin/threads").await["threads"].as_array().unwrap().is_empty());
    assert!(sim.admin_get("/admin/faults").await["faults"].as_array().unwrap().is_empty());
    assert!(sim.requests().await.is_empty());
    assert!(sim.deliveries().await.is_empty());
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await.0, 200);
    // Old ids are gone from the API too.
    let (status, _) = sim
        .call(paths::MESSAGES_ADD, &body(CT, GROSS, json!({"Messages": [{"MessageThreadId": thread, "Text": "x"}]})))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn request_log_names_tokens_and_never_shows_a_full_token() {
    let sim = Sim::start().await;
    sim.add_thread().await;
    sim.call(paths::MESSAGE_THREADS_ADD, &body(CT, "SECRET-UNKNOWN-TOKEN-1234567890", json!({}))).await;
    sim.call("/api/connector/v1/messages/nope", &json!({})).await;
    let log = sim.requests().await;
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["path"], paths::MESSAGE_THREADS_ADD);
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[0]["method"], "POST");
    assert_eq!(log[0]["access_token"], format!("{} / Gross", demo::TOKEN_SETS[0].0));
    assert_eq!(log[0]["client"], "mews-sim tests 1.0");
    assert!(log[0]["time_utc"].as_str().unwrap().ends_with('Z'));
    assert!(log[0]["request_id"].is_string());
    assert_eq!(log[1]["status"], 401);
    let hidden = log[1]["access_token"].as_str().unwrap();
    assert!(hidden.starts_with('#') && hidden.len() < 12, "{hidden}");
    assert_eq!(log[2]["status"], 404);
    let raw = serde_json::to_string(&log).unwrap();
    assert!(!raw.contains(GROSS) && !raw.contains("SECRET-UNKNOWN"));
    // Admin calls are not logged as Connector API requests.
    assert!(log.iter().all(|r| r["path"].as_str().unwrap().starts_with("/api/")));
}

#[tokio::test]
async fn admin_config_reads_and_partially_updates_settings() {
    let sim = Sim::start().await;
    let s = sim.admin_get("/admin/config").await;
    assert_eq!(s["rate_limit_requests"], 200);
    assert_eq!(s["rate_limit_window"], 30.0);
    assert_eq!(s["webhook_lag"], "instant");
    assert_eq!(s["webhook_url"], Value::Null);
    let r = sim
        .http
        .put(sim.url("/admin/config"))
        .json(&json!({"webhook_lag": "realistic", "webhook_url": "http://127.0.0.1:9/h?Token=t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = sim.admin_get("/admin/config").await;
    assert_eq!(s["webhook_lag"], "realistic");
    assert_eq!(s["rate_limit_requests"], 200, "untouched fields stay");
    let r = sim.http.put(sim.url("/admin/config")).json(&json!({"webhook_url": null})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sim.admin_get("/admin/config").await["webhook_url"], Value::Null);
    let r = sim.http.put(sim.url("/admin/config")).json(&json!({"nonsense": 1})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = sim.http.put(sim.url("/admin/config")).json(&json!({"webhook_lag": "soon"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn admin_wrong_method_is_405_with_the_error_body_while_the_api_stays_404() {
    let sim = Sim::start().await;
    let r = sim.http.get(sim.url("/admin/reset")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let header = r.headers()["request-id"].to_str().unwrap().to_string();
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["RequestId"], json!(header));
    let r = sim.http.get(sim.url(paths::MESSAGES_ADD)).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
