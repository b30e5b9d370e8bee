//! Phones: the panel follows the visual viewport, so the on-screen keyboard never covers the
//! composer. `--lobby-vh` / `--lobby-vt` (height and top offset of the visual viewport) are set
//! on the root element; the stylesheet uses them below 640 px.

use wasm_bindgen::{JsCast, closure::Closure};

/// Starts following `window.visualViewport` (once per page).
pub fn follow() {
    let Some(vv) = web_sys::window().and_then(|w| w.visual_viewport()) else {
        return;
    };
    let update = {
        let vv = vv.clone();
        move || {
            if let Some(root) = crate::state::Chat::root() {
                let style = root.style();
                let px = |v: f64| crate::i18n::num(v.round().max(0.0) as u32) + "px";
                let _ = style.set_property("--lobby-vh", &px(vv.height()));
                let _ = style.set_property("--lobby-vt", &px(vv.offset_top()));
            }
        }
    };
    update();
    let cb = Closure::<dyn FnMut()>::new(update);
    let _ = vv.add_event_listener_with_callback("resize", cb.as_ref().unchecked_ref());
    let _ = vv.add_event_listener_with_callback("scroll", cb.as_ref().unchecked_ref());
    cb.forget();
}
