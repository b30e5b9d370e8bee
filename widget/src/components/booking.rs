//! "Find my booking" (issue 13): the optional step in which the guest proves a stay, by
//! confirmation number (the hotel's or the booking site's) or by room number while in-house, with
//! their last name. On the start form it opens (or, for a booking proved before, resumes) the
//! conversation linked to the stay; from the conversation header it links the open conversation.
//! On success the guest sees their first name, the stay's dates and stage, and the widget takes
//! the language of the guest's profile unless the page or the guest chose one.
//!
//! The step is a labelled group, not a nested form: Enter in its fields runs it without submitting
//! the start form around it. Its state lives here ([`Booking`]) and its strings are in one
//! separate block ([`bt`], keys `booking_*`), for all eight locales, so the step is self-contained.

use std::cell::Cell;

use js_sys::{Object, Reflect};
use leptos::prelude::*;
use lobby_protocol::BookingBy;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use web_sys::KeyboardEvent;

use crate::api::{self, Api, ApiError};
use crate::i18n::Lang;
use crate::state::{Chat, Phase, start_key};
use crate::store::{self, keys};
use crate::{live, outbox::Msg};

thread_local! {
    /// The page (`data-locale`) or the host (`Lobby.setLocale`) chose the language: a profile
    /// language never overrides it. The browser's language alone does not count as a choice.
    static EXPLICIT_LOCALE: Cell<bool> = const { Cell::new(false) };
    static STATE: Booking = Booking::new();
}

/// Called where the page or the host sets the language.
pub fn locale_chosen() {
    EXPLICIT_LOCALE.with(|c| c.set(true));
}

/// A verified stay as the widget shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stay {
    pub first_name: Option<String>,
    pub arrival: String,
    pub departure: String,
    pub stage: String,
}

/// The step's state, shared by the start form, the header button and the conversation.
#[derive(Clone, Copy)]
pub struct Booking {
    /// The step is shown.
    pub open: RwSignal<bool>,
    pub by: RwSignal<BookingBy>,
    pub number: RwSignal<String>,
    pub last_name: RwSignal<String>,
    pub busy: RwSignal<bool>,
    pub error: RwSignal<Option<BKey>>,
    pub stay: RwSignal<Option<Stay>>,
    /// Answers received (`data-answers`: tests wait for the next one).
    pub answers: RwSignal<u32>,
    /// The attempt key of this widget (attempts are limited per key).
    key: StoredValue<String>,
}

impl Booking {
    fn new() -> Self {
        Self {
            open: RwSignal::new(false),
            by: RwSignal::new(BookingBy::Confirmation),
            number: RwSignal::new(String::new()),
            last_name: RwSignal::new(String::new()),
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
            stay: RwSignal::new(restore()),
            answers: RwSignal::new(0),
            key: StoredValue::new(start_key()),
        }
    }
}

/// Where the verified stay is kept (localStorage, after consent), with the session it belongs to,
/// so the card is back after a reload and gone with the conversation.
const STORED: &str = "booking";

fn save(session: &str, s: &Stay) {
    let first = s.first_name.as_deref().unwrap_or("");
    let v = [session, first, &s.arrival, &s.departure, &s.stage].join("\n");
    store::set(STORED, Some(&v), false);
}

fn restore() -> Option<Stay> {
    let session = store::get(keys::SESSION, false)?;
    let v = store::get(STORED, false)?;
    let mut it = v.split('\n');
    if it.next()? != session {
        return None;
    }
    let first = it.next()?.to_owned();
    Some(Stay {
        first_name: (!first.is_empty()).then_some(first),
        arrival: it.next()?.to_owned(),
        departure: it.next()?.to_owned(),
        stage: it.next()?.to_owned(),
    })
}

/// The step's state.
pub fn booking() -> Booking {
    STATE.with(|s| *s)
}

