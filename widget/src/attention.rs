//! Getting the guest's attention for a staff reply: the sound, played by exactly one tab
//! (a Web Lock per reply, and the list of played replies in localStorage) unless muted, and
//! the page-title flag while the tab is hidden. The unread badge is drawn by the loader from the
//! `unread` event.

use std::cell::RefCell;

use js_sys::{Function, Promise, Reflect};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use web_sys::AudioContext;

use crate::state::{Chat, hidden};
use crate::store::{self, keys};

thread_local! {
    static TITLE: RefCell<Option<String>> = const { RefCell::new(None) };
    static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// A new staff reply `id` arrived live.
pub fn notify(chat: Chat, id: &str) {
    if hidden() {
        flag(chat.unread.get_untracked().max(1));
    }
    if store::get(keys::MUTED, false).as_deref() == Some("1") || chat.muted.get_untracked() {
        return;
    }
    let id = id.to_owned();
    let id_for_lock = id.clone();
    let play_once = move || {
        let played = store::get(keys::SOUND, false).unwrap_or_default();
        if let Some(next) = claim(&played, &id) {
            store::set(keys::SOUND, Some(&next), false);
            play();
            Chat::emit("sound", &JsValue::from_str(&id));
        }
    };
    // navigator.locks serialises the check-and-set across tabs of this origin.
    let locks = web_sys::window()
        .and_then(|w| Reflect::get(&w.navigator(), &"locks".into()).ok())
        .filter(|l| !l.is_undefined());
    let request = locks
        .as_ref()
        .and_then(|l| Reflect::get(l, &"request".into()).ok())
        .and_then(|f| f.dyn_into::<Function>().ok());
    match (locks, request) {
        (Some(locks), Some(request)) => {
            // One lock per reply, taken only if free and held for 30 s: localStorage reaches other
            // tabs asynchronously, so a tab arriving right after the player could still read the
            // old list; the held lock tells it the reply is being played.
            let cb = Closure::once_into_js(move |lock: JsValue| {
                if lock.is_null() {
                    return Promise::resolve(&JsValue::UNDEFINED);
                }
                play_once();
                Promise::new(&mut |resolve, _| {
                    let _ = web_sys::window()
                        .map(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 30_000));
                })
            });
            let name = JsValue::from_str(
                &(String::from("lobby-sound:") + &chat.api.with_value(|a| a.property.clone()) + ":" + &id_for_lock),
            );
            let opts = js_sys::Object::new();
            let _ = Reflect::set(&opts, &"ifAvailable".into(), &JsValue::TRUE);
            let _ = request.call3(&locks, &name, &opts, &cb);
        }
        _ => play_once(),
    }
}

/// `played` is the space-separated list of staff replies some tab already played a sound for.
/// Returns the new list (newest 20) when `id` is not in it, i.e. when this tab should play.
pub fn claim(played: &str, id: &str) -> Option<String> {
    if played.split(' ').any(|p| p == id) {
        return None;
    }
    let mut ids: Vec<&str> = played.split(' ').filter(|p| !p.is_empty()).collect();
    ids.push(id);
    let keep = ids.len().saturating_sub(20);
    Some(ids[keep..].join(" "))
}

/// Two short soft tones through Web Audio (no audio file to download).
fn play() {
    AUDIO.with(|a| {
        let mut a = a.borrow_mut();
        if a.is_none() {
            *a = AudioContext::new().ok();
        }
        let Some(ctx) = a.as_ref() else { return };
        let _ = ctx.resume();
        let t = ctx.current_time();
        for (i, f) in [660.0f32, 880.0].into_iter().enumerate() {
            let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else {
                return;
            };
            let start = t + 0.16 * i as f64;
            osc.frequency().set_value(f);
            let _ = gain.gain().set_value_at_time(0.08, start);
            let _ = gain.gain().exponential_ramp_to_value_at_time(0.001, start + 0.15);
            let _ = osc.connect_with_audio_node(&gain);
            let _ = gain.connect_with_audio_node(&ctx.destination());
            let _ = osc.start_with_when(start);
            let _ = osc.stop_with_when(start + 0.16);
        }
    });
}

/// Prefixes the page title with `(n)` while the tab is hidden.
pub fn flag(n: u32) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let original = TITLE.with(|t| t.borrow_mut().get_or_insert_with(|| doc.title()).clone());
    doc.set_title(&(String::from("(") + &crate::i18n::num(n) + ") " + &original));
}

/// Restores the page title.
pub fn unflag() {
    if let Some(original) = TITLE.with(|t| t.borrow_mut().take())
        && let Some(doc) = web_sys::window().and_then(|w| w.document())
    {
        doc.set_title(&original);
    }
}
