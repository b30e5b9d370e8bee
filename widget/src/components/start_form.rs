//! The start form: greeting, opening hours (away message and reply time), "Find my booking"
//! (`components::booking`), then name, topic, optional email or reservation number and the first
//! message. Validates before sending and reports errors next to the fields (`aria-invalid`,
//! `aria-describedby`). When the proxy asks to wait (`Retry-After`), the wait counts down under
//! the button; when it cannot be reached, the hotel's own contact is shown.
//!
//! Built with the DOM directly, like the message bubbles (widget/README.md, "Size"): the elements
//! once, then small effects set what changes (texts with the language, the greeting and the away
//! box with the property, each field's error, the wait or failure line, the button), and one
//! listener takes the form's typing and its submit. The typed values stay in signals.

use js_sys::Reflect;
use leptos::html;
use leptos::prelude::*;
use lobby_protocol::limits;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Document, Element, Event, HtmlElement};

use crate::api::StartForm as Form;
use crate::components::booking::{self, At};
use crate::components::message::el;
use crate::i18n::{Key, num};
use crate::state::{Chat, client_id, effect, start_key};

fn set(e: &Element, k: &str, v: &str) {
    let _ = e.set_attribute(k, v);
}

/// The fields: label, `data-testid`, maximum length, `autocomplete`, error when empty (required).
const FIELDS: [(Key, &str, usize, &str, Option<Key>); 4] = [
    (Key::Name, "lobby-name", limits::MAX_NAME_CHARS, "name", Some(Key::NeedName)),
    (Key::Topic, "lobby-topic", limits::MAX_TOPIC_CHARS, "off", Some(Key::NeedTopic)),
    (Key::Reference, "lobby-email", limits::MAX_REF_CHARS, "email", None),
    (Key::FirstMessage, "lobby-first-message", limits::MAX_TEXT_CHARS, "", None),
];

/// The form's state; `values` in the order of [`FIELDS`].
#[derive(Clone, Copy)]
struct State {
    chat: Chat,
    values: [RwSignal<String>; 4],
    busy: RwSignal<bool>,
    failed: RwSignal<bool>,
    checked: RwSignal<bool>,
    /// One start key for this form: a second submit after a failure is the same conversation.
    key: StoredValue<String>,
}

/// The form (`lobby-name`, `lobby-topic`, `lobby-email`, `lobby-first-message`, `lobby-start`).
pub fn start_form(chat: Chat) -> impl IntoView {
    let s = State {
        chat,
        values: [chat.name, RwSignal::new(String::new()), chat.reference, RwSignal::new(String::new())],
        busy: RwSignal::new(false),
        failed: RwSignal::new(false),
        checked: RwSignal::new(false),
        key: StoredValue::new(start_key()),
    };
    let node = NodeRef::<html::Form>::new();
    effect(move || {
        if let Some(form) = node.get() {
            build(s, form.into());
        }
    });
    view! { <form class="lobby-body lobby-start" novalidate node_ref=node></form> }
}

fn build(s: State, form: HtmlElement) -> Option<()> {
    let chat = s.chat;
    let doc = form.owner_document()?;
    let greeting = el(&doc, &form, "p", "lobby-greeting", "")?;
    set(&greeting, "data-testid", "lobby-greeting");
    let slot = el(&doc, &form, "div", "", "")?;
    booking::fill(chat, slot.clone().unchecked_into(), At::Start);
    // The greeting and the away box follow the property and the language.
    let d = doc.clone();
    effect(move || {
        let lang = chat.lang.get();
        let text = chat
            .greeting
            .get_value()
            .or_else(|| chat.info.with(|i| i.as_ref().map(|i| i.greeting.clone())))
            .unwrap_or_default();
        greeting.set_text_content(Some(&text));
        if let Some(old) = greeting.next_element_sibling().filter(|e| e.class_name() == "lobby-away-box") {
            old.remove();
        }
        let away =
            chat.info.with(|i| i.as_ref().filter(|i| !i.open).map(|i| (i.away_message.clone(), i.reply_minutes)));
        if let Some((msg, minutes)) = away
            && let Ok(b) = d.create_element("div")
        {
            b.set_class_name("lobby-away-box");
            set(&b, "data-testid", "lobby-away");
            let _ = el(&d, &b, "p", "lobby-strong", &lang.t(Key::Away));
            let _ = el(&d, &b, "p", "", &msg);
            let _ = el(&d, &b, "p", "lobby-muted", &lang.fill(Key::AwayHint, minutes, ""));
            let _ = slot.before_with_node_1(&b);
        }
    });
    for (i, (label, testid, max, auto, error)) in FIELDS.into_iter().enumerate() {
        field(s, &doc, &form, i, label, testid, max, auto, error)?;
    }
    // The wait the proxy asked for, or the failure with the hotel's contact.
    let problem = el(&doc, &form, "div", "", "")?;
    effect(move || {
        let lang = chat.lang.get();
        let wait = chat.wait.get();
        let failed = s.failed.get();
        problem.set_text_content(None);
        let text = if wait > 0 {
            lang.fill(Key::WaitStart, wait, "")
        } else if failed {
            lang.t(Key::StartFailed)
        } else {
            return;
        };
        if let Some(doc) = problem.owner_document()
            && let Some(d) = el(&doc, &problem, "div", "lobby-error", "")
        {
            set(&d, "role", "alert");
            set(&d, "data-testid", "lobby-start-error");
            let _ = el(&doc, &d, "p", "", &text);
            if failed {
                contact(chat, &doc, &d);
            }
        }
    });
    let button = el(&doc, &form, "button", "lobby-button", "")?;
    set(&button, "type", "submit");
    set(&button, "data-testid", "lobby-start");
    effect(move || {
        let busy = s.busy.get();
        set(&button, "aria-disabled", if busy { "true" } else { "false" });
        button.set_text_content(Some(&chat.t(if busy { Key::Starting } else { Key::Start })));
    });
    let f = Closure::<dyn Fn(Event)>::new(move |ev: Event| handle(s, ev)).into_js_value();
    for t in ["input", "submit"] {
        let _ = form.add_event_listener_with_callback(t, f.unchecked_ref());
    }
    Some(())
}

