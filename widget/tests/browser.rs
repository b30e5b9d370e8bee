//! The widget's unit and component tests, run in headless Chromium by wasm-bindgen-test-runner
//! (see widget/README.md): translations, the message list logic, colour contrast, storage
//! consent, and the rendered components inside a shadow root.

use lobby_protocol::{Author, ChatMessage};
use lobby_widget::color;
use lobby_widget::i18n::{self, Key, Lang};
use lobby_widget::outbox::{self, Msg, Status};
use lobby_widget::store;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn cm(id: &str, cid: Option<&str>, author: Author, text: &str) -> ChatMessage {
    ChatMessage {
        id: id.into(),
        client_id: cid.map(Into::into),
        author,
        text: text.into(),
        at: "2026-11-21T10:00:00Z".into(),
    }
}

async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
}

// ---- translations (the locale files themselves: tests/tests/widget_locales.rs) ----

/// Loads a locale file as the widget would after fetching it.
fn load(code: &str, json: &str) -> Lang {
    let l = Lang::from_tag(code).unwrap();
    l.insert(js_sys::JSON::parse(json).unwrap());
    l
}

fn de() -> Lang {
    load("de", include_str!("../locales/de.json"))
}

fn ar() -> Lang {
    load("ar", include_str!("../locales/ar.json"))
}

#[wasm_bindgen_test]
fn english_is_built_in_and_other_languages_come_from_their_file() {
    assert!(Lang::EN.loaded());
    assert_eq!(Lang::EN.t(Key::Send), "Send");
    assert_eq!(Lang::EN.fill(Key::Unread, 3, ""), "Chat with us, 3 unread");
    assert_eq!(Lang::EN.fill(Key::WaitSend, 12, ""), "Busy right now. Your message will be sent in 12 s.");
    let sv = Lang::from_tag("sv-SE").unwrap();
    assert!(!sv.loaded(), "nothing but English before a file arrives");
    assert_eq!(sv.t(Key::Send), "Send", "English until then");
    assert_eq!(de().fill(Key::Unread, 3, ""), "Chatten Sie mit uns, 3 ungelesen");
    assert_eq!(i18n::num(0), "0");
    assert_eq!(i18n::num(4_000), "4000");
}

#[wasm_bindgen_test]
fn tags_and_direction() {
    assert_eq!(Lang::from_tag("de-AT").map(Lang::code), Some("de"));
    assert_eq!(Lang::from_tag("AR").map(Lang::code), Some("ar"));
    assert_eq!(Lang::from_tag("iw-IL").map(Lang::code), Some("he"));
    assert_eq!(Lang::from_tag("zh-Hant-TW").map(Lang::code), Some("zh"));
    assert_eq!(Lang::from_tag("pt-BR").map(Lang::code), Some("pt"));
    assert_eq!(Lang::from_tag("xx"), None);
    assert_eq!(ar().dir(), "rtl");
    let rtl: Vec<_> = i18n::all().filter(|l| l.rtl()).map(Lang::code).collect();
    assert_eq!(rtl, ["ar", "he"]);
    assert!(i18n::all().count() >= 20);
}

#[wasm_bindgen_test]
fn times_are_localised() {
    let en = Lang::EN.time("2020-01-02T15:04:00Z");
    let ja = Lang::from_tag("ja").unwrap().time("2020-01-02T15:04:00Z");
    assert!(!en.is_empty() && !ja.is_empty());
    assert_ne!(en, ja, "en {en} ja {ja}");
    assert_eq!(Lang::EN.time(""), "");
}

// ---- message list ----

#[wasm_bindgen_test]
fn merge_dedupes_by_id() {
    let mut l = Vec::new();
    assert!(outbox::merge(&mut l, cm("1", None, Author::Hotel, "hi")));
    assert!(!outbox::merge(&mut l, cm("1", None, Author::Hotel, "hi")));
    assert_eq!(l.len(), 1);
}

