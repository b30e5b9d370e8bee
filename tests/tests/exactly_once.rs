//! Exactly once across aborted requests, `kill -9` and restarts (issue "Exactly once…"): what a
//! guest saw as sent, or retried, is in Mews once — one message per `client_id`, one thread per
//! start key — counted in the simulator's store.

use std::time::Duration;

use lobby_e2e::{PROPERTY, Ports, Stack, eventually, guest::Guest, process::LobbyProcess};
use lobby_protocol::NewMessage;
use serde_json::json;

/// A client whose requests give up quickly: the browser navigating away mid-request.
fn impatient() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap()
}

async fn threads_named(stack: &Stack, name: &str) -> usize {
    stack.sim().recent_threads().await.iter().filter(|t| t.original_sender == name).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_send_retried_with_the_same_client_id_is_in_mews_once() {
    let stack = Stack::start(Ports::any()).await;
    let (guest, _) = Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Abe Orted", None).await;
    let thread = stack.sim().thread_of("Abe Orted").await;
    stack.sim().fault(json!({"operation": "messages/add", "kind": {"type": "latency", "ms": 1500}, "next": 1})).await;
    let aborted = impatient()
        .post(format!("{}/v1/conversation/messages", stack.proxy_url))
        .header("origin", &stack.pages_url)
        .bearer_auth(&guest.session)
        .json(&NewMessage { client_id: "c-abort".into(), text: "Can I check in early?".into() })
        .send()
        .await;
    assert!(aborted.is_err(), "the first request was abandoned by the client");
    // The widget retries with the same client id while the first send is still on its way.
    let retried = guest.send("c-abort", "Can I check in early?").await;
    assert_eq!(stack.sim().count_text(&thread, "Can I check in early?").await, 1);
    // And once more after it completed: answered from the record, not sent again.
    let again = guest.send("c-abort", "Can I check in early?").await;
    assert_eq!(again.id, retried.id);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.sim().count_text(&thread, "Can I check in early?").await, 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_start_retried_with_the_same_key_is_one_conversation() {
    let stack = Stack::start(Ports::any()).await;
    stack
        .sim()
        .fault(json!({"operation": "messageThreads/add", "kind": {"type": "latency", "ms": 1500}, "next": 1}))
        .await;
    let body = Guest::start_body("key-abort-0123456789", "Sam Twice", None);
    let aborted = Guest::start_raw(&impatient(), &stack.proxy_url, &stack.pages_url, PROPERTY, &body).await;
    assert!(aborted.is_err(), "the first start was abandoned by the client");
    let resp =
        Guest::start_raw(&reqwest::Client::new(), &stack.proxy_url, &stack.pages_url, PROPERTY, &body).await.unwrap();
    let (guest, _) = Guest::started(&stack.proxy_url, &stack.pages_url, resp).await;
    guest.send("c-1", "Hello once").await;
    assert_eq!(threads_named(&stack, "Sam Twice").await, 1, "one thread for one start key");
    let thread = stack.sim().thread_of("Sam Twice").await;
    assert_eq!(stack.sim().count_text(&thread, "Hello once").await, 1, "the session is bound to that thread");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_mews_commit_and_its_answer_the_retry_after_restart_is_one_message() {
    let stack = Stack::start(Ports::any()).await;
    let store = stack.data_dir().join("process.redb");
    let lobby = LobbyProcess::start(env!("CARGO_BIN_EXE_lobby-proc"), &stack, &store).await;
    let (guest, _) = Guest::start(&lobby.url, &stack.pages_url, PROPERTY, "Kay Nine", None).await;
    let thread = stack.sim().thread_of("Kay Nine").await;
    stack
        .sim()
        .fault(json!({"operation": "messages/add", "kind": {"type": "commit_then_stall", "ms": 30000}, "next": 1}))
        .await;
    let in_flight = {
        let guest = guest.clone();
        tokio::spawn(async move { guest.send_raw("c-kill", "Is the spa open tonight?").await })
    };
    eventually(Duration::from_secs(10), "Mews to have committed the message", || async {
        (stack.sim().count_text(&thread, "Is the spa open tonight?").await == 1).then_some(())
    })
    .await;
    // SIGKILL while Mews's answer is on its way: the proxy never learnt the message id.
    let lobby = lobby.kill_and_restart().await;
    let _ = in_flight.await;
    let guest = Guest { proxy: lobby.url.clone(), ..guest };
    let retried = guest.send("c-kill", "Is the spa open tonight?").await;
    assert_eq!(stack.sim().count_text(&thread, "Is the spa open tonight?").await, 1, "one message, not two");
    let in_mews = stack.sim().messages(&thread).await;
    assert!(in_mews.iter().any(|m| m.id == retried.id), "the retry is answered with the committed message");
    drop(lobby);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_thread_creation_and_its_answer_the_retry_after_restart_is_one_conversation() {
    let stack = Stack::start(Ports::any()).await;
    let store = stack.data_dir().join("process.redb");
    let lobby = LobbyProcess::start(env!("CARGO_BIN_EXE_lobby-proc"), &stack, &store).await;
    stack
        .sim()
        .fault(
            json!({"operation": "messageThreads/add", "kind": {"type": "commit_then_stall", "ms": 30000}, "next": 1}),
        )
        .await;
    let body = Guest::start_body("key-kill-0123456789", "Nina Crash", None);
    let in_flight = {
        let (url, origin, body) = (lobby.url.clone(), stack.pages_url.clone(), body.clone());
        tokio::spawn(async move { Guest::start_raw(&reqwest::Client::new(), &url, &origin, PROPERTY, &body).await })
    };
    let thread = stack.sim().thread_of("Nina Crash").await;
    let lobby = lobby.kill_and_restart().await;
    let _ = in_flight.await;
    let resp = Guest::start_raw(&reqwest::Client::new(), &lobby.url, &stack.pages_url, PROPERTY, &body).await.unwrap();
    let (guest, _) = Guest::started(&lobby.url, &stack.pages_url, resp).await;
    guest.send("c-1", "Still one conversation?").await;
    assert_eq!(threads_named(&stack, "Nina Crash").await, 1, "one thread, not two");
    assert_eq!(stack.sim().count_text(&thread, "Still one conversation?").await, 1, "bound to the thread Mews made");
    drop(lobby);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_key_sent_again_with_another_guests_details_opens_nothing_of_the_first() {
    let stack = Stack::start(Ports::any()).await;
    let http = reqwest::Client::new();
    let key = "key-shared-0123456789";
    let body = Guest::start_body(key, "Ann First", None);
    let first = Guest::start_raw(&http, &stack.proxy_url, &stack.pages_url, PROPERTY, &body).await.unwrap();
    let (ann, _) = Guest::started(&stack.proxy_url, &stack.pages_url, first).await;
    ann.send("c-1", "My room number is 214").await;
    // Someone who learnt (or guessed) Ann's key tries it with their own details.
    let body = Guest::start_body(key, "Eve Other", None);
    let resp = Guest::start_raw(&http, &stack.proxy_url, &stack.pages_url, PROPERTY, &body).await.unwrap();
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["field"], "key", "{err}");
    assert!(!err.to_string().contains("214") && err.get("session").is_none());
    stack.stop().await;
}
