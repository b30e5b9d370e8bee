//! Load: 500 guests sending a combined 100 messages/s for 60 s through one hotel's Mews
//! connection with the real limit (200 requests / 30 s per AccessToken). Zero 429s; every message
//! in Mews exactly once, in order per thread. Prints upstream requests used against the budget and
//! guest messages per upstream request.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use lobby_e2e::{PROPERTY, Ports, Stack, guest::Guest};
use lobby_proxy::guard::{GuestLimits, Rate};

const GUESTS: usize = 500;
const RATE_PER_SEC: usize = 100;
const SECONDS: usize = 60;

fn metric(m: &str, name: &str) -> f64 {
    m.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_guests_at_100_messages_per_second_stay_inside_the_budget() {
    // All test guests come from 127.0.0.1: lift the per-IP limit (the per-session one stays).
    let stack = Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        c.guest_limits =
            GuestLimits { per_ip: Rate { burst: 10_000.0, per_second: 10_000.0 }, ..GuestLimits::default() };
    })
    .await;
    let http = reqwest::Client::new();
    let metrics =
        || async { http.get(format!("{}/metrics", stack.proxy_url)).send().await.unwrap().text().await.unwrap() };

    // Guests arrive and open their conversations (thread creation is one Mews call each).
    let t0 = Instant::now();
    let starts: Vec<_> = (0..GUESTS)
        .map(|g| {
            let (proxy, origin) = (stack.proxy_url.clone(), stack.pages_url.clone());
            tokio::spawn(
                async move { Guest::start(&proxy, &origin, PROPERTY, &format!("Load guest {g}"), None).await.0 },
            )
        })
        .collect();
    let mut guests = Vec::new();
    for s in starts {
        guests.push(s.await.unwrap());
    }
    let created_in = t0.elapsed();
    // Every guest holds a live stream, as an open widget does.
    let mut streams = Vec::new();
    for g in &guests {
        streams.push(g.events(None).await);
    }
    let before = metrics().await;

    // 100 messages per second for 60 s, round-robin over the guests (one per guest every 5 s).
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..RATE_PER_SEC * SECONDS {
        let due = start + Duration::from_secs_f64(i as f64 / RATE_PER_SEC as f64);
        tokio::time::sleep_until(due.into()).await;
        let guest = guests[i % GUESTS].clone();
        let n = i / GUESTS;
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let resp = guest.send_raw(&format!("m{n}"), &format!("message {n}")).await;
            assert!(resp.status().is_success(), "send failed: {}", resp.status());
            sent.fetch_add(1, Ordering::Relaxed);
        }));
    }
    let offered_in = start.elapsed();
    for t in tasks {
        t.await.unwrap();
    }
    let drained_in = start.elapsed();
    let after = metrics().await;
    drop(streams);

    let calls = metric(&after, "lobby_upstream_requests_total") - metric(&before, "lobby_upstream_requests_total");
    let adds = metric(&after, "lobby_upstream_requests_total{operation=\"messages/add\"}")
        - metric(&before, "lobby_upstream_requests_total{operation=\"messages/add\"}");
    let messages = sent.load(Ordering::Relaxed);
    let window = drained_in.as_secs_f64();
    let budget = 200.0 * window / 30.0;
    println!("{GUESTS} threads created in {created_in:?} (one messageThreads/add each)");
    println!(
        "{messages} messages offered in {offered_in:?}, all confirmed after {drained_in:?}; upstream requests {calls} \
         of a budget of {budget:.0} in that time ({:.0} %); messages/add calls {adds}; {:.1} guest messages per messages/add; \
         429s from Mews: {}",
        100.0 * calls / budget,
        messages as f64 / adds.max(1.0),
        metric(&after, "lobby_upstream_429_total")
    );
    assert_eq!(messages as usize, RATE_PER_SEC * SECONDS);
    assert_eq!(metric(&after, "lobby_upstream_429_total"), 0.0, "no 429 from Mews");
    let log: serde_json::Value =
        http.get(format!("{}/admin/requests", stack.sim_url)).send().await.unwrap().json().await.unwrap();
    let requests = log["requests"].as_array().expect("request log");
    let too_many = requests.iter().filter(|r| r["status"] == 429).count();
    assert!(requests.len() > 500, "the simulator logged the run ({} requests)", requests.len());
    assert_eq!(too_many, 0, "the simulator answered 429");

    // Every message exactly once and in order, per thread (read through the staff side).
    let threads: serde_json::Value =
        http.get(format!("{}/admin/threads", stack.sim_url)).send().await.unwrap().json().await.unwrap();
    let threads = threads["threads"].as_array().unwrap();
    let mut checked = 0;
    for t in threads.iter().filter(|t| t["original_sender"].as_str().is_some_and(|s| s.starts_with("Load guest "))) {
        let id = t["id"].as_str().unwrap();
        let msgs: serde_json::Value = http
            .get(format!("{}/admin/threads/{id}/messages", stack.sim_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let texts: Vec<&str> =
            msgs["messages"].as_array().unwrap().iter().map(|m| m["Text"].as_str().unwrap()).collect();
        let want: Vec<String> = (0..RATE_PER_SEC * SECONDS / GUESTS).map(|n| format!("message {n}")).collect();
        assert_eq!(texts, want, "thread {id}");
        checked += 1;
    }
    assert_eq!(checked, GUESTS);
    stack.stop().await;
}
