//! The README's widget screenshots, taken from the real stack (simulator + proxy + a real
//! headless Chromium): a conversation with a staff reply, on desktop light and dark, on a phone in
//! German, and in Arabic. Writes `widget-*.png` (into `docs/screenshots/` with
//! `LOBBY_UPDATE_SCREENSHOTS=1`, see `lobby_e2e::screenshot_path`).

use std::time::Duration;

use lobby_e2e::{
    Ports, Stack,
    browser::{Browser, Launch},
    screenshot_path,
};

struct Shot {
    file: &'static str,
    launch: Launch,
    page: &'static str,
    name: &'static str,
    topic: &'static str,
    first: &'static str,
    reply: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots() {
    let stack = Stack::start(Ports::any()).await;
    let sim = stack.sim();
    let desktop = Launch { width: 1280, height: 860, ..Launch::default() };
    let shots = [
        Shot {
            file: "widget-desktop-light.png",
            launch: desktop.clone(),
            page: "/",
            name: "Anna Novák",
            topic: "Late check-in",
            first: "Hello, we land at 23:40. Can we still check in?",
            reply: "Of course! The night desk is open 24/7 — just ring the bell.",
        },
        Shot {
            file: "widget-desktop-dark.png",
            launch: Launch { dark: true, ..desktop.clone() },
            page: "/",
            name: "James Miller",
            topic: "Parking",
            first: "Is there a garage for a van?",
            reply: "Yes, our garage takes vans up to 2.3 m. Shall we reserve a spot?",
        },
        Shot {
            file: "widget-mobile.png",
            launch: Launch { width: 390, height: 844, mobile: true, lang: "de-DE".into(), ..Launch::default() },
            page: "/",
            name: "Jana Schmidt",
            topic: "Frühstück",
            first: "Bis wann gibt es Frühstück?",
            reply: "Frühstück gibt es bis 10:30 Uhr, am Wochenende bis 11 Uhr.",
        },
        Shot {
            file: "widget-rtl.png",
            launch: Launch { lang: "ar".into(), ..desktop },
            page: "/test-pages/rtl.html",
            name: "ليلى",
            topic: "تسجيل الوصول",
            first: "مرحبا، هل يمكننا تسجيل الوصول مبكرا؟",
            reply: "أهلا وسهلا! الغرفة جاهزة من الساعة الثانية عشرة.",
        },
    ];
    for shot in shots {
        let browser = Browser::launch_with(shot.launch).await;
        browser.client.goto(&format!("{}{}", stack.pages_url, shot.page)).await.unwrap();
        browser.start_conversation(shot.name, shot.topic, shot.first).await;
        let thread = sim.thread_of(shot.name).await;
        sim.staff_reply(&thread, shot.reply).await;
        browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;
        assert_eq!(browser.hotel_texts().await, [shot.reply]);
        browser.settled_screenshot(&screenshot_path(shot.file)).await;
        browser.close().await;
    }
    stack.stop().await;
}
