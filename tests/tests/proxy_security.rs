//! Security properties a hotel and its guests rely on: tokens never reach the browser or the
//! logs, a guest stays inside their own conversation, webhooks need the secret, origins are
//! checked, bad bodies get typed 4xx with the JSON error body.

use std::{
    io::Write,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use lobby_e2e::{PROPERTY, Ports, Stack, WEBHOOK_TOKEN, guest::Guest};
use mews_wire::demo;

/// Every log line any test in this binary produces, at debug level.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || LogWriter(writer.clone()))
            .with_ansi(false)
            .init();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn secrets() -> Vec<&'static str> {
    let mut s = vec![demo::TOKEN_SETS[0].1, demo::TOKEN_SETS[0].2, demo::TOKEN_SETS[0].3];
    s.push("demo-session-secret-0123456789abcdef0123");
    s
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in secrets() {
        assert!(!text.contains(secret), "{what} contains a secret ({}…)", &secret[..8]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_anything_the_browser_can_fetch_or_in_any_log_line() {
    let logs = logs();
    let stack = Stack::start(Ports::any()).await;
    let http = reqwest::Client::builder().no_gzip().no_brotli().build().unwrap();
    let (guest, started) =
        Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Scan Sam", Some(("c-1", "hello"))).await;
    let mut fetched = vec![("start answer".to_string(), serde_json::to_vec(&started).unwrap())];

    // Every embedded asset, as served.
    let loader = http.get(format!("{}/lobby.js", stack.proxy_url)).send().await.unwrap().bytes().await.unwrap();
    let loader_text = String::from_utf8_lossy(&loader).to_string();
    fetched.push(("/lobby.js".into(), loader.to_vec()));
    for asset in lobby_proxy::assets::Assets::embedded().all() {
        let body = http.get(format!("{}{}", stack.proxy_url, asset.path)).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(body.len(), asset.raw.len(), "{} served whole", asset.path);
        fetched.push((asset.path.to_string(), body.to_vec()));
    }
    assert!(loader_text.len() > 100, "the loader is served");

    // Every API answer and the SSE stream.
    for path in ["/v1/properties/grand-hotel", "/v1/conversation", "/v1/conversation/messages"] {
        let body = http
            .get(format!("{}{}", stack.proxy_url, path))
            .bearer_auth(&guest.session)
            .header("origin", &stack.pages_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        fetched.push((path.into(), body.to_vec()));
    }
    let mut sse = guest.events(None).await;
    let _ = sse.next(Duration::from_millis(300)).await;
    let thread = stack.sim().recent_threads().await.into_iter().find(|t| t.original_sender == "Scan Sam").unwrap();
    stack.sim().staff_reply(&thread.id, "hi there").await;
    let ev = sse.next_message(Duration::from_secs(5)).await.expect("reply");
    fetched.push(("sse".into(), serde_json::to_vec(&ev.1).unwrap()));
    // The session itself holds no token either (nor, being sealed, anything else readable).
    let (_, sealed) = guest.session.rsplit_once('.').unwrap();
    fetched.push(("session payload".into(), B64.decode(sealed).unwrap()));

    for (what, bytes) in &fetched {
        assert_clean(what, bytes);
    }
    stack.stop().await;
    let logged = logs.lock().unwrap().clone();
    assert!(logged.len() > 1000, "logs were captured ({} bytes)", logged.len());
    assert_clean("the logs", &logged);
    let log_text = String::from_utf8_lossy(&logged);
    assert!(!log_text.contains(&guest.session), "a session credential was logged");
    assert!(log_text.contains("/v1/conversation/events"), "access log lines are captured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_cannot_reach_another_thread_or_forge_a_session() {
    let stack = Stack::start(Ports::any()).await;
    let (alice, _) = Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Alice", Some(("a-1", "mine"))).await;
    let (bob, _) =
        Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Bob", Some(("b-1", "secret plans"))).await;
    // Alice cannot read her session, let alone point it at Bob's thread: any change to the sealed
    // part breaks it, and so does grafting Bob's sealed part onto her key id.
    assert!(!alice.session.contains("Alice") && !bob.session.contains("Bob"));
    let (alice_head, alice_sealed) = alice.session.rsplit_once('.').unwrap();
    let mut raw = B64.decode(alice_sealed).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    let forged = format!("{alice_head}.{}", B64.encode(&raw));
    let (_, bob_sealed) = bob.session.rsplit_once('.').unwrap();
    let grafted = format!("{}.{bob_sealed}x", alice_head);
    let mut raw_b = B64.decode(bob_sealed).unwrap();
    raw_b[30] ^= 0x80;
    let mixed = format!("{alice_head}.{}", B64.encode(&raw_b));
    for bad in [&grafted, &mixed] {
        let resp =
            alice.http.get(format!("{}/v1/conversation", stack.proxy_url)).bearer_auth(bad).send().await.unwrap();
        assert_eq!(resp.status(), 401);
    }
    let evil = Guest { session: forged, ..alice.clone() };
    let resp = evil
        .http
        .get(format!("{}/v1/conversation/messages", stack.proxy_url))
        .bearer_auth(&evil.session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(evil.send_raw("x-1", "let me in").await.status(), 401);
    let sse =
        reqwest::get(format!("{}/v1/conversation/events?session={}", stack.proxy_url, evil.session)).await.unwrap();
    assert_eq!(sse.status(), 401);
    // Without any session.
    let resp = reqwest::get(format!("{}/v1/conversation/messages", stack.proxy_url)).await.unwrap();
    assert_eq!(resp.status(), 401);
    // Alice still sees only her own messages.
    let texts: Vec<_> = alice.history().await.messages.into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["mine"]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_without_the_secret_are_rejected_and_change_nothing() {
    let stack = Stack::start(Ports::any()).await;
    let http = reqwest::Client::new();
    let envelope = serde_json::json!({
        "EnterpriseId": demo::GROSS_ID, "IntegrationId": "x",
        "Events": [{"Discriminator": "MessageAdded", "Value": {"Id": "m-1"}}]
    });
    let metric = |m: &str, name: &str| -> u64 {
        m.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0)
    };
    for url in [
        format!("{}/webhooks/mews", stack.proxy_url),
        format!("{}/webhooks/mews?Token=wrong", stack.proxy_url),
        format!("{}/webhooks/mews?Token={}x", stack.proxy_url, WEBHOOK_TOKEN),
        format!("{}/webhooks/mews?token={}", stack.proxy_url, WEBHOOK_TOKEN),
    ] {
        let resp = http.post(&url).json(&envelope).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{url}");
    }
    let m = http.get(format!("{}/metrics", stack.proxy_url)).send().await.unwrap().text().await.unwrap();
    assert_eq!(metric(&m, "lobby_webhooks_rejected_total"), 4);
    assert_eq!(metric(&m, "lobby_webhooks_received_total"), 0, "nothing processed");
    // The right secret is accepted at once; garbage with the right secret is a typed 400.
    let ok = http
        .post(format!("{}/webhooks/mews?Token={WEBHOOK_TOKEN}", stack.proxy_url))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    let bad = http
        .post(format!("{}/webhooks/mews?Token={WEBHOOK_TOKEN}", stack.proxy_url))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_are_checked_and_bad_bodies_get_typed_errors() {
    let stack = Stack::start(Ports::any()).await;
    let http = reqwest::Client::new();
    let start = format!("{}/v1/properties/{PROPERTY}/conversations", stack.proxy_url);
    let body = serde_json::json!({"name": "Eve", "topic": "x"});

    let resp = http.post(&start).header("origin", "https://evil.example").json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "origin_not_allowed");
    let pre = http
        .request(reqwest::Method::OPTIONS, &start)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 403);
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    let pre = http
        .request(reqwest::Method::OPTIONS, &start)
        .header("origin", &stack.pages_url)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], stack.pages_url.as_str());

    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            http.post(&start).header("content-type", "application/json").body("{\"name\": \"Eve\",}"),
            400,
            "invalid_input",
        ),
        (http.post(&start).json(&serde_json::json!({"name": 42})), 400, "invalid_input"),
        (http.post(&start).json(&serde_json::json!({"name": "", "topic": "x"})), 400, "invalid_input"),
        (
            http.post(&start).json(&serde_json::json!({"name": "Eve", "topic": "x", "pad": "x".repeat(64 * 1024)})),
            413,
            "payload_too_large",
        ),
        (http.post(format!("{}/v1/properties/nope/conversations", stack.proxy_url)).json(&body), 404, "not_found"),
    ];
    for (req, status, code) in cases {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        let err: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{err}");
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    stack.stop().await;
}
