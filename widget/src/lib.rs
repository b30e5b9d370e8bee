//! Lobby's guest chat widget: Leptos (CSR) compiled to WebAssembly.
//!
//! The loader (`public/lobby.js`) draws the launcher inside an open Shadow DOM, imports the
//! wasm-bindgen glue on interest, and calls [`mount`] with an element of that shadow root.
//! Everything the widget renders lives there, so host CSS cannot reach it and it cannot reach
//! the host page. See `widget/README.md` for the options, the handle and the events.

pub mod api;
pub mod attention;
pub mod color;
pub mod components;
pub mod i18n;
pub mod keys;
pub mod live;
pub mod outbox;
pub mod state;
pub mod store;
pub mod viewport;

use js_sys::{Function, Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use crate::api::Api;
use crate::i18n::{Key, Lang};
use crate::state::{Chat, effect};

/// What the loader gets back from [`mount`]: the host API's calls land here.
#[wasm_bindgen]
pub struct Handle {
    chat: Chat,
}

#[wasm_bindgen]
impl Handle {
    /// Opens the panel (and counts as consent).
    pub fn open(&self) {
        self.chat.set_open(true);
    }

    /// Closes the panel.
    pub fn close(&self) {
        self.chat.set_open(false);
    }

    /// Opens or closes the panel.
    pub fn toggle(&self) {
        self.chat.set_open(!self.chat.open.get_untracked());
    }

    /// Switches the language (a BCP 47 tag; unsupported tags are ignored).
    #[wasm_bindgen(js_name = setLocale)]
    pub fn set_locale(&self, tag: &str) {
        if let Some(l) = Lang::from_tag(tag) {
            components::booking::locale_chosen();
            self.chat.lang_chosen.set_value(true);
            self.chat.set_lang(l);
        }
    }

    /// Prefills the start form.
    pub fn prefill(&self, name: Option<String>, email: Option<String>) {
        if let Some(n) = name {
            self.chat.name.set(n);
        }
        if let Some(e) = email {
            self.chat.reference.set(e);
        }
    }

    /// The host page recorded the guest's consent: storage may be used from now on.
    pub fn consent(&self) {
        store::consent();
    }
}

fn browser_lang() -> Option<Lang> {
    let nav = web_sys::window()?.navigator();
    nav.languages().iter().filter_map(|l| l.as_string()).chain(nav.language()).find_map(|l| Lang::from_tag(&l))
}

/// Mounts the widget into `el` (inside the loader's shadow root). `options`: `proxy` (origin),
/// `a` (the widget files' stem, `/widget/<H>`), `d` (the script tag's `dataset`: `property`,
/// `locale`, `greeting`, `color`, `contactPhone`, `contactEmail`), `o` (`window.LobbySettings`:
/// `locale`, `name`, `email`), `consent`, and `emit(name, detail)` for events (`opened`,
/// `closed`, `message`, `unread`, `sound`).
#[wasm_bindgen]
pub fn mount(el: HtmlElement, options: JsValue) -> Handle {
    let obj = |k: &str| Reflect::get(&options, &k.into()).unwrap_or(JsValue::UNDEFINED);
    let (d, o) = (obj("d"), obj("o"));
    let get = |v: &JsValue, k: &str| api::opt(v, k).filter(|s| !s.is_empty());
    let api = Api {
        proxy: get(&options, "proxy").unwrap_or_default(),
        property: get(&d, "property").unwrap_or_default(),
        assets: get(&options, "a").unwrap_or_default(),
    };
    store::init(&api.property);
    if api::b(&options, "consent") {
        store::consent();
    }
    let emit = obj("emit").dyn_into::<Function>().unwrap_or_else(|_| Function::new_no_args(""));
    let root = el.parent_element().and_then(|p| p.dyn_into::<HtmlElement>().ok()).unwrap_or_else(|| el.clone());
    Chat::set_host(root, el.clone(), emit);

    let owner = Owner::new();
    owner.set();
    let page_lang = get(&o, "locale").or_else(|| get(&d, "locale")).and_then(|l| Lang::from_tag(&l));
    if page_lang.is_some() {
        components::booking::locale_chosen();
    }
    let lang = page_lang.or_else(browser_lang);
    // The loader painted `data-color` (when valid) on the launcher and the panel already.
    let forced = get(&d, "color").is_some_and(|c| color::parse(&c).is_some());
    let chat = Chat::new(api, lang, get(&d, "greeting"), forced);
    chat.contact.set_value((get(&d, "contactPhone").unwrap_or_default(), get(&d, "contactEmail").unwrap_or_default()));
    chat.name.set(get(&o, "name").unwrap_or_default());
    chat.reference.set(get(&o, "email").unwrap_or_default());

    // Rendering first: `mount_to` also starts the executor that effects need.
    leptos::mount::mount_to(el, move || components::panel::panel(chat)).forget();

    // Events for the loader and the host page.
    // The first run may already see `open` (a queued `Lobby.open()`): compare with closed.
    let mut was = false;
    effect(move || {
        let open = chat.open.get();
        if std::mem::replace(&mut was, open) != open {
            store::set(store::keys::OPEN, open.then_some("1"), true);
            Chat::emit(if open { "opened" } else { "closed" }, &Object::new());
        }
    });
    effect(move || {
        let n = chat.unread.get();
        let lang = chat.lang.get();
        let label = if n > 0 { lang.fill(Key::Unread, n, "") } else { lang.t(Key::Launcher) };
        let o = Object::new();
        let _ = Reflect::set(&o, &"count".into(), &n.into());
        let _ = Reflect::set(&o, &"label".into(), &label.into());
        Chat::emit("unread", &o);
    });

    chat.boot();
    live::watch(chat);
    viewport::follow();
    std::mem::forget(owner);
    Handle { chat }
}
