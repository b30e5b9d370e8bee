//! "Find my booking" (issue 13): the optional step in which the guest proves a stay, by
//! confirmation number (the hotel's or the booking site's) or by room number while in-house, with
//! their last name. On the start form it opens (or, for a booking proved before, resumes) the
//! conversation linked to the stay; from the conversation header it links the open conversation.
//! On success the guest sees their first name, the stay's stage and dates (the stay card), and the
//! widget takes the language of the guest's profile unless the page or the host chose one.
//!
//! The step is a labelled group, not a nested form: Enter in its fields runs it without submitting
//! the start form around it. Built with the DOM directly, like the message bubbles: one
//! placeholder per place ([`fill`]: the start form, the conversation's bar, the header), rendered
//! again by hand whenever the step's state ([`Chat::step`] counts its changes), the language or
//! the phase change, with one listener for all its events and the focused control kept. The
//! step's state is plain data here ([`STEP`]); its strings are the `booking_*` keys of every
//! locale file.

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use lobby_protocol::keys::booking_answer as ba;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Document, Element, Event, HtmlElement, KeyboardEvent};

use crate::components::message::el;
use crate::components::panel::active;
use crate::i18n::{Key, Lang};
use crate::state::{Chat, Phase, effect, spawn_local, start_key};
use crate::store::{self, keys};
use crate::{api, live};

/// Where a placeholder ([`fill`]) is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The start form: "I have a booking", then the step.
    Start,
    /// Above the messages: the stay card, and the step the header opened.
    Bar,
    /// The header's "Verify booking" button, in a conversation with no verified stay.
    Header,
}

/// The step's state.
struct Step {
    open: bool,
    room: bool,
    number: String,
    last: String,
    busy: bool,
    /// One of `BookingNeed`, `BookingNotFound`, `BookingTooMany`, `BookingBusy`.
    error: Option<Key>,
    /// Answers received (`data-answers`: tests wait for the next one).
    answers: u32,
    /// The verified stay: first name, arrival, departure, stage.
    stay: Option<[String; 4]>,
    /// The attempt key of this widget (attempts are limited per key).
    key: String,
    /// The control to focus after the next render (`data-testid`).
    focus: &'static str,
    /// The stored stay was read.
    restored: bool,
}

/// The step closed, nothing typed, the stored stay not read yet (a `const`: no lazy
/// initialisation of the state).
const FRESH: Step = Step {
    open: false,
    room: false,
    number: String::new(),
    last: String::new(),
    busy: false,
    error: None,
    answers: 0,
    stay: None,
    key: String::new(),
    focus: "",
    restored: false,
};

thread_local! {
    static STEP: RefCell<Step> = const { RefCell::new(FRESH) };
    /// The page (`data-locale`, `LobbySettings.locale`) or the host (`Lobby.setLocale`) chose the
    /// language: a profile language never overrides it. The browser's language is no choice.
    static CHOSEN: Cell<bool> = const { Cell::new(false) };
}

/// Called where the page or the host sets the language.
pub fn locale_chosen() {
    CHOSEN.with(|c| c.set(true));
}

/// Changes the step and renders it again.
fn change(chat: Chat, f: impl FnOnce(&mut Step)) {
    STEP.with(|s| f(&mut s.borrow_mut()));
    chat.step.update(|n| *n += 1);
}

/// Where the verified stay is kept (localStorage, after consent), with the session it belongs to,
/// so the card is back after a reload and gone with the conversation.
const STORED: &str = "booking";

fn restore() -> Option<[String; 4]> {
    let session = store::get(keys::SESSION, false)?;
    let v = store::get(STORED, false)?;
    let mut it = v.split('\n').map(str::to_owned);
    if it.next()? != session {
        return None;
    }
    Some([it.next()?, it.next()?, it.next()?, it.next()?])
}

/// Renders the step into `div` now and whenever it, the language or the phase changes.
pub fn fill(chat: Chat, div: HtmlElement, at: At) {
    effect(move || {
        chat.step.track();
        let lang = chat.lang.get();
        let (phase, resolved) = (chat.phase.get(), chat.resolved.get());
        render(chat, &div, at, lang, phase == Phase::Chat && !resolved);
    });
}

