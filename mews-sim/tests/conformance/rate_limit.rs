//! Rate limiting per `AccessToken` in a sliding window (spec §1.6), with a small configured limit.

use std::time::{Duration, Instant};

use mews_wire::paths;
use serde_json::{Value, json};

use crate::common::*;

async fn small_limit_sim() -> Sim {
    let mut c = config();
    c.rate_limit_requests = 5;
    c.rate_limit_window = Duration::from_secs(2);
    Sim::with(c).await
}

fn cheap(access: &str) -> Value {
    body(CT, access, json!({"MessageThreadIds": ["00000000-0000-0000-0000-000000000000"], "Limitation": {"Count": 1}}))
}

async fn status(sim: &Sim, access: &str) -> u16 {
    sim.call(paths::MESSAGE_THREADS_GET_ALL, &cheap(access)).await.0
}

#[tokio::test]
async fn exceeding_the_limit_is_429_with_retry_after_in_seconds() {
    let sim = small_limit_sim().await;
    for _ in 0..5 {
        assert_eq!(status(&sim, GROSS).await, 200);
    }
    let r = sim.post(paths::MESSAGE_THREADS_GET_ALL, &cheap(GROSS)).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert!(r.headers().get("request-id").is_some());
    let e: Value = r.json().await.unwrap();
    assert!(e["Message"].is_string() && e["RequestId"].is_string());
}

#[tokio::test]
async fn the_window_slides_from_each_request_instead_of_resetting() {
    let sim = small_limit_sim().await;
    let t0 = Instant::now();
    for _ in 0..3 {
        assert_eq!(status(&sim, GROSS).await, 200);
    }
    tokio::time::sleep_until((t0 + Duration::from_millis(1000)).into()).await;
    for _ in 0..2 {
        assert_eq!(status(&sim, GROSS).await, 200);
    }
    assert_eq!(status(&sim, GROSS).await, 429);
    // After the first three expire, exactly three slots are free (the two later ones still count).
    tokio::time::sleep_until((t0 + Duration::from_millis(2500)).into()).await;
    for _ in 0..3 {
        assert_eq!(status(&sim, GROSS).await, 200);
    }
    assert_eq!(status(&sim, GROSS).await, 429);
}

#[tokio::test]
async fn the_limit_is_per_access_token() {
    let sim = small_limit_sim().await;
    for _ in 0..5 {
        assert_eq!(status(&sim, GROSS).await, 200);
    }
    assert_eq!(status(&sim, GROSS).await, 429);
    assert_eq!(status(&sim, NET).await, 200, "same client, other access token");
}

#[tokio::test]
async fn refused_requests_do_not_take_a_slot() {
    let sim = small_limit_sim().await;
    let t0 = Instant::now();
    for _ in 0..5 {
        assert_eq!(status(&sim, GROSS).await, 200);
    }
    tokio::time::sleep_until((t0 + Duration::from_millis(1000)).into()).await;
    for _ in 0..5 {
        assert_eq!(status(&sim, GROSS).await, 429);
    }
    tokio::time::sleep_until((t0 + Duration::from_millis(2500)).into()).await;
    for _ in 0..5 {
        assert_eq!(status(&sim, GROSS).await, 200, "the 429s at t+1s must not count");
    }
}

#[tokio::test]
async fn default_limit_is_200_per_30_seconds() {
    let sim = Sim::start().await;
    for i in 0..200 {
        assert_eq!(status(&sim, GROSS).await, 200, "request {i}");
    }
    let r = sim.post(paths::MESSAGE_THREADS_GET_ALL, &cheap(GROSS)).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((25..=30).contains(&retry), "Retry-After {retry}");
}

#[tokio::test]
async fn the_limit_can_be_changed_at_run_time() {
    let sim = Sim::start().await;
    let r = sim.http.put(sim.url("/admin/config")).json(&json!({"rate_limit": "2/10"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["rate_limit_requests"], 2);
    assert_eq!(s["rate_limit_window"], 10.0);
    assert_eq!(status(&sim, GROSS).await, 200);
    assert_eq!(status(&sim, GROSS).await, 200);
    assert_eq!(status(&sim, GROSS).await, 429);
    let r = sim.http.put(sim.url("/admin/config")).json(&json!({"rate_limit": "0/10"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn unauthenticated_requests_are_not_rate_limited_per_token() {
    let sim = small_limit_sim().await;
    for _ in 0..10 {
        let (s, _) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &body(CT, "unknown", json!({}))).await;
        assert_eq!(s, 401);
    }
    assert_eq!(status(&sim, GROSS).await, 200);
}
