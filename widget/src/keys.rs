//! The translatable strings' keys and the supported languages: plain data without dependencies, so
//! the locale test (`tests/tests/widget_locales.rs`) includes this file as it is and checks every
//! `widget/locales/<code>.json` against exactly these keys. A new string is a new [`Key`] here (its
//! JSON name in [`NAMES`]) and an entry in every locale file.

/// Every translatable string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Key {
    /// Accessible name of the panel; `{hotel}`.
    PanelLabel,
    Close,
    Mute,
    Unmute,
    /// Header status while staff are in; `{n}` minutes.
    RepliesWithin,
    Away,
    /// Under the away message; `{n}` minutes.
    AwayHint,
    Name,
    Topic,
    Reference,
    FirstMessage,
    Start,
    Starting,
    NeedName,
    NeedTopic,
    StartFailed,
    Composer,
    Send,
    Sending,
    Queued,
    Sent,
    Failed,
    Retry,
    You,
    Offline,
    Reconnecting,
    Resolved,
    NewConversation,
    Earlier,
    /// Live-region prefix; `{hotel}`.
    NewFrom,
    TooLong,
    Loading,
    Messages,
    /// Launcher label with unread messages; `{n}`.
    Unread,
    /// Launcher label without unread messages.
    Launcher,
    Unavailable,
    TryAgain,
    /// The proxy asked to wait (`Retry-After`) before the outbox sends again; `{n}` seconds.
    WaitSend,
    /// The proxy asked to wait before a start is tried again; `{n}` seconds.
    WaitStart,
    /// Above the hotel's own phone and email when the chat cannot be reached.
    Contact,
    /// Find my booking (`components/booking.rs`): the toggle on the start form.
    BookingHave,
    BookingTitle,
    BookingIntro,
    BookingByNumber,
    BookingByRoom,
    BookingRoomLabel,
    BookingNumberHint,
    BookingRoomHint,
    BookingLastName,
    BookingFind,
    BookingFinding,
    BookingCancel,
    BookingNeed,
    BookingNotFound,
    BookingTooMany,
    BookingBusy,
    /// Find my booking: the stay card's greeting; `{name}` (the guest's first name).
    BookingWelcome,
    BookingWelcomeAnon,
    /// Find my booking: the stage before arrival; `{date}`.
    BookingArriving,
    BookingInHouse,
    BookingCheckedOut,
    /// The system line in the conversation once a stay is linked.
    BookingVerified,
    /// The header's button in a conversation without a verified stay.
    BookingVerify,
}

/// Number of keys.
pub const KEYS: usize = Key::BookingVerify as usize + 1;

/// The JSON name of every key, in declaration order (`NAMES[k as usize]`).
pub const NAMES: [&str; KEYS] = [
    "panel_label",
    "close",
    "mute",
    "unmute",
    "replies_within",
    "away",
    "away_hint",
    "name",
    "topic",
    "reference",
    "first_message",
    "start",
    "starting",
    "need_name",
    "need_topic",
    "start_failed",
    "composer",
    "send",
    "sending",
    "queued",
    "sent",
    "failed",
    "retry",
    "you",
    "offline",
    "reconnecting",
    "resolved",
    "new_conversation",
    "earlier",
    "new_from",
    "too_long",
    "loading",
    "messages",
    "unread",
    "launcher",
    "unavailable",
    "try_again",
    "wait_send",
    "wait_start",
    "contact",
    "booking_have",
    "booking_title",
    "booking_intro",
    "booking_by_number",
    "booking_by_room",
    "booking_room_label",
    "booking_number_hint",
    "booking_room_hint",
    "booking_last_name",
    "booking_find",
    "booking_finding",
    "booking_cancel",
    "booking_need",
    "booking_not_found",
    "booking_too_many",
    "booking_busy",
    "booking_welcome",
    "booking_welcome_anon",
    "booking_arriving",
    "booking_in_house",
    "booking_checked_out",
    "booking_verified",
    "booking_verify",
];

/// Every supported language (BCP 47 primary subtag); `widget/locales/<code>.json` exists for each.
pub const CODES: [&str; 20] = [
    "en", "de", "fr", "es", "it", "cs", "nl", "ar", "ja", "zh", "ko", "pl", "pt", "ru", "tr", "sv", "uk", "el", "hu",
    "he",
];

/// The languages written right to left.
pub const RTL: [&str; 2] = ["ar", "he"];