fn attrs(e: &Element, list: &[(&str, &str)]) {
    for (k, v) in list {
        let _ = e.set_attribute(k, v);
    }
}

fn render(chat: Chat, div: &HtmlElement, at: At, lang: Lang, chatting: bool) {
    let Some(doc) = div.owner_document() else { return };
    // Listeners once per placeholder: the step's clicks, typing, choices and Enter.
    if !div.has_attribute("data-on") {
        let _ = div.set_attribute("data-on", "");
        let f = Closure::<dyn Fn(Event)>::new(move |ev: Event| handle(chat, at, ev)).into_js_value();
        for t in ["click", "input", "change", "keydown"] {
            let _ = div.add_event_listener_with_callback(t, f.unchecked_ref());
        }
    }
    let focused = active(div).filter(|a| div.contains(Some(a))).and_then(|a| a.get_attribute("data-testid"));
    div.set_text_content(None);
    let t = |k: Key| lang.t(k);
    let focus = STEP.with(|s| {
        let mut s = s.borrow_mut();
        if !s.restored {
            s.restored = true;
            s.stay = restore();
        }
        if at == At::Start && chat.session.with_untracked(Option::is_none) {
            // A new conversation is not linked to the last one's stay.
            s.stay = None;
        }
        match at {
            At::Header => {
                if chatting && s.stay.is_none() {
                    let b = button(&doc, div, "lobby-link lobby-header-link", "booking-header", &t(Key::BookingVerify));
                    attrs(&b, &[("aria-expanded", if s.open { "true" } else { "false" })]);
                }
            }
            At::Bar => {
                if let Some(stay) = &s.stay {
                    card(&doc, div, lang, stay);
                }
            }
            At::Start => {
                if !s.open {
                    let b = button(&doc, div, "lobby-link lobby-booking-toggle", "booking-open", &t(Key::BookingHave));
                    attrs(&b, &[("aria-expanded", "false")]);
                }
            }
        }
        if s.open && at != At::Header {
            form(&doc, div, lang, &s);
        }
        std::mem::take(&mut s.focus)
    });
    let want = if focus.is_empty() { focused } else { Some(String::from(focus)) };
    if let Some(id) = want
        && let Ok(Some(e)) = div.query_selector(&(String::from("[data-testid=") + &id + "]"))
    {
        let _ = e.unchecked_into::<HtmlElement>().focus();
    }
}

fn button(doc: &Document, parent: &Element, class: &str, testid: &str, text: &str) -> Element {
    let b = el(doc, parent, "button", class, text).unwrap_or_else(|| parent.clone());
    attrs(&b, &[("type", "button"), ("data-testid", testid)]);
    b
}

/// The stay card (`booking-stay`, `data-stage`): the guest's first name, the stage, the dates.
fn card(doc: &Document, div: &Element, lang: Lang, stay: &[String; 4]) -> Option<()> {
    let [first, arrival, departure, stage] = stay;
    let c = el(doc, div, "div", "lobby-stay", "")?;
    attrs(&c, &[("data-testid", "booking-stay"), ("data-stage", stage.as_str())]);
    let welcome = welcome(lang, first);
    el(doc, &c, "p", "lobby-strong", &welcome)?;
    let p = el(doc, &c, "p", "", "")?;
    let now = match stage.as_str() {
        "in_house" => lang.t(Key::BookingInHouse),
        "checked_out" => lang.t(Key::BookingCheckedOut),
        _ => lang.t(Key::BookingArriving).replace("{date}", &lang.day(arrival)),
    };
    attrs(&el(doc, &p, "span", "", &now)?, &[("data-testid", "booking-stage")]);
    let _ = p.append_with_str_1(" · ");
    el(doc, &p, "span", "lobby-muted", &(lang.day(arrival) + " – " + &lang.day(departure)))?;
    Some(())
}

