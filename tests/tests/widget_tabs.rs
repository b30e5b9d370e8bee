//! Getting the guest's attention and the conversation's life cycle, in a real headless Chromium
//! against the real proxy and simulator: two tabs of the hotel site, the unread badge and the
//! title flag, and a conversation staff resolved.

use std::time::Duration;

use lobby_e2e::{PROPERTY, Ports, Stack, browser::Browser};

/// The sound button offers to turn the sound back on: the guest muted it.
const MUTED: &str =
    "r.querySelector('[data-testid=lobby-mute]').getAttribute('aria-label') == 'Turn notification sound on'";
const SOUNDS: &str = "window.__snd = 0; Lobby.on('sound', () => window.__snd++); return 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_both_show_the_replies_and_only_one_plays_the_sound() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Tomas Tabs", "Tour", "Do you organise tours?").await;
    let thread = sim.thread_of("Tomas Tabs").await;
    browser.js(SOUNDS).await;
    let first = browser.client.window().await.unwrap();

    // The same guest opens another page of the site in a second tab.
    let second = browser.client.new_window(true).await.unwrap().handle;
    browser.client.switch_to_window(second.clone()).await.unwrap();
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.wait_js(Duration::from_secs(15), "r.querySelectorAll('[data-testid=lobby-message]').length == 1").await;
    browser.js(SOUNDS).await;

    for i in 0..3 {
        sim.staff_reply(&thread, &format!("reply-{i}")).await;
    }
    // Both tabs hold a live stream; wait in the visible tab before switching, so no visibility
    // change (which reopens the stream) races the replies.
    browser
        .wait_js(
            Duration::from_secs(20),
            "r.querySelectorAll('[data-testid=lobby-message][data-author=hotel]').length == 3",
        )
        .await;
    let mut sounds = Vec::new();
    for tab in [second.clone(), first] {
        browser.client.switch_to_window(tab).await.unwrap();
        browser
            .wait_js(
                Duration::from_secs(20),
                "r.querySelectorAll('[data-testid=lobby-message][data-author=hotel]').length == 3",
            )
            .await;
        assert_eq!(browser.hotel_texts().await, ["reply-0", "reply-1", "reply-2"]);
        sounds.push(browser.js("return window.__snd").await.as_u64().unwrap());
    }
    // Each reply's sound was played, by exactly one of the tabs.
    assert_eq!(sounds.iter().sum::<u64>(), 3, "sounds per tab: {sounds:?}");

    // Muted in one tab (the first, visible now): no tab plays the next reply's sound, both show it.
    let mute = browser.widget("lobby-mute").await;
    assert_eq!(mute.attr("aria-label").await.unwrap().as_deref(), Some("Mute notification sound"));
    mute.click().await.unwrap();
    browser.wait_js(Duration::from_secs(5), MUTED).await;
    sim.staff_reply(&thread, "reply-3").await;
    let four = "r.querySelectorAll('[data-testid=lobby-message][data-author=hotel]').length == 4";
    browser.wait_js(Duration::from_secs(20), four).await;
    // A sound follows its message within milliseconds (one lock round): give it a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut muted_sounds = vec![browser.js("return window.__snd").await.as_u64().unwrap()];
    browser.client.switch_to_window(second).await.unwrap();
    browser.wait_js(Duration::from_secs(20), four).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    muted_sounds.push(browser.js("return window.__snd").await.as_u64().unwrap());
    assert_eq!(muted_sounds.iter().sum::<u64>(), 3, "no sound while muted (per tab: {sounds:?} → {muted_sounds:?})");
    // The choice outlives the page (which reopens the chat that was open).
    browser.client.refresh().await.unwrap();
    browser.wait_js(Duration::from_secs(10), MUTED).await;
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_badge_while_closed_and_title_flag_while_hidden() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Ada Attention", "Late", "We arrive late").await;
    let thread = sim.thread_of("Ada Attention").await;
    browser.widget("lobby-close").await.click().await.unwrap();
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-panel][hidden]')").await;

    sim.staff_reply(&thread, "badge-1").await;
    sim.staff_reply(&thread, "badge-2").await;
    browser
        .wait_js(
            Duration::from_secs(20),
            "!r.querySelector('[data-testid=lobby-unread]').hidden && r.querySelector('[data-testid=lobby-unread]').textContent == '2'",
        )
        .await;
    let label = browser.shadow_js("r.querySelector('[data-testid=lobby-launcher]').getAttribute('aria-label')").await;
    assert!(label.as_str().unwrap().contains('2'), "the launcher's name says how many: {label}");
    let live = browser.shadow_js("r.querySelector('[data-testid=lobby-live][aria-live=polite]').textContent").await;
    assert!(live.as_str().unwrap().contains("badge-2"), "announced politely to screen readers: {live}");

    // While the tab is hidden (the window minimised) the page title is flagged.
    let title = browser
        .js("window.__titles = []; new MutationObserver(() => __titles.push(document.title + ' hidden=' + document.hidden)).observe(document.querySelector('title'), { childList: true, characterData: true, subtree: true }); return document.title")
        .await;
    let title = title.as_str().unwrap().to_owned();
    browser.raw(reqwest::Method::POST, "/window/minimize", serde_json::json!({})).await;
    browser.wait_js(Duration::from_secs(5), "document.hidden").await;
    sim.staff_reply(&thread, "badge-3").await;
    let titles = browser.wait_js(Duration::from_secs(20), "window.__titles.length > 0 && window.__titles").await;
    assert_eq!(titles[0], format!("(3) {title} hidden=true"), "{titles}");
    browser.raw(reqwest::Method::POST, "/window/maximize", serde_json::json!({})).await;
    browser.wait_js(Duration::from_secs(5), "!document.hidden").await;

    // Opening the chat clears the badge; the title is the page's own again when visible.
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-unread]').hidden").await;
    browser.wait_js(Duration::from_secs(5), &format!("document.title == {}", serde_json::json!(title))).await;
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_conversation_offers_a_new_one() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Petr Resolved", "Invoice", "Please send the invoice").await;
    let thread = sim.thread_of("Petr Resolved").await;
    let key = format!("lobby:{PROPERTY}:session");
    assert!(browser.js(&format!("return localStorage.getItem('{key}')")).await.is_string());

    sim.resolve(&thread, true).await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-testid=lobby-resolved]')").await;
    assert_eq!(browser.shadow_js("!!r.querySelector('[data-testid=lobby-composer]')").await, false, "no composer");
    browser.widget("lobby-new-conversation").await.click().await.unwrap();
    browser.wait_js(Duration::from_secs(5), "r.activeElement && r.activeElement.dataset.testid == 'lobby-name'").await;
    assert_eq!(browser.shadow_js("r.querySelector('[data-testid=lobby-name]').value").await, "Petr Resolved");
    assert!(browser.js(&format!("return localStorage.getItem('{key}')")).await.is_null(), "session forgotten");
    assert!(browser.messages().await.is_empty());
    browser.close().await;
    stack.stop().await;
}
