//! One message (`lobby-message`, `data-author`, `data-status` for the guest's): the text, always
//! as a text node (markup never renders), the sender, the localised time, and for the guest's
//! messages the delivery state with a retry button when it failed.

use leptos::either::Either;
use leptos::prelude::*;
use lobby_protocol::Author;

use crate::components::booking::SystemLine;
use crate::i18n::Key;
use crate::outbox::{Msg, Status};
use crate::state::{Chat, Link};

/// A message bubble.
#[component]
pub fn Message(chat: Chat, m: Msg) -> impl IntoView {
    if m.author == Author::System {
        let id = m.id.clone().unwrap_or_default();
        return Either::Left(view! { <SystemLine chat=chat id=id/> });
    }
    let guest = m.author == Author::Guest;
    let status = m.status;
    let cid = m.client_id.clone().unwrap_or_default();
    let at = m.at.clone();
    let who = move || {
        if guest { chat.t(Key::You).to_owned() } else { chat.hotel() }
    };
    let time = move || chat.lang.get().time(&at);
    let state = move || {
        guest.then(|| {
            chat.t(match status {
                Status::Sent => Key::Sent,
                Status::Failed => Key::Failed,
                Status::Sending if chat.link.get() == Link::Online => Key::Sending,
                Status::Sending => Key::Queued,
            })
        })
    };
    let retry = (status == Status::Failed).then(|| {
        view! {
            <button type="button" class="lobby-link" data-testid="lobby-retry" on:click=move |_| chat.retry(&cid)>
                {move || chat.t(Key::Retry)}
            </button>
        }
    });
    Either::Right(view! {
        <li
            class=if guest { "lobby-msg lobby-guest" } else { "lobby-msg lobby-hotel" }
            data-testid="lobby-message"
            data-author=if guest { "guest" } else { "hotel" }
            data-status=guest.then_some(status.as_str())
            data-id=m.id.clone()
        >
            <p class="lobby-text">{m.text}</p>
            <p class="lobby-meta">
                <span class="lobby-who">{who}</span>
                " · "
                <time datetime=m.at>{time}</time>
                {move || state().map(|s| view! { " · " <span class="lobby-state">{s}</span> })}
                " "
                {retry}
            </p>
        </li>
    })
}
