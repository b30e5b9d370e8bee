//! The staff console (HTML) at `/`.

use crate::common::*;

async fn html(sim: &Sim, path: &str) -> (u16, String) {
    let r = sim.http.get(sim.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn post_form(sim: &Sim, path: &str, form: &str) -> reqwest::Response {
    no_redirects()
        .post(sim.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn console_lists_threads_most_recent_first_with_test_ids() {
    let sim = Sim::start().await;
    let a = sim.add_thread_as(auth(CT, GROSS), "Alice Early", "Towels").await["Id"].as_str().unwrap().to_string();
    let b = sim.add_thread_as(auth(CT, GROSS), "Bob Later", "Parking").await["Id"].as_str().unwrap().to_string();
    sim.add_message(&b, "Is there parking?").await;
    let (status, page) = html(&sim, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("data-testid=\"thread-list\""));
    assert_eq!(page.matches("data-testid=\"thread-row\"").count(), 2);
    let pos_b = page.find(&format!("data-thread-id=\"{b}\"")).unwrap();
    let pos_a = page.find(&format!("data-thread-id=\"{a}\"")).unwrap();
    assert!(pos_b < pos_a, "most recently active first");
    assert!(page.contains("Bob Later") && page.contains("Parking") && page.contains("Is there parking?"));
    assert_eq!(page.matches("data-testid=\"unread-badge\"").count(), 1);
    assert!(page.contains("data-testid=\"search-input\""));
}

#[tokio::test]
async fn console_search_matches_guest_name_or_subject() {
    let sim = Sim::start().await;
    sim.add_thread_as(auth(CT, GROSS), "Alice Early", "Towels").await;
    sim.add_thread_as(auth(CT, GROSS), "Bob Later", "Parking").await;
    let (_, page) = html(&sim, "/?q=alice").await;
    assert_eq!(page.matches("data-testid=\"thread-row\"").count(), 1);
    assert!(page.contains("Alice Early") && !page.contains("Bob Later"));
    let (_, page) = html(&sim, "/?q=PARK").await;
    assert!(page.contains("Bob Later") && !page.contains("Alice Early"));
    let (_, page) = html(&sim, "/?q=nobody").await;
    assert_eq!(page.matches("data-testid=\"thread-row\"").count(), 0);
}

#[tokio::test]
async fn console_escapes_guest_text() {
    let sim = Sim::start().await;
    let evil = "<script>alert('x')</script>";
    let t = sim.add_thread_as(auth(CT, GROSS), evil, &format!("{evil} \"quoted\"")).await;
    let id = t["Id"].as_str().unwrap();
    sim.add_message(id, &format!("{evil} & <b>bold</b>")).await;
    for path in ["/".to_string(), format!("/threads/{id}"), format!("/?q={}", "%22%3E%3Cscript%3E")] {
        let (_, page) = html(&sim, &path).await;
        assert!(!page.contains("<script>alert"), "{path}");
        assert!(!page.contains("<b>bold</b>"), "{path}");
        assert!(!page.contains("\"><script>"), "{path}");
    }
    let (_, page) = html(&sim, &format!("/threads/{id}")).await;
    assert!(page.contains("&lt;script&gt;alert('x')&lt;/script&gt;"));
    assert!(page.contains("&amp; &lt;b&gt;bold&lt;/b&gt;"));
}

#[tokio::test]
async fn console_opening_a_thread_shows_it_and_marks_it_read() {
    let sim = Sim::start().await;
    let id = sim.add_thread().await;
    sim.add_message(&id, "guest says hi").await;
    sim.reply(&id, "staff says hello").await;
    sim.add_message(&id, "guest again").await;
    assert_eq!(sim.admin_get("/admin/threads").await["threads"][0]["unread"], true);
    let (status, page) = html(&sim, &format!("/threads/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("data-testid=\"message\"").count(), 3);
    assert_eq!(page.matches("data-sender=\"Enterprise\"").count(), 1);
    let first = page.find("guest says hi").unwrap();
    let last = page.find("guest again").unwrap();
    assert!(first < last, "oldest first");
    assert!(page.contains("data-testid=\"reply-text\"") && page.contains("data-testid=\"send-button\""));
    assert!(page.contains("data-testid=\"resolve-button\""));
    assert_eq!(sim.admin_get("/admin/threads").await["threads"][0]["unread"], false);
}

#[tokio::test]
async fn console_reply_form_adds_a_staff_message_and_redirects() {
    let rx = Receiver::start().await;
    let sim = Sim::with(webhook_config(&rx.url)).await;
    let id = sim.add_thread().await;
    let r = post_form(&sim, &format!("/threads/{id}/reply"), "text=Yes%2C+we+have+a+garage+%3Cfree%3E").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("/threads/{id}").as_str());
    let msgs = sim.get_messages(&id, 10).await;
    assert_eq!(msgs["Messages"][0]["Text"], "Yes, we have a garage <free>");
    assert_eq!(msgs["Messages"][0]["Sender"]["Discriminator"], "Enterprise");
    rx.wait_for(1, std::time::Duration::from_secs(5)).await;
    assert_eq!(rx.event_ids(), vec![msgs["Messages"][0]["Id"].as_str().unwrap().to_string()]);
    // An empty reply is refused with a message and stores nothing.
    let r = post_form(&sim, &format!("/threads/{id}/reply"), "text=+++").await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().contains("error=empty"));
    assert_eq!(sim.get_messages(&id, 10).await["Messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn console_resolve_button_resolves_and_reopens() {
    let sim = Sim::start().await;
    let id = sim.add_thread().await;
    let r = post_form(&sim, &format!("/threads/{id}/resolve"), "resolved=true").await;
    assert_eq!(r.status(), 303);
    assert_eq!(sim.admin_get("/admin/threads").await["threads"][0]["is_resolved"], true);
    let (_, page) = html(&sim, &format!("/threads/{id}")).await;
    assert!(page.contains("data-resolved=\"true\"") && page.contains("Reopen"));
    post_form(&sim, &format!("/threads/{id}/resolve"), "resolved=false").await;
    assert_eq!(sim.admin_get("/admin/threads").await["threads"][0]["is_resolved"], false);
}

#[tokio::test]
async fn console_unknown_thread_is_404() {
    let sim = Sim::start().await;
    let (status, page) = html(&sim, "/threads/%3Cscript%3E").await;
    assert_eq!(status, 404);
    assert!(page.contains("&lt;script&gt;"));
    assert_eq!(page.matches("<script>").count(), 1, "only the console's own refresh script");
    let r = post_form(&sim, "/threads/nope/reply", "text=x").await;
    assert_eq!(r.status(), 404);
}
