//! The four operations: shapes (spec examples as fixtures), scoping, filters, intervals.

use std::time::Duration;

use mews_wire::{demo, paths};
use serde_json::{Value, json};

use crate::common::*;

fn is_lower_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok() && s == s.to_lowercase()
}

fn is_whole_second_utc(s: &str) -> bool {
    s.len() == 20 && s.ends_with('Z') && s.parse::<jiff::Timestamp>().is_ok()
}

#[tokio::test]
async fn message_threads_add_answers_in_the_documented_shape() {
    let sim = Sim::start().await;
    let (status, v) = sim.call(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await;
    assert_eq!(status, 200);
    let expected = fixture("add_thread_response.json");
    assert_eq!(keys(&v), keys(&expected));
    let t = &v["MessageThreads"][0];
    assert_eq!(v["MessageThreads"].as_array().unwrap().len(), 1);
    assert_eq!(keys(t), keys(&expected["MessageThreads"][0]));
    assert_eq!(t["OriginalSender"], "Jane Traveller");
    assert_eq!(t["Subject"], "Question about parking");
    assert_eq!(t["IsResolved"], false);
    assert_eq!(t["CreatedUtc"], t["UpdatedUtc"]);
    assert!(is_lower_guid(t["Id"].as_str().unwrap()));
    assert!(is_whole_second_utc(t["CreatedUtc"].as_str().unwrap()));
    // And the shared wire type parses it.
    let _: mews_wire::ThreadsResponse = serde_json::from_value(v).unwrap();
}

#[tokio::test]
async fn empty_original_sender_or_subject_is_400() {
    let sim = Sim::start().await;
    for (field, value) in [("OriginalSender", ""), ("Subject", ""), ("Subject", "   ")] {
        let mut b = fixture("add_thread_request.json");
        b[field] = json!(value);
        let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &b).await;
        assert_eq!(status, 400);
        assert!(e["Message"].as_str().unwrap().contains(field));
    }
}

#[tokio::test]
async fn portfolio_token_cannot_add_threads_but_a_single_enterprise_one_can() {
    let sim = Sim::start().await;
    let b = body(PORTFOLIO_CT, PORTFOLIO_AT, json!({"OriginalSender": "J", "Subject": "S"}));
    let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &b).await;
    assert_eq!(status, 400);
    assert!(e["Message"].as_str().unwrap().starts_with("Invalid AccessToken"));
    sim.add_thread_as(auth(PORTFOLIO_CT, PORTFOLIO_GROSS_ONLY), "J", "S").await;
}

#[tokio::test]
async fn message_threads_get_all_needs_at_least_one_filter() {
    let sim = Sim::start().await;
    let (status, e) =
        sim.call(paths::MESSAGE_THREADS_GET_ALL, &body(CT, GROSS, json!({"Limitation": {"Count": 10}}))).await;
    assert_eq!(status, 400);
    assert!(e["Message"].as_str().unwrap().contains("MessageThreadIds"));
    let (status, _) = sim
        .call(
            paths::MESSAGE_THREADS_GET_ALL,
            &body(CT, GROSS, json!({"EnterpriseIds": [demo::GROSS_ID], "Limitation": {"Count": 10}})),
        )
        .await;
    assert_eq!(status, 400, "EnterpriseIds alone is not a filter");
}

#[tokio::test]
async fn message_threads_get_all_matches_the_spec_example_shape() {
    let sim = Sim::start().await;
    let id = sim.add_thread().await;
    let mut req = fixture("get_threads_request.json");
    let now = jiff::Timestamp::now();
    req["UpdatedUtc"] = json!({
        "StartUtc": mews_wire::format_utc(now - jiff::SignedDuration::from_hours(1)),
        "EndUtc": mews_wire::format_utc(now + jiff::SignedDuration::from_hours(1)),
    });
    let (status, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &req).await;
    assert_eq!(status, 200);
    let expected = fixture("get_threads_response.json");
    assert_eq!(keys(&v), keys(&expected));
    assert_eq!(keys(&v["MessageThreads"][0]), keys(&expected["MessageThreads"][0]));
    assert_eq!(v["MessageThreads"][0]["Id"], json!(id));
    assert_eq!(v["Cursor"], json!(id));
    // The literal fixture request (a 2026-03-14 window) finds nothing today: empty page, null cursor.
    let (status, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &fixture("get_threads_request.json")).await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({"MessageThreads": [], "Cursor": null}));
}

