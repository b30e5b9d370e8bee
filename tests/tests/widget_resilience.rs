//! The widget when the network or the proxy misbehaves, in a real headless Chromium against the
//! real proxy and simulator: nothing the guest typed is lost or sent twice, and no staff reply is
//! missed or shown twice.

use std::time::Duration;

use lobby_e2e::{Ports, Stack, browser::Browser, eventually};
use serde_json::json;

const SENT: &str = "r.querySelectorAll('[data-testid=lobby-message][data-author=guest][data-status=sent]').length";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_typed_offline_are_sent_once_when_back_online() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Olga Offline", "Parking", "Is there parking?").await;
    let thread = sim.thread_of("Olga Offline").await;

    browser.set_offline(true).await;
    browser.wait_js(Duration::from_secs(10), "!navigator.onLine").await;
    let composer = browser.widget("lobby-composer").await;
    composer.send_keys("typed while offline\n").await.unwrap();
    composer.send_keys("and a second one\n").await.unwrap();
    // The guest sees both waiting, and the connection notice.
    browser
        .wait_js(
            Duration::from_secs(10),
            "r.querySelectorAll('[data-testid=lobby-message][data-status=sending]').length == 2 && r.querySelector('[data-testid=lobby-connection]')",
        )
        .await;
    assert_eq!(sim.count_text(&thread, "typed while offline").await, 0, "nothing can reach Mews while offline");

    browser.set_offline(false).await;
    browser.wait_js(Duration::from_secs(40), &format!("{SENT} == 3")).await;
    eventually(Duration::from_secs(10), "both messages in Mews", || async {
        let texts: Vec<String> = sim.messages(&thread).await.into_iter().map(|m| m.text).collect();
        (texts.iter().any(|t| t == "and a second one")).then_some(texts)
    })
    .await;
    let texts: Vec<String> = sim.messages(&thread).await.into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["Is there parking?", "typed while offline", "and a second one"], "once each, in order");

    // The live stream is back too: a staff reply shows, and the guest's list has no duplicates.
    sim.staff_reply(&thread, "after-offline").await;
    browser
        .wait_js(
            Duration::from_secs(20),
            "[...r.querySelectorAll('[data-author=hotel]')].some(m => m.textContent.includes('after-offline'))",
        )
        .await;
    assert_eq!(browser.guest_texts().await, ["Is there parking?", "typed while offline", "and a second one"]);
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_reply_during_a_proxy_restart_appears_exactly_once() {
    let mut stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Rita Restart", "Taxi", "Can you book a taxi?").await;
    let thread = sim.thread_of("Rita Restart").await;
    sim.staff_reply(&thread, "before").await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;

    // Staff answer while the proxy restarts: the widget's stream drops and reconnects.
    let reply = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        sim.staff_reply(&thread, "during-restart").await;
    };
    tokio::join!(stack.restart_proxy(), reply);
    browser
        .wait_js(
            Duration::from_secs(40),
            "[...r.querySelectorAll('[data-author=hotel]')].some(m => m.textContent.includes('during-restart'))",
        )
        .await;
    sim.staff_reply(&thread, "after").await;
    browser
        .wait_js(
            Duration::from_secs(20),
            "[...r.querySelectorAll('[data-author=hotel]')].some(m => m.textContent.includes('after'))",
        )
        .await;
    // Give a duplicate (a replay plus a history merge) the chance to show up.
    browser.widget("lobby-composer").await.send_keys("thanks\n").await.unwrap();
    browser.wait_js(Duration::from_secs(20), &format!("{SENT} == 2")).await;
    assert_eq!(browser.hotel_texts().await, ["before", "during-restart", "after"]);
    assert_eq!(browser.guest_texts().await, ["Can you book a taxi?", "thanks"]);
    browser.close().await;
    stack.stop().await;
}

