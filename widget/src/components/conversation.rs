//! A conversation: the connection notice (offline / reconnecting), the message list, and
//! either the composer or, once staff resolved it, the resolved banner.

use leptos::prelude::*;

use crate::components::{
    booking::BookingStep, composer::Composer, message_list::MessageList, resolved::ResolvedBanner,
};
use crate::i18n::Key;
use crate::state::{Chat, Link};

/// The conversation view.
#[component]
pub fn Conversation(chat: Chat) -> impl IntoView {
    let notice = move || match chat.link.get() {
        Link::Online => None,
        Link::Offline => Some(Key::Offline),
        Link::Reconnecting => Some(Key::Reconnecting),
    };
    view! {
        {move || notice().map(|k| view! {
            <p class="lobby-notice" role="status" data-testid="lobby-connection">{chat.t(k)}</p>
        })}
        <div class="lobby-booking-bar"><BookingStep chat=chat compact=true/></div>
        <MessageList chat=chat/>
        {move || if chat.resolved.get() {
            view! { <ResolvedBanner chat=chat/> }.into_any()
        } else {
            view! { <Composer chat=chat/> }.into_any()
        }}
    }
}