/// `POST /v1/properties/{p}/booking` (no session) or `POST /v1/conversation/booking`.
async fn find(
    api: &Api,
    session: Option<&str>,
    key: &str,
    by: BookingBy,
    number: &str,
    last: &str,
) -> Result<JsValue, ApiError> {
    let body = Object::new();
    let set = |k: &str, v: &str| {
        let _ = Reflect::set(&body, &k.into(), &v.into());
    };
    set("key", key);
    set("by", if by == BookingBy::Room { "room" } else { "confirmation" });
    set("number", number);
    set("last_name", last);
    let path = match session {
        Some(_) => String::from("/v1/conversation/booking"),
        None => {
            String::from("/v1/properties/") + &String::from(js_sys::encode_uri_component(&api.property)) + "/booking"
        }
    };
    api.post_json(&path, session, body).await
}

/// Takes the conversation the proxy opened or resumed for the stay.
fn adopt(chat: Chat, session: String) {
    store::consent();
    store::set(keys::SESSION, Some(&session), false);
    chat.last_event.set_value(None);
    chat.synced.set_value(false);
    chat.resolved.set(false);
    chat.more.set(false);
    chat.messages.set(Vec::<Msg>::new());
    chat.session.set(Some(session));
    chat.phase.set(Phase::Chat);
    live::connect(chat);
    chat.sync();
}

/// Runs the lookup with what the guest typed.
fn submit(chat: Chat) {
    let b = booking();
    if b.busy.get_untracked() {
        return;
    }
    let (number, last) = (b.number.get_untracked().trim().to_owned(), b.last_name.get_untracked().trim().to_owned());
    if number.is_empty() || last.is_empty() {
        b.error.set(Some(BKey::Need));
        return;
    }
    b.busy.set(true);
    b.error.set(None);
    let session = chat.session.get_untracked();
    let by = b.by.get_untracked();
    spawn_local(async move {
        let api = chat.api.get_value();
        let answer = find(&api, session.as_deref(), &b.key.get_value(), by, &number, &last).await;
        b.busy.set(false);
        b.answers.update(|n| *n += 1);
        match answer {
            Ok(v) => {
                let stay = Stay {
                    first_name: api::opt(&v, "firstName").filter(|n| !n.is_empty()),
                    arrival: api::s(&v, "arrival"),
                    departure: api::s(&v, "departure"),
                    stage: api::s(&v, "stage"),
                };
                if !EXPLICIT_LOCALE.with(Cell::get)
                    && let Some(l) = api::opt(&v, "locale").as_deref().and_then(Lang::from_tag)
                {
                    chat.lang.set(l);
                }
                let welcome = welcome_text(chat.lang.get_untracked(), &stay);
                b.stay.set(Some(stay.clone()));
                b.open.set(false);
                b.number.set(String::new());
                b.last_name.set(String::new());
                chat.announce.set(welcome);
                if session.is_none()
                    && let Some(s) = api::opt(&v, "session").filter(|s| !s.is_empty())
                {
                    adopt(chat, s);
                }
                if let Some(s) = chat.session.get_untracked() {
                    save(&s, &stay);
                }
            }
            Err(e) => b.error.set(Some(match e.status {
                404 => BKey::NotFound,
                429 => BKey::TooMany,
                _ => BKey::Busy,
            })),
        }
    });
}

/// A `YYYY-MM-DD` date as the guest reads it (`12 Dec`), in the local calendar.
fn day(lang: Lang, date: &str) -> String {
    let mut parts = date.split('-').filter_map(|p| p.parse::<f64>().ok());
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return date.to_owned();
    };
    let at = js_sys::Date::new_with_year_month_day(y as u32, (m - 1.0) as i32, d as i32);
    let opts = Object::new();
    let _ = Reflect::set(&opts, &"day".into(), &"numeric".into());
    let _ = Reflect::set(&opts, &"month".into(), &"short".into());
    String::from(at.to_locale_date_string(lang.code(), &opts))
}

fn welcome_text(lang: Lang, s: &Stay) -> String {
    match &s.first_name {
        Some(n) => bt(lang, BKey::Welcome).replace("{name}", n),
        None => bt(lang, BKey::WelcomeAnon).to_owned(),
    }
}

fn stage_text(lang: Lang, s: &Stay) -> String {
    match s.stage.as_str() {
        "in_house" => bt(lang, BKey::InHouse).to_owned(),
        "checked_out" => bt(lang, BKey::CheckedOut).to_owned(),
        _ => bt(lang, BKey::Arriving).replace("{date}", &day(lang, &s.arrival)),
    }
}

