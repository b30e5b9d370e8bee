//! The widget's state: one `Copy` bundle of signals ([`Chat`]) passed explicitly to every
//! component, and the actions that change it (start, send, retry, receive, sync, reset).
//!
//! HTTP goes through [`crate::api`], storage through [`crate::store`], the live stream through
//! [`crate::live`]; the list logic is the pure [`crate::outbox`].

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use lobby_protocol::{Author, ChatMessage, PropertyInfo, limits};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlElement;

use crate::api::{self, Api, StartForm};
use crate::i18n::{Key, Lang};
use crate::outbox::{self, Msg, Status};
use crate::store::{self, keys};
use crate::{attention, color, live};

/// What the panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the property's config.
    Loading,
    /// The config could not be loaded and there is no conversation.
    Unavailable,
    /// The start form.
    Start,
    /// A conversation.
    Chat,
}

/// State of the connection to the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Online,
    Reconnecting,
    Offline,
}

thread_local! {
    static HOST: RefCell<Option<(HtmlElement, HtmlElement, js_sys::Function)>> = const { RefCell::new(None) };
    static TICKING: Cell<bool> = const { Cell::new(false) };
    static FLUSHING: Cell<bool> = const { Cell::new(false) };
    static SYNCING: Cell<bool> = const { Cell::new(false) };
    static RETRIES: Cell<u32> = const { Cell::new(0) };
    static RETRY_TIMER: Cell<i32> = const { Cell::new(0) };
}

/// All state, as signals. `Copy`: hand it to components and closures.
#[derive(Clone, Copy)]
pub struct Chat {
    pub api: StoredValue<Api>,
    /// Greeting from the page (`data-greeting`), preferred over the property's.
    pub greeting: StoredValue<Option<String>>,
    /// Whether the page or the browser chose the language (else the property's default is used).
    pub lang_chosen: StoredValue<bool>,
    /// Whether the page forced the colour (`data-color`).
    pub color_forced: StoredValue<bool>,
    /// The hotel's phone and email from the page (`data-contact-phone`, `data-contact-email`),
    /// shown when the property's config (which may name them too) cannot be fetched.
    pub contact: StoredValue<(String, String)>,
    /// The language shown (its strings are loaded).
    pub lang: RwSignal<Lang>,
    /// The language asked for last (its strings may still be on their way).
    pub wanted: StoredValue<Lang>,
    /// Seconds left of a wait the proxy asked for (`Retry-After`); 0 when none.
    pub wait: RwSignal<u32>,
    pub info: RwSignal<Option<PropertyInfo>>,
    pub phase: RwSignal<Phase>,
    pub open: RwSignal<bool>,
    pub session: RwSignal<Option<String>>,
    pub messages: RwSignal<Vec<Msg>>,
    /// Older history exists.
    pub more: RwSignal<bool>,
    pub resolved: RwSignal<bool>,
    pub link: RwSignal<Link>,
    pub unread: RwSignal<u32>,
    pub muted: RwSignal<bool>,
    /// Start form fields the host may prefill.
    pub name: RwSignal<String>,
    pub reference: RwSignal<String>,
    /// Text of the polite live region.
    pub announce: RwSignal<String>,
    /// Id of the newest event seen on the live stream (or the newest history message).
    pub last_event: StoredValue<Option<String>>,
    /// History of this session was loaded at least once.
    pub synced: StoredValue<bool>,
    /// Changes of the "Find my booking" step's state (`components::booking`), which renders again
    /// on each.
    pub step: RwSignal<u32>,
}

/// A fresh client id for a guest message: time plus randomness, unique enough per guest.
/// A conversation's start key: 122 random bits from the browser's CSPRNG (a secure context:
/// every https page, and localhost), so nobody can guess another guest's key; `client_id()` where
/// `crypto` is missing.
pub fn start_key() -> String {
    web_sys::window().and_then(|w| w.crypto().ok()).map(|c| c.random_uuid()).unwrap_or_else(client_id)
}

pub fn client_id() -> String {
    let t = js_sys::Date::now() as u64;
    let r = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    String::from("c") + &radix(t) + &radix(r)
}

