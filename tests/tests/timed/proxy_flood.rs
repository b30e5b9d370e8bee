//! An anonymous flood does not take the hotel's chat from real guests (issue "Safe on the open
//! internet"): one client behind the hotel's load balancer opens a conversation, then hammers
//! older-history pages, the conversation endpoint and the live stream from 16 connections for
//! 10 s; meanwhile a real guest, another address behind the same balancer, opens a chat. The
//! guest's start is timed (≤ 2 s), and the Mews calls the flood caused are counted from the
//! simulator's log (bounded by the per-session read limit and the older-page cache).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use lobby_e2e::{PROPERTY, Ports, Stack, guest::Guest};
use lobby_proxy::client_ip::ClientAddressConfig;

const ATTACKER: &str = "203.0.113.7";
const GUEST: &str = "198.51.100.9";

fn calls(log: &serde_json::Value, op: &str) -> usize {
    log["requests"].as_array().unwrap().iter().filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with(op))).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_guest_starts_a_chat_within_two_seconds_during_an_anonymous_read_flood() {
    let stack = Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        // The test client is the hotel's load balancer: it says who stands behind it.
        c.client_addresses = ClientAddressConfig {
            trusted_proxies: ClientAddressConfig::parse_trusted(&["127.0.0.1".into()]).unwrap(),
            ..Default::default()
        };
    })
    .await;
    let http = reqwest::Client::new();
    let attacker = {
        let body = Guest::start_body("flood-key-0123456789", "Mallory", None);
        let resp = http
            .post(format!("{}/v1/properties/{PROPERTY}/conversations", stack.proxy_url))
            .header("origin", &stack.pages_url)
            .header("x-forwarded-for", ATTACKER)
            .json(&body)
            .send()
            .await
            .unwrap();
        Guest::started(&stack.proxy_url, &stack.pages_url, resp).await.0
    };
    let before = stack.sim().requests().await;

    let stop = Arc::new(AtomicBool::new(false));
    let (sent, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut flood = Vec::new();
    for worker in 0..16 {
        let (http, a, stop, sent, refused) =
            (http.clone(), attacker.clone(), stop.clone(), sent.clone(), refused.clone());
        flood.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let path = match i % 3 {
                    0 => format!("/v1/conversation/messages?before=invented-{worker}-{}&limit=100", i % 5),
                    1 => "/v1/conversation".to_owned(),
                    _ => format!("/v1/conversation/events?session={}", a.session),
                };
                let resp = http
                    .get(format!("{}{path}", a.proxy))
                    .header("origin", &a.origin)
                    .header("x-forwarded-for", ATTACKER)
                    .bearer_auth(&a.session)
                    .timeout(Duration::from_millis(300))
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::Relaxed);
                if resp.is_ok_and(|r| r.status() == 429) {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The real guest arrives in the middle of it.
    let t0 = Instant::now();
    let body = Guest::start_body(
        "real-guest-key-0123456789",
        "Grace Real",
        Some(lobby_protocol::NewMessage { client_id: "c-1".into(), text: "Do you have a room for tonight?".into() }),
    );
    let resp = http
        .post(format!("{}/v1/properties/{PROPERTY}/conversations", stack.proxy_url))
        .header("origin", &stack.pages_url)
        .header("x-forwarded-for", GUEST)
        .json(&body)
        .send()
        .await
        .unwrap();
    let took = t0.elapsed();
    let (_, started) = Guest::started(&stack.proxy_url, &stack.pages_url, resp).await;
    assert!(started.message.is_some(), "the first message was delivered with the start");
    tokio::time::sleep(Duration::from_secs(7)).await;
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        f.await.unwrap();
    }
    let after = stack.sim().requests().await;
    let reads = |log: &serde_json::Value| calls(log, "messages/getAll") + calls(log, "messageThreads/getAll");
    let flood_reads = reads(&after) - reads(&before);
    println!(
        "read flood for 10 s from one address: {} requests, {} refused with 429; a real guest's start (thread + \
         first message) took {} ms; Mews reads in those 10 s: {flood_reads} (polls at 1/s included)",
        sent.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        took.as_millis()
    );
    assert!(took <= Duration::from_secs(2), "the real guest waited {took:?}");
    // 10 s of polling (≤ 11 polls, ≤ 2 resolved checks) + what the attacker's session may read
    // (burst 30, then 1/s; repeated pages come from the cache).
    assert!(flood_reads <= 11 + 2 + 30 + 10, "{flood_reads} Mews reads");
    assert_eq!(
        calls(&after, "messageThreads/add") - calls(&before, "messageThreads/add"),
        1,
        "only the guest's thread"
    );
    stack.stop().await;
}
