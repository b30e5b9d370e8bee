//! The flows against the simulator in process (its seeded stays, `mews-guests.md` §6), under
//! `tokio::time::pause()` so the padding and the windows are exact and take no real time. The
//! tests that open a conversation run in real time: the embedded store's writer is a thread,
//! which paused time would not wait for.

use std::net::{IpAddr, Ipv4Addr};

use lobby_protocol::{Author, BookingBy, FindBooking};
use tokio::time::Instant;

use super::{stay::Stage, *};
use crate::mews::in_process::InProcessMews;

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

fn ask(by: BookingBy, number: &str, last: &str) -> FindBooking {
    FindBooking { key: None, by, number: number.into(), last_name: last.into() }
}

struct World {
    mews: InProcessMews,
    state: AppState,
    next_key: u32,
}

impl World {
    fn new() -> Self {
        let mews = InProcessMews::default();
        let state = mews.app_state();
        Self { mews, state, next_key: 0 }
    }

    fn property(&self) -> Arc<Property> {
        self.state.property("hotel").unwrap().clone()
    }

    async fn mews_calls(&self) -> usize {
        let mut n = 0;
        for op in ["reservations/getAll/2023-06-06", "customers/getAll", "customers/search", "resources/getAll"] {
            n += self.mews.requests(op).await.0;
        }
        n
    }

    /// One attempt with a fresh widget key; the answer and the Mews calls it made.
    async fn try_one(
        &mut self,
        by: BookingBy,
        number: &str,
        last: &str,
    ) -> (Result<BookingAnswer, Error>, usize, Duration) {
        self.next_key += 1;
        let before = self.mews_calls().await;
        let at = Instant::now();
        let key = format!("test-widget-key-{:04}", self.next_key);
        let r = before_conversation(&self.state, &self.property(), &ask(by, number, last), &key, IP).await;
        let took = at.elapsed();
        (r, self.mews_calls().await - before, took)
    }
}

#[tokio::test(start_paused = true)]
async fn each_flow_finds_the_seeded_stays_at_the_spec_cost() {
    let w = World::new();
    let p = w.property();
    let cases = [
        (BookingBy::Confirmation, "1001", "MÜLLER", Stage::BeforeArrival, "1001", 2, "de-DE"),
        (BookingBy::Confirmation, "4123.456.789", "muller", Stage::BeforeArrival, "1001", 3, "de-DE"),
        (BookingBy::Confirmation, "1003", "Østergaard", Stage::BeforeArrival, "1006", 4, "en-GB"),
        (BookingBy::Confirmation, "1003", "obrien", Stage::CheckedOut, "1003", 2, "en-GB"),
        (BookingBy::Confirmation, "1005", "García López", Stage::BeforeArrival, "1005", 2, "es-ES"),
        (BookingBy::Confirmation, "exp-7788990", "tanaka", Stage::BeforeArrival, "1008", 3, ""),
        (BookingBy::Confirmation, "1002", "dvorak", Stage::InHouse, "1002", 2, "cs-CZ"),
        (BookingBy::Room, "101", "DVOŘÁKOVÁ", Stage::InHouse, "1002", 2, "cs-CZ"), // + the room list, once
        (BookingBy::Room, "12a", "lefevre", Stage::InHouse, "1010", 1, "fr-CA"),
    ];
    for (by, number, last, stage, found, calls, locale) in cases {
        let before = w.mews_calls().await;
        let input = Input { by, number: number.into(), last_name: last.into() };
        let s = w.state.identify().find(&p, &input).await.unwrap().unwrap_or_else(|| panic!("{number} {last}"));
        let made = w.mews_calls().await - before;
        assert_eq!((s.stage, s.number.as_str(), made), (stage, found, calls), "{number} {last}");
        assert_eq!(s.language.unwrap_or_default(), locale, "{number} {last}");
    }
}

#[tokio::test(start_paused = true)]
async fn every_failure_is_the_same_not_found_at_the_same_time() {
    let mut w = World::new();
    let cases = [
        (BookingBy::Confirmation, "1001", "Mueller"), // wrong last name (no transliteration)
        (BookingBy::Confirmation, "1004", "smith"),   // cancelled
        (BookingBy::Confirmation, "1009", "smith"),   // stale: never checked in
        (BookingBy::Confirmation, "1012", "obrien"),  // checked out 57 days ago
        (BookingBy::Confirmation, "1011", "company"), // a company's booking
        (BookingBy::Confirmation, "9999", "nobody"),  // unknown
        (BookingBy::Room, "102", "muller"),           // assigned, not checked in
        (BookingBy::Room, "201", "obrien"),           // checked out
        (BookingBy::Room, "999", "smith"),            // inactive room
    ];
    for (by, number, last) in cases {
        let (r, _, took) = w.try_one(by, number, last).await;
        assert!(matches!(r, Err(Error::NotFound)), "{number} {last}: {r:?}");
        assert_eq!(took, PAD, "{number} {last}");
    }
    // Asked again within a minute: answered without Mews, at the same time.
    let (r, made, took) = w.try_one(BookingBy::Confirmation, "1004", "smith").await;
    assert!(matches!(r, Err(Error::NotFound)) && made == 0 && took == PAD);
}

