//! "Find my booking" over real HTTP against the simulator's seeded stays (no browser): what each
//! flow answers, what it costs in Mews calls, how long every answer takes (printed: min / median /
//! max per case), and the attempt limit. The browser side is in `widget_booking`.

use std::time::{Duration, Instant};

use lobby_e2e::{PROPERTY, Ports, Stack};
use lobby_protocol::{BookingAnswer, BookingBy, FindBooking};
use serde_json::Value;

/// Stack whose per-address attempt limit and identification budget are lifted (every test guest
/// is 127.0.0.1, and the run is faster than guests are); the limit per widget stays at its
/// default. The budget's default is unit-tested in `lobby_proxy::identify`.
async fn stack() -> Stack {
    Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        c.guest_limits.identify_per_ip = lobby_proxy::guard::Rate { burst: 10_000.0, per_second: 10_000.0 };
        // 35 identifications in a minute: more than the default share of the token's budget.
        c.guest_limits.identify_budget = 120;
    })
    .await
}

async fn find(stack: &Stack, key: &str, by: BookingBy, number: &str, last: &str) -> (u16, Value, Duration) {
    let body = FindBooking { key: Some(key.into()), by, number: number.into(), last_name: last.into() };
    let at = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{}/v1/properties/{PROPERTY}/booking", stack.proxy_url))
        .header("origin", &stack.pages_url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (status, v, at.elapsed())
}

/// (label, flow, number, last name, stage when it links, Mews calls of the first attempt)
type Case = (&'static str, BookingBy, &'static str, &'static str, Option<&'static str>, usize);

fn stats(d: &mut [Duration]) -> String {
    d.sort();
    format!(
        "min {} ms, median {} ms, max {} ms",
        d[0].as_millis(),
        d[d.len() / 2].as_millis(),
        d[d.len() - 1].as_millis()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_links_every_failure_is_the_same_not_found_and_the_timing_tells_nothing() {
    let stack = stack().await;
    let cases: [Case; 7] = [
        ("pre-arrival, Mews number", BookingBy::Confirmation, "1001", "Müller", Some("before_arrival"), 2),
        ("pre-arrival, OTA number", BookingBy::Confirmation, "4123.456.789", "MULLER", Some("before_arrival"), 3),
        ("in-house, room number", BookingBy::Room, "101", "dvorak", Some("in_house"), 1),
        ("wrong last name", BookingBy::Confirmation, "1001", "Miller", None, 3),
        ("cancelled booking", BookingBy::Confirmation, "1004", "Smith", None, 3),
        ("old stay (checked out 57 days ago)", BookingBy::Confirmation, "1012", "O'Brien", None, 3),
        ("room not checked in", BookingBy::Room, "102", "Müller", None, 1),
    ];
    let mut not_found_bodies = Vec::new();
    let mut n = 0;
    // The room list is read once per hour; read it first so that each room lookup shows its own cost.
    let (status, _, _) = find(&stack, "warm-up-widget-key-000", BookingBy::Room, "P7", "nobody").await;
    assert_eq!(status, 404);
    for (label, by, number, last, stage, cost) in cases {
        let mut times = Vec::new();
        let mut first_cost = None;
        for sample in 0..5 {
            n += 1;
            let before = stack.sim().guest_reads().await;
            let (status, body, took) = find(&stack, &format!("timing-widget-key-{n:04}"), by, number, last).await;
            let calls = stack.sim().guest_reads().await - before;
            first_cost.get_or_insert(calls);
            times.push(took);
            match stage {
                Some(stage) => {
                    assert_eq!(status, 200, "{label}: {body}");
                    let a: BookingAnswer = serde_json::from_value(body.clone()).unwrap();
                    assert_eq!((a.status.as_str(), a.stage.as_str()), ("linked", stage), "{label}");
                    // The OTA number names the same stay as case one: its conversation comes back.
                    let seen_before = sample > 0 || number == "4123.456.789";
                    assert_eq!(a.resumed, seen_before, "{label}: the same booking again resumes");
                    assert_eq!(calls, cost, "{label}: Mews calls");
                    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
                    for k in &keys {
                        assert!(
                            [
                                "status",
                                "first_name",
                                "arrival",
                                "departure",
                                "stage",
                                "locale",
                                "session",
                                "conversation",
                                "resumed"
                            ]
                            .contains(k),
                            "{label}: {k} reached the browser"
                        );
                    }
                    assert!(!body.to_string().contains("Müller") && !body.to_string().contains("Dvořák"), "{body}");
                }
                None => {
                    assert_eq!(status, 404, "{label}: {body}");
                    not_found_bodies.push(body);
                    if sample == 0 {
                        assert_eq!(calls, cost, "{label}: Mews calls of the first attempt");
                    } else {
                        assert_eq!(calls, 0, "{label}: asked again within a minute, answered without Mews");
                    }
                }
            }
            assert!(took >= Duration::from_millis(1500), "{label}: answered before the pad, {took:?}");
        }
        println!("{label}: {} ({} Mews calls on the first attempt)", stats(&mut times), first_cost.unwrap());
    }
    assert!(not_found_bodies.windows(2).all(|w| w[0] == w[1]), "one and the same not_found: {not_found_bodies:?}");
    println!("not_found body: {}", not_found_bodies[0]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_attempt_in_the_window_is_refused_without_a_mews_call() {
    let stack = stack().await;
    let key = "one-widget-attempt-key";
    for i in 1..=5 {
        let (status, body, _) = find(&stack, key, BookingBy::Confirmation, "1001", &format!("Wrong{i}")).await;
        assert_eq!(status, 404, "attempt {i}: {body}");
    }
    let before = stack.sim().guest_reads().await;
    let (status, body, _) = find(&stack, key, BookingBy::Confirmation, "1001", "Müller").await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert_eq!(stack.sim().guest_reads().await, before, "refused without any Mews call");
    println!("6th attempt: {status} {body}; Mews calls for it: 0");
    stack.stop().await;
}