#[tokio::test]
async fn applications_see_only_the_threads_they_created() {
    let sim = Sim::start().await;
    let mine = sim.add_thread().await;
    let theirs = sim.add_thread_as(auth(CT2, GROSS2), "Bob", "Other app").await["Id"].clone();
    let ids = json!({"MessageThreadIds": [mine, theirs], "Limitation": {"Count": 10}});
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &body(CT, GROSS, ids.clone())).await;
    let got: Vec<&Value> = v["MessageThreads"].as_array().unwrap().iter().map(|t| &t["Id"]).collect();
    assert_eq!(got, vec![&json!(mine)]);
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &body(CT2, GROSS2, ids.clone())).await;
    let got: Vec<&Value> = v["MessageThreads"].as_array().unwrap().iter().map(|t| &t["Id"]).collect();
    assert_eq!(got, vec![&theirs]);
    // Same application, other enterprise's token: not visible either.
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &body(CT, NET, ids)).await;
    assert_eq!(v["MessageThreads"], json!([]));
}

#[tokio::test]
async fn adding_to_another_applications_thread_is_400_invalid_message_thread_id() {
    let sim = Sim::start().await;
    let theirs = sim.add_thread_as(auth(CT2, GROSS2), "Bob", "Other app").await["Id"].clone();
    let mut b = fixture("add_messages_request.json");
    b["Messages"][0]["MessageThreadId"] = theirs.clone();
    let (status, e) = sim.call(paths::MESSAGES_ADD, &b).await;
    assert_eq!(status, 400);
    assert!(e["Message"].as_str().unwrap().starts_with("Invalid MessageThreadId"));
    // Unknown thread id: same answer. Reading their messages returns nothing.
    let (status, _) = sim.call(paths::MESSAGES_ADD, &fixture("add_messages_request.json")).await;
    assert_eq!(status, 400);
    let (status, v) = sim
        .call(
            paths::MESSAGES_GET_ALL,
            &body(CT, GROSS, json!({"MessageThreadIds": [theirs], "Limitation": {"Count": 5}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["Messages"], json!([]));
}

#[tokio::test]
async fn messages_add_answers_in_the_documented_shape_as_application() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let mut b = fixture("add_messages_request.json");
    b["Messages"][0]["MessageThreadId"] = json!(thread);
    let (status, v) = sim.call(paths::MESSAGES_ADD, &b).await;
    assert_eq!(status, 200, "{v}");
    let expected = fixture("add_messages_response.json");
    assert_eq!(keys(&v), keys(&expected));
    let item = &v["Messages"][0];
    assert_eq!(keys(item), keys(&expected["Messages"][0]));
    assert_eq!(item["Identifier"], "widget-msg-0001");
    let m = &item["Message"];
    assert_eq!(keys(m), keys(&expected["Messages"][0]["Message"]));
    assert_eq!(m["Sender"], json!({"Discriminator": "Application", "Value": null}));
    assert_eq!(m["MessageThreadId"], json!(thread));
    assert_eq!(m["Text"], expected["Messages"][0]["Message"]["Text"]);
    assert!(is_lower_guid(m["Id"].as_str().unwrap()));
    assert!(is_whole_second_utc(m["CreatedUtc"].as_str().unwrap()));
    // Without Identifier, none is echoed.
    let (_, v) = sim
        .call(paths::MESSAGES_ADD, &body(CT, GROSS, json!({"Messages": [{"MessageThreadId": thread, "Text": "x"}]})))
        .await;
    assert!(v["Messages"][0].get("Identifier").is_none());
}

#[tokio::test]
async fn messages_add_is_all_or_nothing() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let b = body(
        CT,
        GROSS,
        json!({"Messages": [
            {"MessageThreadId": thread, "Text": "first"},
            {"MessageThreadId": "00000000-0000-0000-0000-000000000000", "Text": "second"}
        ]}),
    );
    let (status, e) = sim.call(paths::MESSAGES_ADD, &b).await;
    assert_eq!(status, 400);
    assert!(e["Message"].as_str().unwrap().contains("Messages[1]"));
    assert_eq!(sim.get_messages(&thread, 10).await["Messages"], json!([]));
}

#[tokio::test]
async fn messages_add_can_target_several_threads_in_one_batch() {
    let sim = Sim::start().await;
    let a = sim.add_thread().await;
    let b = sim.add_thread().await;
    let req = body(
        CT,
        GROSS,
        json!({"Messages": [{"MessageThreadId": a, "Text": "to a"}, {"MessageThreadId": b, "Text": "to b"}]}),
    );
    let (status, v) = sim.call(paths::MESSAGES_ADD, &req).await;
    assert_eq!(status, 200);
    assert_eq!(v["Messages"][1]["Message"]["MessageThreadId"], json!(b));
    assert_eq!(sim.get_messages(&a, 10).await["Messages"][0]["Text"], "to a");
}

#[tokio::test]
async fn empty_text_is_400() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    for text in ["", " \n\t "] {
        let b = body(CT, GROSS, json!({"Messages": [{"MessageThreadId": thread, "Text": text}]}));
        let (status, e) = sim.call(paths::MESSAGES_ADD, &b).await;
        assert_eq!(status, 400);
        assert!(e["Message"].as_str().unwrap().contains("Messages[0].Text"));
    }
    let (status, _) = sim.call(paths::MESSAGES_ADD, &body(CT, GROSS, json!({"Messages": []}))).await;
    assert_eq!(status, 400, "an empty Messages array is refused");
}

