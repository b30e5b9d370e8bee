//! A conversation: the connection notice (offline / reconnecting), the message list, and
//! either the composer or, once staff resolved it, the resolved banner.

use leptos::prelude::*;

use crate::components::booking::{At, slot};
use crate::components::{composer::composer, message_list::message_list, resolved::resolved_banner};
use crate::i18n::Key;
use crate::state::{Chat, Link};

/// The conversation view.
pub fn conversation(chat: Chat) -> impl IntoView {
    let notice = move || {
        let lang = chat.lang.get();
        match (chat.link.get(), chat.wait.get()) {
            (Link::Offline, _) => Some(lang.t(Key::Offline)),
            (_, n) if n > 0 => Some(lang.fill(Key::WaitSend, n, "")),
            (Link::Reconnecting, _) => Some(lang.t(Key::Reconnecting)),
            (Link::Online, _) => None,
        }
    };
    view! {
        {move || notice().map(|t| view! {
            <p class="lobby-notice" role="status" data-testid="lobby-connection">{t}</p>
        })}
        {slot(chat, At::Bar)}
        {message_list(chat)}
        {move || if chat.resolved.get() {
            view! { {resolved_banner(chat)} }.into_any()
        } else {
            view! { {composer(chat)} }.into_any()
        }}
    }
}
