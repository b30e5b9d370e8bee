//! Transport rules: paths, methods, Request-Id, error body, JSON strictness, body cap, auth.

use mews_wire::paths;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn other_methods_than_post_get_404() {
    let sim = Sim::start().await;
    for path in [paths::MESSAGE_THREADS_ADD, paths::MESSAGES_GET_ALL] {
        for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let r = sim.http.request(method.clone(), sim.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 404, "{method} {path}");
            let e: Value = r.json().await.unwrap();
            assert!(e["Message"].is_string());
        }
    }
}

#[tokio::test]
async fn paths_are_compared_exactly_and_case_sensitively() {
    let sim = Sim::start().await;
    let b = fixture("add_thread_request.json");
    for path in [
        "/api/connector/v1/messagethreads/add",
        "/api/connector/v1/MessageThreads/add",
        "/api/connector/v1/messageThreads/add/",
        "/api/connector/v1/messageThreads/addX",
        "/api/connector/v1/messages/getall",
        "/api/connector/v1/messageThreads/delete",
    ] {
        let (status, v) = sim.call(path, &b).await;
        assert_eq!(status, 404, "{path}");
        assert!(v["Message"].is_string(), "{path}");
    }
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &b).await.0, 200);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_matching_the_error_body() {
    let sim = Sim::start().await;
    let mut seen = std::collections::HashSet::new();
    // Success.
    let r = sim.post(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await;
    assert_eq!(r.status(), 200);
    let id = r.headers()["request-id"].to_str().unwrap().to_string();
    assert!(seen.insert(id));
    // 400, 401, 404 (unknown path and wrong method), admin 404.
    let cases: Vec<reqwest::RequestBuilder> = vec![
        sim.http.post(sim.url(paths::MESSAGES_ADD)).json(&auth(CT, GROSS)),
        sim.http.post(sim.url(paths::MESSAGES_ADD)).json(&auth("nope", GROSS)),
        sim.http.post(sim.url("/api/connector/v1/nothing")).json(&auth(CT, GROSS)),
        sim.http.get(sim.url(paths::MESSAGES_ADD)),
        sim.http.get(sim.url("/admin/threads/unknown/messages")),
    ];
    for req in cases {
        let r = req.send().await.unwrap();
        assert!(r.status().is_client_error());
        let header = r.headers()["request-id"].to_str().unwrap().to_string();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["RequestId"], json!(header));
        assert!(!body["Message"].as_str().unwrap().is_empty());
        assert!(seen.insert(header), "request ids must be unique");
    }
    // The error body has exactly the documented fields (spec example as fixture).
    let (_, e) = sim.call(paths::MESSAGES_ADD, &auth(CT, GROSS)).await;
    assert_eq!(keys(&e), keys(&fixture("error_body.json")));
}

#[tokio::test]
async fn invalid_json_including_trailing_commas_is_400_invalid_json() {
    let sim = Sim::start().await;
    for raw in [r#"{"ClientToken": "x",}"#, r#"{"Messages": [1, 2,]}"#, "{", "", "not json", "{'single': 'quotes'}"] {
        let r = sim
            .http
            .post(sim.url(paths::MESSAGES_ADD))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{raw}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["Message"], "Invalid JSON", "{raw}");
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_is_400() {
    let sim = Sim::start().await;
    for v in [json!([1, 2]), json!("text"), json!(42), Value::Null] {
        let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &v).await;
        assert_eq!(status, 400, "{v}");
        assert!(e["Message"].as_str().unwrap().contains("object"));
    }
}

#[tokio::test]
async fn body_over_the_cap_is_413() {
    let sim = Sim::start().await;
    let mut b = fixture("add_thread_request.json");
    b["Subject"] = json!("x".repeat(mews_sim::config::DEFAULT_MAX_BODY_BYTES + 10));
    let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &b).await;
    assert_eq!(status, 413);
    assert!(e["Message"].as_str().unwrap().contains("too large"));
    // Just under the cap is fine.
    b["Subject"] = json!("x".repeat(mews_sim::config::DEFAULT_MAX_BODY_BYTES - 1000));
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &b).await.0, 200);
}

