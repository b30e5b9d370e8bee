//! A conversation: the connection notice (offline / reconnecting), the verified stay
//! (`components::booking`), the message list, and either the composer or, once staff resolved
//! it, the resolved banner.
//!
//! The part above the composer is built with the DOM (widget/README.md, "Size"); the notice is
//! set by one effect.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::components::booking::{self, At};
use crate::components::message::el;
use crate::components::{composer::composer, message_list, resolved::resolved_banner};
use crate::i18n::Key;
use crate::state::{Chat, Link, effect};

/// The conversation view.
pub fn conversation(chat: Chat) -> impl IntoView {
    let node = NodeRef::<html::Div>::new();
    effect(move || {
        if let Some(div) = node.get() {
            build(chat, &div);
        }
    });
    view! { <div class="lobby-conv" node_ref=node></div> }
}

fn build(chat: Chat, div: &web_sys::Element) -> Option<()> {
    let doc = div.owner_document()?;
    let notice = doc.create_element("p").ok()?;
    notice.set_class_name("lobby-notice");
    let _ = notice.set_attribute("role", "status");
    let _ = notice.set_attribute("data-testid", "lobby-connection");
    let bar = el(&doc, div, "div", "lobby-booking-bar", "")?;
    booking::fill(chat, bar.clone().unchecked_into(), At::Bar);
    message_list::fill(chat, div)?;
    // The composer, or once staff resolved the conversation, the banner.
    let foot = el(&doc, div, "div", "lobby-conv", "")?;
    // Built again on every change of `resolved` (its effects are this effect's children).
    effect(move || {
        let resolved = chat.resolved.get();
        foot.set_text_content(None);
        if resolved {
            resolved_banner(chat, &foot);
        } else {
            composer(chat, &foot);
        }
    });
    effect(move || {
        let lang = chat.lang.get();
        let text = match (chat.link.get(), chat.wait.get()) {
            (Link::Offline, _) => lang.t(Key::Offline),
            (_, n) if n > 0 => lang.fill(Key::WaitSend, n, ""),
            (Link::Reconnecting, _) => lang.t(Key::Reconnecting),
            (Link::Online, _) => String::new(),
        };
        if text.is_empty() {
            notice.remove();
        } else {
            notice.set_text_content(Some(&text));
            let _ = bar.before_with_node_1(&notice);
        }
    });
    Some(())
}