#[wasm_bindgen_test]
fn post_answer_then_echo_shows_once() {
    let mut l = vec![Msg::pending("c1".into(), "hello".into(), "t".into())];
    outbox::confirm(&mut l, "c1", cm("m1", Some("c1"), Author::Guest, "hello"));
    assert_eq!(l[0].status, Status::Sent);
    // The SSE echo, with or without client id.
    assert!(!outbox::merge(&mut l, cm("m1", None, Author::Guest, "hello")));
    assert!(!outbox::merge(&mut l, cm("m1", Some("c1"), Author::Guest, "hello")));
    assert_eq!(l.len(), 1);
}

#[wasm_bindgen_test]
fn echo_then_post_answer_shows_once() {
    let mut l = vec![Msg::pending("c1".into(), "hello".into(), "t".into())];
    // Echo without client id arrives first: shown, the pending copy stays until the answer.
    outbox::merge(&mut l, cm("m1", None, Author::Guest, "hello"));
    outbox::confirm(&mut l, "c1", cm("m1", Some("c1"), Author::Guest, "hello"));
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].id.as_deref(), Some("m1"));
    assert_eq!(l[0].status, Status::Sent);
    // Echo with client id first.
    let mut l = vec![Msg::pending("c2".into(), "x".into(), "t".into())];
    outbox::merge(&mut l, cm("m2", Some("c2"), Author::Guest, "x"));
    outbox::confirm(&mut l, "c2", cm("m2", Some("c2"), Author::Guest, "x"));
    assert_eq!(l.len(), 1);
}

#[wasm_bindgen_test]
fn status_transitions_and_outbox_order() {
    let mut l =
        vec![Msg::pending("a".into(), "1".into(), "t".into()), Msg::pending("b".into(), "2".into(), "t".into())];
    assert_eq!(outbox::next_pending(&l), Some(("a".into(), "1".into())));
    outbox::set_status(&mut l, "a", Status::Failed);
    assert_eq!(outbox::next_pending(&l), Some(("b".into(), "2".into())));
    outbox::confirm(&mut l, "b", cm("m2", None, Author::Guest, "2"));
    assert_eq!(outbox::next_pending(&l), None);
    // Unconfirmed stay at the end; the failed one is still in the outbox.
    assert_eq!(l.last().unwrap().client_id.as_deref(), Some("a"));
    assert_eq!(outbox::outbox(&l).len(), 1);
    outbox::set_status(&mut l, "a", Status::Sending);
    assert_eq!(outbox::next_pending(&l), Some(("a".into(), "1".into())));
    // A staff reply goes before unconfirmed messages.
    outbox::merge(&mut l, cm("h1", None, Author::Hotel, "reply"));
    assert_eq!(l.last().unwrap().client_id.as_deref(), Some("a"));
}

#[wasm_bindgen_test]
fn history_keeps_unsent_and_live() {
    let mut l = vec![Msg::pending("c9".into(), "queued".into(), "t".into())];
    outbox::merge(&mut l, cm("m3", None, Author::Hotel, "live"));
    outbox::apply_history(
        &mut l,
        vec![
            cm("m1", None, Author::Guest, "a"),
            cm("m2", None, Author::Hotel, "b"),
            cm("m3", None, Author::Hotel, "live"),
        ],
    );
    let ids: Vec<_> = l.iter().map(|m| m.key().to_owned()).collect();
    assert_eq!(ids, ["m1", "m2", "m3", "c9"]);
    outbox::prepend_history(&mut l, vec![cm("m0", None, Author::Hotel, "old"), cm("m1", None, Author::Guest, "a")]);
    assert_eq!(l[0].key(), "m0");
    assert_eq!(l.len(), 5);
}

#[wasm_bindgen_test]
fn backoff_grows_and_caps() {
    assert_eq!(outbox::backoff_ms(0, 0.0), 1000);
    assert_eq!(outbox::backoff_ms(1, 0.0), 2000);
    assert_eq!(outbox::backoff_ms(10, 0.0), 30_000);
    assert!(outbox::backoff_ms(10, 1.0) <= 40_000);
}

