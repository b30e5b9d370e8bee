//! Layout a guest would notice, in a real headless Chromium against the real proxy and simulator:
//! full screen on a phone with inputs that do not make iOS zoom, and a mirrored panel in Arabic.

use std::time::Duration;

use lobby_e2e::{
    Ports, Stack,
    browser::{Browser, Launch},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_panel_is_full_screen_with_16px_inputs() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch_with(Launch { width: 390, height: 844, mobile: true, ..Launch::default() }).await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.widget("lobby-name").await;
    let m = browser
        .shadow_js(
            "(() => { const p = r.querySelector('[data-testid=lobby-panel]').getBoundingClientRect();
              return { x: p.x, y: p.y, w: Math.round(p.width), h: Math.round(p.height), iw: innerWidth,
                vh: Math.round(visualViewport.height),
                vvar: r.querySelector('.lobby-root').style.getPropertyValue('--lobby-vh'),
                launcher: getComputedStyle(r.querySelector('[data-testid=lobby-launcher]')).display,
                fonts: ['lobby-name', 'lobby-topic', 'lobby-email', 'lobby-first-message']
                  .map(t => parseFloat(getComputedStyle(r.querySelector(`[data-testid=${t}]`)).fontSize)) }; })()",
        )
        .await;
    assert!(m["iw"].as_u64().unwrap() < 640, "{m}");
    assert_eq!((m["x"].as_f64(), m["y"].as_f64()), (Some(0.0), Some(0.0)), "top left corner: {m}");
    assert_eq!(m["w"], m["iw"], "full width: {m}");
    assert_eq!(m["h"], m["vh"], "as tall as the visual viewport: {m}");
    assert_eq!(m["vvar"], format!("{}px", m["vh"]), "visualViewport height followed: {m}");
    assert_eq!(m["launcher"], "none", "the launcher hides behind the full-screen panel: {m}");
    for f in m["fonts"].as_array().unwrap() {
        assert!(f.as_f64().unwrap() >= 16.0, "inputs below 16px make iOS zoom: {m}");
    }

    browser.submit_start_form("Mia Mobile", "Late", "Hi").await;
    let composer = browser
        .shadow_js("parseFloat(getComputedStyle(r.querySelector('[data-testid=lobby-composer]')).fontSize)")
        .await;
    assert!(composer.as_f64().unwrap() >= 16.0, "composer font {composer}");
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_on_screen_keyboard_never_covers_the_composer() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch_with(Launch { width: 390, height: 844, mobile: true, ..Launch::default() }).await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Kim Keys", "Parking", "Is there parking?").await;
    browser.widget("lobby-composer").await.click().await.unwrap();

    // Headless Chromium has no on-screen keyboard: a 336 px keyboard is what shrinks the visible
    // viewport to 508 px, which is all the page can see of it (visualViewport resize).
    let keyboard_up = |height: u32| {
        browser.cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({ "width": 390, "height": height, "deviceScaleFactor": 2, "mobile": true }),
        )
    };
    let layout = "(() => { const b = s => r.querySelector(s).getBoundingClientRect();
        const msgs = r.querySelectorAll('[data-testid=lobby-message]');
        return { vh: visualViewport.height, panelTop: b('[data-testid=lobby-panel]').top,
          panelBottom: b('[data-testid=lobby-panel]').bottom, composerBottom: b('[data-testid=lobby-composer]').bottom,
          composerTop: b('[data-testid=lobby-composer]').top, lastBottom: msgs[msgs.length - 1].getBoundingClientRect().bottom,
          focused: r.activeElement?.dataset.testid }; })()";
    keyboard_up(508).await;
    browser.wait_js(Duration::from_secs(5), "visualViewport.height == 508 && r.querySelector('[data-testid=lobby-panel]').getBoundingClientRect().bottom <= 508").await;
    let m = browser.shadow_js(layout).await;
    let f = |k: &str| m[k].as_f64().unwrap();
    assert_eq!((f("panelTop"), f("panelBottom")), (0.0, 508.0), "the panel fills what the keyboard leaves: {m}");
    assert!(f("composerBottom") <= 508.0, "the composer is above the keyboard: {m}");
    assert!(f("lastBottom") <= f("composerTop"), "the newest message is visible above the composer: {m}");
    assert_eq!(m["focused"], "lobby-composer", "typing goes on: {m}");

    // Typing and sending with the keyboard up.
    browser.widget("lobby-composer").await.send_keys("And for a van?").await.unwrap();
    browser.widget("lobby-send").await.click().await.unwrap();
    browser
        .wait_js(Duration::from_secs(15), "r.querySelectorAll('[data-author=guest][data-status=sent]').length == 2")
        .await;
    let m = browser.shadow_js(layout).await;
    assert!(m["lastBottom"].as_f64().unwrap() <= m["composerTop"].as_f64().unwrap(), "the new message is visible: {m}");

    // Keyboard down: the panel takes the whole screen again.
    keyboard_up(844).await;
    browser
        .wait_js(
            Duration::from_secs(5),
            "r.querySelector('[data-testid=lobby-panel]').getBoundingClientRect().bottom == 844",
        )
        .await;
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_arabic_the_panel_is_right_to_left_and_mirrored() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    browser.client.goto(&format!("{}/test-pages/rtl.html", stack.pages_url)).await.unwrap();
    browser.start_conversation("Layla", "موقف", "مرحبا").await;
    let thread = stack.sim().thread_of("Layla").await;
    stack.sim().staff_reply(&thread, "أهلا وسهلا").await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;
    let l = browser
        .shadow_js(
            "(() => { const box = s => r.querySelector(s).getBoundingClientRect();
              const p = r.querySelector('[data-testid=lobby-panel]');
              return { dir: p.dir, lang: p.lang, computed: getComputedStyle(p).direction, iw: innerWidth,
                panel: box('[data-testid=lobby-panel]'), close: box('[data-testid=lobby-close]'),
                guest: box('[data-author=guest]'), hotel: box('[data-author=hotel]'),
                send: box('[data-testid=lobby-send]'), composer: box('[data-testid=lobby-composer]') }; })()",
        )
        .await;
    assert_eq!((&l["dir"], &l["lang"], &l["computed"]), (&"rtl".into(), &"ar".into(), &"rtl".into()), "{l}");
    let x = |k: &str| l[k]["x"].as_f64().unwrap();
    let right = |k: &str| x(k) + l[k]["width"].as_f64().unwrap();
    let iw = l["iw"].as_f64().unwrap();
    assert!(right("panel") < iw / 2.0 + 1.0, "data-position=left puts the panel on the left: {l}");
    // Mirrored: the close button at the left end of the header, the guest's bubbles on the left
    // and the hotel's on the right, the send button left of the composer.
    assert!(x("close") < x("panel") + l["panel"]["width"].as_f64().unwrap() / 2.0, "close button: {l}");
    assert!(x("guest") < x("hotel"), "guest bubbles start left of the hotel's: {l}");
    assert!(right("hotel") > right("guest"), "hotel bubbles end right of the guest's: {l}");
    assert!(x("send") < x("composer"), "send button left of the composer: {l}");
    browser.close().await;
    stack.stop().await;
}
