//! The start form: greeting, opening hours (away message and reply time), then name, topic,
//! optional email or reservation number and the first message. Validates before sending and
//! reports errors next to the fields (`aria-invalid`, `aria-describedby`). When the proxy asks
//! to wait (`Retry-After`), the wait counts down under the button; when it cannot be reached,
//! the hotel's own contact is shown.

use leptos::prelude::*;
use lobby_protocol::limits;
use web_sys::SubmitEvent;

use crate::api::StartForm as Form;
use crate::components::booking::{At, slot};
use crate::components::panel::contact;
use crate::i18n::{Key, num};
use crate::state::{Chat, client_id, start_key};

/// One labelled input with its error line. One non-generic function for the three inputs, so
/// their views are compiled once (the notes in widget/README.md, "Size"). A field with an
/// `error` is required: once the form was submitted (`checked`), an empty value shows the error.
#[allow(clippy::too_many_arguments)]
fn field(
    chat: Chat,
    label: Key,
    testid: &'static str,
    value: RwSignal<String>,
    max: usize,
    auto: &'static str,
    checked: RwSignal<bool>,
    error: Option<Key>,
) -> impl IntoView {
    let id = String::from("lobby-e-") + testid;
    let described = id.clone();
    let required = error.is_some();
    let bad = move || required && checked.get() && value.with(|v| v.trim().is_empty());
    view! {
        <label class="lobby-field">
            <span>{move || chat.t(label)}</span>
            <input
                data-testid=testid
                autocomplete=auto
                required=required
                maxlength=num(max as u32)
                aria-invalid=move || if bad() { "true" } else { "false" }
                aria-describedby=move || bad().then(|| described.clone())
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
        {move || error.filter(|_| bad()).map(|e| view! { <p class="lobby-error" id=id.clone()>{chat.t(e)}</p> })}
    }
}

/// The form (`lobby-name`, `lobby-topic`, `lobby-email`, `lobby-first-message`, `lobby-start`).
pub fn start_form(chat: Chat) -> impl IntoView {
    let topic = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let failed = RwSignal::new(false);
    let checked = RwSignal::new(false);
    // One start key for this form: a second submit after a failure is the same conversation.
    let key = StoredValue::new(start_key());
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        checked.set(true);
        let empty = |v: RwSignal<String>| v.with_untracked(|v| v.trim().is_empty());
        if busy.get_untracked() || empty(chat.name) || empty(topic) {
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
    let problem = move || {
        let wait = chat.wait.get();
        if wait > 0 {
            Some(chat.lang.get().fill(Key::WaitStart, wait, ""))
        } else {
            failed.get().then(|| chat.t(Key::StartFailed))
        }
    };
    view! {
        <form class="lobby-body lobby-start" novalidate on:submit=submit>
            <p class="lobby-greeting" data-testid="lobby-greeting">{greeting}</p>
            {away}
            {slot(chat, At::Start)}
            {field(chat, Key::Name, "lobby-name", chat.name, limits::MAX_NAME_CHARS, "name", checked, Some(Key::NeedName))}
            {field(chat, Key::Topic, "lobby-topic", topic, limits::MAX_TOPIC_CHARS, "off", checked, Some(Key::NeedTopic))}
            {field(chat, Key::Reference, "lobby-email", chat.reference, limits::MAX_REF_CHARS, "email", checked, None)}
            <label class="lobby-field">
                <span>{move || chat.t(Key::FirstMessage)}</span>
                <textarea
                    data-testid="lobby-first-message"
                    rows="3"
                    maxlength=num(limits::MAX_TEXT_CHARS as u32)
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                ></textarea>
            </label>
            {move || problem().map(|p| view! {
                <div class="lobby-error" role="alert" data-testid="lobby-start-error">
                    <p>{p}</p>
                    {failed.get().then(|| contact(chat))}
                </div>
            })}
            <button type="submit" class="lobby-button" data-testid="lobby-start" aria-disabled=move || if busy.get() { "true" } else { "false" }>
                {move || chat.t(if busy.get() { Key::Starting } else { Key::Start })}
            </button>
        </form>
    }
}
