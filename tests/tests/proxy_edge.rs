//! The proxy on the open internet: what a client can do to it with nothing but TCP and HTTP, and
//! what a guest notices. One test per attack class, each against the real `lobby` server on a
//! port of its own (slow clients, a full server, shutdown with a trickling client, spoofed
//! forwarding headers, stream caps and lifetime, forged or stale sessions, the webhook, names
//! with bidi controls). The access log at the default level is tested in process, in
//! `proxy/src/routes/mod.rs`, where no other test installs a global subscriber.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use lobby_e2e::{PROPERTY, Ports, Stack, WEBHOOK_TOKEN, eventually, guest::Guest};
use lobby_proxy::{
    config::Config,
    session::{Claims, PreviousSecret, SessionKeys, SessionSettings},
};
use secrecy::SecretString;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const SECRET: &str = "edge-test-session-secret-0123456789abcdef";

async fn stack(tweak: impl FnOnce(&mut Config)) -> Stack {
    Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        c.session_secret = SecretString::from(SECRET);
        tweak(c);
    })
    .await
}

fn addr(stack: &Stack) -> SocketAddr {
    stack.proxy_url.trim_start_matches("http://").parse().unwrap()
}

/// Reads until the server closes the connection (or `limit` passes); returns what came and when
/// the connection ended, `None` if it was still open at `limit`.
async fn read_to_close(conn: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(t0.elapsed()), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), Some(t0.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), None),
        }
    }
}

