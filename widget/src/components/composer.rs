//! The composer (`lobby-composer`, `lobby-send`): Enter sends, Shift+Enter adds a line; the
//! text limit of the protocol is shown before sending. Messages typed offline go to the outbox.

use leptos::prelude::*;
use lobby_protocol::limits;
use web_sys::KeyboardEvent;

use crate::components::icons::{Icon, svg};
use crate::i18n::Key;
use crate::state::Chat;

/// The composer.
pub fn composer(chat: Chat) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let too_long = move || text.with(|t| t.chars().count() > limits::MAX_TEXT_CHARS);
    let submit = move || {
        let t = text.get_untracked();
        if t.trim().is_empty() || too_long() {
            return;
        }
        chat.send(t);
        text.set(String::new());
    };
    let keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };
    view! {
        <form class="lobby-composer" on:submit=move |ev| { ev.prevent_default(); submit(); }>
            <textarea
                data-testid="lobby-composer"
                rows="1"
                aria-label=move || chat.t(Key::Composer)
                placeholder=move || chat.t(Key::Composer)
                aria-invalid=move || if too_long() { "true" } else { "false" }
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
                on:keydown=keydown
            ></textarea>
            <button type="submit" class="lobby-send" data-testid="lobby-send" aria-label=move || chat.t(Key::Send)>
                {svg(Icon::Send)}
            </button>
        </form>
        {move || too_long().then(|| view! {
            <p class="lobby-error" role="alert">{chat.t(Key::TooLong)}</p>
        })}
    }
}
