//! Inline SVG icons (no image requests, `currentColor`, hidden from assistive technology: every
//! icon button carries its own `aria-label`), built with the DOM.

use web_sys::{Document, Element};

/// Which icon: its path.
pub const CLOSE: &str = "M6 6l12 12M18 6L6 18";
pub const SEND: &str = "M4 12l16-8-6 16-2-7z";
pub const SOUND: &str = "M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 0 1 0 6";
pub const MUTED: &str = "M4 9h4l5-4v14l-5-4H4zM16 9l5 6M21 9l-5 6";

const NS: Option<&str> = Some("http://www.w3.org/2000/svg");

/// An icon, 20 × 20, appended to `parent`; `flip`: mirrored in right-to-left layouts (send).
/// Returns its path (whose `d` a toggle changes).
pub fn svg(doc: &Document, parent: &Element, d: &str, flip: bool) -> Option<Element> {
    let svg = doc.create_element_ns(NS, "svg").ok()?;
    for (k, v) in [
        ("class", if flip { "lobby-svg lobby-flip" } else { "lobby-svg" }),
        ("viewBox", "0 0 24 24"),
        ("width", "20"),
        ("height", "20"),
        ("aria-hidden", "true"),
        ("focusable", "false"),
    ] {
        let _ = svg.set_attribute(k, v);
    }
    let path = doc.create_element_ns(NS, "path").ok()?;
    let _ = path.set_attribute("d", d);
    svg.append_child(&path).ok()?;
    parent.append_child(&svg).ok()?;
    Some(path)
}
