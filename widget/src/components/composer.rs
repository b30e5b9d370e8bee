//! The composer (`lobby-composer`, `lobby-send`): Enter sends, Shift+Enter adds a line; the
//! text limit of the protocol is shown before sending. Messages typed offline go to the outbox.
//!
//! Built with the DOM directly, like the message bubbles (widget/README.md, "Size"): its elements
//! are made once, their texts set again when the language changes, the limit checked on input, and
//! one listener takes the form's input, keys and submit.

use js_sys::Reflect;
use leptos::prelude::*;
use lobby_protocol::limits;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, Event, HtmlElement, KeyboardEvent};

use crate::components::icons::{self, svg};
use crate::components::message::el;
use crate::i18n::{Key, Lang};
use crate::state::{Chat, effect};

fn set(e: &Element, k: &str, v: &str) {
    let _ = e.set_attribute(k, v);
}

/// The composer, appended to `parent` (a placeholder of its own: `paint` reads its children).
pub fn composer(chat: Chat, parent: &Element) -> Option<()> {
    let doc = parent.owner_document()?;
    let div: HtmlElement = el(&doc, parent, "div", "lobby-composer-box", "")?.unchecked_into();
    effect(move || {
        paint(chat, &div, chat.lang.get());
    });
    Some(())
}

fn paint(chat: Chat, div: &HtmlElement, lang: Lang) -> Option<()> {
    let doc = div.owner_document()?;
    if div.first_element_child().is_none() {
        let form = el(&doc, div, "form", "lobby-composer", "")?;
        let text = el(&doc, &form, "textarea", "", "")?;
        set(&text, "data-testid", "lobby-composer");
        set(&text, "rows", "1");
        set(&text, "aria-invalid", "false");
        let send = el(&doc, &form, "button", "lobby-send", "")?;
        set(&send, "type", "submit");
        set(&send, "data-testid", "lobby-send");
        svg(&doc, &send, icons::SEND, true)?;
        let f = Closure::<dyn Fn(Event)>::new(move |ev: Event| handle(chat, ev)).into_js_value();
        for t in ["input", "keydown", "submit"] {
            let _ = form.add_event_listener_with_callback(t, f.unchecked_ref());
        }
    }
    let label = lang.t(Key::Composer);
    if let Some(text) = div.query_selector("textarea").ok()? {
        set(&text, "aria-label", &label);
        set(&text, "placeholder", &label);
    }
    set(&div.query_selector("button").ok()??, "aria-label", &lang.t(Key::Send));
    if let Some(e) = div.query_selector("p").ok()? {
        e.set_text_content(Some(&lang.t(Key::TooLong)));
    }
    Some(())
}

/// Shows or hides the limit's error; returns whether the text is too long.
fn check(chat: Chat, div: &Element, value: &str) -> bool {
    let long = value.chars().count() > limits::MAX_TEXT_CHARS;
    if let Ok(Some(text)) = div.query_selector("textarea") {
        set(&text, "aria-invalid", if long { "true" } else { "false" });
    }
    match (long, div.query_selector("p").ok().flatten()) {
        (true, None) => {
            if let Some(doc) = div.owner_document()
                && let Some(p) = el(&doc, div, "p", "lobby-error", &chat.lang.get_untracked().t(Key::TooLong))
            {
                set(&p, "role", "alert");
            }
        }
        (false, Some(p)) => p.remove(),
        _ => {}
    }
    long
}

fn handle(chat: Chat, ev: Event) {
    let Some(div) = ev.current_target().and_then(|f| f.dyn_into::<Element>().ok()).and_then(|f| f.parent_element())
    else {
        return;
    };
    let Some(text) = div.query_selector("textarea").ok().flatten() else { return };
    let value = Reflect::get(&text, &"value".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
    let kind = ev.type_();
    if kind == "input" {
        check(chat, &div, &value);
        return;
    }
    if kind == "keydown" {
        let k: &KeyboardEvent = ev.unchecked_ref();
        if k.key() != "Enter" || k.shift_key() || k.is_composing() {
            return;
        }
    }
    ev.prevent_default();
    if value.trim().is_empty() || check(chat, &div, &value) {
        return;
    }
    chat.send(value);
    let _ = Reflect::set(&text, &"value".into(), &"".into());
}