/// The verified stay (`booking-stay`): first name, stage, dates.
#[component]
pub fn StayCard(chat: Chat) -> impl IntoView {
    let b = booking();
    move || {
        b.stay.get().map(|s| {
            let lang = chat.lang.get();
            view! {
                <div class="lobby-stay" data-testid="booking-stay" data-stage=s.stage.clone()>
                    <p class="lobby-strong">{welcome_text(lang, &s)}</p>
                    <p>
                        <span data-testid="booking-stage">{stage_text(lang, &s)}</span>
                        " · "
                        <span class="lobby-muted">{day(lang, &s.arrival)} " – " {day(lang, &s.departure)}</span>
                    </p>
                </div>
            }
        })
    }
}

/// The step: a toggle ("I have a booking"), then the two ways, the fields and the answer.
/// `compact`: in a conversation, where the header button opens it.
#[component]
pub fn BookingStep(chat: Chat, #[prop(optional)] compact: bool) -> impl IntoView {
    let b = booking();
    // A new conversation (after staff resolved the last one) is not linked to the stay.
    Effect::new(move |_| {
        if chat.session.with(Option::is_none) && chat.phase.get() == Phase::Start {
            b.stay.set(None);
        }
    });
    let on_key = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" {
            ev.prevent_default();
            submit(chat);
        }
    };
    let t = move |k: BKey| bt(chat.lang.get(), k);
    let by_room = move || b.by.get() == BookingBy::Room;
    let radio = move |by: BookingBy, id: &'static str, k: BKey| {
        view! {
            <label class="lobby-choice">
                <input
                    type="radio"
                    name="lobby-booking-by"
                    data-testid=id
                    prop:checked=move || b.by.get() == by
                    on:change=move |_| b.by.set(by)
                />
                <span>{move || t(k)}</span>
            </label>
        }
    };
    let form = move || {
        b.open.get().then(|| {
            view! {
                <div class="lobby-booking" role="group" aria-labelledby="lobby-booking-title" data-testid="booking-step" data-answers=move || b.answers.get().to_string()>
                    <p class="lobby-strong" id="lobby-booking-title">{move || t(BKey::Title)}</p>
                    <p class="lobby-muted">{move || t(BKey::Intro)}</p>
                    <fieldset class="lobby-choices">
                        <legend class="lobby-visually-hidden">{move || t(BKey::Title)}</legend>
                        {radio(BookingBy::Confirmation, "booking-by-number", BKey::ByNumber)}
                        {radio(BookingBy::Room, "booking-by-room", BKey::ByRoom)}
                    </fieldset>
                    <label class="lobby-field">
                        <span>{move || t(if by_room() { BKey::RoomLabel } else { BKey::ByNumber })}</span>
                        <input
                            data-testid="booking-number"
                            autocomplete="off"
                            maxlength="100"
                            aria-describedby="lobby-booking-hint"
                            aria-invalid=move || (b.error.get() == Some(BKey::Need) && b.number.with(|n| n.trim().is_empty())).to_string()
                            prop:value=move || b.number.get()
                            on:input=move |ev| b.number.set(event_target_value(&ev))
                            on:keydown=on_key
                        />
                    </label>
                    <p class="lobby-muted lobby-hint" id="lobby-booking-hint">
                        {move || t(if by_room() { BKey::RoomHint } else { BKey::NumberHint })}
                    </p>
                    <label class="lobby-field">
                        <span>{move || t(BKey::LastName)}</span>
                        <input
                            data-testid="booking-last-name"
                            autocomplete="family-name"
                            maxlength="100"
                            aria-invalid=move || (b.error.get() == Some(BKey::Need) && b.last_name.with(|n| n.trim().is_empty())).to_string()
                            prop:value=move || b.last_name.get()
                            on:input=move |ev| b.last_name.set(event_target_value(&ev))
                            on:keydown=on_key
                        />
                    </label>
                    {move || b.error.get().map(|k| view! {
                        <p class="lobby-error" role="alert" data-testid="booking-error" data-error=k.code()>{t(k)}</p>
                    })}
                    <div class="lobby-row">
                        <button
                            type="button"
                            class="lobby-button"
                            data-testid="booking-find"
                            aria-disabled=move || b.busy.get().to_string()
                            on:click=move |_| submit(chat)
                        >
                            {move || t(if b.busy.get() { BKey::Finding } else { BKey::Find })}
                        </button>
                        <button
                            type="button"
                            class="lobby-link"
                            data-testid="booking-cancel"
                            on:click=move |_| {
                                b.open.set(false);
                                b.error.set(None);
                            }
                        >
                            {move || t(BKey::Cancel)}
                        </button>
                    </div>
                </div>
            }
            .into_any()
        })
    };
    let toggle = move || {
        (!compact && !b.open.get() && b.stay.with(Option::is_none)).then(|| {
            view! {
                <button
                    type="button"
                    class="lobby-link lobby-booking-toggle"
                    data-testid="booking-open"
                    aria-expanded="false"
                    on:click=move |_| b.open.set(true)
                >
                    {move || t(BKey::Have)}
                </button>
            }
            .into_any()
        })
    };
    view! {
        <StayCard chat=chat/>
        {toggle}
        {form}
    }
}

