//! Fault injection through the admin API, one test per kind.

use std::time::{Duration, Instant};

use mews_wire::paths;
use serde_json::{Value, json};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(5);

async fn thread_count(sim: &Sim) -> usize {
    sim.admin_get("/admin/threads").await["threads"].as_array().unwrap().len()
}

#[tokio::test]
async fn too_many_requests_fault_with_and_without_retry_after() {
    let sim = Sim::start().await;
    sim.fault(json!({"operation": "messageThreads/add", "kind": {"type": "too_many_requests", "retry_after": 7}}))
        .await;
    sim.fault(json!({"operation": "messageThreads/add", "kind": {"type": "too_many_requests"}})).await;
    let b = fixture("add_thread_request.json");
    let r = sim.post(paths::MESSAGE_THREADS_ADD, &b).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let r = sim.post(paths::MESSAGE_THREADS_ADD, &b).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());
    let e: Value = r.json().await.unwrap();
    assert!(e["RequestId"].is_string());
    assert_eq!(sim.post(paths::MESSAGE_THREADS_ADD, &b).await.status(), 200, "both used up");
    assert_eq!(thread_count(&sim).await, 1);
}

#[tokio::test]
async fn request_timeout_fault_is_408() {
    let sim = Sim::start().await;
    sim.fault(json!({"operation": "*", "kind": {"type": "request_timeout"}})).await;
    let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await;
    assert_eq!(status, 408);
    assert!(e["Message"].is_string());
    assert_eq!(thread_count(&sim).await, 0);
}

#[tokio::test]
async fn server_error_fault_is_500_or_the_chosen_5xx() {
    let sim = Sim::start().await;
    sim.fault(json!({"operation": "messages/getAll", "kind": {"type": "server_error"}})).await;
    sim.fault(json!({"operation": "messages/getAll", "kind": {"type": "server_error", "status": 503}})).await;
    let thread = sim.add_thread().await;
    let b = body(CT, GROSS, json!({"MessageThreadIds": [thread], "Limitation": {"Count": 1}}));
    assert_eq!(sim.call(paths::MESSAGES_GET_ALL, &b).await.0, 500);
    let (status, e) = sim.call(paths::MESSAGES_GET_ALL, &b).await;
    assert_eq!(status, 503);
    assert!(e["RequestId"].is_string());
    assert_eq!(sim.call(paths::MESSAGES_GET_ALL, &b).await.0, 200);
}

#[tokio::test]
async fn latency_fault_delays_then_serves_normally() {
    let sim = Sim::start().await;
    sim.fault(json!({"operation": "messageThreads/add", "kind": {"type": "latency", "ms": 600}})).await;
    let t0 = Instant::now();
    let (status, _) = sim.call(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await;
    assert_eq!(status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(600));
    let t1 = Instant::now();
    sim.call(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await;
    assert!(t1.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn reset_fault_closes_the_connection_without_an_answer_and_stores_nothing() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let thread = sim.add_thread().await;
    sim.fault(json!({"operation": "messages/add", "kind": {"type": "reset"}})).await;
    let b = body(CT, GROSS, json!({"Messages": [{"MessageThreadId": thread, "Text": "lost"}]}));
    let err = sim.http.post(sim.url(paths::MESSAGES_ADD)).json(&b).send().await.unwrap_err();
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert!(sim.get_messages(&thread, 10).await["Messages"].as_array().unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.hits().is_empty());
    // The next request is served normally (on a fresh connection).
    assert_eq!(sim.call(paths::MESSAGES_ADD, &b).await.0, 200);
    let log = sim.requests().await;
    assert!(log.iter().any(|r| r["fault"] == "reset"));
}

#[tokio::test]
async fn reset_fault_sends_a_tcp_reset_and_no_http_bytes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = Sim::start().await;
    sim.fault(json!({"operation": "messageThreads/add", "kind": {"type": "reset"}})).await;
    let body = fixture("add_thread_request.json").to_string();
    let mut s = tokio::net::TcpStream::connect(sim.base.trim_start_matches("http://")).await.unwrap();
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        paths::MESSAGE_THREADS_ADD,
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await.expect("closed promptly");
    // Not a single byte of HTTP, and the close is a TCP reset (not an orderly FIN).
    assert!(buf.is_empty(), "got {:?}", String::from_utf8_lossy(&buf));
    assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn commit_then_drop_stores_the_write_fires_the_webhook_but_never_answers() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let thread = sim.add_thread().await;
    sim.fault(json!({"operation": "messages/add", "kind": {"type": "commit_then_drop"}})).await;
    let b = body(CT, GROSS, json!({"Messages": [{"MessageThreadId": thread, "Text": "committed"}]}));
    let err = sim.http.post(sim.url(paths::MESSAGES_ADD)).json(&b).send().await.unwrap_err();
    assert!(!err.is_status(), "{err:?}");
    let stored = sim.get_messages(&thread, 10).await;
    assert_eq!(stored["Messages"][0]["Text"], "committed");
    rx.wait_for(1, WAIT).await;
    assert_eq!(rx.event_ids(), vec![stored["Messages"][0]["Id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn faults_can_target_one_access_token() {
    let sim = Sim::start().await;
    sim.fault(json!({"operation": "*", "access_token": GROSS, "kind": {"type": "server_error"}, "next": 2})).await;
    let net = body(CT, NET, json!({"OriginalSender": "J", "Subject": "S"}));
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &net).await.0, 200);
    let gross = body(CT, GROSS, json!({"OriginalSender": "J", "Subject": "S"}));
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &gross).await.0, 500);
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &gross).await.0, 500);
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &gross).await.0, 200);
}

