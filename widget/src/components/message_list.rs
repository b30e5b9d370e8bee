//! The message list (`lobby-messages`): an ordered list, keyboard-scrollable, that keeps the
//! newest message in view, with "show earlier messages" (`lobby-earlier`) when older history
//! exists.
//!
//! Built with the DOM directly, bubbles included (widget/README.md, "Size"): the list is unkeyed
//! and rendered again on every change of the messages, the language, the hotel's name or the
//! connection (cheap at a page of 50); one listener takes every retry button and "earlier".

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, Event};

use crate::components::message::{el, message};
use crate::i18n::Key;
use crate::state::{Chat, effect};

/// The list as a view of its own (a placeholder filled by [`fill`]).
pub fn message_list(chat: Chat) -> impl IntoView {
    let node = NodeRef::<html::Div>::new();
    effect(move || {
        if let Some(div) = node.get() {
            fill(chat, &div);
        }
    });
    view! { <div class="lobby-conv" node_ref=node></div> }
}

/// Appends "earlier" and the list to `parent`, and keeps them up to date.
pub fn fill(chat: Chat, parent: &Element) -> Option<()> {
    let doc = parent.owner_document()?;
    let ol = el(&doc, parent, "ol", "lobby-messages", "")?;
    let _ = ol.set_attribute("data-testid", "lobby-messages");
    let _ = ol.set_attribute("tabindex", "0");
    let earlier = doc.create_element("button").ok()?;
    earlier.set_class_name("lobby-link");
    let _ = earlier.set_attribute("type", "button");
    let _ = earlier.set_attribute("data-testid", "lobby-earlier");
    let list = ol.clone();
    effect(move || {
        let lang = chat.lang.get();
        let _ = list.set_attribute("aria-label", &lang.t(Key::Messages));
        earlier.set_text_content(Some(&lang.t(Key::Earlier)));
        if chat.more.get() {
            let _ = list.before_with_node_1(&earlier);
        } else {
            earlier.remove();
        }
    });
    effect(move || {
        let (lang, link, hotel) = (chat.lang.get(), chat.link.get(), chat.hotel());
        chat.messages.with(|msgs| {
            ol.set_text_content(None);
            for m in msgs {
                message(&ol, m, lang, link, &hotel);
            }
        });
        let ol = ol.clone();
        request_animation_frame(move || ol.set_scroll_top(ol.scroll_height()));
    });
    // One listener for every bubble's retry button, and for "earlier".
    let f = Closure::<dyn Fn(Event)>::new(move |ev: Event| {
        let button =
            ev.target().and_then(|t| t.dyn_into::<Element>().ok()).and_then(|t| t.closest("button").ok().flatten());
        let Some(b) = button else { return };
        if b.get_attribute("data-testid").as_deref() == Some("lobby-earlier") {
            chat.load_earlier();
        } else if let Some(cid) = b.get_attribute("data-client-id") {
            chat.retry(&cid);
        }
    })
    .into_js_value();
    parent.add_event_listener_with_callback("click", f.unchecked_ref()).ok()
}