/// The header's "Verify booking" button, in a conversation with no verified stay yet.
#[component]
pub fn BookingHeaderButton(chat: Chat) -> impl IntoView {
    let b = booking();
    move || {
        (chat.phase.get() == Phase::Chat && b.stay.with(Option::is_none) && !chat.resolved.get()).then(|| {
            view! {
                <button
                    type="button"
                    class="lobby-link lobby-header-link"
                    data-testid="booking-header"
                    aria-expanded=move || b.open.get().to_string()
                    on:click=move |_| b.open.update(|o| *o = !*o)
                >
                    {move || bt(chat.lang.get(), BKey::Verify)}
                </button>
            }
        })
    }
}

/// A line from Lobby in the conversation (a "booking verified" note staff got).
#[component]
pub fn SystemLine(chat: Chat, id: String) -> impl IntoView {
    view! {
        <li class="lobby-system" data-testid="lobby-message" data-author="system" data-id=id role="note">
            {move || bt(chat.lang.get(), BKey::Verified)}
        </li>
    }
}

// ---------------------------------------------------------------------------------------------
// booking_* strings, every locale of the widget. One separate block, to move into the per-locale
// files as they come (issue 14).
// ---------------------------------------------------------------------------------------------

/// The step's strings (`booking_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum BKey {
    /// booking_have
    Have,
    /// booking_title
    Title,
    /// booking_intro
    Intro,
    /// booking_by_number
    ByNumber,
    /// booking_by_room
    ByRoom,
    /// booking_room_label
    RoomLabel,
    /// booking_number_hint
    NumberHint,
    /// booking_room_hint
    RoomHint,
    /// booking_last_name
    LastName,
    /// booking_find
    Find,
    /// booking_finding
    Finding,
    /// booking_cancel
    Cancel,
    /// booking_need
    Need,
    /// booking_not_found
    NotFound,
    /// booking_too_many
    TooMany,
    /// booking_busy
    Busy,
    /// booking_welcome; `{name}`
    Welcome,
    /// booking_welcome_anon
    WelcomeAnon,
    /// booking_arriving; `{date}`
    Arriving,
    /// booking_in_house
    InHouse,
    /// booking_checked_out
    CheckedOut,
    /// booking_verified
    Verified,
    /// booking_verify
    Verify,
}

/// Number of `booking_*` strings.
pub const BKEYS: usize = BKey::Verify as usize + 1;

impl BKey {
    /// For tests (`data-error`).
    pub fn code(self) -> &'static str {
        match self {
            BKey::NotFound => "not_found",
            BKey::TooMany => "rate_limited",
            BKey::Need => "missing",
            _ => "busy",
        }
    }
}

/// The `booking_*` string for `key` in `lang`.
pub fn bt(lang: Lang, key: BKey) -> &'static str {
    BOOKING_STRINGS[lang as usize][key as usize]
}

