//! The widget on hotel pages it does not control, in a real headless Chromium against the real
//! proxy and simulator: a page whose CSS attacks everything, a page with the strictest CSP the
//! README promises to work with, the host JavaScript API, and staff text that looks like markup.

use std::time::Duration;

use lobby_e2e::{Ports, Stack, browser::Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_css_neither_changes_the_widget_nor_is_changed_by_it() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    browser.client.goto(&format!("{}/test-pages/hostile-css.html", stack.pages_url)).await.unwrap();
    browser.widget("lobby-launcher").await;
    // The launcher keeps its size and is on top of the page's max-z-index overlay.
    let hit = browser
        .shadow_js(
            "(() => { const b = r.querySelector('[data-testid=lobby-launcher]').getBoundingClientRect();
              return [b.width, b.height, document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2).tagName]; })()",
        )
        .await;
    assert_eq!(hit, serde_json::json!([56, 56, "LOBBY-CHAT"]), "launcher size and hit target");

    browser.start_conversation("Hana Hostile", "Spa", "Is the spa open?").await;
    let styles = browser
        .shadow_js(
            "[getComputedStyle(r.querySelector('.lobby-text')).fontSize, getComputedStyle(r.querySelector('.lobby-text')).textTransform,
              getComputedStyle(r.querySelector('[data-testid=lobby-panel]')).display,
              getComputedStyle(r.querySelector('[data-testid=lobby-composer]')).display != 'none']",
        )
        .await;
    assert_eq!(styles, serde_json::json!(["15px", "none", "flex", true]), "the widget's own styles win");
    // The page keeps its own look.
    let probe = browser
        .js("const p = document.querySelector('[data-testid=host-probe]'); return [getComputedStyle(p).fontSize, getComputedStyle(p).textTransform, getComputedStyle(document.documentElement).direction];")
        .await;
    assert_eq!(probe, serde_json::json!(["28px", "uppercase", "rtl"]), "the host page is unaffected");
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_csp_page_works_with_zero_violations() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    // Recorded from the first script on (WebDriver's own scripts are exempt from the CSP).
    browser
        .on_new_document(
            "window.__csp = []; document.addEventListener('securitypolicyviolation', e => __csp.push(e.violatedDirective + ' ' + e.blockedURI));",
        )
        .await;
    browser.client.goto(&format!("{}/test-pages/strict-csp.html", stack.pages_url)).await.unwrap();
    browser.start_conversation("Cyril Csp", "Wifi", "What is the wifi password?").await;
    let thread = sim.thread_of("Cyril Csp").await;
    sim.staff_reply(&thread, "It is on your key card.").await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;
    // Styled: the adopted stylesheet applied.
    let font = browser.shadow_js("getComputedStyle(r.querySelector('.lobby-text')).fontSize").await;
    assert_eq!(font, "15px");
    assert_eq!(browser.js("return window.__csp").await, serde_json::json!([]), "CSP violations");
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_js_api_queues_calls_and_emits_events() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    browser.client.goto(&format!("{}/test-pages/host-api.html", stack.pages_url)).await.unwrap();
    browser.widget("lobby-launcher").await;
    // Nothing stored and no widget byte fetched before the page asks.
    let before = browser
        .js("return [localStorage.length + sessionStorage.length, document.cookie, performance.getEntriesByType('resource').filter(e => e.name.includes('/widget/')).length]")
        .await;
    assert_eq!(before, serde_json::json!([0, "", 0]));

    browser.client.find(fantoccini::Locator::Css("[data-testid=host-open]")).await.unwrap().click().await.unwrap();
    browser
        .wait_js(
            Duration::from_secs(15),
            "r.querySelector('[data-testid=lobby-panel]:not([hidden]) [data-testid=lobby-name]')",
        )
        .await;
    // The queued settings and prefill landed.
    let form = browser
        .shadow_js("[r.querySelector('[data-testid=lobby-panel]').lang, r.querySelector('[data-testid=lobby-name]').value, r.querySelector('[data-testid=lobby-email]').value]")
        .await;
    assert_eq!(form, serde_json::json!(["de", "Jana Nováková", "jana@example.com"]));
    browser.js("Lobby.setLocale('fr'); return 1").await;
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-panel]').lang == 'fr'").await;

    browser.widget("lobby-topic").await.send_keys("Dîner").await.unwrap();
    browser.widget("lobby-first-message").await.send_keys("Bonjour").await.unwrap();
    browser.widget("lobby-start").await.click().await.unwrap();
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=guest][data-status=sent]')").await;
    let thread = sim.thread_of("Jana Nováková").await;
    sim.staff_reply(&thread, "Bonsoir Jana").await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;

    browser.js("Lobby.close(); return 1").await;
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-panel][hidden]')").await;
    let log: Vec<String> = serde_json::from_value(browser.js("return window.lobbyLog").await).unwrap();
    let pos = |e: &str| log.iter().position(|l| l == e).unwrap_or_else(|| panic!("no `{e}` event in {log:?}"));
    assert!(pos("ready") < pos("opened"), "{log:?}");
    assert!(pos("opened") < pos("message Bonsoir Jana"), "{log:?}");
    assert!(pos("message Bonsoir Jana") < pos("closed"), "{log:?}");
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_staff_reply_is_shown_as_text() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.js("window.__alerts = 0; window.alert = () => { window.__alerts++; }; return 1").await;
    browser.start_conversation("Max Markup", "Room", "<i>not italic</i>").await;
    let thread = sim.thread_of("Max Markup").await;
    let reply = "<img src=x onerror=alert(1)><b>bold</b>";
    sim.staff_reply(&thread, reply).await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;
    assert_eq!(browser.hotel_texts().await, [reply], "shown literally");
    assert_eq!(browser.guest_texts().await, ["<i>not italic</i>"]);
    let elements = browser
        .shadow_js("r.querySelectorAll('[data-testid=lobby-messages] img, [data-testid=lobby-messages] b, [data-testid=lobby-messages] i').length")
        .await;
    assert_eq!(elements, 0, "no element was created from message text");
    assert_eq!(browser.js("return window.__alerts").await, 0);
    browser.close().await;
    stack.stop().await;
}