#[tokio::test]
async fn content_type_must_be_application_json() {
    let sim = Sim::start().await;
    let raw = fixture("add_thread_request.json").to_string();
    for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut req = sim.http.post(sim.url(paths::MESSAGE_THREADS_ADD)).body(raw.clone());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 400, "{ct:?}");
    }
    let r = sim
        .http
        .post(sim.url(paths::MESSAGE_THREADS_ADD))
        .header("content-type", "application/json; charset=utf-8")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let sim = Sim::start().await;
    let mut b = fixture("add_thread_request.json");
    b["SomethingNew"] = json!({"Nested": [1, 2, 3]});
    b["LanguageCode"] = json!("en-US");
    b["CultureCode"] = json!("en-US");
    let (status, v) = sim.call(paths::MESSAGE_THREADS_ADD, &b).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn wrong_types_are_400_naming_the_field() {
    let sim = Sim::start().await;
    let cases = [
        (paths::MESSAGE_THREADS_ADD, json!({"OriginalSender": 5, "Subject": "s"}), "OriginalSender"),
        (paths::MESSAGE_THREADS_ADD, json!({"OriginalSender": "J", "Subject": ["s"]}), "Subject"),
        (paths::MESSAGES_ADD, json!({"Messages": {"Text": "x"}}), "Messages"),
        (
            paths::MESSAGES_ADD,
            json!({"Messages": [{"MessageThreadId": 1, "Text": "x"}]}),
            "Messages[0].MessageThreadId",
        ),
        (
            paths::MESSAGES_ADD,
            json!({"Messages": [{"MessageThreadId": "t", "Text": "x", "Identifier": 7}]}),
            "Messages[0].Identifier",
        ),
        (paths::MESSAGES_GET_ALL, json!({"MessageThreadIds": "t", "Limitation": {"Count": 1}}), "MessageThreadIds"),
        (
            paths::MESSAGES_GET_ALL,
            json!({"MessageThreadIds": ["t", 2], "Limitation": {"Count": 1}}),
            "MessageThreadIds[1]",
        ),
        (paths::MESSAGES_GET_ALL, json!({"MessageThreadIds": ["t"], "Limitation": {"Count": "5"}}), "Limitation.Count"),
        (
            paths::MESSAGES_GET_ALL,
            json!({"MessageThreadIds": ["t"], "Limitation": {"Count": 5, "Cursor": 3}}),
            "Limitation.Cursor",
        ),
        (paths::MESSAGE_THREADS_GET_ALL, json!({"CreatedUtc": "2026-03-01", "Limitation": {"Count": 1}}), "CreatedUtc"),
        (
            paths::MESSAGE_THREADS_GET_ALL,
            json!({"CreatedUtc": {"StartUtc": "yesterday", "EndUtc": "2026-03-01T00:00:00Z"}, "Limitation": {"Count": 1}}),
            "CreatedUtc.StartUtc",
        ),
        (
            paths::MESSAGE_THREADS_GET_ALL,
            json!({"EnterpriseIds": [true], "MessageThreadIds": ["t"], "Limitation": {"Count": 1}}),
            "EnterpriseIds[0]",
        ),
    ];
    for (path, extra, field) in cases {
        let (status, e) = sim.call(path, &body(CT, GROSS, extra.clone())).await;
        assert_eq!(status, 400, "{extra}");
        let m = e["Message"].as_str().unwrap();
        assert!(m.contains(field), "{m:?} should name {field}");
    }
    let mut b = fixture("add_thread_request.json");
    b["Client"] = json!(1);
    let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &b).await;
    assert_eq!(status, 400);
    assert!(e["Message"].as_str().unwrap().contains("Client"));
}

#[tokio::test]
async fn missing_required_fields_are_400_naming_the_field() {
    let sim = Sim::start().await;
    let cases = [
        (paths::MESSAGE_THREADS_ADD, json!({"Subject": "s"}), "OriginalSender"),
        (paths::MESSAGE_THREADS_ADD, json!({"OriginalSender": "J", "Subject": null}), "Subject"),
        (paths::MESSAGES_ADD, json!({}), "Messages"),
        (paths::MESSAGES_ADD, json!({"Messages": [{"MessageThreadId": "t"}]}), "Messages[0].Text"),
        (paths::MESSAGES_GET_ALL, json!({"Limitation": {"Count": 1}}), "MessageThreadIds"),
        (paths::MESSAGES_GET_ALL, json!({"MessageThreadIds": ["t"]}), "Limitation"),
        (paths::MESSAGES_GET_ALL, json!({"MessageThreadIds": ["t"], "Limitation": {}}), "Limitation.Count"),
        (
            paths::MESSAGE_THREADS_GET_ALL,
            json!({"UpdatedUtc": {"StartUtc": "2026-03-01T00:00:00Z"}, "Limitation": {"Count": 1}}),
            "UpdatedUtc.EndUtc",
        ),
    ];
    for (path, extra, field) in cases {
        let (status, e) = sim.call(path, &body(CT, GROSS, extra.clone())).await;
        assert_eq!(status, 400, "{extra}");
        let m = e["Message"].as_str().unwrap();
        assert!(m.contains(field), "{m:?} should name {field}");
    }
    let mut b = fixture("add_thread_request.json");
    b.as_object_mut().unwrap().remove("Client");
    let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &b).await;
    assert_eq!(status, 400);
    assert!(e["Message"].as_str().unwrap().contains("Client"));
}