fn radix(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The current time, RFC 3339.
pub fn now() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

fn document() -> Option<web_sys::Document> {
    web_sys::window()?.document()
}

/// Whether the tab is hidden.
pub fn hidden() -> bool {
    document().is_some_and(|d| d.hidden())
}

/// Whether the browser believes it is online.
pub fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Runs a future to completion on the browser's event loop. Every task goes through this one boxed
/// type, so the executor's code is compiled once, not once per `async` block (smaller wasm).
pub fn spawn_local(f: impl std::future::Future<Output = ()> + 'static) {
    let f: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = Box::pin(f);
    wasm_bindgen_futures::spawn_local(f);
}

/// Runs `f` now and again whenever a signal it read changes (a Leptos `Effect`). Every effect goes
/// through this one boxed type, so the effect's code is compiled once, not once per closure.
pub fn effect(f: impl FnMut() + 'static) {
    let f: Box<dyn FnMut()> = Box::new(f);
    Effect::new(f);
}

/// Runs `f` after `ms` milliseconds; returns the timer id.
pub fn after(ms: u32, f: impl FnOnce() + 'static) -> i32 {
    let f: Box<dyn FnOnce()> = Box::new(f);
    let cb = wasm_bindgen::closure::Closure::once_into_js(f);
    web_sys::window()
        .and_then(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), ms as i32).ok())
        .unwrap_or(0)
}

/// Cancels a timer from [`after`].
pub fn cancel(id: i32) {
    if id != 0
        && let Some(w) = web_sys::window()
    {
        w.clear_timeout_with_handle(id);
    }
}

impl Chat {
    /// Creates the state; nothing is fetched until [`Chat::boot`].
    pub fn new(api: Api, lang: Option<Lang>, greeting: Option<String>, color: bool) -> Chat {
        let chat = Chat {
            api: StoredValue::new(api),
            greeting: StoredValue::new(greeting),
            lang_chosen: StoredValue::new(lang.is_some()),
            color_forced: StoredValue::new(color),
            contact: StoredValue::new(Default::default()),
            lang: RwSignal::new(Lang::EN),
            wanted: StoredValue::new(Lang::EN),
            wait: RwSignal::new(0),
            info: RwSignal::new(None),
            phase: RwSignal::new(Phase::Loading),
            open: RwSignal::new(false),
            session: RwSignal::new(None),
            messages: RwSignal::new(Vec::new()),
            more: RwSignal::new(false),
            resolved: RwSignal::new(false),
            link: RwSignal::new(if online() { Link::Online } else { Link::Offline }),
            unread: RwSignal::new(0),
            muted: RwSignal::new(store::get(keys::MUTED, false).as_deref() == Some("1")),
            name: RwSignal::new(String::new()),
            reference: RwSignal::new(String::new()),
            announce: RwSignal::new(String::new()),
            last_event: StoredValue::new(None),
            synced: StoredValue::new(false),
            step: RwSignal::new(0),
        };
        if let Some(l) = lang {
            chat.set_lang(l);
        }
        chat
    }

    /// Switches the language once its strings are here (English at once; another language after
    /// its file arrived; if it cannot be fetched, the current language stays).
    pub fn set_lang(self, l: Lang) {
        self.wanted.set_value(l);
        if l.loaded() {
            self.lang.set(l);
            return;
        }
        spawn_local(async move {
            let api = self.api.get_value();
            if let Ok(strings) = api.locale(l.code()).await {
                l.insert(strings);
                if self.wanted.get_value() == l {
                    self.lang.set(l);
                }
            }
        });
    }

    /// Remembers the loader's root element, the mount element and the loader's event callback.
    pub fn set_host(root: HtmlElement, mount: HtmlElement, emit: js_sys::Function) {
        HOST.with(|h| *h.borrow_mut() = Some((root, mount, emit)));
    }

    /// The loader's root element (theme, colour and viewport variables live on it).
    pub fn root() -> Option<HtmlElement> {
        HOST.with(|h| h.borrow().as_ref().map(|(r, _, _)| r.clone()))
    }

    /// The element the panel is mounted in (the property's colour lives on it).
    pub fn mount_el() -> Option<HtmlElement> {
        HOST.with(|h| h.borrow().as_ref().map(|(_, m, _)| m.clone()))
    }

