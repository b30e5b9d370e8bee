//! The message list (`lobby-messages`): an ordered list, keyboard-scrollable, that keeps the
//! newest message in view, with "show earlier messages" when older history exists.

use leptos::html;
use leptos::prelude::*;

use crate::components::message::message;
use crate::i18n::Key;
use crate::state::Chat;

/// The list.
pub fn message_list(chat: Chat) -> impl IntoView {
    let list = NodeRef::<html::Ol>::new();
    Effect::new(move |_| {
        chat.messages.track();
        if let Some(el) = list.get() {
            request_animation_frame(move || el.set_scroll_top(el.scroll_height()));
        }
    });
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
        >
            // Unkeyed: every change renders the list again (cheap at a page of 50; a keyed
            // `<For>` cost 4.1 KB brotli of wasm, widget/README.md "Size").
            {move || chat.messages.get().into_iter().map(|m| message(chat, m)).collect_view()}
        </ol>
    }
}
