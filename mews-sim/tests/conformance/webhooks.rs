//! General Webhook delivery (spec §4.2–4.5) against a tiny receiver on port 0.

use std::time::{Duration, Instant};

use mews_sim::{Config, WebhookLag};
use mews_wire::{demo, paths};
use serde_json::{Value, json};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn staff_reply_sends_message_added_in_the_documented_envelope() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let thread = sim.add_thread().await;
    let reply = sim.reply(&thread, "Good evening!").await;
    assert_eq!(reply["Sender"]["Discriminator"], "Enterprise");
    let hits = rx.wait_for(1, WAIT).await;
    let hit = &hits[0];
    assert_eq!(hit.path, "/webhooks/mews");
    assert_eq!(hit.query.as_deref(), Some("Token=secret"));
    let expected = fixture("webhook_message_added.json");
    assert_eq!(keys(&hit.body), keys(&expected), "no Entities, nothing extra");
    assert_eq!(hit.body["EnterpriseId"], demo::GROSS_ID);
    assert!(uuid::Uuid::parse_str(hit.body["IntegrationId"].as_str().unwrap()).is_ok());
    let events = hit.body["Events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(keys(&events[0]), keys(&expected["Events"][0]));
    assert_eq!(events[0]["Discriminator"], "MessageAdded");
    assert_eq!(events[0]["Value"], json!({"Id": reply["Id"]}));
    let parsed: mews_wire::WebhookEnvelope = serde_json::from_value(hit.body.clone()).unwrap();
    assert_eq!(parsed.events[0].value.id, reply["Id"].as_str().unwrap());
}

#[tokio::test]
async fn application_messages_fire_message_added_too() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let thread = sim.add_thread().await;
    let m = sim.add_message(&thread, "guest text").await;
    rx.wait_for(1, WAIT).await;
    assert_eq!(rx.event_ids(), vec![m["Id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn instant_lag_delivers_within_a_fraction_of_a_second() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let thread = sim.add_thread().await;
    let t0 = Instant::now();
    sim.reply(&thread, "hi").await;
    rx.wait_for(1, WAIT).await;
    assert!(t0.elapsed() < Duration::from_millis(500), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn events_of_one_integration_are_batched_up_to_the_cap() {
    let rx = Receiver::start().await;
    let mut c = webhook_config(&rx.url);
    c.webhook_batch_cap = 2;
    let sim = Sim::with(c).await;
    let thread = sim.add_thread().await;
    let added = sim.add_messages_as(auth(CT, GROSS), &thread, &["1", "2", "3", "4", "5"]).await;
    let hits = rx.wait_for(3, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sizes: Vec<usize> = rx.hits().iter().map(|h| h.body["Events"].as_array().unwrap().len()).collect();
    sizes.sort();
    assert_eq!(sizes, vec![1, 2, 2]);
    let mut got = rx.event_ids();
    got.sort();
    let mut want: Vec<String> = added.iter().map(|m| m["Id"].as_str().unwrap().to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(hits.iter().all(|h| h.body["EnterpriseId"] == demo::GROSS_ID));
}

#[tokio::test]
async fn default_batch_cap_keeps_one_request_for_a_burst() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let thread = sim.add_thread().await;
    sim.add_messages_as(auth(CT, GROSS), &thread, &["a", "b", "c"]).await;
    rx.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.hits().len(), 1);
    assert_eq!(rx.hits()[0].body["Events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn each_client_and_enterprise_connection_has_its_own_integration_id() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let a = sim.add_thread().await;
    let b = sim.add_thread_as(auth(CT, NET), "J", "S").await["Id"].as_str().unwrap().to_string();
    let c = sim.add_thread_as(auth(CT2, GROSS2), "J", "S").await["Id"].as_str().unwrap().to_string();
    let mut replies = Vec::new();
    for t in [&a, &b, &c, &a] {
        replies.push(sim.reply(t, "x").await["Id"].as_str().unwrap().to_string());
        rx.wait_for(replies.len(), WAIT).await;
    }
    let integration_of = |id: &str| -> (Value, Value) {
        let h = rx.hits().into_iter().find(|h| h.body["Events"][0]["Value"]["Id"] == id).unwrap();
        (h.body["EnterpriseId"].clone(), h.body["IntegrationId"].clone())
    };
    let (ea, ia) = integration_of(&replies[0]);
    let (eb, ib) = integration_of(&replies[1]);
    let (ec, ic) = integration_of(&replies[2]);
    let (ea2, ia2) = integration_of(&replies[3]);
    assert_eq!(
        (ea.as_str(), eb.as_str(), ec.as_str()),
        (Some(demo::GROSS_ID), Some(demo::NET_ID), Some(demo::GROSS_ID))
    );
    assert!(ia != ib && ia != ic && ib != ic, "one integration per client x enterprise");
    assert_eq!((ea2, ia2), (ea, ia), "stable across requests");
}

#[tokio::test]
async fn failed_delivery_is_retried_until_it_succeeds() {
    let rx = Receiver::start().await;
    rx.fail_next(&[500, 503]);
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let thread = sim.add_thread().await;
    let m = sim.reply(&thread, "x").await;
    let hits = rx.wait_for(3, WAIT).await;
    assert!(hits.iter().all(|h| h.body["Events"][0]["Value"]["Id"] == m["Id"]));
    let log = wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["state"] == "delivered")).await;
    let statuses: Vec<Value> = log[0]["attempts"].as_array().unwrap().iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, vec![json!(500), json!(503), json!(200)]);
}

#[tokio::test]
async fn no_answer_within_the_timeout_counts_as_a_failure() {
    let rx = Receiver::start().await;
    rx.set_delay(Some(Duration::from_millis(800)));
    let mut c = webhook_config(&rx.url);
    c.webhook_timeout = Duration::from_millis(300);
    let sim = Sim::with(c).await;
    let thread = sim.add_thread().await;
    sim.reply(&thread, "x").await;
    rx.wait_for(1, WAIT).await;
    rx.set_delay(None);
    let log = wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["state"] == "delivered")).await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 2);
    assert_eq!(attempts[0]["status"], Value::Null);
    assert!(attempts[0]["error"].as_str().unwrap().contains("no answer"));
    assert_eq!(Config::default().webhook_timeout, Duration::from_secs(5), "Mews' documented 5 s");
}

