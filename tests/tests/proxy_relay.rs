//! The proxy's relay, end to end over real HTTP against the simulator (no browser): start, send,
//! live replies on SSE, history, `Last-Event-ID` replay, sessions across a restart.

use std::time::Duration;

use lobby_e2e::{PROPERTY, Ports, Stack, guest::Guest};
use lobby_protocol::Author;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_arrives_on_sse_and_history_survives_reconnect_and_replay_fills_the_gap() {
    let stack = Stack::start(Ports::any()).await;
    let (guest, started) =
        Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Ana Ruiz", Some(("c-1", "Is breakfast included?")))
            .await;
    let first = started.message.expect("first message delivered");
    assert_eq!(first.author, Author::Guest);
    assert_eq!(first.client_id.as_deref(), Some("c-1"));
    let thread = stack.sim().thread_of("Ana Ruiz").await;

    let mut sse = guest.events(Some(&first.id)).await;
    stack.sim().staff_reply(&thread, "Yes, from 7 to 10 am.").await;
    let (id, reply) = sse.next_message(Duration::from_secs(5)).await.expect("reply on the stream");
    assert_eq!(reply.author, Author::Hotel);
    assert_eq!(reply.text, "Yes, from 7 to 10 am.");
    let id = id.expect("an event id");
    let (secs, message_id) = id.split_once('.').expect("<seconds>.<message id>");
    assert_eq!(message_id, reply.id, "the event id names the message");
    assert_eq!(secs.parse::<i64>().unwrap(), reply.at.parse::<jiff::Timestamp>().unwrap().as_second(), "and its time");
    drop(sse);

    // While disconnected: one more staff reply and a guest message from another tab.
    stack.sim().staff_reply(&thread, "Would you like a table reserved?").await;
    let own = guest.send("c-2", "No thanks!").await;

    // History has everything, in order.
    let history = guest.history().await;
    let texts: Vec<_> = history.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["Is breakfast included?", "Yes, from 7 to 10 am.", "Would you like a table reserved?", "No thanks!"]
    );

    // Reconnecting with Last-Event-ID replays exactly what came after it.
    let mut sse = guest.events(Some(&id)).await;
    let (_, a) = sse.next_message(Duration::from_secs(5)).await.expect("first missed event");
    let (_, b) = sse.next_message(Duration::from_secs(5)).await.expect("second missed event");
    assert_eq!(a.text, "Would you like a table reserved?");
    assert_eq!(b.id, own.id);
    assert!(sse.next_message(Duration::from_millis(1500)).await.is_none(), "nothing is replayed twice");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_working_after_the_proxy_restarts() {
    let mut stack = Stack::start(Ports::any()).await;
    let (guest, _) =
        Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Tom Berg", Some(("c-1", "Hello"))).await;
    let thread = stack.sim().thread_of("Tom Berg").await;
    let mut sse = guest.events(None).await;

    stack.restart_proxy().await;
    // The open stream was told to reconnect before the old instance went away.
    let mut saw_reconnect = false;
    while let Some(ev) = sse.next(Duration::from_secs(3)).await {
        if ev.event == "reconnect" {
            saw_reconnect = true;
            break;
        }
    }
    assert!(saw_reconnect, "SSE clients are told to reconnect on shutdown");

    // The new instance accepts the same session, knows the history, and relays replies.
    let sent = guest.send("c-2", "Still there?").await;
    let texts: Vec<_> = guest.history().await.messages.into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["Hello", "Still there?"]);
    let mut sse = guest.events(Some(&sent.id)).await;
    stack.sim().staff_reply(&thread, "Yes! How can we help?").await;
    let (_, reply) = sse.next_message(Duration::from_secs(5)).await.expect("reply after restart");
    assert_eq!(reply.text, "Yes! How can we help?");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_message_reaches_mews_once() {
    let stack = Stack::start(Ports::any()).await;
    let (guest, _) = Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Lea Maas", None).await;
    let thread = stack.sim().thread_of("Lea Maas").await;
    // The widget retries the same client_id, here three times at once and once later.
    let (a, b, c) = tokio::join!(
        guest.send("same-1", "Late checkout?"),
        guest.send("same-1", "Late checkout?"),
        guest.send("same-1", "Late checkout?")
    );
    let d = guest.send("same-1", "Late checkout?").await;
    assert!(a.id == b.id && b.id == c.id && c.id == d.id, "one message, one id");
    let in_mews = stack.sim().messages(&thread).await;
    assert_eq!(in_mews.len(), 1, "{in_mews:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_thread_is_announced_and_refuses_new_messages() {
    let stack = Stack::start(Ports::any()).await;
    let (guest, started) =
        Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Kai Lund", Some(("c-1", "Thanks!"))).await;
    let thread = stack.sim().thread_of("Kai Lund").await;
    let mut sse = guest.events(started.message.as_ref().map(|m| m.id.as_str())).await;
    stack.sim().resolve(&thread, true).await;
    let mut resolved = false;
    while let Some(ev) = sse.next(Duration::from_secs(15)).await {
        if ev.event == "resolved" {
            assert!(ev.data.contains("true"), "{ev:?}");
            resolved = true;
            break;
        }
    }
    assert!(resolved, "the guest is told the thread was resolved");
    let resp = guest.send_raw("c-2", "One more thing").await;
    assert_eq!(resp.status(), 409);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conversation_resolved");
    // A new conversation is a new thread.
    let (_, again) =
        Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Kai Lund", Some(("c-2", "One more thing"))).await;
    assert!(again.message.is_some());
    let threads: Vec<_> =
        stack.sim().recent_threads().await.into_iter().filter(|t| t.original_sender == "Kai Lund").collect();
    assert_eq!(threads.len(), 2);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_open_stream_history_and_resolved_state_still_catch_up() {
    // This test reads ten times a second, as no widget does: lift the per-conversation read limit.
    let stack = Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        c.guest_limits.reads_per_session = lobby_proxy::guard::Rate { burst: 1000.0, per_second: 100.0 };
    })
    .await;
    let (guest, _) =
        Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, "Nora Quist", Some(("c-1", "Hi"))).await;
    let thread = stack.sim().thread_of("Nora Quist").await;
    stack.sim().staff_reply(&thread, "Hello Nora!").await;
    // No SSE stream is open, so nothing polls this thread; reads reload it from Mews.
    lobby_e2e::eventually(Duration::from_secs(10), "the staff reply in history", || async {
        guest.history().await.messages.iter().any(|m| m.text == "Hello Nora!").then_some(())
    })
    .await;
    stack.sim().resolve(&thread, true).await;
    lobby_e2e::eventually(Duration::from_secs(10), "the resolved state", || async {
        let info: lobby_protocol::ConversationInfo = guest
            .http
            .get(format!("{}/v1/conversation", guest.proxy))
            .bearer_auth(&guest.session)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        info.resolved.then_some(())
    })
    .await;
    assert_eq!(guest.send_raw("c-2", "Are you there?").await.status(), 409);
    stack.stop().await;
}
