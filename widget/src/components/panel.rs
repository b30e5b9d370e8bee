//! The chat panel: a labelled dialog holding the header and, by phase, the loading state, the
//! start form or the conversation. Keeps keyboard focus inside while open (Tab wraps, Escape
//! closes), focuses the first field on open, and hosts the polite live region.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};

use crate::components::{conversation::conversation, header::header, start_form::start_form};
use crate::i18n::Key;
use crate::state::{Chat, Phase, effect};

const FOCUSABLE: &str = "button:not([disabled]),input,textarea,[tabindex='0']";

fn focusables(panel: &HtmlElement) -> Vec<HtmlElement> {
    let Ok(list) = panel.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<HtmlElement>().ok()).collect()
}

pub fn active(panel: &HtmlElement) -> Option<web_sys::Element> {
    panel
        .get_root_node()
        .dyn_into::<web_sys::ShadowRoot>()
        .ok()
        .and_then(|r| r.active_element())
        .or_else(|| panel.owner_document()?.active_element())
}

/// Focuses the first input of the panel (or the composer), else the first control.
pub fn focus_first(panel: &HtmlElement) {
    let all = focusables(panel);
    let field = all.iter().find(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA")).or(all.first());
    if let Some(e) = field {
        let _ = e.focus();
    }
}

fn trap(ev: &KeyboardEvent, panel: &HtmlElement) {
    let all = focusables(panel);
    let (Some(first), Some(last)) = (all.first(), all.last()) else {
        return;
    };
    let now = active(panel);
    let at = |e: &HtmlElement| now.as_ref().is_some_and(|a| a == e.unchecked_ref::<web_sys::Element>());
    let inside = now.as_ref().is_some_and(|a| panel.contains(Some(a)));
    if ev.shift_key() && (at(first) || !inside) {
        ev.prevent_default();
        let _ = last.focus();
    } else if !ev.shift_key() && (at(last) || !inside) {
        ev.prevent_default();
        let _ = first.focus();
    }
}

/// The panel (`data-testid="lobby-panel"`).
pub fn panel(chat: Chat) -> impl IntoView {
    let panel = NodeRef::<html::Div>::new();
    effect(move || {
        chat.phase.track();
        if chat.open.get()
            && let Some(p) = panel.get()
        {
            let p: HtmlElement = p.unchecked_into();
            request_animation_frame(move || focus_first(&p));
        }
    });
    let keydown = move |ev: KeyboardEvent| {
        let Some(p) = panel.get() else { return };
        match ev.key().as_str() {
            "Escape" => chat.set_open(false),
            "Tab" => trap(&ev, p.unchecked_ref()),
            _ => {}
        }
    };
    let label = move || chat.lang.get().fill(Key::PanelLabel, 0, &chat.hotel());
    view! {
        <div
            class="lobby-panel"
            data-testid="lobby-panel"
            role="dialog"
            aria-modal="true"
            aria-label=label
            dir=move || chat.lang.get().dir()
            lang=move || chat.lang.get().code()
            hidden=move || !chat.open.get()
            node_ref=panel
            on:keydown=keydown
        >
            {header(chat)}
            {move || match chat.phase.get() {
                Phase::Loading => view! {
                    <p class="lobby-body lobby-note" role="status">{chat.t(Key::Loading)}</p>
                }.into_any(),
                Phase::Unavailable => view! {
                    <div class="lobby-body lobby-note" role="status" data-testid="lobby-unavailable">
                        <p>{chat.t(Key::Unavailable)}</p>
                        {contact(chat)}
                        <button type="button" class="lobby-button" on:click=move |_| chat.load_info()>
                            {chat.t(Key::TryAgain)}
                        </button>
                    </div>
                }.into_any(),
                Phase::Start => view! { {start_form(chat)} }.into_any(),
                Phase::Chat => view! { {conversation(chat)} }.into_any(),
            }}
            <div class="lobby-sr" aria-live="polite" data-testid="lobby-live">
                {move || chat.announce.get()}
            </div>
        </div>
    }
}

/// The hotel's own phone and email (`lobby-contact`), for when the chat cannot be reached: from
/// the property's config, else from the page's `data-contact-phone` / `data-contact-email`.
pub fn contact(chat: Chat) -> impl IntoView {
    let (phone, email) = untrack(|| chat.contact_info());
    let tel = String::from("tel:") + &phone.replace(' ', "");
    let mailto = String::from("mailto:") + &email;
    (!phone.is_empty() || !email.is_empty()).then(|| {
        view! {
            <p class="lobby-contact" data-testid="lobby-contact">
                {chat.t(Key::Contact)}
                {(!phone.is_empty()).then(|| view! { <a href=tel dir="ltr">{phone}</a> })}
                {(!email.is_empty()).then(|| view! { <a href=mailto>{email}</a> })}
            </p>
        }
    })
}
