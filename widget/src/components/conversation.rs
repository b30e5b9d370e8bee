//! A conversation: the connection notice (offline / reconnecting), the message list, and
//! either the composer or, once staff resolved it, the resolved banner.

use leptos::prelude::*;

use crate::components::{composer::Composer, message_list::MessageList, resolved::ResolvedBanner};
use crate::i18n::Key;
use crate::state::{Chat, Link};

/// The conversation view.
#[component]
pub fn Conversation(chat: Chat) -> impl IntoView {
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
        <MessageList chat=chat/>
        {move || if chat.resolved.get() {
            view! { <ResolvedBanner chat=chat/> }.into_any()
        } else {
            view! { <Composer chat=chat/> }.into_any()
        }}
    }
}