#[tokio::test(start_paused = true)]
async fn the_sixth_attempt_of_a_widget_is_refused_before_mews() {
    let w = World::new();
    let p = w.property();
    let key = "one-widget-key-0001";
    for _ in 0..5 {
        let r = before_conversation(&w.state, &p, &ask(BookingBy::Confirmation, "1001", "wrong"), key, IP).await;
        assert!(matches!(r, Err(Error::NotFound)));
    }
    let before = w.mews_calls().await;
    let at = Instant::now();
    let r = before_conversation(&w.state, &p, &ask(BookingBy::Confirmation, "1001", "muller"), key, IP).await;
    assert!(matches!(r, Err(Error::RateLimited { .. })), "{r:?}");
    assert_eq!(w.mews_calls().await, before, "no Mews call");
    assert!(at.elapsed() < PAD, "refused at once");
    // Another widget from the same address still may try.
    let r =
        before_conversation(&w.state, &p, &ask(BookingBy::Confirmation, "1001", "wrong"), "another-widget-key-01", IP)
            .await;
    assert!(matches!(r, Err(Error::NotFound)), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn identification_spends_at_most_its_share_and_guest_messages_still_go() {
    let w = World::new();
    let p = w.property();
    // A flood from many addresses and widgets, each a channel lookup (3 calls).
    let mut busy = 0;
    for i in 0..20u8 {
        let ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, i));
        let r = before_conversation(
            &w.state,
            &p,
            &ask(BookingBy::Confirmation, &format!("77{i:02}"), "x"),
            &format!("flood-widget-key-{i:03}"),
            ip,
        )
        .await;
        if matches!(r, Err(Error::Upstream(MewsError::Busy { .. }))) {
            busy += 1;
        }
    }
    let used = w.mews_calls().await;
    assert!(used <= BUDGET_CALLS, "{used} identification calls in one window");
    assert!(busy > 0, "the flood met the cap");
    // A guest's message is not held up by it.
    let thread = w.mews.client().add_thread("Guest", "Question").await.unwrap();
    let sent = p.upstream.add_message(&thread.id, "Is breakfast included?", None, None).await;
    assert!(sent.is_ok(), "{sent:?}");
}

#[tokio::test]
async fn the_same_booking_proved_again_gets_the_same_conversation_and_a_later_proof_leaves_a_note() {
    let mut w = World::new();
    let (first, _, took) = w.try_one(BookingBy::Confirmation, "4123456789", "Müller").await;
    let first = first.unwrap();
    assert!(took >= PAD, "a success waits for the pad too: {took:?}");
    assert!(!first.resumed);
    let (again, ..) = w.try_one(BookingBy::Confirmation, "1001", "muller").await;
    let again = again.unwrap();
    assert!(again.resumed);
    let state = w.state.clone();
    let claims = move |s: &str| state.sessions().verify(s, Timestamp::now()).unwrap();
    let thread = claims(first.session.as_deref().unwrap()).t;
    assert_eq!(claims(again.session.as_deref().unwrap()).t, thread, "the same thread");
    assert_eq!(first.first_name.as_deref(), Some("Anna"));
    assert_eq!(claims(first.session.as_deref().unwrap()).n, "Anna", "Mews's last name stays out of the browser");
    let subject = w
        .mews
        .client()
        .get_threads_created(mews_wire::TimeInterval {
            start_utc: Timestamp::now() - jiff::SignedDuration::from_secs(3600),
            end_utc: Timestamp::now() + jiff::SignedDuration::from_secs(60),
        })
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == thread)
        .unwrap()
        .subject;
    assert!(
        subject.starts_with("[Booking 1001 / ch 4123456789] Anna Müller · ") && subject.contains("before arrival"),
        "{subject}"
    );

    // Once staff resolved it, proving the booking again opens a new conversation, linked instead.
    w.mews.resolve(&thread).await;
    // Nobody watches the thread: the proxy reads its state again once its log is this old.
    tokio::time::sleep(crate::relay::hub::UNWATCHED_FRESH_FOR).await;
    let (after, ..) = w.try_one(BookingBy::Confirmation, "1001", "Müller").await;
    let after = after.unwrap();
    assert!(!after.resumed);
    let new_thread = claims(after.session.as_deref().unwrap()).t;
    assert_ne!(new_thread, thread);
    let (again, ..) = w.try_one(BookingBy::Confirmation, "1001", "Müller").await;
    assert_eq!(claims(again.unwrap().session.as_deref().unwrap()).t, new_thread);

    // A guest in an ordinary conversation proves a stay later: staff get a note, the guest a
    // system line.
    let plain = w.mews.client().add_thread("Tomas", "Parking").await.unwrap();
    let c = Claims {
        p: "hotel".into(),
        t: plain.id.clone(),
        n: "Tomas".into(),
        s: "Parking".into(),
        iat: Timestamp::now().as_second(),
    };
    let a = in_conversation(&w.state, &w.property(), &c, &ask(BookingBy::Room, "101", "dvorak"), IP).await.unwrap();
    assert_eq!(a.stage, "in_house");
    let texts = w.mews.texts(&plain.id).await;
    assert!(
        texts.len() == 1 && texts[0].starts_with("[Lobby] Booking verified: [Booking 1002] Tomáš Dvořák"),
        "{texts:?}"
    );
    let m =
        w.mews.client().get_messages(std::slice::from_ref(&plain.id), None, 10, None).await.unwrap().messages.remove(0);
    let shown = crate::relay::hub::to_chat(&m, None);
    assert_eq!((shown.author, shown.text.as_str()), (Author::System, ""));
    // Proved again in the same conversation: no second note.
    in_conversation(&w.state, &w.property(), &c, &ask(BookingBy::Confirmation, "1002", "dvorak"), IP).await.unwrap();
    assert_eq!(w.mews.texts(&plain.id).await.len(), 1);
}