    /// Tells the loader (and through it the host page) about `name`.
    pub fn emit(name: &str, detail: &JsValue) {
        HOST.with(|h| {
            if let Some((_, _, f)) = h.borrow().as_ref() {
                let _ = f.call2(&JsValue::NULL, &name.into(), detail);
            }
        });
    }

    /// Puts the loader's host element on top of the browser's top layer again (after any popover
    /// or dialog the page opened since), so the panel stays above everything on the page.
    fn promote() {
        let host = Chat::root()
            .and_then(|r| r.get_root_node().dyn_into::<web_sys::ShadowRoot>().ok())
            .and_then(|s| s.host().dyn_into::<HtmlElement>().ok());
        if let Some(h) = host {
            let _ = h.hide_popover();
            let _ = h.show_popover();
        }
    }

    /// Counts [`Chat::wait`] down to 0, one second at a time.
    pub fn wait_for(self, secs: u32) {
        self.wait.set(secs);
        if TICKING.with(|t| t.replace(true)) {
            return;
        }
        fn tick(chat: Chat) {
            after(1000, move || {
                let left = chat.wait.get_untracked().saturating_sub(1);
                chat.wait.set(left);
                if left > 0 {
                    tick(chat);
                } else {
                    TICKING.with(|t| t.set(false));
                }
            });
        }
        tick(self);
    }

    /// The hotel's phone and email: the property's config, else the page's `data-contact-*`.
    pub fn contact_info(self) -> (String, String) {
        let (p, e) = self.contact.get_value();
        self.info.with(|i| match i {
            Some(i) if !i.phone.is_empty() || !i.email.is_empty() => (i.phone.clone(), i.email.clone()),
            _ => (p, e),
        })
    }

    /// The string for `key` in the current language (reactive).
    pub fn t(self, key: Key) -> String {
        self.lang.get().t(key)
    }

    /// The hotel's name, or `""` before the config arrived (reactive).
    pub fn hotel(self) -> String {
        self.info.with(|i| i.as_ref().map(|i| i.name.clone())).unwrap_or_default()
    }

    /// Opens or closes the panel. Opening is consent to store the conversation.
    pub fn set_open(self, open: bool) {
        if open {
            store::consent();
            if !hidden() {
                self.unread.set(0);
            }
            Chat::promote();
        }
        self.open.set(open);
    }

    /// Restores a stored conversation and its outbox, and loads the property's config.
    pub fn boot(self) {
        if let Some(session) = store::get(keys::SESSION, false) {
            // The session exists only because the guest consented earlier.
            store::consent();
            let outbox = store::get(keys::OUTBOX, false).map(|j| store::decode_outbox(&j)).unwrap_or_default();
            self.messages.set(outbox.into_iter().map(|(c, t, a)| Msg::pending(c, t, a)).collect());
            self.session.set(Some(session));
            self.phase.set(Phase::Chat);
            live::connect(self);
            self.sync();
        }
        self.load_info();
    }

    /// Fetches the property's config (name, greeting, hours, colour, default language).
    pub fn load_info(self) {
        if self.phase.get_untracked() == Phase::Unavailable {
            self.phase.set(Phase::Loading);
        }
        spawn_local(async move {
            let api = self.api.get_value();
            match api.property_info().await {
                Ok(info) => {
                    if !self.lang_chosen.get_value()
                        && let Some(l) = Lang::from_tag(&info.locale)
                    {
                        self.set_lang(l);
                    }
                    // The launcher keeps the loader's colour (`data-color` or its default) from
                    // the first paint; the property's colour is the panel's.
                    if !self.color_forced.get_value()
                        && color::parse(&info.color).is_some()
                        && let Some(m) = Chat::mount_el()
                    {
                        color::apply(&m, &info.color);
                    }
                    self.info.set(Some(info));
                    if self.phase.get_untracked() == Phase::Loading {
                        self.phase.set(Phase::Start);
                    }
                }
                Err(_) => {
                    if self.phase.get_untracked() == Phase::Loading {
                        self.phase.set(Phase::Unavailable);
                    }
                }
            }
        });
    }