/// When Mews keeps failing (the proxy makes 8 attempts, the 9th call fails too), `start` answers without the first message (the thread exists); the
/// widget keeps the message queued and delivers it, once, when Mews recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_message_is_delivered_when_start_answered_without_it() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    sim.fault(json!({ "operation": "messages/add", "kind": { "type": "server_error", "status": 503 }, "next": 9 }))
        .await;
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.widget("lobby-name").await.send_keys("Frida First").await.unwrap();
    browser.widget("lobby-topic").await.send_keys("Breakfast").await.unwrap();
    let first = "When is breakfast served?";
    browser.widget("lobby-first-message").await.send_keys(first).await.unwrap();
    browser.widget("lobby-start").await.click().await.unwrap();

    // The conversation opens with the message shown (pending or sent), never dropped.
    browser.wait_js(Duration::from_secs(60), "r.querySelector('[data-testid=lobby-composer]')").await;
    assert_eq!(browser.guest_texts().await, [first], "the first message stays in the list");
    let thread = sim.thread_of("Frida First").await;
    browser.wait_js(Duration::from_secs(90), &format!("{SENT} == 1")).await;
    eventually(Duration::from_secs(10), "the first message in Mews", || async {
        (sim.count_text(&thread, first).await > 0).then_some(())
    })
    .await;
    // Once, even though the proxy and the widget both retried.
    browser.widget("lobby-composer").await.send_keys("thanks\n").await.unwrap();
    browser.wait_js(Duration::from_secs(20), &format!("{SENT} == 2")).await;
    assert_eq!(sim.count_text(&thread, first).await, 1);
    assert_eq!(browser.guest_texts().await, [first, "thanks"]);
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reload_the_conversation_is_shown_from_history_once() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Hugo History", "Late check-in", "We land at 23:40").await;
    let thread = sim.thread_of("Hugo History").await;
    sim.staff_reply(&thread, "The night desk is open 24/7.").await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;
    browser.widget("lobby-composer").await.send_keys("Thank you!\n").await.unwrap();
    browser.wait_js(Duration::from_secs(15), &format!("{SENT} == 2")).await;

    // Another page of the site: the conversation comes back (the panel was open, so it reopens).
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.wait_js(Duration::from_secs(15), "r.querySelectorAll('[data-testid=lobby-message]').length == 3").await;
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-panel]:not([hidden])')").await;
    let shown: Vec<(String, String)> = browser.messages().await.into_iter().map(|(a, _, t)| (a, t)).collect();
    let expected = [("guest", "We land at 23:40"), ("hotel", "The night desk is open 24/7."), ("guest", "Thank you!")];
    assert_eq!(shown.len(), 3, "{shown:?}");
    for ((a, t), (ea, et)) in shown.iter().zip(expected) {
        assert!(a == ea && t.contains(et), "{shown:?}");
    }
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_tab_that_wakes_shows_what_staff_wrote_while_it_slept_once() {
    let mut stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch_with(lobby_e2e::browser::Launch {
        width: 390,
        height: 844,
        mobile: true,
        ..Default::default()
    })
    .await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Petra Phone", "Spa", "Is the spa open late?").await;
    let thread = sim.thread_of("Petra Phone").await;
    sim.staff_reply(&thread, "before-sleep").await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;

    // The guest switches apps: the tab is hidden, then frozen as a phone does (no script runs).
    browser.js("window.__resumed = 0; document.addEventListener('resume', () => __resumed++); return 1").await;
    browser.raw(reqwest::Method::POST, "/window/minimize", json!({})).await;
    browser.wait_js(Duration::from_secs(5), "document.hidden").await;
    browser.cdp("Page.setWebLifecycleState", json!({ "state": "frozen" })).await;
    // Meanwhile its stream dies (the proxy restarts) and staff answer twice.
    stack.restart_proxy().await;
    sim.staff_reply(&thread, "while-asleep-1").await;
    sim.staff_reply(&thread, "while-asleep-2").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Back to the browser: both replies appear promptly, once each, in order.
    browser.cdp("Page.setWebLifecycleState", json!({ "state": "active" })).await;
    browser.raw(reqwest::Method::POST, "/window/maximize", json!({})).await;
    browser
        .wait_js(
            Duration::from_secs(8),
            "r.querySelectorAll('[data-testid=lobby-message][data-author=hotel]').length >= 3",
        )
        .await;
    assert_eq!(browser.js("return window.__resumed").await, 1, "the page was frozen and resumed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(browser.hotel_texts().await, ["before-sleep", "while-asleep-1", "while-asleep-2"]);
    // And the stream is live again.
    sim.staff_reply(&thread, "awake").await;
    browser
        .wait_js(
            Duration::from_secs(10),
            "r.querySelectorAll('[data-testid=lobby-message][data-author=hotel]').length == 4",
        )
        .await;
    assert_eq!(browser.hotel_texts().await, ["before-sleep", "while-asleep-1", "while-asleep-2", "awake"]);
    browser.close().await;
    stack.stop().await;
}