#[wasm_bindgen_test]
fn outbox_round_trips() {
    let items = vec![("c1".to_owned(), "a \"quoted\" <b>".to_owned(), "t".to_owned())];
    assert_eq!(store::decode_outbox(&store::encode_outbox(&items)), items);
    assert!(store::decode_outbox("garbage").is_empty());
}

// ---- colour ----

#[wasm_bindgen_test]
fn accent_text_is_readable() {
    for hex in ["#1d4e89", "#ffd400", "#ffffff", "#000000", "#777777", "#b4532a", "#2fbf71"] {
        let bg = color::luminance(color::parse(hex).unwrap());
        let fg = color::luminance(color::parse(color::on_accent(hex)).unwrap());
        assert!(color::contrast(bg, fg) >= 4.5, "{hex}");
    }
    assert!(color::parse("red").is_none());
}

// ---- storage consent ----

#[wasm_bindgen_test]
fn nothing_is_stored_before_consent() {
    store::init("consent-test");
    if !store::has_consent() {
        store::set("probe", Some("x"), false);
        assert_eq!(store::get("probe", false), None);
    }
    store::consent();
    store::set("probe", Some("x"), false);
    assert_eq!(store::get("probe", false).as_deref(), Some("x"));
    store::set("probe", None, false);
}

// ---- rendering ----

fn shadow_mount() -> (web_sys::ShadowRoot, web_sys::HtmlElement) {
    let doc = web_sys::window().unwrap().document().unwrap();
    let host = doc.create_element("lobby-chat").unwrap();
    doc.body().unwrap().append_child(&host).unwrap();
    let sr = host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open)).unwrap();
    let root = doc.create_element("div").unwrap();
    root.set_class_name("lobby-root");
    sr.append_child(&root).unwrap();
    let mnt = doc.create_element("div").unwrap();
    root.append_child(&mnt).unwrap();
    (sr, mnt.unchecked_into())
}

#[wasm_bindgen_test]
async fn panel_renders_in_shadow_root_and_messages_are_text() {
    let (sr, mnt) = shadow_mount();
    let opts = js_sys::Object::new();
    let set = |k: &str, v: &wasm_bindgen::JsValue| {
        js_sys::Reflect::set(&opts, &k.into(), v).unwrap();
    };
    // Both languages' files as if fetched (there is no proxy here).
    ar();
    de();
    let d = js_sys::Object::new();
    js_sys::Reflect::set(&d, &"property".into(), &"render-test".into()).unwrap();
    js_sys::Reflect::set(&d, &"locale".into(), &"ar".into()).unwrap();
    js_sys::Reflect::set(&d, &"contactPhone".into(), &"+420 1".into()).unwrap();
    set("proxy", &"http://127.0.0.1:9".into());
    set("d", &d);
    let events = js_sys::Array::new();
    let ev2 = events.clone();
    let emit = wasm_bindgen::closure::Closure::<dyn Fn(String)>::new(move |name: String| {
        ev2.push(&name.into());
    });
    set("emit", emit.as_ref());
    emit.forget();
    let handle = lobby_widget::mount(mnt, opts.into());
    sleep(50).await;
    let panel = sr.query_selector("[data-testid=lobby-panel]").unwrap().unwrap();
    assert!(panel.has_attribute("hidden"), "closed at first");
    assert_eq!(panel.get_attribute("dir").as_deref(), Some("rtl"));
    assert_eq!(panel.get_attribute("role").as_deref(), Some("dialog"));
    handle.open();
    sleep(50).await;
    assert!(!panel.has_attribute("hidden"));
    assert!(events.includes(&"opened".into(), 0));
    handle.set_locale("de");
    sleep(20).await;
    assert_eq!(panel.get_attribute("dir").as_deref(), Some("ltr"));
    assert_eq!(panel.get_attribute("lang").as_deref(), Some("de"));
    // Every button has an accessible name.
    let buttons = sr.query_selector_all("button").unwrap();
    for i in 0..buttons.length() {
        let b: web_sys::Element = buttons.item(i).unwrap().unchecked_into();
        let named = b.get_attribute("aria-label").is_some_and(|l| !l.is_empty())
            || !b.text_content().unwrap_or_default().trim().is_empty();
        assert!(named, "unnamed button {}", b.outer_html());
    }
    handle.close();
    sleep(20).await;
    assert!(panel.has_attribute("hidden"));
    assert!(events.includes(&"closed".into(), 0));
    // The proxy is unreachable here: the panel says so instead of hanging, with the page's contact.
    assert!(panel.text_content().unwrap().contains("nicht verfügbar"));
    let contact = sr.query_selector("[data-testid=lobby-contact] a").unwrap().unwrap();
    assert_eq!(contact.get_attribute("href").as_deref(), Some("tel:+4201"));
}