    /// Starts a conversation from the form; `busy` and `failed` report progress to the form
    /// (a wait the proxy asked for counts down in [`Chat::wait`]).
    pub fn start(self, form: StartForm, busy: RwSignal<bool>, failed: RwSignal<bool>) {
        if self.wait.get_untracked() > 0 {
            return;
        }
        busy.set(true);
        failed.set(false);
        spawn_local(async move {
            let api = self.api.get_value();
            match api.start(&form).await {
                Ok((session, first)) => {
                    store::consent();
                    store::set(keys::SESSION, Some(&session), false);
                    self.last_event.set_value(None);
                    self.synced.set_value(true);
                    self.resolved.set(false);
                    self.more.set(false);
                    self.messages.set(Vec::new());
                    let undelivered = match first {
                        Some(m) => {
                            self.last_event.set_value(Some(api::event_id(&m)));
                            self.messages.update(|l| {
                                outbox::confirm(l, &form.client_id, m);
                            });
                            false
                        }
                        // The thread exists but the first message is not in Mews yet: keep it
                        // queued and send it again with the same client id (the proxy adds it once).
                        None if !form.text.trim().is_empty() => {
                            let text = form.text.trim().to_owned();
                            self.messages.update(|l| l.push(Msg::pending(form.client_id.clone(), text, now())));
                            true
                        }
                        None => false,
                    };
                    self.session.set(Some(session));
                    self.phase.set(Phase::Chat);
                    if undelivered {
                        self.save_outbox();
                        self.flush();
                    }
                    live::connect(self);
                }
                Err(e) if e.retry_after > 0 => self.wait_for(e.retry_after),
                Err(_) => failed.set(true),
            }
            busy.set(false);
        });
    }

    /// Loads the newest page of history and merges it. The first load replaces the list (keeping
    /// unsent messages); later loads (after a reconnect) only add what was missed.
    pub fn sync(self) {
        let Some(session) = self.session.get_untracked() else {
            return;
        };
        if SYNCING.with(|s| s.replace(true)) {
            return;
        }
        spawn_local(async move {
            let api = self.api.get_value();
            let last = self.last_event.get_value().filter(|_| self.synced.get_value());
            let page = match last.as_deref() {
                Some(event) => api::Page::After(event),
                None => api::Page::Newest,
            };
            let answer = api.history(&session, page).await;
            SYNCING.with(|s| s.set(false));
            if self.session.get_untracked().as_deref() != Some(session.as_str()) {
                return;
            }
            match answer {
                Ok((page, more, resolved)) => {
                    if self.last_event.get_value().is_none() {
                        self.last_event.set_value(page.last().map(api::event_id));
                    }
                    if self.synced.get_value() {
                        for m in page {
                            self.receive(m, true);
                        }
                    } else {
                        self.messages.update(|l| outbox::apply_history(l, page));
                        self.more.set(more);
                        self.synced.set_value(true);
                    }
                    // Only ever resolve here: a history answer that left before a live
                    // `resolved` event must not reopen the conversation.
                    if resolved {
                        self.resolved.set(true);
                    }
                    self.save_outbox();
                    self.flush();
                }
                Err(e) if e.unauthorized() => self.reset(),
                Err(_) => {}
            }
        });
    }

    /// Loads the page of history before the oldest message shown.
    pub fn load_earlier(self) {
        let Some(session) = self.session.get_untracked() else {
            return;
        };
        let first = self.messages.with_untracked(|l| l.iter().find_map(|m| m.id.clone()));
        spawn_local(async move {
            let api = self.api.get_value();
            let page = match first.as_deref() {
                Some(id) => api::Page::Before(id),
                None => api::Page::Newest,
            };
            if let Ok((page, more, _)) = api.history(&session, page).await {
                self.messages.update(|l| outbox::prepend_history(l, page));
                self.more.set(more);
            }
        });
    }