#[tokio::test]
async fn arrays_are_capped_at_1000_items() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let item = json!({"MessageThreadId": thread, "Text": "x"});
    let (status, v) =
        sim.call(paths::MESSAGES_ADD, &body(CT, GROSS, json!({"Messages": vec![item.clone(); 1000]}))).await;
    assert_eq!(status, 200);
    assert_eq!(v["Messages"].as_array().unwrap().len(), 1000);
    let (status, e) = sim.call(paths::MESSAGES_ADD, &body(CT, GROSS, json!({"Messages": vec![item; 1001]}))).await;
    assert_eq!(status, 400);
    assert!(e["Message"].as_str().unwrap().contains("1000"));
    let ids = vec![json!(thread); 1001];
    for (path, field) in
        [(paths::MESSAGES_GET_ALL, "MessageThreadIds"), (paths::MESSAGE_THREADS_GET_ALL, "MessageThreadIds")]
    {
        let (status, e) = sim.call(path, &body(CT, GROSS, json!({field: ids, "Limitation": {"Count": 1}}))).await;
        assert_eq!(status, 400);
        assert!(e["Message"].as_str().unwrap().contains(field));
    }
    let eids = vec![json!(demo::GROSS_ID); 1001];
    let (status, e) = sim
        .call(
            paths::MESSAGES_GET_ALL,
            &body(CT, GROSS, json!({"EnterpriseIds": eids, "MessageThreadIds": [thread], "Limitation": {"Count": 1}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(e["Message"].as_str().unwrap().contains("EnterpriseIds"));
}

#[tokio::test]
async fn messages_get_all_returns_both_senders_newest_first_in_the_documented_shape() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let guest = sim.add_message(&thread, "Hi, is there parking at the hotel?").await;
    let staff = sim.reply(&thread, "Good evening! Yes, we have a garage.").await;
    let v = sim.get_messages(&thread, 100).await;
    let expected = fixture("get_messages_response.json");
    assert_eq!(keys(&v), keys(&expected));
    let msgs = v["Messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(keys(&msgs[0]), keys(&expected["Messages"][0]));
    assert_eq!(msgs[0]["Id"], staff["Id"]);
    assert_eq!(msgs[0]["Sender"], expected["Messages"][0]["Sender"]);
    assert_eq!(msgs[1]["Id"], guest["Id"]);
    assert_eq!(msgs[1]["Sender"], expected["Messages"][1]["Sender"]);
    assert_eq!(v["Cursor"], guest["Id"]);
    let parsed: mews_wire::MessagesResponse = serde_json::from_value(v).unwrap();
    assert_eq!(parsed.messages[0].sender.discriminator, mews_wire::SenderKind::Enterprise);
}

#[tokio::test]
async fn messages_get_all_fixture_request_is_accepted() {
    let sim = Sim::start().await;
    let (status, v) = sim.call(paths::MESSAGES_GET_ALL, &fixture("get_messages_request.json")).await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({"Messages": [], "Cursor": null}));
}

#[tokio::test]
async fn filters_combine_with_and() {
    let sim = Sim::start().await;
    let a = sim.add_thread().await;
    let b = sim.add_thread().await;
    let now = jiff::Timestamp::now();
    let around = json!({
        "StartUtc": mews_wire::format_utc(now - jiff::SignedDuration::from_hours(1)),
        "EndUtc": mews_wire::format_utc(now + jiff::SignedDuration::from_hours(1)),
    });
    let past = json!({"StartUtc": "2026-01-01T00:00:00Z", "EndUtc": "2026-01-02T00:00:00Z"});
    let q = |extra: Value| {
        body(CT, GROSS, {
            let mut e = extra;
            e["Limitation"] = json!({"Count": 10});
            e
        })
    };
    let ids = |v: &Value| -> Vec<String> {
        v["MessageThreads"].as_array().unwrap().iter().map(|t| t["Id"].as_str().unwrap().to_string()).collect()
    };
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &q(json!({"CreatedUtc": around}))).await;
    assert_eq!(ids(&v), vec![b.clone(), a.clone()]);
    let (_, v) =
        sim.call(paths::MESSAGE_THREADS_GET_ALL, &q(json!({"CreatedUtc": around, "MessageThreadIds": [a]}))).await;
    assert_eq!(ids(&v), vec![a.clone()]);
    let (_, v) =
        sim.call(paths::MESSAGE_THREADS_GET_ALL, &q(json!({"UpdatedUtc": past, "MessageThreadIds": [a]}))).await;
    assert!(ids(&v).is_empty());
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &q(json!({"UpdatedUtc": around}))).await;
    assert_eq!(ids(&v).len(), 2);
}

