//! The resolved banner (`lobby-resolved`): staff closed the conversation; the guest can start a
//! new one (`lobby-new-conversation`), with name and email kept.

use leptos::prelude::*;

use crate::i18n::Key;
use crate::state::Chat;

/// The banner that replaces the composer.
pub fn resolved_banner(chat: Chat) -> impl IntoView {
    view! {
        <div class="lobby-resolved" data-testid="lobby-resolved" role="status">
            <p>{move || chat.t(Key::Resolved)}</p>
            <button
                type="button"
                class="lobby-button"
                data-testid="lobby-new-conversation"
                on:click=move |_| chat.reset()
            >
                {move || chat.t(Key::NewConversation)}
            </button>
        </div>
    }
}
