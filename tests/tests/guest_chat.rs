//! The thin end-to-end slice, in a real headless Chromium against the real proxy and simulator:
//! a guest on the demo hotel page opens the chat, starts a conversation, and sees the hotel's
//! reply arrive live.

use std::time::Duration;

use fantoccini::Locator;
use lobby_e2e::{Ports, Stack, browser::Browser, eventually, screenshot_path};
use mews_wire::SenderKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_starts_a_conversation_and_sees_the_staff_reply_live() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();

    // The loader draws the launcher; the widget loads on click.
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.widget("lobby-name").await.send_keys("Jana Nováková").await.unwrap();
    browser.widget("lobby-topic").await.send_keys("Late check-in").await.unwrap();
    let first = "Hello! We land at 23:10 — can we still check in around midnight?";
    browser.widget("lobby-first-message").await.send_keys(first).await.unwrap();
    browser.widget("lobby-start").await.click().await.unwrap();

    // The guest sees their message as sent.
    eventually(Duration::from_secs(10), "the guest's message marked sent", || async {
        browser
            .messages()
            .await
            .into_iter()
            .find(|(a, s, t)| a == "guest" && s == "sent" && t.contains("23:10"))
            .map(|_| ())
    })
    .await;

    // Mews has the thread with the guest's name, and the message as sent by the application.
    let sim = stack.sim();
    let thread = eventually(Duration::from_secs(5), "the thread in Mews", || async {
        sim.recent_threads().await.into_iter().find(|t| t.original_sender == "Jana Nováková")
    })
    .await;
    assert!(thread.subject.contains("Late check-in"), "subject: {}", thread.subject);
    let messages = sim.messages(&thread.id).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].text, first);
    assert_eq!(messages[0].sender.discriminator, SenderKind::Application);

    // A member of staff answers from the staff console (the simulator's Mews Operations), in a
    // second tab; the guest's tab shows the reply, labelled as the hotel's.
    let guest_tab = browser.client.window().await.unwrap();
    let staff_tab = browser.client.new_window(true).await.unwrap();
    browser.client.switch_to_window(staff_tab.handle).await.unwrap();
    browser.client.goto(&format!("{}/threads/{}", stack.sim_url, thread.id)).await.unwrap();
    let reply = "Of course! Night reception is open 24/7. Safe travels!";
    browser.client.find(Locator::Css("[data-testid='reply-text']")).await.unwrap().send_keys(reply).await.unwrap();
    browser.client.find(Locator::Css("[data-testid='send-button']")).await.unwrap().click().await.unwrap();
    let started = std::time::Instant::now();
    browser.client.wait().for_element(Locator::Css("[data-sender='Enterprise']")).await.unwrap();
    browser.screenshot(&screenshot_path("staff-console.png")).await;
    browser.client.switch_to_window(guest_tab).await.unwrap();
    eventually(Duration::from_secs(5), "the staff reply in the widget", || async {
        browser.messages().await.into_iter().find(|(a, _, t)| a == "hotel" && t.contains("Night reception")).map(|_| ())
    })
    .await;
    let shown_after = started.elapsed();

    // It came over the SSE stream: the widget holds one open, and the proxy counted the push.
    let metrics = reqwest::get(format!("{}/metrics", stack.proxy_url)).await.unwrap().text().await.unwrap();
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0)
    };
    assert!(gauge("lobby_sse_connections") >= 1.0, "{metrics}");
    assert!(gauge("lobby_staff_replies_total") >= 1.0, "{metrics}");
    println!("staff reply shown in the widget {shown_after:?} after it was posted");

    browser.screenshot(&screenshot_path("e2e-conversation.png")).await;
    browser.close().await;
    stack.stop().await;
}
