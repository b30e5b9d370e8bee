//! Inline SVG icons (no image requests, `currentColor`, hidden from assistive technology: every
//! icon button carries its own `aria-label`).

use leptos::prelude::*;

/// Which icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icon {
    Close,
    Send,
    Sound,
    Muted,
}

/// An icon, 20 × 20, mirrored in right-to-left layouts where direction matters (send).
pub fn svg(icon: Icon) -> impl IntoView {
    let d = match icon {
        Icon::Close => "M6 6l12 12M18 6L6 18",
        Icon::Send => "M4 12l16-8-6 16-2-7z",
        Icon::Sound => "M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 0 1 0 6",
        Icon::Muted => "M4 9h4l5-4v14l-5-4H4zM16 9l5 6M21 9l-5 6",
    };
    let class = if icon == Icon::Send { "lobby-svg lobby-flip" } else { "lobby-svg" };
    view! {
        <svg class=class viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
            <path d=d/>
        </svg>
    }
}
