//! The live stream of staff replies: one `EventSource` per tab, recreated with backoff after an
//! error and at once when the tab wakes (visible again, back online, restored from the
//! back-forward cache). A recreated stream resumes after the last event seen
//! (`&last_event_id=`); every (re)open also syncs history, so nothing is missed, and the list
//! dedupes by id, so nothing is shown twice.

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use lobby_protocol::events;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{Event, EventSource, MessageEvent};

use crate::api;
use crate::outbox::backoff_ms;
use crate::state::{Chat, Link, after, cancel, online, spawn_local};

struct Live {
    es: EventSource,
    _handlers: Vec<Closure<dyn FnMut(Event)>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.es.close();
    }
}

thread_local! {
    static LIVE: RefCell<Option<Live>> = const { RefCell::new(None) };
    static ATTEMPT: Cell<u32> = const { Cell::new(0) };
    static TIMER: Cell<i32> = const { Cell::new(0) };
    static HIDDEN_AT: Cell<f64> = const { Cell::new(0.0) };
}

/// Whether a stream exists and is open.
pub fn is_open() -> bool {
    LIVE.with(|l| l.borrow().as_ref().is_some_and(|l| l.es.ready_state() == EventSource::OPEN))
}

/// Closes the stream and cancels a pending reconnect.
pub fn disconnect() {
    TIMER.with(|t| cancel(t.replace(0)));
    // Never drop the handlers while one of them runs: callers inside handlers defer via
    // `spawn_local`.
    let old = LIVE.with(|l| l.borrow_mut().take());
    drop(old);
}

fn remember(chat: Chat, e: &MessageEvent) {
    let id = e.last_event_id();
    if !id.is_empty() {
        chat.last_event.set_value(Some(id));
    }
}

/// (Re)creates the stream for the current session, resuming after the last event seen.
pub fn connect(chat: Chat) {
    disconnect();
    let Some(session) = chat.session.get_untracked() else {
        return;
    };
    let last = chat.last_event.get_value();
    let Some(es) = chat.api.with_value(|a| a.events(&session, last.as_deref())) else {
        return;
    };
    let mut handlers: Vec<Closure<dyn FnMut(Event)>> = Vec::new();
    let mut on = |name: &str, f: Box<dyn FnMut(Event)>| {
        let c = Closure::wrap(f);
        let _ = es.add_event_listener_with_callback(name, c.as_ref().unchecked_ref());
        handlers.push(c);
    };
    on(
        "open",
        Box::new(move |_| {
            ATTEMPT.with(|a| a.set(0));
            chat.link.set(Link::Online);
            chat.sync();
            chat.flush();
        }),
    );
    on("error", Box::new(move |_| spawn_local(async move { retry(chat) })));
    on(
        events::MESSAGE,
        Box::new(move |e| {
            let e: MessageEvent = e.unchecked_into();
            let msg = e.data().as_string().and_then(|d| api::parse(&d)).and_then(|v| api::message(&v));
            if let Some(m) = msg {
                chat.last_event.set_value(Some(api::event_id(&m)));
                remember(chat, &e);
                chat.receive(m, true);
            }
        }),
    );
    on(
        events::RESOLVED,
        Box::new(move |e| {
            let e: MessageEvent = e.unchecked_into();
            remember(chat, &e);
            let resolved = e
                .data()
                .as_string()
                .and_then(|d| api::parse(&d))
                .is_none_or(|v| api::b(&v, lobby_protocol::keys::resolved::resolved));
            chat.resolved.set(resolved);
        }),
    );
    on(
        events::RECONNECT,
        Box::new(move |_| {
            spawn_local(async move {
                disconnect();
                chat.link.set(Link::Reconnecting);
                let ms = 300 + (js_sys::Math::random() * 1200.0) as u32;
                TIMER.with(|t| t.set(after(ms, move || connect(chat))));
            })
        }),
    );
    LIVE.with(|l| *l.borrow_mut() = Some(Live { es, _handlers: handlers }));
}

/// After an error: close, then reconnect with backoff (or when the browser is back online).
fn retry(chat: Chat) {
    disconnect();
    if chat.session.get_untracked().is_none() {
        return;
    }
    if !online() {
        chat.link.set(Link::Offline);
        return;
    }
    chat.link.set(Link::Reconnecting);
    let n = ATTEMPT.with(|a| a.replace(a.get() + 1));
    let ms = backoff_ms(n, js_sys::Math::random());
    TIMER.with(|t| t.set(after(ms, move || connect(chat))));
}

/// Reconnects now (resetting the backoff) when the stream is not open or the tab slept long.
fn wake(chat: Chat, slept_ms: f64) {
    if chat.session.get_untracked().is_none() {
        return;
    }
    if !is_open() || slept_ms > 20_000.0 {
        ATTEMPT.with(|a| a.set(0));
        connect(chat);
    }
    chat.flush();
}

/// Listens for the tab waking up and the network coming back (once per page).
pub fn watch(chat: Chat) {
    let Some(win) = web_sys::window() else { return };
    let listen = |target: &web_sys::EventTarget, name: &str, f: Box<dyn FnMut(Event)>| {
        let c = Closure::wrap(f);
        let _ = target.add_event_listener_with_callback(name, c.as_ref().unchecked_ref());
        c.forget();
    };
    if let Some(doc) = win.document() {
        listen(
            &doc,
            "visibilitychange",
            Box::new(move |_| {
                let now = js_sys::Date::now();
                if crate::state::hidden() {
                    HIDDEN_AT.with(|h| h.set(now));
                } else {
                    crate::attention::unflag();
                    if chat.open.get_untracked() {
                        chat.unread.set(0);
                    }
                    let slept = now - HIDDEN_AT.with(Cell::get);
                    wake(chat, slept);
                }
            }),
        );
    }
    listen(
        &win,
        "online",
        Box::new(move |_| {
            chat.link.set(Link::Reconnecting);
            wake(chat, f64::MAX);
        }),
    );
    listen(
        &win,
        "offline",
        Box::new(move |_| {
            if chat.session.get_untracked().is_some() {
                chat.link.set(Link::Offline);
            }
        }),
    );
    listen(
        &win,
        "pageshow",
        Box::new(move |e| {
            let persisted =
                js_sys::Reflect::get(&e, &"persisted".into()).ok().and_then(|p| p.as_bool()).unwrap_or(false);
            if persisted {
                wake(chat, f64::MAX);
            }
        }),
    );
}
