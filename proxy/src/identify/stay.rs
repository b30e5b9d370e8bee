//! A found stay as Lobby keeps it: the stage rule of `mews-guests.md` §5.1 (from `State` and the
//! dates, against the proxy clock), the property-local dates, the thread `Subject` and the
//! "Booking verified" note staff see, and what the browser may be told.

use jiff::{SignedDuration, Timestamp, civil::Date, tz::TimeZone};
use serde::Serialize;

/// Where the guest is in their stay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    BeforeArrival,
    InHouse,
    CheckedOut,
}

impl Stage {
    /// As staff read it in the Subject.
    pub fn label(self) -> &'static str {
        match self {
            Stage::BeforeArrival => "before arrival",
            Stage::InHouse => "in-house",
            Stage::CheckedOut => "checked out",
        }
    }
}

/// How long after checkout a stay can still be linked.
pub const CHECKED_OUT_FOR: SignedDuration = SignedDuration::from_hours(24 * 30);

/// The stage of a reservation, or `None` when it must not link (cancelled, stale, too old,
/// unknown state). `unconfirmed` for the pre-arrival states other than `Confirmed`.
pub fn stage_of(
    state: &str,
    scheduled_end: Timestamp,
    actual_end: Option<Timestamp>,
    now: Timestamp,
) -> Option<(Stage, bool)> {
    match state {
        "Confirmed" | "Optional" | "Inquired" | "Enquired" | "Requested" => {
            (scheduled_end > now).then_some((Stage::BeforeArrival, state != "Confirmed"))
        }
        "Started" => Some((Stage::InHouse, false)),
        "Processed" => {
            (actual_end.unwrap_or(scheduled_end) > now - CHECKED_OUT_FOR).then_some((Stage::CheckedOut, false))
        }
        "Canceled" => None,
        other => {
            tracing::warn!(state = other, "unknown reservation state: not linkable");
            None
        }
    }
}

/// A verified stay. Names are Mews's spelling: they go to staff (Subject, note), never to the
/// browser except the first name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stay {
    pub reservation_id: String,
    pub number: String,
    /// The channel number as the guest typed it, when that is how it was found.
    pub typed_channel: Option<String>,
    pub first_name: Option<String>,
    pub last_name: String,
    pub arrival: Date,
    pub departure: Date,
    pub stage: Stage,
    pub unconfirmed: bool,
    /// Other rooms of the same booking whose owner matched too.
    pub more_rooms: usize,
    /// `PreferredLanguageCode ?? LanguageCode`.
    pub language: Option<String>,
}

/// The property-local date of an instant.
pub fn local_date(t: Timestamp, tz: &TimeZone) -> Date {
    t.to_zoned(tz.clone()).date()
}

fn day_month(d: Date) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{} {}", d.day(), MONTHS[(d.month() - 1) as usize])
}

/// `24 Mar–27 Mar 2026`, or with both years when they differ.
pub fn date_range(a: Date, b: Date) -> String {
    if a.year() == b.year() {
        format!("{}–{} {}", day_month(a), day_month(b), b.year())
    } else {
        format!("{} {}–{} {}", day_month(a), a.year(), day_month(b), b.year())
    }
}

/// The longest Subject we write (the docs give no limit; messaging §3.5).
pub const MAX_SUBJECT: usize = 150;

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n.saturating_sub(1)).collect::<String>() + "…" }
}