/// One labelled input (the last one a textarea) and its error line: a field with an error is
/// required, and once the form was submitted an empty value shows the error.
#[allow(clippy::too_many_arguments)]
fn field(
    s: State,
    doc: &Document,
    form: &Element,
    i: usize,
    label: Key,
    testid: &'static str,
    max: usize,
    auto: &str,
    error: Option<Key>,
) -> Option<()> {
    let l = el(doc, form, "label", "lobby-field", "")?;
    let span = el(doc, &l, "span", "", "")?;
    let input = el(doc, &l, if i == 3 { "textarea" } else { "input" }, "", "")?;
    set(&input, "data-testid", testid);
    set(&input, "maxlength", &num(max as u32));
    if i == 3 {
        set(&input, "rows", "3");
    } else {
        set(&input, "autocomplete", auto);
    }
    if error.is_some() {
        set(&input, "required", "");
    }
    let value = s.values[i];
    effect(move || {
        let lang = s.chat.lang.get();
        span.set_text_content(Some(&lang.t(label)));
        let v = value.get();
        // The host may prefill the name and the email (`Lobby.prefill`).
        if Reflect::get(&input, &"value".into()).ok().and_then(|x| x.as_string()).as_deref() != Some(v.as_str()) {
            let _ = Reflect::set(&input, &"value".into(), &v.as_str().into());
        }
        let Some(error) = error else { return };
        let bad = s.checked.get() && v.trim().is_empty();
        let id = String::from("lobby-e-") + testid;
        set(&input, "aria-invalid", if bad { "true" } else { "false" });
        let old = l.next_element_sibling().filter(|e| e.id() == id);
        match (bad, old) {
            (true, None) => {
                if let Some(doc) = l.owner_document()
                    && let Ok(p) = doc.create_element("p")
                {
                    p.set_class_name("lobby-error");
                    p.set_id(&id);
                    p.set_text_content(Some(&lang.t(error)));
                    let _ = l.after_with_node_1(&p);
                    set(&input, "aria-describedby", &id);
                }
            }
            (false, Some(p)) => {
                p.remove();
                let _ = input.remove_attribute("aria-describedby");
            }
            (true, Some(p)) => p.set_text_content(Some(&lang.t(error))),
            (false, None) => {}
        }
    });
    Some(())
}

fn handle(s: State, ev: Event) {
    let chat = s.chat;
    if ev.type_() == "input" {
        let Some(t) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
        let id = t.get_attribute("data-testid").unwrap_or_default();
        if let Some(i) = FIELDS.iter().position(|f| f.1 == id) {
            s.values[i].set(Reflect::get(&t, &"value".into()).ok().and_then(|v| v.as_string()).unwrap_or_default());
        }
        return;
    }
    ev.prevent_default();
    s.checked.set(true);
    let get = |i: usize| s.values[i].get_untracked().trim().to_owned();
    let (name, topic) = (get(0), get(1));
    if s.busy.get_untracked() || name.is_empty() || topic.is_empty() {
        return;
    }
    let form = Form { name, topic, reference: get(2), key: s.key.get_value(), client_id: client_id(), text: get(3) };
    chat.start(form, s.busy, s.failed);
}

/// The hotel's own phone and email (`lobby-contact`), for when the chat cannot be reached: from
/// the property's config, else from the page's `data-contact-phone` / `data-contact-email`.
pub fn contact(chat: Chat, doc: &Document, parent: &Element) {
    let (phone, email) = untrack(|| chat.contact_info());
    if phone.is_empty() && email.is_empty() {
        return;
    }
    let Some(p) = el(doc, parent, "p", "lobby-contact", &chat.lang.get_untracked().t(Key::Contact)) else { return };
    set(&p, "data-testid", "lobby-contact");
    if !phone.is_empty()
        && let Some(a) = el(doc, &p, "a", "", &phone)
    {
        set(&a, "href", &(String::from("tel:") + &phone.replace(' ', "")));
        set(&a, "dir", "ltr");
    }
    if !email.is_empty()
        && let Some(a) = el(doc, &p, "a", "", &email)
    {
        set(&a, "href", &(String::from("mailto:") + &email));
    }
}