#[tokio::test]
async fn delivery_is_discarded_after_the_maximum_attempts() {
    let rx = Receiver::start().await;
    rx.fail_next(&[500; 10]);
    let mut c = webhook_config(&rx.url);
    c.webhook_max_attempts = 3;
    c.webhook_retry_delay = Some(Duration::from_millis(100));
    let sim = Sim::with(c).await;
    let thread = sim.add_thread().await;
    sim.reply(&thread, "x").await;
    let log = wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["state"] == "discarded")).await;
    assert_eq!(log[0]["attempts"].as_array().unwrap().len(), 3);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.hits().len(), 3, "no fourth attempt");
}

#[tokio::test]
async fn retries_wait_for_the_retry_delay() {
    let rx = Receiver::start().await;
    rx.fail_next(&[500]);
    let mut c = webhook_config(&rx.url);
    c.webhook_retry_delay = Some(Duration::from_millis(700));
    let sim = Sim::with(c).await;
    let thread = sim.add_thread().await;
    sim.reply(&thread, "x").await;
    rx.wait_for(1, WAIT).await;
    let t1 = Instant::now();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.hits().len(), 1, "not retried before the delay");
    rx.wait_for(2, WAIT).await;
    assert!(t1.elapsed() >= Duration::from_millis(600));
    assert_eq!(Config::default().effective_retry_delay(), Duration::from_secs(1), "Instant mode retries after ~1 s");
    let realistic = Config { webhook_lag: WebhookLag::Realistic, ..Config::default() };
    assert!(realistic.effective_retry_delay() >= Duration::from_secs(60), "realistic retries after minutes");
}

