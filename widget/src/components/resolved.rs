//! The resolved banner (`lobby-resolved`): staff closed the conversation; the guest can start a
//! new one (`lobby-new-conversation`), with name and email kept. A status box built with the DOM
//! (`panel::status`).

use web_sys::Element;

use crate::components::panel::status;
use crate::i18n::Key;
use crate::state::Chat;

/// The banner that replaces the composer, appended to `parent`.
pub fn resolved_banner(chat: Chat, parent: &Element) -> Option<()> {
    let new = (Key::NewConversation, "lobby-new-conversation", Chat::reset as fn(Chat));
    status(chat, parent, "lobby-resolved", "lobby-resolved", Key::Resolved, false, Some(new))
}
