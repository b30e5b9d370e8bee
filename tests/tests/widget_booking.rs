//! "Find my booking" in a real headless Chromium against the proxy and the simulator's seeded
//! stays: the step on the start form (Mews number, OTA number, room number), what the guest then
//! sees (first name, stage, their profile's language), what staff see (the Subject and the linked
//! stay in the staff console), the one `not_found` of every failure, the conversation coming back
//! in a fresh browser with its history and the staff reply reaching both, the step from the
//! conversation header (a system line for the guest, a note for staff), and the screenshots.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use lobby_e2e::{
    Ports, Stack,
    browser::{Browser, Launch},
    eventually, screenshot_path,
};

async fn stack() -> Stack {
    Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        // Every test browser is 127.0.0.1; the limit per widget stays at its default.
        c.guest_limits.identify_per_ip = lobby_proxy::guard::Rate { burst: 10_000.0, per_second: 10_000.0 };
    })
    .await
}

/// Opens the chat and the booking step.
async fn open_step(browser: &Browser, stack: &Stack) {
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.widget("lobby-launcher").await.click().await.unwrap();
    browser.widget("booking-open").await.click().await.unwrap();
    browser.widget("booking-step").await;
}

/// Fills the step and runs it; returns how long the answer took to show.
async fn find(browser: &Browser, by_room: bool, number: &str, last: &str) -> Duration {
    browser.widget(if by_room { "booking-by-room" } else { "booking-by-number" }).await.click().await.unwrap();
    let n = browser.widget("booking-number").await;
    n.clear().await.unwrap();
    n.send_keys(number).await.unwrap();
    let l = browser.widget("booking-last-name").await;
    l.clear().await.unwrap();
    l.send_keys(last).await.unwrap();
    let answers = browser.widget("booking-step").await.attr("data-answers").await.unwrap().unwrap_or_default();
    let next = answers.parse::<u32>().unwrap_or(0) + 1;
    let at = Instant::now();
    browser.widget("booking-find").await.click().await.unwrap();
    browser
        .wait_js(
            Duration::from_secs(15),
            &format!(
                "r.querySelector('[data-testid=booking-stay]') || r.querySelector('[data-testid=booking-step][data-answers=\"{next}\"]')"
            ),
        )
        .await;
    at.elapsed()
}