#[tokio::test]
async fn fixed_lag_delays_the_request() {
    let rx = Receiver::start().await;
    let mut c = webhook_config(&rx.url);
    c.webhook_lag = WebhookLag::Fixed(Duration::from_millis(800));
    let sim = Sim::with(c).await;
    let thread = sim.add_thread().await;
    let t0 = Instant::now();
    sim.reply(&thread, "x").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.hits().is_empty());
    assert_eq!(sim.deliveries().await[0]["state"], "pending");
    rx.wait_for(1, WAIT).await;
    assert!(t0.elapsed() >= Duration::from_millis(750));
}

#[tokio::test]
async fn realistic_lag_holds_the_request_for_minutes() {
    let rx = Receiver::start().await;
    let mut c = webhook_config(&rx.url);
    c.webhook_lag = WebhookLag::Realistic;
    let sim = Sim::with(c).await;
    let thread = sim.add_thread().await;
    sim.reply(&thread, "x").await;
    sim.reply(&thread, "y").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.hits().is_empty());
    let d = sim.deliveries().await;
    assert_eq!(d.len(), 1, "simultaneous events share one pending request");
    assert_eq!(d[0]["state"], "pending");
    assert_eq!(d[0]["payload"]["Events"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn lag_and_url_can_be_changed_at_run_time() {
    let rx = Receiver::start().await;
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    sim.reply(&thread, "before").await;
    wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["state"] == "no_url")).await;
    let r = sim
        .http
        .put(sim.url("/admin/config"))
        .json(&json!({"webhook_url": rx.url, "webhook_lag": "0.3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["webhook_lag"], "0.3");
    let t0 = Instant::now();
    sim.reply(&thread, "after").await;
    rx.wait_for(1, WAIT).await;
    assert!(t0.elapsed() >= Duration::from_millis(250));
    assert_eq!(rx.hits().len(), 1, "the no-URL event is not sent later");
}

#[tokio::test]
async fn a_client_webhook_url_overrides_the_global_one() {
    let global = Receiver::start().await;
    let own = Receiver::start().await;
    let mut c = webhook_config(&global.url);
    c.clients.iter_mut().find(|c| c.client_token == CT2).unwrap().webhook_url = Some(own.url.clone());
    let sim = Sim::with(c).await;
    let mine = sim.add_thread().await;
    let theirs = sim.add_thread_as(auth(CT2, GROSS2), "J", "S").await["Id"].as_str().unwrap().to_string();
    let a = sim.reply(&mine, "to app 1").await;
    let b = sim.reply(&theirs, "to app 2").await;
    global.wait_for(1, WAIT).await;
    own.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(global.event_ids(), vec![a["Id"].as_str().unwrap().to_string()]);
    assert_eq!(own.event_ids(), vec![b["Id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn without_a_url_the_request_is_logged_and_not_sent() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    sim.reply(&thread, "x").await;
    let d = wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["state"] == "no_url")).await;
    assert!(d[0]["attempts"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn method_preserving_redirects_are_followed() {
    let rx = Receiver::start().await;
    let moved = rx.url.replace("/webhooks/mews", "/webhooks/moved");
    let sim = Sim::with(webhook_config(&moved)).await;
    let thread = sim.add_thread().await;
    let m = sim.reply(&thread, "x").await;
    let hits = rx.wait_for(1, WAIT).await;
    assert_eq!(hits[0].path, "/webhooks/other");
    assert_eq!(hits[0].body["Events"][0]["Value"]["Id"], m["Id"]);
}

#[tokio::test]
async fn delivery_log_shows_attempts_and_payload_with_the_token_masked() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let thread = sim.add_thread().await;
    let m = sim.reply(&thread, "x").await;
    let d = wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["state"] == "delivered")).await;
    let r = &d[0];
    assert_eq!(r["payload"]["Events"][0]["Value"]["Id"], m["Id"]);
    assert_eq!(r["attempts"][0]["status"], 200);
    assert_eq!(r["client"], demo::TOKEN_SETS[0].0);
    let url = r["url"].as_str().unwrap();
    assert!(url.ends_with("?Token=***") && !url.contains("secret"), "{url}");
    // The payload in the log is exactly what the receiver got.
    assert_eq!(r["payload"], rx.hits()[0].body);
    let _ = paths::PREFIX;
}
