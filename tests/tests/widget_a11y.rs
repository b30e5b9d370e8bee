//! Accessibility of the widget, in a real headless Chromium against the real proxy and simulator:
//! axe-core finds nothing in any state (light left-to-right, dark right-to-left), and a guest can
//! do everything with the keyboard alone.

use std::time::Duration;

use lobby_e2e::{
    Ports, Stack,
    browser::{Browser, Launch},
};

const TAB: &str = "\u{e004}";
const ENTER: &str = "\u{e007}";
const ESC: &str = "\u{e00c}";

async fn axe_through_all_states(stack: &Stack, browser: &Browser, page: &str, name: &str) -> Vec<String> {
    let sim = stack.sim();
    let mut found = Vec::new();
    let mut check = async |state: &str| {
        for v in browser.axe().await {
            found.push(format!("{page} {state}: {v}"));
        }
    };
    browser.client.goto(page).await.unwrap();
    browser.widget("lobby-launcher").await;
    check("launcher").await;
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.widget("lobby-name").await;
    browser.widget("lobby-start").await.click().await.unwrap(); // empty: the field errors show
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[aria-invalid=true]')").await;
    check("start form with errors").await;
    browser.widget("lobby-name").await.send_keys(name).await.unwrap();
    browser.widget("lobby-topic").await.send_keys("Parking").await.unwrap();
    browser.widget("lobby-first-message").await.send_keys("Hi").await.unwrap();
    browser.widget("lobby-start").await.click().await.unwrap();
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=guest][data-status=sent]')").await;
    let thread = sim.thread_of(name).await;
    sim.staff_reply(&thread, "Hello, the garage is on level -1.").await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;
    check("conversation").await;
    sim.resolve(&thread, true).await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-testid=lobby-resolved]')").await;
    check("resolved").await;
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_finds_no_violations_light_ltr_and_dark_rtl() {
    let stack = Stack::start(Ports::any()).await;
    let mut found = Vec::new();
    let light = Browser::launch().await;
    found.extend(axe_through_all_states(&stack, &light, &stack.demo_page(), "Lena Light").await);
    light.close().await;
    let dark = Browser::launch_with(Launch { dark: true, lang: "ar".into(), ..Launch::default() }).await;
    let rtl = format!("{}/test-pages/rtl.html", stack.pages_url);
    found.extend(axe_through_all_states(&stack, &dark, &rtl, "Dalia Dark").await);
    assert_eq!(dark.shadow_js("matchMedia('(prefers-color-scheme: dark)').matches").await, true);
    dark.close().await;
    assert!(found.is_empty(), "axe-core violations:\n{}", found.join("\n"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_can_chat_with_the_keyboard_only() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.widget("lobby-launcher").await;
    // Tab from the page into the launcher (the demo page's own links come first).
    let mut tabs = 0;
    while browser.focused().await != "lobby-launcher" {
        browser.keys(TAB, false).await;
        tabs += 1;
        assert!(tabs < 60, "the launcher is not reachable with Tab");
    }
    browser.keys(ENTER, false).await;
    browser.wait_js(Duration::from_secs(15), "r.activeElement && r.activeElement.dataset.testid == 'lobby-name'").await;
    browser.keys(&format!("Eva Keys{TAB}Spa{TAB}{TAB}Hello from the keyboard{TAB}"), false).await;
    assert_eq!(browser.focused().await, "lobby-start");
    browser.keys(TAB, false).await; // focus stays in the dialog: wraps to its first control
    let wrapped = browser.focused().await;
    assert!(!wrapped.is_empty() && wrapped != "lobby-start", "focus left the panel: {wrapped:?}");
    browser.keys(TAB, true).await;
    assert_eq!(browser.focused().await, "lobby-start", "Shift+Tab wraps back");
    browser.keys(ENTER, false).await;
    browser
        .wait_js(Duration::from_secs(15), "r.activeElement && r.activeElement.dataset.testid == 'lobby-composer'")
        .await;
    browser.keys(&format!("Thanks{ENTER}"), false).await;
    browser
        .wait_js(Duration::from_secs(15), "r.querySelectorAll('[data-author=guest][data-status=sent]').length == 2")
        .await;
    assert_eq!(browser.guest_texts().await, ["Hello from the keyboard", "Thanks"]);
    let thread = stack.sim().thread_of("Eva Keys").await;
    assert_eq!(stack.sim().count_text(&thread, "Thanks").await, 1);
    browser.keys(ESC, false).await;
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[data-testid=lobby-panel][hidden]')").await;
    assert_eq!(browser.focused().await, "lobby-launcher", "Escape closes and returns focus to the launcher");
    browser.close().await;
    stack.stop().await;
}