#[tokio::test]
async fn fractional_faults_are_reproducible_with_the_seed() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let mut c = config();
        c.seed = seed;
        let sim = Sim::with(c).await;
        sim.fault(json!({"operation": "messageThreads/getAll", "kind": {"type": "server_error", "status": 503}, "fraction": 0.3})).await;
        let b = body(CT, GROSS, json!({"MessageThreadIds": ["x"], "Limitation": {"Count": 1}}));
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(sim.call(paths::MESSAGE_THREADS_GET_ALL, &b).await.0);
        }
        out
    }
    let a = pattern(11).await;
    assert_eq!(a, pattern(11).await);
    let failures = a.iter().filter(|s| **s == 503).count();
    assert!((3..=25).contains(&failures), "{failures} of 40");
    assert!(a.iter().all(|s| *s == 503 || *s == 200));
}

#[tokio::test]
async fn faults_are_listed_with_remaining_counts_and_cleared_by_delete() {
    let sim = Sim::start().await;
    sim.fault(json!({"operation": "messages/add", "kind": {"type": "request_timeout"}, "next": 3})).await;
    sim.fault(json!({"operation": "webhook", "kind": {"type": "drop"}, "fraction": 0.5})).await;
    let thread = sim.add_thread().await;
    let b = body(CT, GROSS, json!({"Messages": [{"MessageThreadId": thread, "Text": "x"}]}));
    assert_eq!(sim.call(paths::MESSAGES_ADD, &b).await.0, 408);
    let list = sim.admin_get("/admin/faults").await["faults"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["remaining"], 2);
    assert_eq!(list[0]["fired"], 1);
    assert_eq!(list[0]["kind"]["type"], "request_timeout");
    assert_eq!(list[1]["remaining"], Value::Null);
    let r = sim.http.delete(sim.url("/admin/faults")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(sim.admin_get("/admin/faults").await["faults"].as_array().unwrap().is_empty());
    assert_eq!(sim.call(paths::MESSAGES_ADD, &b).await.0, 200);
}

#[tokio::test]
async fn invalid_fault_rules_are_400() {
    let sim = Sim::start().await;
    for spec in [
        json!({"operation": "messages/nope", "kind": {"type": "reset"}}),
        json!({"operation": "webhook", "kind": {"type": "server_error"}}),
        json!({"operation": "*", "kind": {"type": "duplicate"}}),
        json!({"operation": "*", "kind": {"type": "bogus"}}),
        json!({"operation": "*", "kind": {"type": "reset"}, "next": 0}),
        json!({"operation": "*", "kind": {"type": "reset"}, "fraction": 0}),
    ] {
        let (status, e) = sim.admin_post("/admin/faults", spec.clone()).await;
        assert_eq!(status, 400, "{spec}");
        assert!(e["Message"].is_string());
    }
}

#[tokio::test]
async fn webhook_drop_fault_loses_the_request() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    sim.fault(json!({"operation": "webhook", "kind": {"type": "drop"}})).await;
    let thread = sim.add_thread().await;
    sim.reply(&thread, "dropped").await;
    wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["state"] == "dropped")).await;
    let second = sim.reply(&thread, "delivered").await;
    rx.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.event_ids(), vec![second["Id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn webhook_duplicate_fault_sends_the_request_twice() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    sim.fault(json!({"operation": "webhook", "kind": {"type": "duplicate"}})).await;
    let thread = sim.add_thread().await;
    let m = sim.reply(&thread, "twice").await;
    let hits = rx.wait_for(2, WAIT).await;
    assert_eq!(hits[0].body, hits[1].body);
    assert_eq!(hits[0].body["Events"][0]["Value"]["Id"], m["Id"]);
    let d =
        wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["attempts"].as_array().unwrap().len() == 2)).await;
    assert_eq!(d[0]["fault"], "duplicate");
}

#[tokio::test]
async fn webhook_reorder_fault_sends_the_request_after_the_next_one() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    sim.fault(json!({"operation": "webhook", "kind": {"type": "reorder"}})).await;
    let thread = sim.add_thread().await;
    let first = sim.reply(&thread, "first").await;
    wait_deliveries(&sim, WAIT, |d| d.first().is_some_and(|r| r["state"] == "held")).await;
    let second = sim.reply(&thread, "second").await;
    rx.wait_for(2, WAIT).await;
    assert_eq!(
        rx.event_ids(),
        vec![second["Id"].as_str().unwrap().to_string(), first["Id"].as_str().unwrap().to_string()]
    );
}

#[tokio::test]
async fn webhook_delay_fault_postpones_the_request() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    sim.fault(json!({"operation": "webhook", "kind": {"type": "delay", "ms": 700}})).await;
    let thread = sim.add_thread().await;
    let t0 = Instant::now();
    sim.reply(&thread, "late").await;
    rx.wait_for(1, WAIT).await;
    assert!(t0.elapsed() >= Duration::from_millis(700));
}

#[tokio::test]
async fn reset_fault_still_drops_the_connection_when_the_router_is_served_elsewhere() {
    // Someone embedding `router(state)` in their own axum::serve (no kill switch available).
    let state = mews_sim::AppState::new(config());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, mews_sim::router(state)).into_future());
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/admin/faults"))
        .json(&json!({"operation": "*", "kind": {"type": "reset"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let err = http
        .post(format!("{base}{}", paths::MESSAGE_THREADS_ADD))
        .json(&fixture("add_thread_request.json"))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err:?}");
    let threads: Value = http.get(format!("{base}/admin/threads")).send().await.unwrap().json().await.unwrap();
    assert_eq!(threads["threads"], json!([]));
}
