//! Cursor pagination (spec §1.8) and `Prefer: return=minimal`.

use mews_wire::paths;
use serde_json::{Value, json};

use crate::common::*;

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key].as_array().unwrap().iter().map(|t| t["Id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn pages_run_newest_to_oldest_and_the_cursor_is_the_last_id() {
    let sim = Sim::start().await;
    // Five threads, most within the same second: order must still be deterministic (insertion).
    let mut created = Vec::new();
    for i in 0..5 {
        created
            .push(sim.add_thread_as(auth(CT, GROSS), "J", &format!("t{i}")).await["Id"].as_str().unwrap().to_string());
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    loop {
        let mut lim = json!({"Count": 2});
        if let Some(c) = &cursor {
            lim["Cursor"] = json!(c);
        }
        let b = body(CT, GROSS, json!({"MessageThreadIds": created, "Limitation": lim}));
        let (status, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &b).await;
        assert_eq!(status, 200);
        let page = ids(&v, "MessageThreads");
        pages.push(page.len());
        if page.is_empty() {
            assert_eq!(v["Cursor"], Value::Null);
            break;
        }
        assert_eq!(v["Cursor"], json!(page.last().unwrap()));
        cursor = Some(page.last().unwrap().clone());
        seen.extend(page);
    }
    assert_eq!(pages, vec![2, 2, 1, 0]);
    assert_eq!(seen, newest_first);
}

#[tokio::test]
async fn messages_paginate_newest_first_with_deterministic_ties() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let texts: Vec<String> = (0..7).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let added = sim.add_messages_as(auth(CT, GROSS), &thread, &refs).await;
    let mut expected: Vec<String> = added.iter().map(|m| m["Id"].as_str().unwrap().to_string()).collect();
    expected.reverse();
    let mut got = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let b = body(CT, GROSS, json!({"MessageThreadIds": [thread], "Limitation": {"Count": 3, "Cursor": cursor}}));
        let (status, v) = sim.call(paths::MESSAGES_GET_ALL, &b).await;
        assert_eq!(status, 200);
        let page = ids(&v, "Messages");
        if page.is_empty() {
            break;
        }
        cursor = v["Cursor"].clone();
        got.extend(page);
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn unknown_cursor_is_400() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let theirs = sim.add_thread_as(auth(CT2, GROSS2), "B", "S").await["Id"].clone();
    for cursor in [json!("not-an-id"), theirs] {
        let b = body(CT, GROSS, json!({"MessageThreadIds": [thread], "Limitation": {"Count": 3, "Cursor": cursor}}));
        for path in [paths::MESSAGES_GET_ALL, paths::MESSAGE_THREADS_GET_ALL] {
            let (status, e) = sim.call(path, &b).await;
            assert_eq!(status, 400, "{path}");
            assert!(e["Message"].as_str().unwrap().contains("Cursor"));
        }
    }
}

#[tokio::test]
async fn limitation_count_must_be_1_to_1000() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    for (count, ok) in [
        (json!(0), false),
        (json!(1), true),
        (json!(1000), true),
        (json!(1001), false),
        (json!(-5), false),
        (json!(1.5), false),
    ] {
        let b = body(CT, GROSS, json!({"MessageThreadIds": [thread], "Limitation": {"Count": count}}));
        let (status, e) = sim.call(paths::MESSAGES_GET_ALL, &b).await;
        assert_eq!(status == 200, ok, "Count {count}: {e}");
        if !ok {
            assert!(e["Message"].as_str().unwrap().contains("Limitation.Count"));
        }
    }
}

#[tokio::test]
async fn prefer_return_minimal_gives_204_with_no_body_and_no_content_type_on_an_empty_page() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let b = body(CT, GROSS, json!({"MessageThreadIds": [thread], "Limitation": {"Count": 3}}));
    for path in [paths::MESSAGES_GET_ALL] {
        let r = sim.http.post(sim.url(path)).header("Prefer", "return=minimal").json(&b).send().await.unwrap();
        assert_eq!(r.status(), 204);
        assert!(r.headers().get("content-type").is_none());
        assert!(r.headers().get("request-id").is_some());
        assert!(r.bytes().await.unwrap().is_empty());
    }
    let past = json!({"StartUtc": "2026-01-01T00:00:00Z", "EndUtc": "2026-01-02T00:00:00Z"});
    let tb = body(CT, GROSS, json!({"CreatedUtc": past, "Limitation": {"Count": 3}}));
    let r = sim
        .http
        .post(sim.url(paths::MESSAGE_THREADS_GET_ALL))
        .header("Prefer", "return=minimal")
        .json(&tb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // A non-empty page is still a normal 200; without the header an empty page is 200 too.
    sim.add_message(&thread, "x").await;
    let r = sim
        .http
        .post(sim.url(paths::MESSAGES_GET_ALL))
        .header("Prefer", "return=minimal")
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = sim.http.post(sim.url(paths::MESSAGE_THREADS_GET_ALL)).json(&tb).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The add operations never answer 204.
    let r = sim
        .http
        .post(sim.url(paths::MESSAGE_THREADS_ADD))
        .header("Prefer", "return=minimal")
        .json(&fixture("add_thread_request.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