fn welcome(lang: Lang, first: &str) -> String {
    if first.is_empty() {
        lang.t(Key::BookingWelcomeAnon)
    } else {
        lang.t(Key::BookingWelcome).replace("{name}", first)
    }
}

/// One labelled input of the step.
fn input(
    doc: &Document,
    parent: &Element,
    label: &str,
    testid: &str,
    value: &str,
    auto: &str,
    bad: bool,
) -> Option<()> {
    let l = el(doc, parent, "label", "lobby-field", "")?;
    el(doc, &l, "span", "", label)?;
    let i = el(doc, &l, "input", "", "")?;
    attrs(
        &i,
        &[
            ("data-testid", testid),
            ("autocomplete", auto),
            ("maxlength", "100"),
            ("aria-invalid", if bad { "true" } else { "false" }),
            ("value", value),
        ],
    );
    Some(())
}

/// The step (`booking-step`): the two ways, the number and the last name, the answer.
fn form(doc: &Document, div: &Element, lang: Lang, s: &Step) -> Option<()> {
    let t = |k: Key| lang.t(k);
    let g = el(doc, div, "div", "lobby-booking", "")?;
    attrs(
        &g,
        &[
            ("role", "group"),
            ("aria-labelledby", "lobby-booking-title"),
            ("data-testid", "booking-step"),
            ("data-answers", crate::i18n::num(s.answers).as_str()),
        ],
    );
    attrs(&el(doc, &g, "p", "lobby-strong", &t(Key::BookingTitle))?, &[("id", "lobby-booking-title")]);
    el(doc, &g, "p", "lobby-muted", &t(Key::BookingIntro))?;
    let set = el(doc, &g, "fieldset", "lobby-choices", "")?;
    el(doc, &set, "legend", "lobby-sr", &t(Key::BookingTitle))?;
    for (room, testid, k) in
        [(false, "booking-by-number", Key::BookingByNumber), (true, "booking-by-room", Key::BookingByRoom)]
    {
        let l = el(doc, &set, "label", "lobby-choice", "")?;
        let r = el(doc, &l, "input", "", "")?;
        attrs(&r, &[("type", "radio"), ("name", "lobby-booking-by"), ("data-testid", testid)]);
        if s.room == room {
            attrs(&r, &[("checked", "")]);
        }
        el(doc, &l, "span", "", &t(k))?;
    }
    let need = s.error == Some(Key::BookingNeed);
    let label = t(if s.room { Key::BookingRoomLabel } else { Key::BookingByNumber });
    input(doc, &g, &label, "booking-number", &s.number, "off", need && s.number.trim().is_empty())?;
    let hint = t(if s.room { Key::BookingRoomHint } else { Key::BookingNumberHint });
    attrs(&el(doc, &g, "p", "lobby-muted lobby-hint", &hint)?, &[("id", "lobby-booking-hint")]);
    if let Some(n) = g.query_selector("[data-testid=booking-number]").ok().flatten() {
        attrs(&n, &[("aria-describedby", "lobby-booking-hint")]);
    }
    input(
        doc,
        &g,
        &t(Key::BookingLastName),
        "booking-last-name",
        &s.last,
        "family-name",
        need && s.last.trim().is_empty(),
    )?;
    if let Some(k) = s.error {
        let code = match k {
            Key::BookingNotFound => "not_found",
            Key::BookingTooMany => "rate_limited",
            Key::BookingNeed => "missing",
            _ => "busy",
        };
        let e = el(doc, &g, "p", "lobby-error", &t(k))?;
        attrs(&e, &[("role", "alert"), ("data-testid", "booking-error"), ("data-error", code)]);
    }
    let row = el(doc, &g, "div", "lobby-row", "")?;
    let find = button(
        doc,
        &row,
        "lobby-button",
        "booking-find",
        &t(if s.busy { Key::BookingFinding } else { Key::BookingFind }),
    );
    attrs(&find, &[("aria-disabled", if s.busy { "true" } else { "false" })]);
    button(doc, &row, "lobby-link", "booking-cancel", &t(Key::BookingCancel));
    Some(())
}

