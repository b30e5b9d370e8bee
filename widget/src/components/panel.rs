//! The chat panel: a labelled dialog holding the header and, by phase, the loading state, the
//! start form or the conversation. Keeps keyboard focus inside while open (Tab wraps, Escape
//! closes), focuses the first field on open, and hosts the polite live region.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, Event, HtmlElement, KeyboardEvent};

use crate::components::message::el;
use crate::components::start_form::{self, start_form};
use crate::components::{conversation::conversation, header::header};
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
                Phase::Start => view! { {start_form(chat)} }.into_any(),
                Phase::Chat => view! { {conversation(chat)} }.into_any(),
                phase => {
                    let u = phase == Phase::Unavailable;
                    let node = NodeRef::<html::Div>::new();
                    effect(move || {
                        if let Some(div) = node.get() {
                            status(
                                chat,
                                &div,
                                "lobby-body lobby-note",
                                if u { "lobby-unavailable" } else { "" },
                                if u { Key::Unavailable } else { Key::Loading },
                                u,
                                u.then_some((Key::TryAgain, "lobby-try-again", Chat::load_info as fn(Chat))),
                            );
                        }
                    });
                    view! { <div class="lobby-conv" node_ref=node></div> }.into_any()
                }
            }}
            <div class="lobby-sr" aria-live="polite" data-testid="lobby-live">
                {move || chat.announce.get()}
            </div>
        </div>
    }
}

/// A button of a [`status`] box: its text, its `data-testid`, what it does.
pub type Action = (Key, &'static str, fn(Chat));

/// A status box built with the DOM (`role=status`) in `parent`: a line, the hotel's contact when
/// `contact`, and a button (its text, `data-testid` and action); rendered again when the
/// language changes. The loading and the unavailable panel, and the resolved banner.
#[allow(clippy::too_many_arguments)]
pub fn status(
    chat: Chat,
    parent: &Element,
    class: &'static str,
    testid: &'static str,
    text: Key,
    contact: bool,
    button: Option<Action>,
) -> Option<()> {
    let doc = parent.owner_document()?;
    let div = el(&doc, parent, "div", class, "")?;
    let _ = div.set_attribute("role", "status");
    if !testid.is_empty() {
        let _ = div.set_attribute("data-testid", testid);
    }
    effect(move || {
        let lang = chat.lang.get();
        div.set_text_content(None);
        let _ = el(&doc, &div, "p", "", &lang.t(text));
        if contact {
            start_form::contact(chat, &doc, &div);
        }
        if let Some((label, id, action)) = button
            && let Some(b) = el(&doc, &div, "button", "lobby-button", &lang.t(label))
        {
            let _ = b.set_attribute("type", "button");
            let _ = b.set_attribute("data-testid", id);
            let f = Closure::<dyn Fn(Event)>::new(move |_: Event| action(chat)).into_js_value();
            let _ = b.add_event_listener_with_callback("click", f.unchecked_ref());
        }
    });
    Some(())
}