#[tokio::test]
async fn interval_filters_are_half_open_and_equal_ends_mean_one_instant() {
    let sim = Sim::start().await;
    let t = sim.add_thread_as(auth(CT, GROSS), "J", "S").await;
    let id = t["Id"].as_str().unwrap();
    let created: jiff::Timestamp = t["CreatedUtc"].as_str().unwrap().parse().unwrap();
    let sec = jiff::SignedDuration::from_secs(1);
    let f = mews_wire::format_utc;
    let found = |start: jiff::Timestamp, end: jiff::Timestamp| {
        let b = body(
            CT,
            GROSS,
            json!({"CreatedUtc": {"StartUtc": f(start), "EndUtc": f(end)}, "Limitation": {"Count": 10}}),
        );
        let sim = &sim;
        async move {
            let (status, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &b).await;
            assert_eq!(status, 200);
            v["MessageThreads"].as_array().unwrap().iter().any(|t| t["Id"] == id)
        }
    };
    assert!(found(created, created).await, "equal ends: that exact instant");
    assert!(!found(created + sec, created + sec).await);
    assert!(found(created, created + sec).await, "start is included");
    assert!(!found(created - sec, created).await, "end is excluded");
    // Same rule on messages.
    let m = sim.add_message(id, "hello").await;
    let mc: jiff::Timestamp = m["CreatedUtc"].as_str().unwrap().parse().unwrap();
    let msgs = |start: jiff::Timestamp, end: jiff::Timestamp| {
        body(
            CT,
            GROSS,
            json!({"MessageThreadIds": [id], "CreatedUtc": {"StartUtc": f(start), "EndUtc": f(end)}, "Limitation": {"Count": 10}}),
        )
    };
    let (_, v) = sim.call(paths::MESSAGES_GET_ALL, &msgs(mc, mc)).await;
    assert_eq!(v["Messages"].as_array().unwrap().len(), 1);
    let (_, v) = sim.call(paths::MESSAGES_GET_ALL, &msgs(mc - sec, mc)).await;
    assert_eq!(v["Messages"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn interval_longer_than_the_cap_is_400() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let iv = |s: &str, e: &str| json!({"StartUtc": s, "EndUtc": e});
    let cases = [
        // Threads: 3 calendar months from StartUtc.
        (paths::MESSAGE_THREADS_GET_ALL, "CreatedUtc", iv("2026-01-15T00:00:00Z", "2026-04-15T00:00:00Z"), 200),
        (paths::MESSAGE_THREADS_GET_ALL, "CreatedUtc", iv("2026-01-15T00:00:00Z", "2026-04-15T00:00:01Z"), 400),
        (paths::MESSAGE_THREADS_GET_ALL, "UpdatedUtc", iv("2026-01-15T00:00:00Z", "2026-04-15T00:00:00Z"), 200),
        (paths::MESSAGE_THREADS_GET_ALL, "UpdatedUtc", iv("2025-11-30T00:00:00Z", "2026-03-01T00:00:00Z"), 400),
        // Messages: 1 calendar month (Jan 31 + 1 month = Feb 28).
        (paths::MESSAGES_GET_ALL, "CreatedUtc", iv("2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"), 200),
        (paths::MESSAGES_GET_ALL, "CreatedUtc", iv("2026-01-31T00:00:00Z", "2026-03-01T00:00:00Z"), 400),
        (paths::MESSAGES_GET_ALL, "CreatedUtc", iv("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"), 200),
        (paths::MESSAGES_GET_ALL, "CreatedUtc", iv("2026-03-01T00:00:00Z", "2026-04-01T00:00:01Z"), 400),
    ];
    for (path, field, interval, expected) in cases {
        let b = body(CT, GROSS, json!({field: interval, "MessageThreadIds": [thread], "Limitation": {"Count": 1}}));
        let (status, e) = sim.call(path, &b).await;
        assert_eq!(status, expected, "{path} {field} {interval} {e}");
        if status == 400 {
            assert!(e["Message"].as_str().unwrap().contains(field));
        }
    }
}

#[tokio::test]
async fn end_before_start_is_400() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    let iv = json!({"StartUtc": "2026-03-02T00:00:00Z", "EndUtc": "2026-03-01T00:00:00Z"});
    for (path, field) in [
        (paths::MESSAGE_THREADS_GET_ALL, "CreatedUtc"),
        (paths::MESSAGE_THREADS_GET_ALL, "UpdatedUtc"),
        (paths::MESSAGES_GET_ALL, "CreatedUtc"),
    ] {
        let b = body(CT, GROSS, json!({field: iv, "MessageThreadIds": [thread], "Limitation": {"Count": 1}}));
        let (status, e) = sim.call(path, &b).await;
        assert_eq!(status, 400);
        assert!(e["Message"].as_str().unwrap().contains("EndUtc"));
    }
}

#[tokio::test]
async fn portfolio_token_reads_every_covered_enterprise_and_enterprise_ids_narrow_it() {
    let sim = Sim::start().await;
    // Threads created by the portfolio app in each enterprise with single-enterprise tokens...
    let mut cfg = config();
    cfg.clients.last_mut().unwrap().access_tokens.push(mews_sim::config::AccessTokenConfig {
        name: "Portfolio net".into(),
        token: "PORTFOLIO-NET-ONLY".into(),
        enterprise_ids: vec![demo::NET_ID.into()],
    });
    drop(sim);
    let sim = Sim::with(cfg).await;
    let g = sim.add_thread_as(auth(PORTFOLIO_CT, PORTFOLIO_GROSS_ONLY), "G", "gross").await["Id"].clone();
    let n = sim.add_thread_as(auth(PORTFOLIO_CT, "PORTFOLIO-NET-ONLY"), "N", "net").await["Id"].clone();
    let ids =
        |v: &Value| -> Vec<Value> { v["MessageThreads"].as_array().unwrap().iter().map(|t| t["Id"].clone()).collect() };
    let q = json!({"MessageThreadIds": [g, n], "Limitation": {"Count": 10}});
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &body(PORTFOLIO_CT, PORTFOLIO_AT, q.clone())).await;
    assert_eq!(ids(&v), vec![n.clone(), g.clone()]);
    let mut narrowed = q.clone();
    narrowed["EnterpriseIds"] = json!([demo::NET_ID]);
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &body(PORTFOLIO_CT, PORTFOLIO_AT, narrowed)).await;
    assert_eq!(ids(&v), vec![n.clone()]);
    // The single-enterprise token sees only its own enterprise.
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &body(PORTFOLIO_CT, PORTFOLIO_GROSS_ONLY, q)).await;
    assert_eq!(ids(&v), vec![g.clone()]);
    // messages/getAll across enterprises, and adding with the portfolio token works for both.
    let mut add = auth(PORTFOLIO_CT, PORTFOLIO_AT);
    add["Messages"] = json!([{"MessageThreadId": g, "Text": "g"}, {"MessageThreadId": n, "Text": "n"}]);
    assert_eq!(sim.call(paths::MESSAGES_ADD, &add).await.0, 200);
    let (_, v) = sim
        .call(
            paths::MESSAGES_GET_ALL,
            &body(PORTFOLIO_CT, PORTFOLIO_AT, json!({"MessageThreadIds": [g, n], "Limitation": {"Count": 10}})),
        )
        .await;
    assert_eq!(v["Messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn enterprise_ids_outside_the_token_scope_are_400() {
    let sim = Sim::start().await;
    let thread = sim.add_thread().await;
    for (path, extra) in [
        (paths::MESSAGE_THREADS_GET_ALL, json!({"EnterpriseIds": [demo::NET_ID], "MessageThreadIds": [thread]})),
        (paths::MESSAGES_GET_ALL, json!({"EnterpriseIds": [demo::GROSS_ID, "nope"], "MessageThreadIds": [thread]})),
    ] {
        let mut b = body(CT, GROSS, extra);
        b["Limitation"] = json!({"Count": 1});
        let (status, e) = sim.call(path, &b).await;
        assert_eq!(status, 400);
        assert!(e["Message"].as_str().unwrap().starts_with("Invalid EnterpriseIds"));
    }
    let b = body(
        CT,
        GROSS,
        json!({"EnterpriseIds": [demo::GROSS_ID], "MessageThreadIds": [thread], "Limitation": {"Count": 1}}),
    );
    assert_eq!(sim.call(paths::MESSAGES_GET_ALL, &b).await.0, 200);
}

#[tokio::test]
async fn updated_utc_moves_when_a_message_is_added_or_the_thread_is_resolved() {
    let sim = Sim::start().await;
    let thread = sim.add_thread_as(auth(CT, GROSS), "J", "S").await;
    let id = thread["Id"].as_str().unwrap();
    let get = || {
        let b = body(CT, GROSS, json!({"MessageThreadIds": [id], "Limitation": {"Count": 1}}));
        let sim = &sim;
        async move { sim.call(paths::MESSAGE_THREADS_GET_ALL, &b).await.1["MessageThreads"][0].clone() }
    };
    // Wait into the next whole second so the change is visible at 1 s resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sim.add_message(id, "hello").await;
    let after_message = get().await;
    assert_eq!(after_message["CreatedUtc"], thread["CreatedUtc"]);
    assert!(after_message["UpdatedUtc"].as_str() > thread["UpdatedUtc"].as_str());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = sim.admin_post(&format!("/admin/threads/{id}/resolve"), json!({"resolved": true})).await;
    assert_eq!(status, 200);
    let after_resolve = get().await;
    assert_eq!(after_resolve["IsResolved"], true);
    assert!(after_resolve["UpdatedUtc"].as_str() > after_message["UpdatedUtc"].as_str());
}

#[tokio::test]
async fn is_resolved_is_always_emitted() {
    let sim = Sim::start().await;
    let id = sim.add_thread().await;
    let b = body(CT, GROSS, json!({"MessageThreadIds": [id], "Limitation": {"Count": 1}}));
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &b).await;
    assert_eq!(v["MessageThreads"][0]["IsResolved"], false);
    sim.admin_post(&format!("/admin/threads/{id}/resolve"), json!({"resolved": true})).await;
    let (_, v) = sim.call(paths::MESSAGE_THREADS_GET_ALL, &b).await;
    assert_eq!(v["MessageThreads"][0]["IsResolved"], true);
}
