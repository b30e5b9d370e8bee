//! The widget's components, one per file.

pub mod booking;
pub mod composer;
pub mod conversation;
pub mod header;
pub mod icons;
pub mod message;
pub mod message_list;
pub mod panel;
pub mod resolved;
pub mod start_form;
