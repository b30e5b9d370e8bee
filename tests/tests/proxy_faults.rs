//! Nothing lost, nothing duplicated: guest messages reach Mews exactly once and in order while
//! the simulator injects 429s (with and without `Retry-After`), 408s, 5xx, connection resets and
//! answers lost after Mews committed the write.

use std::time::Duration;

use lobby_e2e::{PROPERTY, Ports, Stack, guest::Guest};
use serde_json::json;

/// Sends like the widget does: the same client_id again until the proxy confirms.
async fn send_until_confirmed(guest: &Guest, client_id: &str, text: &str) -> String {
    for _ in 0..30 {
        let resp = guest.send_raw(client_id, text).await;
        if resp.status().is_success() {
            let m: lobby_protocol::ChatMessage = resp.json().await.unwrap();
            return m.id;
        }
        assert!(
            resp.status().is_server_error() || resp.status() == 429,
            "only transient failures are expected, got {}",
            resp.status()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("message {client_id} never confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_in_turn_loses_and_duplicates_nothing() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    // The thread's creation loses its answer once: the proxy must adopt it, not create a second.
    sim.fault(json!({"operation": "messageThreads/add", "kind": {"type": "commit_then_drop"}, "next": 1})).await;
    let (guest, _) = Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Faulty Fran", None).await;
    let thread = stack.sim().thread_of("Faulty Fran").await;
    let kinds = [
        json!({"type": "too_many_requests", "retry_after": 1}),
        json!({"type": "too_many_requests"}),
        json!({"type": "request_timeout"}),
        json!({"type": "server_error", "status": 500}),
        json!({"type": "server_error", "status": 503}),
        json!({"type": "reset"}),
        json!({"type": "commit_then_drop"}),
        json!({"type": "commit_then_drop"}),
    ];
    let mut texts = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        sim.fault(json!({"operation": "messages/add", "kind": kind, "next": 1})).await;
        let text = format!("message {i} under {}", kind["type"]);
        send_until_confirmed(&guest, &format!("c-{i}"), &text).await;
        texts.push(text);
    }
    let in_mews: Vec<String> = sim.messages(&thread).await.into_iter().map(|m| m.text).collect();
    assert_eq!(in_mews, texts, "each message exactly once, in order");
    let threads = sim.recent_threads().await.into_iter().filter(|t| t.original_sender == "Faulty Fran").count();
    assert_eq!(threads, 1, "the lost thread answer did not create a second thread");
    let fired: u64 =
        sim.faults().await["faults"].as_array().map_or(0, |a| a.iter().map(|f| f["fired"].as_u64().unwrap_or(0)).sum());
    assert!(fired >= 9, "every injected fault fired ({fired})");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_under_concurrent_guests_lose_and_duplicate_nothing() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let mut guests = Vec::new();
    for g in 0..4 {
        let name = format!("Guest {g}");
        let (guest, _) = Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, &name, None).await;
        guests.push((guest, stack.sim().thread_of(&name).await));
    }
    for (kind, fraction) in [
        (json!({"type": "commit_then_drop"}), 0.15),
        (json!({"type": "reset"}), 0.05),
        (json!({"type": "server_error", "status": 503}), 0.05),
        (json!({"type": "request_timeout"}), 0.05),
        (json!({"type": "too_many_requests", "retry_after": 1}), 0.05),
    ] {
        sim.fault(json!({"operation": "*", "kind": kind, "fraction": fraction})).await;
    }
    let tasks: Vec<_> = guests
        .iter()
        .enumerate()
        .map(|(g, (guest, _))| {
            let guest = guest.clone();
            tokio::spawn(async move {
                for i in 0..8 {
                    send_until_confirmed(&guest, &format!("g{g}-m{i}"), &format!("guest {g} message {i}")).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let resp = reqwest::Client::new().delete(format!("{}/admin/faults", stack.sim_url)).send().await.unwrap();
    assert!(resp.status().is_success());
    for (g, (_, thread)) in guests.iter().enumerate() {
        let got: Vec<String> = sim.messages(thread).await.into_iter().map(|m| m.text).collect();
        let want: Vec<String> = (0..8).map(|i| format!("guest {g} message {i}")).collect();
        assert_eq!(got, want, "guest {g}: exactly once, in order");
    }
    stack.stop().await;
}
