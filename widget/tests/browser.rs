//! The widget's unit and component tests, run in headless Chromium by wasm-bindgen-test-runner
//! (see widget/README.md): translations, the message list logic, colour contrast, storage
//! consent, and the rendered components inside a shadow root.

use lobby_protocol::{Author, ChatMessage};
use lobby_widget::color;
use lobby_widget::i18n::{ALL, ALL_KEYS, Key, Lang};
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

// ---- translations ----

#[wasm_bindgen_test]
fn every_key_is_translated_in_every_language() {
    // ALL_KEYS has KEYS entries (checked by the compiler); each in its own place means each once.
    assert!(ALL_KEYS.iter().enumerate().all(|(i, k)| *k as usize == i), "ALL_KEYS out of declaration order");
    for lang in ALL {
        for k in ALL_KEYS {
            let s = lang.t(k);
            assert!(!s.trim().is_empty(), "{lang:?} {k:?} empty");
            for ph in ["{n}", "{hotel}"] {
                assert_eq!(Lang::En.t(k).contains(ph), s.contains(ph), "{lang:?} {k:?} placeholder {ph}");
            }
        }
    }
}

#[wasm_bindgen_test]
fn languages_differ_from_english() {
    for lang in ALL.into_iter().filter(|l| *l != Lang::En) {
        let same = ALL_KEYS.into_iter().filter(|k| lang.t(*k) == Lang::En.t(*k)).count();
        // A few words are the same in some languages ("Message", "Messages").
        assert!(same <= 3, "{lang:?}: {same} strings identical to English");
    }
}

/// The `booking_*` strings of "Find my booking" (`components::booking`): every one in every
/// language, the placeholders kept, and not left in English.
#[wasm_bindgen_test]
fn every_booking_string_is_translated_in_every_language() {
    use lobby_widget::components::booking::{BKEYS, BOOKING_STRINGS};
    assert_eq!(BOOKING_STRINGS.len(), ALL.len());
    for lang in ALL {
        let row = BOOKING_STRINGS[lang as usize];
        let en = BOOKING_STRINGS[Lang::En as usize];
        let mut same = 0;
        for i in 0..BKEYS {
            assert!(!row[i].trim().is_empty(), "{lang:?} booking string {i} empty");
            for ph in ["{name}", "{date}"] {
                assert_eq!(en[i].contains(ph), row[i].contains(ph), "{lang:?} booking string {i} placeholder {ph}");
            }
            same += usize::from(lang != Lang::En && row[i] == en[i]);
        }
        assert!(same == 0, "{lang:?}: {same} booking strings left in English");
    }
}

#[wasm_bindgen_test]
fn tags_and_direction() {
    assert_eq!(Lang::from_tag("de-AT"), Some(Lang::De));
    assert_eq!(Lang::from_tag("AR"), Some(Lang::Ar));
    assert_eq!(Lang::from_tag("pt-BR"), None);
    assert_eq!(Lang::Ar.dir(), "rtl");
    assert!(ALL.iter().filter(|l| l.rtl()).count() == 1);
    assert_eq!(Lang::De.fill(Key::Unread, 3, ""), "Chatten Sie mit uns, 3 ungelesen");
}

#[wasm_bindgen_test]
fn times_are_localised() {
    let en = Lang::En.time("2020-01-02T15:04:00Z");
    let de = Lang::De.time("2020-01-02T15:04:00Z");
    assert!(!en.is_empty() && !de.is_empty());
    assert_ne!(en, de, "en {en} de {de}");
    assert_eq!(Lang::En.time(""), "");
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
    set("proxy", &"http://127.0.0.1:9".into());
    set("property", &"render-test".into());
    set("locale", &"ar".into());
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
    // The proxy is unreachable here: the panel says so instead of hanging.
    assert!(panel.text_content().unwrap().contains("nicht verfügbar"));
}

#[wasm_bindgen_test]
async fn message_markup_never_renders() {
    use leptos::prelude::*;
    use lobby_widget::api::Api;
    use lobby_widget::components::message_list::MessageList;
    use lobby_widget::state::{Chat, Phase};

    let (sr, mnt) = shadow_mount();
    let chat = Chat::new(Api::default(), Some(Lang::En), None, false);
    chat.phase.set(Phase::Chat);
    let evil = "<img src=x onerror=\"window.__pwned=1\"><b>bold</b>";
    chat.messages.set(vec![Msg::pending("c1".into(), evil.into(), "2026-11-21T10:00:00Z".into())]);
    chat.messages.update(|l| {
        outbox::merge(l, cm("h1", None, Author::Hotel, evil));
    });
    leptos::mount::mount_to(mnt, move || view! { <MessageList chat=chat/> }).forget();
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
    assert!(guest.query_selector("[data-testid=lobby-retry]").unwrap().is_some());
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