#[tokio::test]
async fn bad_input_never_panics_and_the_server_keeps_serving() {
    let sim = Sim::start().await;
    let weird = [
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "Messages": [[]]}),
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "Messages": [null]}),
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "Limitation": {"Count": -1}, "MessageThreadIds": ["x"]}),
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "Limitation": {"Count": 1e300}, "MessageThreadIds": ["x"]}),
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "Limitation": {"Count": 18446744073709551615u64}, "MessageThreadIds": ["x"]}),
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "CreatedUtc": {"StartUtc": "9999-12-31T23:59:59Z", "EndUtc": "9999-12-31T23:59:59Z"}, "Limitation": {"Count": 1}}),
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "CreatedUtc": {"StartUtc": "-009999-01-01T00:00:00Z", "EndUtc": "2026-01-01T00:00:00Z"}, "Limitation": {"Count": 1}}),
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "OriginalSender": "\u{0000}\u{FFFF}😀", "Subject": "\n"}),
        json!({"ClientToken": [CT], "AccessToken": {"x": 1}, "Client": null}),
        json!({"ClientToken": CT, "AccessToken": GROSS, "Client": "c", "Messages": [{"MessageThreadId": "", "Text": "x"}]}),
    ];
    for path in
        [paths::MESSAGE_THREADS_ADD, paths::MESSAGE_THREADS_GET_ALL, paths::MESSAGES_ADD, paths::MESSAGES_GET_ALL]
    {
        for b in &weird {
            let (status, e) = sim.call(path, b).await;
            assert!((200..500).contains(&status), "{path} {b} -> {status}");
            if status >= 400 {
                assert!(e["Message"].is_string(), "{path} {b}");
            }
        }
    }
    // A deeply nested body.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = sim
        .http
        .post(sim.url(paths::MESSAGES_ADD))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Still alive.
    assert_eq!(sim.call(paths::MESSAGE_THREADS_ADD, &fixture("add_thread_request.json")).await.0, 200);
}

#[tokio::test]
async fn unknown_or_missing_client_token_is_401() {
    let sim = Sim::start().await;
    for b in [
        body("nope", GROSS, json!({"OriginalSender": "J", "Subject": "S"})),
        json!({"AccessToken": GROSS, "Client": "c", "OriginalSender": "J", "Subject": "S"}),
        json!({"ClientToken": 5, "AccessToken": GROSS, "Client": "c", "OriginalSender": "J", "Subject": "S"}),
    ] {
        let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &b).await;
        assert_eq!(status, 401, "{b}");
        assert_eq!(e["Message"], "Invalid ClientToken.");
    }
}

#[tokio::test]
async fn unknown_or_missing_access_token_is_401() {
    let sim = Sim::start().await;
    for b in [
        body(CT, "nope", json!({"OriginalSender": "J", "Subject": "S"})),
        json!({"ClientToken": CT, "Client": "c", "OriginalSender": "J", "Subject": "S"}),
    ] {
        let (status, e) = sim.call(paths::MESSAGE_THREADS_ADD, &b).await;
        assert_eq!(status, 401, "{b}");
        assert_eq!(e["Message"], "Invalid AccessToken.");
    }
}

#[tokio::test]
async fn access_token_of_another_client_is_401() {
    let sim = Sim::start().await;
    let (status, _) =
        sim.call(paths::MESSAGE_THREADS_ADD, &body(CT, GROSS2, json!({"OriginalSender": "J", "Subject": "S"}))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn every_published_demo_token_pair_works() {
    let sim = Sim::start().await;
    for (_, ct, gross, net) in mews_wire::demo::TOKEN_SETS {
        for at in [gross, net] {
            sim.add_thread_as(auth(ct, at), "J", "S").await;
        }
    }
    let (ct, at) = mews_wire::demo::GETTING_STARTED;
    sim.add_thread_as(auth(ct, at), "J", "S").await;
}