/// Rows in the order of `i18n::ALL` (en, de, fr, es, it, cs, nl, ar); columns in the order of
/// [`BKey`].
pub const BOOKING_STRINGS: [[&str; BKEYS]; 8] = [
    // en
    [
        "I have a booking",
        "Find my booking",
        "Link this chat to your stay, so the hotel sees your booking.",
        "Confirmation number",
        "Room number (during your stay)",
        "Room number",
        "From the hotel or from the booking site, e.g. Booking.com.",
        "The number on your room door or key card.",
        "Last name",
        "Find my booking",
        "Checking…",
        "Cancel",
        "Enter the number and your last name.",
        "We could not find a booking with these details. Check the number and the last name.",
        "Too many attempts. Please try again later.",
        "The hotel's system is busy. Please try again in a moment.",
        "Welcome, {name}!",
        "Welcome!",
        "Arriving {date}",
        "In-house",
        "Checked out",
        "Booking verified",
        "Verify booking",
    ],
    // de
    [
        "Ich habe eine Buchung",
        "Meine Buchung finden",
        "Verknüpfen Sie diesen Chat mit Ihrem Aufenthalt, damit das Hotel Ihre Buchung sieht.",
        "Buchungsnummer",
        "Zimmernummer (während Ihres Aufenthalts)",
        "Zimmernummer",
        "Vom Hotel oder von der Buchungsseite, z. B. Booking.com.",
        "Die Nummer an Ihrer Zimmertür oder auf der Schlüsselkarte.",
        "Nachname",
        "Meine Buchung finden",
        "Wird geprüft …",
        "Abbrechen",
        "Geben Sie die Nummer und Ihren Nachnamen ein.",
        "Wir haben keine Buchung mit diesen Angaben gefunden. Prüfen Sie die Nummer und den Nachnamen.",
        "Zu viele Versuche. Bitte versuchen Sie es später erneut.",
        "Das System des Hotels ist ausgelastet. Bitte versuchen Sie es gleich noch einmal.",
        "Willkommen, {name}!",
        "Willkommen!",
        "Anreise am {date}",
        "Im Haus",
        "Abgereist",
        "Buchung bestätigt",
        "Buchung bestätigen",
    ],
    // fr
    [
        "J’ai une réservation",
        "Retrouver ma réservation",
        "Reliez cette conversation à votre séjour : l’hôtel verra votre réservation.",
        "Numéro de confirmation",
        "Numéro de chambre (pendant votre séjour)",
        "Numéro de chambre",
        "Donné par l’hôtel ou par le site de réservation, p. ex. Booking.com.",
        "Le numéro sur la porte de votre chambre ou sur la carte-clé.",
        "Nom de famille",
        "Retrouver ma réservation",
        "Vérification…",
        "Annuler",
        "Saisissez le numéro et votre nom de famille.",
        "Aucune réservation ne correspond à ces informations. Vérifiez le numéro et le nom de famille.",
        "Trop de tentatives. Veuillez réessayer plus tard.",
        "Le système de l’hôtel est occupé. Veuillez réessayer dans un instant.",
        "Bienvenue, {name} !",
        "Bienvenue !",
        "Arrivée le {date}",
        "Séjour en cours",
        "Séjour terminé",
        "Réservation vérifiée",
        "Vérifier ma réservation",
    ],
    // es
    [
        "Tengo una reserva",
        "Buscar mi reserva",
        "Vincule este chat a su estancia para que el hotel vea su reserva.",
        "Número de confirmación",
        "Número de habitación (durante su estancia)",
        "Número de habitación",
        "Del hotel o de la web de reservas, p. ej. Booking.com.",
        "El número de la puerta de su habitación o de la tarjeta llave.",
        "Apellido",
        "Buscar mi reserva",
        "Comprobando…",
        "Cancelar",
        "Introduzca el número y su apellido.",
        "No encontramos ninguna reserva con estos datos. Compruebe el número y el apellido.",
        "Demasiados intentos. Vuelva a intentarlo más tarde.",
        "El sistema del hotel está ocupado. Vuelva a intentarlo en un momento.",
        "¡Bienvenido/a, {name}!",
        "¡Bienvenido/a!",
        "Llegada el {date}",
        "Alojado/a ahora",
        "Salida realizada",
        "Reserva verificada",
        "Verificar reserva",
    ],
    // it
    [
        "Ho una prenotazione",
        "Trova la mia prenotazione",
        "Collega questa chat al tuo soggiorno, così l’hotel vede la tua prenotazione.",
        "Numero di conferma",
        "Numero di camera (durante il soggiorno)",
        "Numero di camera",
        "Dall’hotel o dal sito di prenotazione, ad es. Booking.com.",
        "Il numero sulla porta della camera o sulla chiave elettronica.",
        "Cognome",
        "Trova la mia prenotazione",
        "Verifica in corso…",
        "Annulla",
        "Inserisci il numero e il tuo cognome.",
        "Non abbiamo trovato prenotazioni con questi dati. Controlla il numero e il cognome.",
        "Troppi tentativi. Riprova più tardi.",
        "Il sistema dell’hotel è occupato. Riprova tra un momento.",
        "Benvenuto/a, {name}!",
        "Benvenuto/a!",
        "Arrivo il {date}",
        "In hotel",
        "Partito/a",
        "Prenotazione verificata",
        "Verifica prenotazione",
    ],
    // cs
    [
        "Mám rezervaci",
        "Najít moji rezervaci",
        "Propojte tento chat se svým pobytem, aby hotel viděl vaši rezervaci.",
        "Číslo rezervace",
        "Číslo pokoje (během pobytu)",
        "Číslo pokoje",
        "Od hotelu nebo z rezervačního webu, např. Booking.com.",
        "Číslo na dveřích pokoje nebo na klíčové kartě.",
        "Příjmení",
        "Najít moji rezervaci",
        "Ověřuji…",
        "Zrušit",
        "Zadejte číslo a své příjmení.",
        "Rezervaci s těmito údaji jsme nenašli. Zkontrolujte číslo a příjmení.",
        "Příliš mnoho pokusů. Zkuste to prosím později.",
        "Systém hotelu je vytížený. Zkuste to prosím za chvíli.",
        "Vítejte, {name}!",
        "Vítejte!",
        "Příjezd {date}",
        "Ubytován(a)",
        "Odhlášen(a)",
        "Rezervace ověřena",
        "Ověřit rezervaci",
    ],
    // nl
    [
        "Ik heb een boeking",
        "Mijn boeking vinden",
        "Koppel deze chat aan uw verblijf, zodat het hotel uw boeking ziet.",
        "Bevestigingsnummer",
        "Kamernummer (tijdens uw verblijf)",
        "Kamernummer",
        "Van het hotel of van de boekingssite, bijv. Booking.com.",
        "Het nummer op uw kamerdeur of sleutelkaart.",
        "Achternaam",
        "Mijn boeking vinden",
        "Controleren…",
        "Annuleren",
        "Vul het nummer en uw achternaam in.",
        "We hebben geen boeking met deze gegevens gevonden. Controleer het nummer en de achternaam.",
        "Te veel pogingen. Probeer het later opnieuw.",
        "Het systeem van het hotel is bezet. Probeer het zo meteen opnieuw.",
        "Welkom, {name}!",
        "Welkom!",
        "Aankomst {date}",
        "In het hotel",
        "Uitgecheckt",
        "Boeking geverifieerd",
        "Boeking verifiëren",
    ],
    // ar
    [
        "لدي حجز",
        "البحث عن حجزي",
        "اربط هذه المحادثة بإقامتك ليرى الفندق حجزك.",
        "رقم التأكيد",
        "رقم الغرفة (أثناء إقامتك)",
        "رقم الغرفة",
        "من الفندق أو من موقع الحجز، مثل Booking.com.",
        "الرقم الموجود على باب غرفتك أو على بطاقة المفتاح.",
        "اسم العائلة",
        "البحث عن حجزي",
        "جارٍ التحقق…",
        "إلغاء",
        "أدخل الرقم واسم عائلتك.",
        "لم نعثر على حجز بهذه البيانات. تحقق من الرقم واسم العائلة.",
        "محاولات كثيرة جدًا. يرجى المحاولة لاحقًا.",
        "نظام الفندق مشغول. يرجى المحاولة بعد قليل.",
        "أهلًا بك يا {name}!",
        "أهلًا بك!",
        "الوصول في {date}",
        "مقيم حاليًا",
        "غادر الفندق",
        "تم التحقق من الحجز",
        "التحقق من الحجز",
    ],
];
