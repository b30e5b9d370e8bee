//! The panel header: the hotel's name, whether staff are in (and how fast they reply), the
//! "Verify booking" button (`components::booking`), the sound toggle and the close button.
//!
//! Built with the DOM directly (widget/README.md, "Size"): the elements once, then one effect
//! sets the texts, names and the sound icon whenever the language, the property or the sound
//! setting changes; one listener takes both buttons' clicks.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, Event, HtmlElement};

use crate::components::booking::{self, At};
use crate::components::icons::{self, svg};
use crate::components::message::el;
use crate::i18n::Key;
use crate::state::{Chat, effect};
use crate::store::{self, keys};

/// The header bar.
pub fn header(chat: Chat) -> impl IntoView {
    let node = NodeRef::<html::Div>::new();
    // The booking button's own effect belongs to the header, not to this effect (which runs
    // again on every change and would dispose it).
    let owner = Owner::current();
    effect(move || {
        let lang = chat.lang.get();
        let muted = chat.muted.get();
        let hotel = chat.hotel();
        let (away, status) = chat.info.with(|i| match i {
            Some(i) if !i.open => (true, lang.t(Key::Away)),
            Some(i) if i.reply_minutes > 0 => (false, lang.fill(Key::RepliesWithin, i.reply_minutes, "")),
            _ => (false, String::new()),
        });
        let Some(div) = node.get() else { return };
        let div: &HtmlElement = &div;
        if div.first_element_child().is_none() {
            match &owner {
                Some(o) => o.with(|| build(chat, div)),
                None => build(chat, div),
            };
        }
        let find = |q: &str| div.query_selector(q).ok().flatten();
        if let Some(h) = find("h2") {
            h.set_text_content(Some(&hotel));
        }
        if let Some(p) = find("p") {
            p.set_text_content(Some(&status));
            p.set_class_name(if away { "lobby-sub lobby-away" } else { "lobby-sub" });
        }
        if let Some(b) = find("[data-testid=lobby-mute]") {
            let _ = b.set_attribute("aria-label", &lang.t(if muted { Key::Unmute } else { Key::Mute }));
        }
        if let Some(p) = find("[data-testid=lobby-mute] path") {
            let _ = p.set_attribute("d", if muted { icons::MUTED } else { icons::SOUND });
        }
        if let Some(b) = find("[data-testid=lobby-close]") {
            let _ = b.set_attribute("aria-label", &lang.t(Key::Close));
        }
    });
    view! { <div class="lobby-header" node_ref=node></div> }
}

fn build(chat: Chat, div: &Element) -> Option<()> {
    let doc = div.owner_document()?;
    let heading = el(&doc, div, "div", "lobby-heading", "")?;
    el(&doc, &heading, "h2", "lobby-name", "")?;
    let _ = el(&doc, &heading, "p", "lobby-sub", "")?.set_attribute("data-testid", "lobby-availability");
    let slot = el(&doc, div, "div", "lobby-booking-head", "")?;
    booking::fill(chat, slot.unchecked_into(), At::Header);
    for (testid, d) in [("lobby-mute", icons::SOUND), ("lobby-close", icons::CLOSE)] {
        let b = el(&doc, div, "button", "lobby-icon", "")?;
        let _ = b.set_attribute("type", "button");
        let _ = b.set_attribute("data-testid", testid);
        svg(&doc, &b, d, false)?;
    }
    let f = Closure::<dyn Fn(Event)>::new(move |ev: Event| click(chat, ev)).into_js_value();
    div.add_event_listener_with_callback("click", f.unchecked_ref()).ok()
}

fn click(chat: Chat, ev: Event) {
    let button = ev
        .target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .and_then(|t| t.closest("button").ok().flatten())
        .and_then(|b| b.get_attribute("data-testid"));
    match button.as_deref() {
        Some("lobby-mute") => {
            let muted = !chat.muted.get_untracked();
            store::set(keys::MUTED, muted.then_some("1"), false);
            chat.muted.set(muted);
        }
        Some("lobby-close") => chat.set_open(false),
        _ => {}
    }
}