impl Stay {
    /// The name staff see: Mews's first and last name.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name.as_deref().unwrap_or(""), self.last_name).trim().to_owned()
    }

    /// `[Booking 1001 / ch 4123456789] Anna Müller · 24 Mar–27 Mar 2026 · before arrival`, at
    /// most `max` characters: the names are shortened first.
    pub fn summary(&self, max: usize) -> String {
        let mut head = format!("[Booking {}", self.number);
        if self.more_rooms > 0 {
            head.push_str(&format!(" +{}", self.more_rooms));
        }
        if let Some(ch) = &self.typed_channel {
            head.push_str(&format!(" / ch {}", cut(ch, 30)));
        }
        head.push(']');
        let mut tail = format!(" · {} · {}", date_range(self.arrival, self.departure), self.stage.label());
        if self.unconfirmed {
            tail.push_str(" · unconfirmed");
        }
        let room = max.saturating_sub(head.chars().count() + tail.chars().count() + 1).max(8);
        format!("{head} {}{tail}", cut(&self.full_name(), room))
    }

    /// The thread Subject (the conversation reference is appended by `conversation::start`,
    /// which takes 14 characters).
    pub fn subject(&self) -> String {
        self.summary(MAX_SUBJECT - 14)
    }

    /// The note posted into an existing thread.
    pub fn note(&self) -> String {
        format!("{NOTE_PREFIX} {}", self.summary(MAX_SUBJECT))
    }
}

/// Starts every "booking verified" note Lobby writes into a thread. The guest sees such a message
/// as a system line, never its text; a guest message that starts with it is refused, so a guest
/// cannot fake one for staff.
pub const NOTE_PREFIX: &str = "[Lobby] Booking verified:";

/// Whether a thread message is one of our notes.
pub fn is_note(text: &str) -> bool {
    text.starts_with(NOTE_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn stages_follow_the_state_table() {
        let now = t("2026-03-20T12:00:00Z");
        let future = t("2026-03-25T12:00:00Z");
        let past = t("2026-03-18T12:00:00Z");
        assert_eq!(stage_of("Confirmed", future, None, now), Some((Stage::BeforeArrival, false)));
        assert_eq!(stage_of("Optional", future, None, now), Some((Stage::BeforeArrival, true)));
        assert_eq!(stage_of("Enquired", future, None, now), Some((Stage::BeforeArrival, true)));
        assert_eq!(stage_of("Confirmed", past, None, now), None, "stale: never checked in");
        assert_eq!(stage_of("Started", past, None, now), Some((Stage::InHouse, false)), "an overstay");
        assert_eq!(stage_of("Processed", past, Some(past), now), Some((Stage::CheckedOut, false)));
        assert_eq!(stage_of("Processed", t("2026-02-01T12:00:00Z"), None, now), None, "over 30 days");
        assert_eq!(stage_of("Canceled", future, None, now), None);
        assert_eq!(stage_of("Teleported", future, None, now), None);
    }

    #[test]
    fn local_dates_use_the_property_zone() {
        let tz = TimeZone::get("America/New_York").unwrap();
        // 02:30 UTC is the evening before in New York.
        assert_eq!(local_date(t("2026-03-24T02:30:00Z"), &tz).to_string(), "2026-03-23");
    }

    #[test]
    fn the_subject_names_the_booking_and_stays_short() {
        let mut s = Stay {
            reservation_id: "r".into(),
            number: "1001".into(),
            typed_channel: Some("4123456789".into()),
            first_name: Some("Anna".into()),
            last_name: "Müller".into(),
            arrival: "2026-03-24".parse().unwrap(),
            departure: "2026-03-27".parse().unwrap(),
            stage: Stage::BeforeArrival,
            unconfirmed: false,
            more_rooms: 0,
            language: None,
        };
        assert_eq!(s.summary(150), "[Booking 1001 / ch 4123456789] Anna Müller · 24 Mar–27 Mar 2026 · before arrival");
        s.last_name = "W".repeat(300);
        s.unconfirmed = true;
        s.more_rooms = 1;
        let long = s.subject();
        assert!(long.chars().count() <= MAX_SUBJECT - 14, "{long}");
        assert!(long.starts_with("[Booking 1001 +1 / ch") && long.ends_with("before arrival · unconfirmed"), "{long}");
        assert!(is_note(&s.note()));
        assert_eq!(date_range("2026-12-30".parse().unwrap(), "2027-01-02".parse().unwrap()), "30 Dec 2026–2 Jan 2027");
    }
}