#[wasm_bindgen_test]
async fn message_markup_never_renders() {
    use leptos::prelude::*;
    use lobby_widget::api::Api;
    use lobby_widget::components::message_list::message_list;
    use lobby_widget::state::{Chat, Phase};

    let (sr, mnt) = shadow_mount();
    let chat = Chat::new(Api::default(), Some(Lang::EN), None, false);
    chat.phase.set(Phase::Chat);
    let evil = "<img src=x onerror=\"window.__pwned=1\"><b>bold</b>";
    chat.messages.set(vec![Msg::pending("c1".into(), evil.into(), "2026-11-21T10:00:00Z".into())]);
    chat.messages.update(|l| {
        outbox::merge(l, cm("h1", None, Author::Hotel, evil));
    });
    leptos::mount::mount_to(mnt, move || message_list(chat)).forget();
    sleep(30).await;
    let items = sr.query_selector_all("[data-testid=lobby-message]").unwrap();
    assert_eq!(items.length(), 2);
    assert!(sr.query_selector("img").unwrap().is_none());
    assert!(sr.query_selector("b").unwrap().is_none());
    let text = sr.query_selector(".lobby-text").unwrap().unwrap().text_content().unwrap();
    assert_eq!(text, evil);
    let hotel = sr.query_selector("[data-author=hotel]").unwrap().unwrap();
    assert!(!hotel.has_attribute("data-status"));
    let guest = sr.query_selector("[data-author=guest]").unwrap().unwrap();
    assert_eq!(guest.get_attribute("data-status").as_deref(), Some("sending"));
    // sending → failed shows a retry button.
    chat.messages.update(|l| outbox::set_status(l, "c1", Status::Failed));
    sleep(30).await;
    let guest = sr.query_selector("[data-author=guest]").unwrap().unwrap();
    assert_eq!(guest.get_attribute("data-status").as_deref(), Some("failed"));
    let retry: web_sys::HtmlElement =
        guest.query_selector("[data-testid=lobby-retry]").unwrap().unwrap().unchecked_into();
    // Retry (a real click event on the button): queued again.
    retry.click();
    sleep(30).await;
    let guest = sr.query_selector("[data-author=guest]").unwrap().unwrap();
    assert_eq!(guest.get_attribute("data-status").as_deref(), Some("sending"), "retry queues the message again");
    chat.messages.update(|l| outbox::set_status(l, "c1", Status::Failed));
    sleep(30).await;
    // failed → sent.
    chat.messages.update(|l| outbox::confirm(l, "c1", cm("m1", Some("c1"), Author::Guest, evil)));
    sleep(30).await;
    let guests = sr.query_selector_all("[data-author=guest][data-status=sent]").unwrap();
    assert_eq!(guests.length(), 1);
    assert!(js_sys::Reflect::get(&js_sys::global(), &"__pwned".into()).unwrap().is_undefined());
}

#[wasm_bindgen_test]
fn sound_is_claimed_once_per_reply() {
    use lobby_widget::attention::claim;
    let a = claim("", "m1").unwrap();
    assert_eq!(claim(&a, "m1"), None, "a second tab must not play m1");
    let b = claim(&a, "m2").unwrap();
    assert_eq!(claim(&b, "m1"), None, "m1 still known after m2");
    let mut list = String::new();
    for i in 0..30 {
        list = claim(&list, &i.to_string()).unwrap();
    }
    assert_eq!(list.split(' ').count(), 20);
}
