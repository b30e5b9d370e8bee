//! The panel header: the hotel's name, whether staff are in (and how fast they reply), the
//! sound toggle and the close button.

use leptos::prelude::*;

use crate::components::booking::{At, slot};
use crate::components::icons::{Icon, svg};
use crate::i18n::Key;
use crate::state::Chat;
use crate::store::{self, keys};

/// The header bar.
pub fn header(chat: Chat) -> impl IntoView {
    let status = move || {
        let lang = chat.lang.get();
        chat.info.with(|i| match i {
            Some(i) if !i.open => lang.t(Key::Away),
            Some(i) if i.reply_minutes > 0 => lang.fill(Key::RepliesWithin, i.reply_minutes, ""),
            _ => String::new(),
        })
    };
    let away = move || chat.info.with(|i| i.as_ref().is_some_and(|i| !i.open));
    let toggle_sound = move |_| {
        let muted = !chat.muted.get_untracked();
        store::set(keys::MUTED, muted.then_some("1"), false);
        chat.muted.set(muted);
    };
    view! {
        <div class="lobby-header">
            <div class="lobby-heading">
                <h2 class="lobby-name">{move || chat.hotel()}</h2>
                <p class="lobby-sub" class:lobby-away=away data-testid="lobby-availability">{status}</p>
            </div>
            {slot(chat, At::Header)}
            <button
                type="button"
                class="lobby-icon"
                data-testid="lobby-mute"
                aria-label=move || chat.t(if chat.muted.get() { Key::Unmute } else { Key::Mute })
                on:click=toggle_sound
            >
                {move || if chat.muted.get() {
                    view! { {svg(Icon::Muted)} }
                } else {
                    view! { {svg(Icon::Sound)} }
                }}
            </button>
            <button
                type="button"
                class="lobby-icon"
                data-testid="lobby-close"
                aria-label=move || chat.t(Key::Close)
                on:click=move |_| chat.set_open(false)
            >
                {svg(Icon::Close)}
            </button>
        </div>
    }
}