    /// A message from the server (live stream, or a sync). Staff replies that are new raise
    /// the unread count, the live region, the host event and (in one tab) the sound.
    pub fn receive(self, m: ChatMessage, live: bool) {
        let hotel = m.author == Author::Hotel;
        let detail = if hotel && live {
            let o = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&o, &"id".into(), &m.id.as_str().into());
            let _ = js_sys::Reflect::set(&o, &"text".into(), &m.text.as_str().into());
            let _ = js_sys::Reflect::set(&o, &"at".into(), &m.at.as_str().into());
            Some((o, m.id.clone(), m.text.clone()))
        } else {
            None
        };
        let added = self.messages.try_update(|l| outbox::merge(l, m)).unwrap_or(false);
        self.save_outbox();
        if let (true, Some((o, id, text))) = (added, detail) {
            let lang = self.lang.get_untracked();
            let hotel = self.info.with_untracked(|i| i.as_ref().map(|i| i.name.clone()).unwrap_or_default());
            self.announce.set(lang.fill(Key::NewFrom, 0, &hotel) + ": " + &text);
            if !self.open.get_untracked() || hidden() {
                self.unread.update(|n| *n += 1);
            }
            Chat::emit("message", &o);
            attention::notify(self, &id);
        }
    }

    /// Queues a guest message and sends it when the proxy is reachable.
    pub fn send(self, text: String) {
        let text = text.trim().to_owned();
        if text.is_empty() || text.chars().count() > limits::MAX_TEXT_CHARS {
            return;
        }
        self.messages.update(|l| l.push(Msg::pending(client_id(), text, now())));
        self.save_outbox();
        self.flush();
    }

    /// Sends a failed message again (same client id: the proxy adds it once).
    pub fn retry(self, client_id: &str) {
        self.messages.update(|l| outbox::set_status(l, client_id, Status::Sending));
        RETRIES.with(|r| r.set(0));
        self.flush();
    }

    /// Persists the unsent messages (after consent).
    pub fn save_outbox(self) {
        let items = self.messages.with_untracked(|l| outbox::outbox(l));
        let json = (!items.is_empty()).then(|| store::encode_outbox(&items));
        store::set(keys::OUTBOX, json.as_deref(), false);
    }

    /// Sends queued messages one at a time, in order. A transient failure (offline, proxy
    /// down) leaves the message queued and retries with backoff, on reconnect or when the browser
    /// is back online; a refusal marks it failed.
    pub fn flush(self) {
        let Some(session) = self.session.get_untracked() else {
            return;
        };
        // While the proxy's wait runs, its timer sends (wakes and reconnects do not).
        if self.wait.get_untracked() > 0 {
            return;
        }
        if FLUSHING.with(|f| f.replace(true)) {
            return;
        }
        RETRY_TIMER.with(|t| cancel(t.replace(0)));
        spawn_local(async move {
            let api = self.api.get_value();
            while let Some((cid, text)) = self.messages.with_untracked(|l| outbox::next_pending(l)) {
                if !online() {
                    self.link.set(Link::Offline);
                    break;
                }
                match api.send(&session, &cid, &text).await {
                    Ok(m) => {
                        RETRIES.with(|r| r.set(0));
                        self.messages.update(|l| outbox::confirm(l, &cid, m));
                        self.save_outbox();
                    }
                    // The proxy said how long to wait (429, 503 busy): show it and send then.
                    Err(e) if e.transient() && e.retry_after > 0 => {
                        self.wait_for(e.retry_after);
                        let resume = move || {
                            self.wait.set(0);
                            self.flush();
                        };
                        RETRY_TIMER.with(|t| t.set(after(e.retry_after * 1000, resume)));
                        break;
                    }
                    Err(e) if e.transient() => {
                        let n = RETRIES.with(|r| r.replace(r.get() + 1));
                        let ms = outbox::backoff_ms(n, js_sys::Math::random());
                        RETRY_TIMER.with(|t| t.set(after(ms, move || self.flush())));
                        break;
                    }
                    Err(e) => {
                        if e.unauthorized() || e.code == "conversation_resolved" {
                            self.resolved.set(true);
                        }
                        self.messages.update(|l| outbox::set_status(l, &cid, Status::Failed));
                        self.save_outbox();
                        if e.unauthorized() {
                            break;
                        }
                    }
                }
            }
            FLUSHING.with(|f| f.set(false));
        });
    }

    /// Forgets the conversation (after "start a new conversation"); the name stays prefilled.
    pub fn reset(self) {
        live::disconnect();
        store::set(keys::SESSION, None, false);
        store::set(keys::OUTBOX, None, false);
        self.session.set(None);
        self.messages.set(Vec::new());
        self.resolved.set(false);
        self.more.set(false);
        self.last_event.set_value(None);
        self.synced.set_value(false);
        self.phase.set(if self.info.with_untracked(Option::is_some) { Phase::Start } else { Phase::Loading });
        if self.phase.get_untracked() == Phase::Loading {
            self.load_info();
        }
    }
}