async fn shadow_text(browser: &Browser, testid: &str) -> String {
    browser
        .shadow_js(&format!("r.querySelector('[data-testid={testid}]')?.textContent ?? ''"))
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_links_the_chat_by_mews_number_ota_number_or_room_and_staff_see_the_stay() {
    let stack = stack().await;
    // (how, number, last name, stage, what the guest then reads, in their profile's language)
    let cases = [
        (false, "1001", "Müller", "before_arrival", "Willkommen, Anna!", "Anreise am"),
        (false, "EXP-7788990", "Tanaka", "before_arrival", "Welcome, Kenji!", "Arriving"),
        (true, "101", "Dvořák", "in_house", "Vítejte, Tomáš!", "Ubytován(a)"),
        (true, "12a", "LEFEVRE", "in_house", "Bienvenue, Chloé !", "Séjour en cours"),
    ];
    for (by_room, number, last, stage, welcome, stage_text) in cases {
        let browser = Browser::launch().await;
        open_step(&browser, &stack).await;
        let took = find(&browser, by_room, number, last).await;
        let card = browser.widget("booking-stay").await;
        assert_eq!(card.attr("data-stage").await.unwrap().as_deref(), Some(stage), "{number}");
        let text = card.text().await.unwrap();
        assert!(text.contains(welcome) && text.contains(stage_text), "{number}: {text}");
        // The conversation is open: the composer is there, in the guest's language.
        browser.widget("lobby-composer").await;
        println!("{number} / {last}: linked, shown after {} ms: {text:?}", took.as_millis());
        browser.close().await;
    }
    // Staff see the booking in the inbox list, and the console shows the linked stay.
    let inbox = reqwest::get(format!("{}/", stack.sim_url)).await.unwrap().text().await.unwrap();
    for subject in [
        "[Booking 1001] Anna Müller · ",
        "[Booking 1008 / ch EXP-7788990] Kenji Tanaka · ",
        "[Booking 1002] Tomáš Dvořák · ",
        "[Booking 1010] Chloé Lefèvre · ",
    ] {
        let escaped = subject.replace('\'', "&#x27;");
        assert!(inbox.contains(subject) || inbox.contains(&escaped), "{subject} not in the inbox");
    }
    assert!(inbox.contains("before arrival") && inbox.contains("in-house"));
    assert_eq!(inbox.matches("data-testid=\"linked-stay\"").count(), 4, "every thread shows its stay");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_shows_the_same_message_and_a_sixth_attempt_is_refused() {
    let stack = stack().await;
    let browser = Browser::launch().await;
    open_step(&browser, &stack).await;
    // Keyboard and screen readers: every control labelled, the error announced (axe-core).
    let violations = browser.axe().await;
    assert!(violations.is_empty(), "axe on the booking step: {violations:?}");
    let cases = [
        ("wrong last name", false, "1001", "Miller"),
        ("cancelled booking", false, "1004", "Smith"),
        ("old stay", false, "1012", "O'Brien"),
        ("room not checked in", true, "102", "Müller"),
    ];
    let mut shown = Vec::new();
    for (label, by_room, number, last) in cases {
        let took = find(&browser, by_room, number, last).await;
        let error = browser.widget("booking-error").await;
        assert_eq!(error.attr("data-error").await.unwrap().as_deref(), Some("not_found"), "{label}");
        assert_eq!(error.attr("role").await.unwrap().as_deref(), Some("alert"), "{label}: announced");
        shown.push(error.text().await.unwrap());
        println!("{label}: not_found shown after {} ms", took.as_millis());
    }
    assert!(shown.windows(2).all(|w| w[0] == w[1]), "{shown:?}");
    assert!(browser.try_widget_css("[data-testid=booking-stay]").await.is_none());
    // This widget's 5th attempt, then the 6th: refused before any Mews call.
    find(&browser, false, "1001", "Mueller").await;
    let before = stack.sim().guest_reads().await;
    find(&browser, false, "1001", "Müller").await;
    let error = browser.widget("booking-error").await;
    assert_eq!(error.attr("data-error").await.unwrap().as_deref(), Some("rate_limited"));
    assert_eq!(stack.sim().guest_reads().await, before, "no Mews call for the 6th attempt");
    println!("6th attempt: {:?}", error.text().await.unwrap());
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_booking_in_a_fresh_browser_brings_the_conversation_back_and_a_reply_reaches_both() {
    let stack = stack().await;
    let a = Browser::launch().await;
    open_step(&a, &stack).await;
    find(&a, false, "1002", "Dvořák").await;
    a.widget("booking-stay").await;
    a.widget("lobby-composer").await;
    let text = "Could we have two extra pillows?";
    a.widget("lobby-composer").await.send_keys(text).await.unwrap();
    a.widget("lobby-send").await.click().await.unwrap();
    a.wait_js(
        Duration::from_secs(10),
        "r.querySelector('[data-testid=lobby-message][data-author=guest][data-status=sent]')",
    )
    .await;

    // Another device: a fresh browser, no storage in common.
    let b = Browser::launch_with(Launch { width: 390, height: 844, mobile: true, ..Launch::default() }).await;
    open_step(&b, &stack).await;
    find(&b, true, "101", "dvorak").await;
    eventually(Duration::from_secs(10), "the history in browser B", || async {
        b.guest_texts().await.iter().any(|t| t == text).then_some(())
    })
    .await;

    // One thread in Mews; staff answer once, both browsers show it.
    let threads = stack.sim().staff_threads().await;
    let ours: Vec<_> = threads.iter().filter(|(n, _)| n == "Tomáš Dvořák").collect();
    assert_eq!(ours.len(), 1, "{threads:?}");
    stack.sim().staff_reply(&ours[0].1, "Of course, housekeeping is on the way.").await;
    for (name, browser) in [("A", &a), ("B", &b)] {
        eventually(Duration::from_secs(10), "the staff reply", || async {
            browser.hotel_texts().await.iter().any(|t| t.contains("housekeeping")).then_some(())
        })
        .await;
        println!("browser {name}: reply shown");
    }
    b.screenshot(&screenshot_path("booking-resumed-phone.png")).await;
    a.close().await;
    b.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_verifies_from_the_conversation_header_staff_get_a_note_the_guest_a_system_line() {
    let stack = stack().await;
    let browser = Browser::launch().await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    browser.start_conversation("Siobhan", "Lost property", "I think I left my charger in the room.").await;
    browser.widget("booking-header").await.click().await.unwrap();
    browser.widget("booking-step").await;
    find(&browser, false, "1003", "obrien").await;
    let card = browser.widget("booking-stay").await;
    assert_eq!(card.attr("data-stage").await.unwrap().as_deref(), Some("checked_out"));
    let line = browser.widget_css("[data-author=system]").await;
    assert_eq!(line.text().await.unwrap(), "Booking verified");
    assert!(browser.guest_texts().await.iter().all(|t| !t.contains("Booking")), "the note is not the guest's message");
    let thread = stack.sim().thread_of("Siobhan").await;
    let staff = stack.sim().staff_texts(&thread).await;
    assert!(
        staff.iter().any(|t| t.starts_with("[Lobby] Booking verified: [Booking 1003] Siobhán O'Brien · ")
            && t.contains("checked out")),
        "{staff:?}"
    );
    assert!(shadow_text(&browser, "booking-header").await.is_empty(), "no second verification offered");
    // After a reload the conversation and its stay are still there.
    browser.client.refresh().await.unwrap();
    if browser.try_widget_css("[data-testid=lobby-composer]").await.is_none() {
        browser.widget("lobby-launcher").await.click().await.unwrap();
    }
    let card = browser.widget("booking-stay").await;
    assert_eq!(card.attr("data-stage").await.unwrap().as_deref(), Some("checked_out"));
    browser.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_step_and_of_a_linked_conversation() {
    let stack = stack().await;
    for (suffix, launch) in [
        ("desktop", Launch { width: 1280, height: 860, ..Launch::default() }),
        ("phone", Launch { width: 390, height: 844, mobile: true, ..Launch::default() }),
    ] {
        let browser = Browser::launch_with(launch).await;
        open_step(&browser, &stack).await;
        browser.widget("booking-number").await.send_keys("4123.456.789").await.unwrap();
        browser.widget("booking-last-name").await.send_keys("Müller").await.unwrap();
        browser.screenshot(&screenshot_path(&format!("booking-step-{suffix}.png"))).await;
        browser.widget("booking-find").await.click().await.unwrap();
        browser.widget("booking-stay").await;
        let composer = browser.widget("lobby-composer").await;
        // The phone is a second device of the same guest: the conversation comes back, and goes on.
        let text = if suffix == "desktop" {
            "Hallo! Können wir ein Kinderbett bekommen?"
        } else {
            "Und gibt es einen Parkplatz?"
        };
        composer.send_keys(text).await.unwrap();
        browser.widget("lobby-send").await.click().await.unwrap();
        let thread = eventually(Duration::from_secs(10), "the thread", || async {
            stack.sim().staff_threads().await.into_iter().find(|(n, _)| n == "Anna Müller").map(|(_, id)| id)
        })
        .await;
        if suffix == "desktop" {
            stack.sim().staff_reply(&thread, "Natürlich, das Kinderbett steht bei Ihrer Ankunft bereit.").await;
        }
        eventually(Duration::from_secs(10), "the reply", || async {
            browser.hotel_texts().await.iter().any(|t| t.contains("Kinderbett")).then_some(())
        })
        .await;
        browser.screenshot(&screenshot_path(&format!("booking-linked-{suffix}.png"))).await;
        if suffix == "desktop" {
            browser.client.goto(&stack.sim_url).await.unwrap();
            browser.client.find(Locator::Css("[data-testid='linked-stay']")).await.unwrap();
            browser.screenshot(&screenshot_path("booking-staff-console.png")).await;
        }
        browser.close().await;
    }
    stack.stop().await;
}
