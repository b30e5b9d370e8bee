//! One message (`lobby-message`, `data-author`, `data-status` for the guest's): the text, always
//! as a text node (markup never renders), the sender, the localised time, and for the guest's
//! messages the delivery state with a retry button (`data-client-id`) when it failed.
//!
//! Built with the DOM directly, not a `view!`: the list renders every bubble again on each change
//! (unkeyed), so a bubble has no reactive parts, and building it by hand saves the view code the
//! framework would generate for it (widget/README.md, "Size").

use lobby_protocol::Author;
use web_sys::{Document, Element};

use crate::i18n::{Key, Lang};
use crate::outbox::{Msg, Status};
use crate::state::Link;

pub fn el(doc: &Document, parent: &Element, tag: &str, class: &str, text: &str) -> Option<Element> {
    let e = doc.create_element(tag).ok()?;
    if !class.is_empty() {
        e.set_class_name(class);
    }
    if !text.is_empty() {
        e.set_text_content(Some(text));
    }
    parent.append_child(&e).ok()?;
    Some(e)
}

/// A message bubble, appended to `list`.
pub fn message(list: &Element, m: &Msg, lang: Lang, link: Link, hotel: &str) -> Option<()> {
    let doc = list.owner_document()?;
    if m.author == Author::System {
        // A line from Lobby (a "booking verified" note staff got): its text is the widget's own.
        let li = el(&doc, list, "li", "lobby-system", &lang.t(Key::BookingVerified))?;
        let _ = li.set_attribute("data-testid", "lobby-message");
        let _ = li.set_attribute("data-author", "system");
        let _ = li.set_attribute("role", "note");
        let _ = li.set_attribute("data-id", m.id.as_deref().unwrap_or_default());
        return Some(());
    }
    let guest = m.author == Author::Guest;
    let li = el(&doc, list, "li", if guest { "lobby-msg lobby-guest" } else { "lobby-msg lobby-hotel" }, "")?;
    let _ = li.set_attribute("data-testid", "lobby-message");
    let _ = li.set_attribute("data-author", if guest { "guest" } else { "hotel" });
    if guest {
        let _ = li.set_attribute("data-status", m.status.as_str());
    }
    if let Some(id) = &m.id {
        let _ = li.set_attribute("data-id", id);
    }
    el(&doc, &li, "p", "lobby-text", "")?.set_text_content(Some(&m.text));
    let meta = el(&doc, &li, "p", "lobby-meta", "")?;
    let who = if guest { lang.t(Key::You) } else { hotel.to_owned() };
    el(&doc, &meta, "span", "lobby-who", "")?.set_text_content(Some(&who));
    let _ = meta.append_with_str_1(" · ");
    let time = el(&doc, &meta, "time", "", &lang.time(&m.at))?;
    let _ = time.set_attribute("datetime", &m.at);
    if guest {
        let state = match m.status {
            Status::Sent => Key::Sent,
            Status::Failed => Key::Failed,
            Status::Sending if link == Link::Online => Key::Sending,
            Status::Sending => Key::Queued,
        };
        let _ = meta.append_with_str_1(" · ");
        el(&doc, &meta, "span", "lobby-state", &lang.t(state))?;
    }
    if m.status == Status::Failed {
        let _ = meta.append_with_str_1(" ");
        let retry = el(&doc, &meta, "button", "lobby-link", &lang.t(Key::Retry))?;
        let _ = retry.set_attribute("type", "button");
        let _ = retry.set_attribute("data-testid", "lobby-retry");
        let _ = retry.set_attribute("data-client-id", m.client_id.as_deref().unwrap_or_default());
    }
    Some(())
}
