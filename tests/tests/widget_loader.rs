//! The snippet's options and when the loader fetches the widget, in a real headless Chromium
//! against the real proxy: launcher text, greeting, language, theme, side and colour from the
//! script tag's data attributes; loading on hover or focus (interest), on idle when asked, and
//! only on click when asked.

use std::time::Duration;

use lobby_e2e::{Ports, Stack, browser::Browser};
use serde_json::json;

const WIDGET_FETCHED: &str = "performance.getEntriesByType('resource').filter(e => e.name.includes('/widget/')).length";

/// Moves the real mouse pointer (Chromium's input pipeline, not a synthetic DOM event) over
/// the launcher.
async fn hover_launcher(browser: &Browser) {
    let at = browser
        .shadow_js("(() => { const b = r.querySelector('[data-testid=lobby-launcher]').getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; })()")
        .await;
    let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
    for (x, y) in [(x - 200.0, y - 200.0), (x, y)] {
        browser.cdp("Input.dispatchMouseEvent", json!({ "type": "mouseMoved", "x": x, "y": y })).await;
    }
}

async fn fetched(browser: &Browser) -> u64 {
    browser.js(&format!("return {WIDGET_FETCHED}")).await.as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_attributes_set_launcher_text_greeting_language_theme_side_and_colour() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    let query = "launcher-text=Ask%20the%20front%20desk&greeting=Ahoj!%20Jak%20v%C3%A1m%20pom%C5%AF%C5%BEeme%3F&locale=de&theme=dark&position=left&color=%23ffd400";
    browser.client.goto(&format!("{}/test-pages/options.html?{query}", stack.pages_url)).await.unwrap();
    let launcher = browser.widget("lobby-launcher").await;
    let l = browser
        .shadow_js("(() => { const b = r.querySelector('[data-testid=lobby-launcher]'); const s = getComputedStyle(b);
            return { text: b.textContent, label: b.getAttribute('aria-label'), x: b.getBoundingClientRect().x, iw: innerWidth,
              bg: s.backgroundColor, fg: s.color }; })()")
        .await;
    assert_eq!((&l["text"], &l["label"]), (&json!("Ask the front desk"), &json!("Ask the front desk")), "{l}");
    assert!(l["x"].as_f64().unwrap() < l["iw"].as_f64().unwrap() / 2.0, "data-position=left: {l}");
    assert_eq!((&l["bg"], &l["fg"]), (&json!("rgb(255, 212, 0)"), &json!("rgb(0, 0, 0)")), "black text on yellow: {l}");

    launcher.click().await.unwrap();
    browser.wait_js(Duration::from_secs(10), "r.querySelector('[data-testid=lobby-greeting]')?.textContent").await;
    let p = browser
        .shadow_js(
            "(() => { const t = s => r.querySelector(s).textContent;
            return { greeting: t('[data-testid=lobby-greeting]'), name: t('.lobby-field span'),
              lang: r.querySelector('[data-testid=lobby-panel]').lang,
              bg: getComputedStyle(r.querySelector('[data-testid=lobby-panel]')).backgroundColor }; })()",
        )
        .await;
    assert_eq!(p["greeting"], "Ahoj! Jak vám pomůžeme?", "data-greeting wins over the property's: {p}");
    // The widget, once loaded, keeps the page's launcher text as the button's accessible name.
    assert_eq!(launcher.attr("aria-label").await.unwrap().as_deref(), Some("Ask the front desk"));
    assert_eq!((&p["lang"], &p["name"]), (&json!("de"), &json!("Ihr Name")), "data-locale: {p}");
    let rgb: Vec<f64> = p["bg"]
        .as_str()
        .unwrap()
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(", ")
        .map(|c| c.parse().unwrap())
        .collect();
    assert!(rgb.iter().sum::<f64>() < 150.0, "data-theme=dark on a browser in light mode: {p}");
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_loads_on_hover_or_focus_not_before() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    for interest in ["hover", "focus"] {
        browser.client.goto(&stack.demo_page()).await.unwrap();
        browser.widget("lobby-launcher").await;
        browser.wait_js(Duration::from_secs(10), "document.readyState == 'complete'").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(fetched(&browser).await, 0, "nothing before interest ({interest})");
        match interest {
            "hover" => hover_launcher(&browser).await,
            _ => {
                browser.shadow_js("r.querySelector('[data-testid=lobby-launcher]').focus()").await;
            }
        }
        browser.wait_js(Duration::from_secs(10), &format!("{WIDGET_FETCHED} == 3")).await;
        // Loaded ahead of the click, not opened.
        let launcher = browser.widget("lobby-launcher").await;
        assert_eq!(launcher.attr("aria-expanded").await.unwrap().as_deref(), Some("false"), "{interest}");
        launcher.click().await.unwrap();
        browser.widget("lobby-name").await;
        // Closed again, so that the next page of the site does not reopen it (and load it).
        launcher.click().await.unwrap();
        browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-panel][hidden]')").await;
    }
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_load_idle_preloads_and_data_load_click_waits_for_the_click() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;

    browser.client.goto(&format!("{}/test-pages/options.html?load=idle", stack.pages_url)).await.unwrap();
    browser.wait_js(Duration::from_secs(10), &format!("{WIDGET_FETCHED} == 3")).await;
    let state = browser.js("return [localStorage.length + sessionStorage.length, document.cookie]").await;
    assert_eq!(state, json!([0, ""]), "preloading is not consent: nothing stored");
    let launcher = browser.widget("lobby-launcher").await;
    assert_eq!(launcher.attr("aria-expanded").await.unwrap().as_deref(), Some("false"));

    browser.client.goto(&format!("{}/test-pages/options.html?load=click", stack.pages_url)).await.unwrap();
    browser.widget("lobby-launcher").await;
    hover_launcher(&browser).await;
    browser.shadow_js("r.querySelector('[data-testid=lobby-launcher]').focus()").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fetched(&browser).await, 0, "data-load=click: hover and focus load nothing");
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.widget("lobby-name").await;
    assert_eq!(fetched(&browser).await, 3);
    browser.close().await;
    stack.stop().await;
}
