//! The property's accent colour with a readable text colour on it (WCAG contrast), applied as
//! CSS custom properties on the loader's root element.

/// `#rrggbb` → (r, g, b).
pub fn parse(hex: &str) -> Option<(u8, u8, u8)> {
    let h = hex.strip_prefix('#')?;
    if h.len() != 6 || !h.is_ascii() {
        return None;
    }
    let c = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some((c(0)?, c(2)?, c(4)?))
}

/// Relative luminance (WCAG 2).
pub fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.03928 { c / 12.92 } else { js_sys::Math::pow((c + 0.055) / 1.055, 2.4) }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// Contrast ratio of two luminances.
pub fn contrast(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    (hi + 0.05) / (lo + 0.05)
}

/// The text colour (white or black) with the higher contrast on `hex`; at least 4.5:1
/// for every accent.
pub fn on_accent(hex: &str) -> &'static str {
    let l = parse(hex).map(luminance).unwrap_or(0.0);
    if contrast(l, 1.0) >= contrast(l, 0.0) { "#ffffff" } else { "#000000" }
}

/// Sets `--lobby-accent` and `--lobby-on-accent` on `el` (the panel's mount element: the launcher
/// keeps the colour the loader gave it at the first paint).
pub fn apply(el: &web_sys::HtmlElement, hex: &str) {
    let style = el.style();
    let _ = style.set_property("--lobby-accent", hex);
    let _ = style.set_property("--lobby-on-accent", on_accent(hex));
}
