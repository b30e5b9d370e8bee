//! The message list (`lobby-messages`): an ordered list, keyboard-scrollable, that keeps the
//! newest message in view, with "show earlier messages" when older history exists.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::components::message::message;
use crate::i18n::Key;
use crate::state::{Chat, effect};

/// The list.
pub fn message_list(chat: Chat) -> impl IntoView {
    let list = NodeRef::<html::Ol>::new();
    // Unkeyed and by hand: every change of the messages, the language, the hotel's name or the
    // connection renders the bubbles again (cheap at a page of 50; a keyed `<For>` of `view!`
    // bubbles cost ≈ 6 KB brotli of wasm, widget/README.md "Size").
    effect(move || {
        let (lang, link, hotel) = (chat.lang.get(), chat.link.get(), chat.hotel());
        chat.messages.with(|msgs| {
            if let Some(ol) = list.get() {
                ol.set_text_content(None);
                for m in msgs {
                    message(&ol, m, lang, link, &hotel);
                }
                request_animation_frame(move || ol.set_scroll_top(ol.scroll_height()));
            }
        });
    });
    // One listener for every bubble's retry button.
    let retry = move |ev: web_sys::MouseEvent| {
        let button = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest("[data-testid=lobby-retry]").ok().flatten());
        if let Some(cid) = button.and_then(|b| b.get_attribute("data-client-id")) {
            chat.retry(&cid);
        }
    };
    view! {
        {move || chat.more.get().then(|| view! {
            <button type="button" class="lobby-link" data-testid="lobby-earlier" on:click=move |_| chat.load_earlier()>
                {chat.t(Key::Earlier)}
            </button>
        })}
        <ol
            class="lobby-messages"
            data-testid="lobby-messages"
            tabindex="0"
            aria-label=move || chat.t(Key::Messages)
            node_ref=list
            on:click=retry
        ></ol>
    }
}
