//! The widget never leaves a guest stuck, in a real headless Chromium against the real proxy
//! through a small HTTP front (`lobby_e2e::front`) that answers like a proxy protecting a hotel's
//! budget (`429` + `Retry-After`) or like a proxy out of reach (no answer at all).

use std::time::{Duration, Instant};

use lobby_e2e::{
    Ports, Stack,
    browser::Browser,
    front::{Fault, Front},
};

async fn front_for(stack: &Stack) -> Front {
    Front::start(stack.proxy_url.trim_start_matches("http://").parse().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_shown_and_the_message_is_sent_once_after_it() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let front = front_for(&stack).await;
    let browser = Browser::launch().await;
    // `data-proxy`: the widget's files and API calls go through the front.
    browser.client.goto(&format!("{}/test-pages/options.html?proxy={}", stack.pages_url, front.url)).await.unwrap();
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.widget("lobby-name").await.send_keys("Rita Retry").await.unwrap();
    browser.widget("lobby-topic").await.send_keys("Towels").await.unwrap();
    browser.widget("lobby-start").await.click().await.unwrap();
    browser.widget("lobby-composer").await;

    front.set_fault(Fault::RateLimitSends { n: 1, secs: 3 });
    browser.widget("lobby-composer").await.send_keys("Two more towels, please").await.unwrap();
    browser.widget("lobby-send").await.click().await.unwrap();
    // The guest sees the wait, in seconds, while the message stays queued (not failed).
    let notice = browser
        .wait_js(
            Duration::from_secs(10),
            "(n => n && /in [123] s/.test(n.textContent) && n.textContent)(r.querySelector('[data-testid=lobby-connection]'))",
        )
        .await;
    println!("notice while waiting: {notice}");
    assert!(notice.as_str().unwrap().starts_with("Busy right now"), "{notice}");
    assert_eq!(
        browser.shadow_js("r.querySelector('[data-author=guest]:last-child').dataset.status").await,
        "sending",
        "queued during the wait"
    );
    browser
        .wait_js(Duration::from_secs(15), "r.querySelector('[data-author=guest][data-status=sent]') && !r.querySelector('[data-testid=lobby-connection]')")
        .await;
    let thread = sim.thread_of("Rita Retry").await;
    assert_eq!(sim.count_text(&thread, "Two more towels, please").await, 1, "in Mews once");

    // What reached the front: the refused POST, then exactly one more, no sooner than 3 s later.
    let posts: Vec<_> =
        front.log().into_iter().filter(|s| s.method == "POST" && s.path == "/v1/conversation/messages").collect();
    assert_eq!(posts.len(), 2, "one refused with 429, one sent after the wait: {posts:?}");
    assert!(posts[0].faulted && !posts[1].faulted, "{posts:?}");
    let waited = posts[1].at - posts[0].at;
    println!("second send {:.2} s after the 429", waited.as_secs_f64());
    assert!(waited >= Duration::from_millis(2900), "sent again before Retry-After: {waited:?}");
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_out_of_reach_on_open_shows_the_hotel_contact_within_5_s() {
    let stack = Stack::start(Ports::any()).await;
    let front = front_for(&stack).await;
    let browser = Browser::launch().await;
    let page = format!(
        "{}/test-pages/options.html?proxy={}&contact-phone=%2B420%20222%20000%20999&contact-email=desk%40vltava.example",
        stack.pages_url, front.url
    );
    browser.client.goto(&page).await.unwrap();
    browser.widget("lobby-launcher").await;
    // The widget's files still come (a cached copy would do the same); its API gets no answer.
    front.set_fault(Fault::SilentApi);
    let clicked = Instant::now();
    browser.widget("lobby-launcher").await.click().await.unwrap();
    let shown = browser
        .wait_js(
            Duration::from_secs(5),
            "(c => c && c.textContent)(r.querySelector('[data-testid=lobby-unavailable] [data-testid=lobby-contact]'))",
        )
        .await;
    println!("fallback shown {:.2} s after the click: {shown}", clicked.elapsed().as_secs_f64());
    assert!(shown.as_str().unwrap().contains("+420 222 000 999"), "{shown}");
    let links = browser
        .shadow_js("[...r.querySelectorAll('[data-testid=lobby-contact] a')].map(a => a.getAttribute('href'))")
        .await;
    assert_eq!(links, serde_json::json!(["tel:+420222000999", "mailto:desk@vltava.example"]));
    assert!(front.log().iter().any(|s| s.faulted && s.path.starts_with("/v1/properties/")), "the config was asked for");
    browser.screenshot(&lobby_e2e::screenshot_path("widget-unreachable.png")).await;

    // Back in reach: "Try again" brings the start form, and the property's own contact is used
    // from then on (config: +420 222 000 111).
    front.set_fault(Fault::None);
    browser.widget_css("[data-testid=lobby-unavailable] button").await.click().await.unwrap();
    browser.widget("lobby-name").await;
    browser.close().await;
    stack.stop().await;
}