/// Every event of a placeholder, by the `data-testid` of its target.
fn handle(chat: Chat, at: At, ev: Event) {
    let Some(target) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
    let id = target.get_attribute("data-testid").unwrap_or_default();
    let value = || api::opt(&target, "value").unwrap_or_default();
    match (ev.type_().as_str(), id.as_str()) {
        ("input", "booking-number") => STEP.with(|s| s.borrow_mut().number = value()),
        ("input", "booking-last-name") => STEP.with(|s| s.borrow_mut().last = value()),
        ("change", "booking-by-number" | "booking-by-room") => change(chat, |s| s.room = id == "booking-by-room"),
        ("keydown", "booking-number" | "booking-last-name") if ev.unchecked_ref::<KeyboardEvent>().key() == "Enter" => {
            ev.prevent_default();
            submit(chat);
        }
        ("click", "booking-find") => submit(chat),
        ("click", "booking-open") => change(chat, |s| {
            s.open = true;
            s.focus = if s.room { "booking-by-room" } else { "booking-by-number" };
        }),
        ("click", "booking-header") => change(chat, |s| {
            s.open = !s.open;
            s.focus = "booking-header";
        }),
        ("click", "booking-cancel") => change(chat, |s| {
            s.open = false;
            s.error = None;
            s.focus = if at == At::Start { "booking-open" } else { "" };
        }),
        _ => {}
    }
}

/// Runs the lookup with what the guest typed.
fn submit(chat: Chat) {
    let ask = STEP.with(|s| {
        let mut s = s.borrow_mut();
        if s.key.is_empty() {
            s.key = start_key();
        }
        (!s.busy).then(|| (s.room, s.number.trim().to_owned(), s.last.trim().to_owned(), s.key.clone()))
    });
    let Some((room, number, last, key)) = ask else { return };
    if number.is_empty() || last.is_empty() {
        change(chat, |s| s.error = Some(Key::BookingNeed));
        return;
    }
    change(chat, |s| {
        s.busy = true;
        s.error = None;
    });
    let session = chat.session.get_untracked();
    spawn_local(async move {
        let api = chat.api.get_value();
        let v = match api.find_booking(session.as_deref(), &key, room, &number, &last).await {
            Ok(v) => v,
            Err(e) => {
                return change(chat, |s| {
                    s.busy = false;
                    s.answers += 1;
                    s.error = Some(match e.status {
                        404 => Key::BookingNotFound,
                        429 => Key::BookingTooMany,
                        _ => Key::BookingBusy,
                    });
                });
            }
        };
        let stay =
            [api::s(&v, ba::first_name), api::s(&v, ba::arrival), api::s(&v, ba::departure), api::s(&v, ba::stage)];
        if !CHOSEN.with(Cell::get)
            && let Some(l) = api::opt(&v, ba::locale).as_deref().and_then(Lang::from_tag)
        {
            chat.lang_chosen.set_value(true);
            chat.set_lang(l);
        }
        chat.announce.set(welcome(chat.lang.get_untracked(), &stay[0]));
        if session.is_none()
            && let Some(s) = api::opt(&v, ba::session).filter(|s| !s.is_empty())
        {
            adopt(chat, s);
        }
        if let Some(s) = chat.session.get_untracked() {
            let v = [s.as_str(), &stay[0], &stay[1], &stay[2], &stay[3]].join("\n");
            store::set(STORED, Some(&v), false);
        }
        change(chat, |s| {
            *s = Step {
                stay: Some(stay),
                answers: s.answers + 1,
                key: std::mem::take(&mut s.key),
                restored: true,
                ..FRESH
            };
        });
    });
}

/// Takes the conversation the proxy opened or resumed for the stay.
fn adopt(chat: Chat, session: String) {
    store::consent();
    store::set(keys::SESSION, Some(&session), false);
    chat.last_event.set_value(None);
    chat.synced.set_value(false);
    chat.resolved.set(false);
    chat.more.set(false);
    chat.messages.set(Vec::new());
    chat.session.set(Some(session));
    chat.phase.set(Phase::Chat);
    live::connect(chat);
    chat.sync();
}