/// The JSON body of a raw HTTP/1.1 answer.
fn json_body(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

async fn get(http: &reqwest::Client, url: String, origin: &str, session: &str) -> reqwest::Response {
    http.get(url).header("origin", origin).bearer_auth(session).send().await.unwrap()
}

async fn assert_rate_limited(resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status(), 429, "{what}");
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{what}: Retry-After {retry}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_or_a_body_trickled_a_byte_at_a_time_are_cut_off() {
    let stack = stack(|c| {
        c.server.header_read_timeout = Duration::from_secs(1);
        c.server.request_timeout = Duration::from_secs(2);
    })
    .await;
    // Headers, one byte every 200 ms: the connection is closed once the header timeout passes.
    let mut conn = TcpStream::connect(addr(&stack)).await.unwrap();
    let trickle = async {
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if conn.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let t0 = Instant::now();
    trickle.await;
    let (_, closed) = read_to_close(&mut conn, Duration::from_secs(1)).await;
    let header_cut = t0.elapsed();
    println!("header trickle cut off after {header_cut:?} (header_read_timeout 1 s)");
    assert!(closed.is_some() && header_cut < Duration::from_secs(4), "still open after {header_cut:?}");

    // A body promised as 200 bytes, one byte every 200 ms: 408 with our JSON body, then closed.
    let mut conn = TcpStream::connect(addr(&stack)).await.unwrap();
    let head = format!(
        "POST /v1/properties/{PROPERTY}/conversations HTTP/1.1\r\nHost: x\r\nOrigin: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{",
        stack.pages_url
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let t0 = Instant::now();
    let (mut rd, mut wr) = conn.into_split();
    let writer = tokio::spawn(async move {
        for _ in 0..100 {
            if wr.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(6), rd.read_to_end(&mut answer)).await;
    let body_cut = t0.elapsed();
    writer.abort();
    let answer = String::from_utf8_lossy(&answer);
    println!("body trickle answered after {body_cut:?} (request_timeout 2 s)");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "request_timeout", "{answer}");
    assert!(body_cut < Duration::from_secs(4), "{body_cut:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_answers_with_a_json_503_instead_of_hanging() {
    let stack = stack(|c| c.server.max_connections = 16).await;
    let mut idle = Vec::new();
    for _ in 0..16 {
        idle.push(TcpStream::connect(addr(&stack)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut conn = TcpStream::connect(addr(&stack)).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (answer, closed) = read_to_close(&mut conn, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "the refused connection is closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 5"), "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "overloaded", "{answer}");
    // The idle ones go away: the next guest is served.
    drop(idle);
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(5), "/healthz once connections are free", || async {
        let r = http.get(format!("{}/healthz", stack.proxy_url)).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_within_its_grace_while_a_client_trickles_a_body() {
    let stack = stack(|c| c.server.shutdown_grace = Duration::from_secs(1)).await;
    // A body promised as 10 000 bytes, a byte every 300 ms: the request stays in flight (the
    // request timeout is the default 60 s), so a graceful drain alone would wait for it.
    let head = format!(
        "POST /v1/properties/{PROPERTY}/conversations HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{{"
    );
    let mut conn = TcpStream::connect(addr(&stack)).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let trickler = tokio::spawn(async move {
        loop {
            if conn.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    stack.stop().await;
    let took = t0.elapsed();
    trickler.abort();
    println!("shutdown with a trickling client took {took:?} (shutdown_grace 1 s)");
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_comes_from_forwarding_headers_only_via_trusted_proxies() {
    let tight = |c: &mut Config| {
        c.guest_limits.reads_per_ip = lobby_proxy::guard::Rate { burst: 2.0, per_second: 0.01 };
    };
    // No trusted proxy: the header is the client's word, and changes nothing.
    let direct = stack(tight).await;
    let (guest, _) = Guest::start(&direct.proxy_url, &direct.pages_url, PROPERTY, "Xavier", None).await;
    let url = format!("{}/v1/conversation", direct.proxy_url);
    for (i, spoof) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"].iter().enumerate() {
        let resp = guest
            .http
            .get(&url)
            .header("origin", &guest.origin)
            .header("x-forwarded-for", *spoof)
            .bearer_auth(&guest.session)
            .send()
            .await
            .unwrap();
        if i < 2 {
            assert_eq!(resp.status(), 200, "read {i}");
        } else {
            assert_rate_limited(resp, "a third read from one address, whatever the header says").await;
        }
    }
    direct.stop().await;

    // Behind a trusted proxy (loopback here): each guest has a bucket of their own, and what a
    // client writes to the left of the proxy's entry is ignored.
    let proxied = stack(|c| {
        tight(c);
        c.client_addresses.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let (a, _) = Guest::start(&proxied.proxy_url, &proxied.pages_url, PROPERTY, "Yara", None).await;
    let (b, _) = Guest::start(&proxied.proxy_url, &proxied.pages_url, PROPERTY, "Zeno", None).await;
    let url = format!("{}/v1/conversation", proxied.proxy_url);
    let read = |g: &Guest, xff: &'static str| {
        let (g, url) = (g.clone(), url.clone());
        async move {
            g.http
                .get(&url)
                .header("origin", &g.origin)
                .header("x-forwarded-for", xff)
                .bearer_auth(&g.session)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(read(&a, "203.0.113.10").await.status(), 200);
    assert_eq!(read(&a, "192.0.2.99, 203.0.113.10").await.status(), 200);
    assert_rate_limited(read(&a, "192.0.2.77, 203.0.113.10").await, "guest A's third read").await;
    assert_eq!(read(&b, "203.0.113.20").await.status(), 200, "guest B behind the same proxy is not affected");
    assert_eq!(read(&b, "2001:db8:5:6::1").await.status(), 200);
    assert_eq!(read(&b, "2001:db8:5:6::2").await.status(), 200, "another address of the same /64 …");
    assert_rate_limited(read(&b, "2001:db8:5:6:ffff::3").await, "… shares its bucket").await;
    proxied.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_the_cap_per_conversation_or_address_get_a_json_429() {
    let stack = stack(|c| {
        c.guest_limits.streams_per_session = 2;
        c.guest_limits.streams_per_ip = 3;
    })
    .await;
    let (a, _) = Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Ada", None).await;
    let (b, _) = Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Bo", None).await;
    let http = reqwest::Client::new();
    let url = |g: &Guest| format!("{}/v1/conversation/events?session={}", stack.proxy_url, g.session);
    let a1 = a.events(None).await;
    let _a2 = a.events(None).await;
    assert_rate_limited(get(&http, url(&a), &a.origin, &a.session).await, "a third tab of one conversation").await;
    let _b1 = b.events(None).await;
    assert_rate_limited(get(&http, url(&b), &b.origin, &b.session).await, "a fourth stream from one address").await;
    // A tab closes: its slot is free again.
    drop(a1);
    eventually(Duration::from_secs(5), "a freed stream slot", || async {
        let r = get(&http, url(&a), &a.origin, &a.session).await;
        (r.status() == 200).then_some(())
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_says_reconnect_and_ends_after_its_maximum_lifetime() {
    let stack = stack(|c| c.server.max_stream = Duration::from_secs(1)).await;
    let (guest, started) =
        Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Lena", Some(("c-1", "hello"))).await;
    let first = started.message.unwrap().id;
    let t0 = Instant::now();
    let mut sse = guest.events(Some(&first)).await;
    let ev = sse.next(Duration::from_secs(5)).await.expect("an event before the stream ends");
    println!("stream ended with `{}` after {:?} (max_stream 1 s)", ev.event, t0.elapsed());
    assert_eq!(ev.event, "reconnect");
    assert!(t0.elapsed() >= Duration::from_millis(900), "{:?}", t0.elapsed());
    assert!(sse.next(Duration::from_secs(2)).await.is_none(), "the stream ended");
    // The widget then reconnects with its last id and gets what it missed, once.
    let thread = stack.sim().thread_of("Lena").await;
    stack.sim().staff_reply(&thread, "welcome back").await;
    let mut again = guest.events(Some(&first)).await;
    let (_, m) = again.next_message(Duration::from_secs(5)).await.expect("the reply after reconnecting");
    assert_eq!(m.text, "welcome back");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_forged_or_misplaced_sessions_are_refused() {
    // The proxy's current secret is SECRET; "old" was the secret before, accepted for 3 s more.
    let old = "edge-test-previous-secret-0123456789abcdef";
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let stack = stack(|c| {
        c.session.previous = vec![PreviousSecret { secret: SecretString::from(old), accept_until: until }];
    })
    .await;
    let (guest, _) = Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Mira Quist", None).await;
    let thread = stack.sim().thread_of("Mira Quist").await;
    assert!(!guest.session.contains("Mira") && !guest.session.contains(&thread), "nothing readable");
    let http = reqwest::Client::new();
    let conv = format!("{}/v1/conversation", stack.proxy_url);
    let status = |token: String| {
        let (http, conv, origin) = (http.clone(), conv.clone(), guest.origin.clone());
        async move { get(&http, conv, &origin, &token).await.status().as_u16() }
    };
    let now = jiff::Timestamp::now().as_second();
    let claims = |iat: i64| Claims { p: PROPERTY.into(), t: thread.clone(), n: "Mira".into(), s: "Q".into(), iat };
    let keys = |secret: &str| SessionKeys::new(SecretString::from(secret.to_owned()), SessionSettings::default());
    assert_eq!(status(keys(SECRET).sign(&claims(now))).await, 200, "a token of the current key");
    let expired = now - 91 * 86_400;
    assert_eq!(status(keys(SECRET).sign(&claims(expired))).await, 401, "issued 91 days ago");
    assert_eq!(status(keys(SECRET).sign(&claims(now + 3600))).await, 401, "issued an hour in the future");
    let foreign = "someone-elses-secret-0123456789abcdef0123";
    assert_eq!(status(keys(foreign).sign(&claims(now))).await, 401, "another key");
    let mut tampered = guest.session.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(status(tampered).await, 401, "one character changed");
    // The previous key: accepted during its grace, refused after.
    let rotated = keys(old).sign(&claims(now));
    assert_eq!(status(rotated.clone()).await, 200, "the previous key within its grace");
    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(4)).await;
    assert_eq!(status(rotated).await, 401, "the previous key after its grace");
    assert_eq!(status(guest.session.clone()).await, 200);
    // The query form is for the stream only.
    for path in ["/v1/conversation", "/v1/conversation/messages"] {
        let resp = http
            .get(format!("{}{path}?session={}", stack.proxy_url, guest.session))
            .header("origin", &guest.origin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}?session=");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    guest.events(None).await; // asserts 200
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_with_a_wrong_token_is_refused_before_its_body_is_read() {
    let stack = stack(|_| {}).await;
    for (token, status) in [("wrong", "401"), (WEBHOOK_TOKEN, "413")] {
        let mut conn = TcpStream::connect(addr(&stack)).await.unwrap();
        // Headers promise 1 MiB (2 MiB for the right token: over the limit); no body follows.
        let len = if status == "401" { 1 << 20 } else { 2 << 20 };
        let head = format!("POST /webhooks/mews?Token={token} HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n");
        conn.write_all(head.as_bytes()).await.unwrap();
        let t0 = Instant::now();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
            .await
            .expect("an answer without sending the body")
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
        println!(
            "webhook Token={} with no body: {} in {:?}",
            if status == "401" { "wrong" } else { "right" },
            &answer[..12],
            t0.elapsed()
        );
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{answer}");
        assert!(t0.elapsed() < Duration::from_secs(1));
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_bidi_controls_is_refused_naming_the_field() {
    let stack = stack(|_| {}).await;
    let http = reqwest::Client::new();
    for (field, body) in [
        ("name", serde_json::json!({"name": "Ann\u{202E}gnp.exe", "topic": "x"})),
        ("topic", serde_json::json!({"name": "Ann", "topic": "Room \u{2066}101\u{2069}"})),
    ] {
        let resp = http
            .post(format!("{}/v1/properties/{PROPERTY}/conversations", stack.proxy_url))
            .header("origin", &stack.pages_url)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let err: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            (err["error"]["code"].as_str(), err["error"]["field"].as_str()),
            (Some("invalid_input"), Some(field))
        );
    }
    let threads = stack.sim().recent_threads().await;
    assert!(!threads.iter().any(|t| t.original_sender.starts_with("Ann")), "no thread reached the staff inbox");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_starts_or_history_reads_is_refused_before_it_reaches_mews() {
    let stack = stack(|c| {
        c.guest_limits.conversations_per_minute = 3.0;
        c.guest_limits.reads_per_session = lobby_proxy::guard::Rate { burst: 5.0, per_second: 0.01 };
    })
    .await;
    let http = reqwest::Client::new();
    let start = |i: usize| {
        http.post(format!("{}/v1/properties/{PROPERTY}/conversations", stack.proxy_url))
            .header("origin", &stack.pages_url)
            .json(&serde_json::json!({"name": format!("Flood {i}"), "topic": "x"}))
            .send()
    };
    let mut sessions = Vec::new();
    for i in 0..3 {
        let resp = start(i).await.unwrap();
        assert_eq!(resp.status(), 200, "start {i}");
        sessions.push(resp.json::<lobby_protocol::Started>().await.unwrap().session);
    }
    assert_rate_limited(start(3).await.unwrap(), "a fourth new conversation within a minute").await;
    let flood = stack.sim().recent_threads().await.into_iter().filter(|t| t.original_sender.starts_with("Flood"));
    assert_eq!(flood.count(), 3, "threads in the staff inbox");
    // Older-history pages each cost a Mews read: the sixth within the burst is refused.
    let page = format!("{}/v1/conversation/messages?before=m-1&limit=50", stack.proxy_url);
    for i in 0..5 {
        let status = get(&http, page.clone(), &stack.pages_url, &sessions[0]).await.status();
        assert_ne!(status, 429, "read {i}");
    }
    assert_rate_limited(get(&http, page, &stack.pages_url, &sessions[0]).await, "a sixth history read").await;
    stack.stop().await;
}
