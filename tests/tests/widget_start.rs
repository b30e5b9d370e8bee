//! What a guest reads before writing, from the property's config, in a real headless Chromium
//! against the real proxy: the hotel's name, its greeting and how fast it usually replies while
//! the front desk is open; the away message and the expected reply time while it is closed, and
//! that a message left then still reaches the hotel.

use std::time::Duration;

use lobby_e2e::{PROPERTY, Ports, Stack, browser::Browser};
use lobby_proxy::config::OpeningHours;

/// Texts of the panel's header and start form, once the property's config has arrived.
async fn start_form(browser: &Browser) -> serde_json::Value {
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.wait_js(Duration::from_secs(10), "r.querySelector('[data-testid=lobby-availability]')?.textContent").await;
    browser
        .shadow_js(
            "(() => { const t = s => r.querySelector(s)?.textContent ?? null;
              return { hotel: t('.lobby-name'), availability: t('[data-testid=lobby-availability]'),
                greeting: t('[data-testid=lobby-greeting]'), away: t('[data-testid=lobby-away]') }; })()",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_open_the_panel_shows_the_hotel_its_greeting_and_reply_time() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    let f = start_form(&browser).await;
    assert_eq!(f["hotel"], "Grand Hotel Vltava", "{f}");
    assert_eq!(f["greeting"], "Welcome to Grand Hotel Vltava! How can we help with your stay?", "{f}");
    assert_eq!(f["availability"], "Usually replies within 5 min", "{f}");
    assert_eq!(f["away"], serde_json::Value::Null, "no away message while open: {f}");
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_closed_the_panel_shows_the_away_message_and_a_message_left_reaches_the_hotel() {
    let stack = Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        // Opening hours with no open day: the front desk is closed whenever the test runs.
        let p = c.properties.get_mut(PROPERTY).unwrap();
        p.hours = OpeningHours { days: [None; 7], always_open: false, ..OpeningHours::always() };
    })
    .await;
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    let f = start_form(&browser).await;
    assert_eq!(f["availability"], "We're away right now", "{f}");
    let away = f["away"].as_str().unwrap_or_default();
    assert!(
        away.contains("Our front desk is closed right now. Leave a message and we will answer as soon as we are back."),
        "the property's away message: {f}"
    );
    assert!(away.contains("usually within 5 min"), "the expected reply time: {f}");
    let away_shown = browser.shadow_js("r.querySelector('[data-testid=lobby-away]').checkVisibility()").await;
    assert_eq!(away_shown, true);

    // Away is not closed for messages: the guest leaves one and the hotel has it in Mews.
    browser.submit_start_form("Nora Night", "Late arrival", "We land at 2 am, is that fine?").await;
    let thread = stack.sim().thread_of("Nora Night").await;
    let messages = stack.sim().messages(&thread).await;
    let texts: Vec<(&str, mews_wire::SenderKind)> =
        messages.iter().map(|m| (m.text.as_str(), m.sender.discriminator)).collect();
    assert_eq!(texts, [("We land at 2 am, is that fine?", mews_wire::SenderKind::Application)]);
    browser.close().await;
    stack.stop().await;
}
