//! The start form: greeting, opening hours (away message and reply time), then name, topic,
//! optional email or reservation number and the first message. Validates before sending and
//! reports errors next to the fields (`aria-invalid`, `aria-describedby`).

use leptos::prelude::*;
use lobby_protocol::limits;
use web_sys::SubmitEvent;

use crate::api::StartForm as Form;
use crate::components::booking::BookingStep;
use crate::i18n::Key;
use crate::state::{Chat, client_id, start_key};

/// The form (`lobby-name`, `lobby-topic`, `lobby-email`, `lobby-first-message`, `lobby-start`).
#[component]
pub fn StartForm(chat: Chat) -> impl IntoView {
    let topic = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let failed = RwSignal::new(false);
    let checked = RwSignal::new(false);
    // One start key for this form: a second submit after a failure is the same conversation.
    let key = StoredValue::new(start_key());
    let no_name = move || checked.get() && chat.name.with(|n| n.trim().is_empty());
    let no_topic = move || checked.get() && topic.with(|t| t.trim().is_empty());
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        checked.set(true);
        if busy.get_untracked() || no_name() || no_topic() {
            return;
        }
        let form = Form {
            name: chat.name.get_untracked().trim().to_owned(),
            topic: topic.get_untracked().trim().to_owned(),
            reference: chat.reference.get_untracked().trim().to_owned(),
            key: key.get_value(),
            client_id: client_id(),
            text: text.get_untracked().trim().to_owned(),
        };
        chat.start(form, busy, failed);
    };
    let greeting = move || {
        chat.greeting
            .get_value()
            .or_else(|| chat.info.with(|i| i.as_ref().map(|i| i.greeting.clone())))
            .unwrap_or_default()
    };
    let away = move || {
        chat.info.with(|i| {
            i.as_ref().filter(|i| !i.open).map(|i| {
                let hint = chat.lang.get().fill(Key::AwayHint, i.reply_minutes, "");
                let msg = i.away_message.clone();
                view! {
                    <div class="lobby-away-box" data-testid="lobby-away">
                        <p class="lobby-strong">{chat.t(Key::Away)}</p>
                        <p>{msg}</p>
                        <p class="lobby-muted">{hint}</p>
                    </div>
                }
            })
        })
    };
    let max = |n: usize| n.to_string();
    view! {
        <form class="lobby-body lobby-start" novalidate on:submit=submit>
            <p class="lobby-greeting" data-testid="lobby-greeting">{greeting}</p>
            {away}
            <BookingStep chat=chat/>
            <label class="lobby-field">
                <span>{move || chat.t(Key::Name)}</span>
                <input
                    data-testid="lobby-name"
                    autocomplete="name"
                    required
                    maxlength=max(limits::MAX_NAME_CHARS)
                    aria-invalid=move || no_name().to_string()
                    aria-describedby=move || no_name().then_some("lobby-e-name")
                    prop:value=move || chat.name.get()
                    on:input=move |ev| chat.name.set(event_target_value(&ev))
                />
            </label>
            {move || no_name().then(|| view! {
                <p class="lobby-error" id="lobby-e-name">{chat.t(Key::NeedName)}</p>
            })}
            <label class="lobby-field">
                <span>{move || chat.t(Key::Topic)}</span>
                <input
                    data-testid="lobby-topic"
                    required
                    maxlength=max(limits::MAX_TOPIC_CHARS)
                    aria-invalid=move || no_topic().to_string()
                    aria-describedby=move || no_topic().then_some("lobby-e-topic")
                    prop:value=move || topic.get()
                    on:input=move |ev| topic.set(event_target_value(&ev))
                />
            </label>
            {move || no_topic().then(|| view! {
                <p class="lobby-error" id="lobby-e-topic">{chat.t(Key::NeedTopic)}</p>
            })}
            <label class="lobby-field">
                <span>{move || chat.t(Key::Reference)}</span>
                <input
                    data-testid="lobby-email"
                    autocomplete="email"
                    maxlength=max(limits::MAX_REF_CHARS)
                    prop:value=move || chat.reference.get()
                    on:input=move |ev| chat.reference.set(event_target_value(&ev))
                />
            </label>
            <label class="lobby-field">
                <span>{move || chat.t(Key::FirstMessage)}</span>
                <textarea
                    data-testid="lobby-first-message"
                    rows="3"
                    maxlength=max(limits::MAX_TEXT_CHARS)
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                ></textarea>
            </label>
            {move || failed.get().then(|| view! {
                <p class="lobby-error" role="alert">{chat.t(Key::StartFailed)}</p>
            })}
            <button type="submit" class="lobby-button" data-testid="lobby-start" aria-disabled=move || busy.get().to_string()>
                {move || chat.t(if busy.get() { Key::Starting } else { Key::Start })}
            </button>
        </form>
    }
}
