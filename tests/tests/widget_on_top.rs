//! The widget stays on top of the host page and clickable, whatever the page stacks over it: a
//! fixed site header with `z-index: 10` and a full-screen transparent layer at the maximum
//! z-index that takes every click (`test-pages/on-top.html`), on a desktop and on a phone, in a
//! real headless Chromium. Checked as a guest would notice it: real WebDriver clicks (which fail
//! with "element click intercepted" when another element would receive them), every control's
//! centre hitting that control, and the open panel looking the same, pixel for pixel, with the
//! host elements hidden. And the launcher keeps the colour of its first paint.

use std::time::Duration;

use lobby_e2e::{Ports, Stack, browser::Browser};

/// A PNG of the open panel's inside (inset by its corner radius, where the page may show
/// through the rounded corners), taken by Chromium itself.
async fn panel_pixels(browser: &Browser) -> String {
    let rect = browser
        .shadow_js("(() => { const b = r.querySelector('[data-testid=lobby-panel]').getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; })()")
        .await;
    let r: Vec<f64> = serde_json::from_value(rect).unwrap();
    let inset = 16.0;
    let shot = browser
        .cdp(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png", "clip": { "x": r[0] + inset, "y": r[1] + inset,
                "width": r[2] - 2.0 * inset, "height": r[3] - 2.0 * inset, "scale": 1 } }),
        )
        .await;
    shot["data"].as_str().expect("a screenshot").to_owned()
}

async fn on_top(browser: &Browser, stack: &Stack) {
    browser.client.goto(&format!("{}/test-pages/on-top.html", stack.pages_url)).await.unwrap();
    // Before the widget loads, the launcher is already above the page's layers: a real click.
    browser.widget("lobby-launcher").await.click().await.expect("launcher clickable above the page");
    browser.wait_js(Duration::from_secs(15), "r.activeElement && r.activeElement.dataset.testid == 'lobby-name'").await;
    // In the top layer, without the page's `::backdrop` rule dimming the page behind it.
    let layer = browser
        .js("const h = document.querySelector('lobby-chat'); return [h.matches(':popover-open'), getComputedStyle(h, '::backdrop').display]")
        .await;
    assert_eq!(layer, serde_json::json!([true, "none"]));
    // The panel's top reaches under the fixed header (or the phone's whole screen).
    let top = browser.shadow_js("r.querySelector('[data-testid=lobby-panel]').getBoundingClientRect().top").await;
    assert!(top.as_f64().unwrap() < 180.0, "the panel must overlap the header for this test: top {top}");

    // Every control's centre (scrolled into the panel's view) hits that very control (the page's
    // elements get nothing).
    let misses = browser
        .shadow_js(
            "[...r.querySelectorAll('[data-testid=lobby-panel] button, [data-testid=lobby-panel] input, [data-testid=lobby-panel] textarea, [data-testid=lobby-panel] a')]
              .map(e => { e.scrollIntoView({ block: 'nearest' }); const b = e.getBoundingClientRect(); const x = b.x + b.width / 2, y = b.y + b.height / 2;
                const page = document.elementFromPoint(x, y), ours = r.elementFromPoint(x, y);
                return (page && page.tagName == 'LOBBY-CHAT' && ours && (ours == e || e.contains(ours))) ? null
                  : (e.dataset.testid || e.tagName) + ' hit ' + (page && page.tagName) + '/' + (ours && ours.tagName); })
              .filter(m => m)",
        )
        .await;
    assert_eq!(misses, serde_json::json!([]), "controls covered by the page");

    // Pixel check: the same panel with the host's header and layer hidden.
    browser.shadow_js("(r.activeElement && r.activeElement.blur(), 0)").await;
    tokio::time::sleep(Duration::from_millis(400)).await; // the panel's entry animation (160 ms)
    let with_host = panel_pixels(browser).await;
    browser
        .js("document.querySelectorAll('[data-testid^=host-]').forEach(e => e.style.display = 'none'); return 0")
        .await;
    let without_host = panel_pixels(browser).await;
    assert!(with_host == without_host, "the open panel looks different with the host's header and layer shown");
    browser.js("document.querySelectorAll('[data-testid^=host-]').forEach(e => e.style.display = ''); return 0").await;

    // Real clicks on the controls, with the host elements back: the empty form's start button
    // shows the field errors, a field takes focus and text, the close button closes.
    browser.widget("lobby-start").await.click().await.expect("start button clickable");
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-name][aria-invalid=true]')").await;
    browser.widget("lobby-topic").await.click().await.expect("topic field clickable");
    browser.widget("lobby-topic").await.send_keys("Spa").await.unwrap();
    assert_eq!(browser.focused().await, "lobby-topic");
    browser.widget("lobby-mute").await.click().await.expect("mute button clickable");
    browser.widget("lobby-close").await.click().await.expect("close button clickable");
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-panel][hidden]')").await;
    browser.widget("lobby-launcher").await.click().await.expect("launcher clickable again");
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-panel]:not([hidden])')").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panel_is_on_top_and_clickable_on_desktop() {
    let stack = Stack::start(Ports::any()).await;
    // 600 px high: the panel (bottom 88 px, at most 100vh - 110 px) reaches under the header.
    let browser = Browser::launch_sized(1280, 600, false).await;
    on_top(&browser, &stack).await;
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panel_is_on_top_and_clickable_on_a_phone() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch_sized(390, 844, true).await;
    on_top(&browser, &stack).await;
    browser.close().await;
    stack.stop().await;
}

/// The launcher's colour as painted now, and the open panel's header colour.
async fn colours(browser: &Browser) -> (String, String) {
    let launcher =
        browser.shadow_js("getComputedStyle(r.querySelector('[data-testid=lobby-launcher]')).backgroundColor").await;
    let header = browser
        .shadow_js("(h => h ? getComputedStyle(h).backgroundColor : '')(r.querySelector('.lobby-header'))")
        .await;
    (launcher.as_str().unwrap().to_owned(), header.as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_launcher_never_changes_colour() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    // With `data-color`: that colour from the first paint, on the launcher and the panel.
    browser.client.goto(&format!("{}/test-pages/options.html?color=%23b4532a", stack.pages_url)).await.unwrap();
    browser.widget("lobby-launcher").await;
    let (first, _) = colours(&browser).await;
    assert_eq!(first, "rgb(180, 83, 42)");
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.widget("lobby-name").await;
    assert_eq!(colours(&browser).await, (first.clone(), first), "launcher and panel in data-color");

    // Without it: the loader's colour stays on the launcher after the widget loaded the
    // property's config; the property's colour (#1f6f5c) is the panel's.
    browser.client.goto(&format!("{}/test-pages/on-top.html", stack.pages_url)).await.unwrap();
    browser.widget("lobby-launcher").await;
    let (first, _) = colours(&browser).await;
    assert_eq!(first, "rgb(29, 78, 137)", "the loader's default");
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser
        .wait_js(
            Duration::from_secs(15),
            "r.querySelector('.lobby-name') && r.querySelector('.lobby-name').textContent",
        )
        .await;
    assert_eq!(
        colours(&browser).await,
        (first, "rgb(31, 111, 92)".to_owned()),
        "launcher unchanged, panel in the property's colour"
    );
    browser.close().await;
    stack.stop().await;
}
