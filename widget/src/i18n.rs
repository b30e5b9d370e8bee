//! Every string the widget shows, in every supported language (en, de, fr, es, it, cs, nl, ar).
//!
//! One table per language, indexed by [`Key`]; `{n}` and `{hotel}` are placeholders filled by
//! [`Lang::fill`]. Hotel content (name, greeting, away message) comes from the property's config
//! and is shown as given. Dates and times are formatted by the browser's `Intl` in [`Lang::time`].

/// A supported UI language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    Fr,
    Es,
    It,
    Cs,
    Nl,
    Ar,
}

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
}

/// Number of keys; every language table has exactly this many entries.
pub const KEYS: usize = Key::TryAgain as usize + 1;

/// Every key, in declaration order (`ALL_KEYS[k as usize] == k`); its length is checked against
/// [`KEYS`] by the compiler, so a new key cannot be left out of the tests that walk it.
pub const ALL_KEYS: [Key; KEYS] = {
    use Key::*;
    [
        PanelLabel,
        Close,
        Mute,
        Unmute,
        RepliesWithin,
        Away,
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
        NewFrom,
        TooLong,
        Loading,
        Messages,
        Unread,
        Launcher,
        Unavailable,
        TryAgain,
    ]
};

/// All languages, for tests and for matching tags.
pub const ALL: [Lang; 8] = [Lang::En, Lang::De, Lang::Fr, Lang::Es, Lang::It, Lang::Cs, Lang::Nl, Lang::Ar];

impl Lang {
    /// BCP 47 code.
    pub fn code(self) -> &'static str {
        ["en", "de", "fr", "es", "it", "cs", "nl", "ar"][self as usize]
    }

    /// Matches a tag such as `de-AT` or `AR`; `None` when unsupported.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        ALL.into_iter().find(|l| l.code() == primary)
    }

    /// Whether the script runs right to left.
    pub fn rtl(self) -> bool {
        self == Lang::Ar
    }

    /// `"rtl"` or `"ltr"` for the `dir` attribute.
    pub fn dir(self) -> &'static str {
        if self.rtl() { "rtl" } else { "ltr" }
    }

    /// The string for `key`.
    pub fn t(self, key: Key) -> &'static str {
        TABLES[self as usize][key as usize]
    }

    /// The string for `key` with `{n}` and `{hotel}` replaced.
    pub fn fill(self, key: Key, n: u32, hotel: &str) -> String {
        self.t(key).replace("{n}", &n.to_string()).replace("{hotel}", hotel)
    }

    /// A message time (`at` is RFC 3339) as the guest reads it: the time of day today, the date
    /// and time otherwise. Empty when `at` is empty.
    pub fn time(self, at: &str) -> String {
        if at.is_empty() {
            return String::new();
        }
        let date = js_sys::Date::new(&at.into());
        let today = js_sys::Date::new_0().to_date_string() == date.to_date_string();
        let opts = js_sys::Object::new();
        let set = |k: &str, v: &str| {
            let _ = js_sys::Reflect::set(&opts, &k.into(), &v.into());
        };
        set("hour", "numeric");
        set("minute", "2-digit");
        if !today {
            set("day", "numeric");
            set("month", "short");
        }
        String::from(date.to_locale_string(self.code(), &opts))
    }
}

type Table = [&'static str; KEYS];

const EN: Table = [
    "Chat with {hotel}",
    "Close chat",
    "Mute notification sound",
    "Turn notification sound on",
    "Usually replies within {n} min",
    "We're away right now",
    "Leave a message and we'll reply as soon as we're back (usually within {n} min).",
    "Your name",
    "Topic",
    "Email or reservation number (optional)",
    "Your message",
    "Start chat",
    "Starting…",
    "Please enter your name.",
    "Please enter a topic.",
    "We couldn't reach the hotel. Please try again.",
    "Message",
    "Send",
    "Sending…",
    "Waiting for connection…",
    "Sent",
    "Not sent.",
    "Retry",
    "You",
    "You're offline. Messages will be sent when you're back online.",
    "Reconnecting…",
    "This conversation has been resolved.",
    "Start a new conversation",
    "Show earlier messages",
    "New message from {hotel}",
    "Message is too long.",
    "Loading…",
    "Messages",
    "Chat with us, {n} unread",
    "Chat with us",
    "The chat is unavailable right now.",
    "Try again",
];

const DE: Table = [
    "Chat mit {hotel}",
    "Chat schließen",
    "Benachrichtigungston aus",
    "Benachrichtigungston ein",
    "Antwortet meist innerhalb von {n} Min.",
    "Wir sind gerade nicht da",
    "Hinterlassen Sie eine Nachricht – wir antworten, sobald wir zurück sind (meist innerhalb von {n} Min.).",
    "Ihr Name",
    "Thema",
    "E-Mail oder Reservierungsnummer (optional)",
    "Ihre Nachricht",
    "Chat starten",
    "Wird gestartet…",
    "Bitte geben Sie Ihren Namen ein.",
    "Bitte geben Sie ein Thema ein.",
    "Das Hotel ist gerade nicht erreichbar. Bitte versuchen Sie es erneut.",
    "Nachricht",
    "Senden",
    "Wird gesendet…",
    "Warte auf Verbindung…",
    "Gesendet",
    "Nicht gesendet.",
    "Erneut senden",
    "Sie",
    "Sie sind offline. Nachrichten werden gesendet, sobald Sie wieder online sind.",
    "Verbindung wird wiederhergestellt…",
    "Dieses Gespräch wurde abgeschlossen.",
    "Neues Gespräch beginnen",
    "Frühere Nachrichten anzeigen",
    "Neue Nachricht von {hotel}",
    "Die Nachricht ist zu lang.",
    "Wird geladen…",
    "Nachrichten",
    "Chatten Sie mit uns, {n} ungelesen",
    "Chatten Sie mit uns",
    "Der Chat ist gerade nicht verfügbar.",
    "Erneut versuchen",
];

const FR: Table = [
    "Discuter avec {hotel}",
    "Fermer la discussion",
    "Couper le son des notifications",
    "Activer le son des notifications",
    "Répond généralement en {n} min",
    "Nous sommes absents pour le moment",
    "Laissez un message, nous répondrons dès notre retour (généralement en {n} min).",
    "Votre nom",
    "Sujet",
    "E-mail ou numéro de réservation (facultatif)",
    "Votre message",
    "Démarrer la discussion",
    "Démarrage…",
    "Veuillez saisir votre nom.",
    "Veuillez indiquer un sujet.",
    "Impossible de joindre l'hôtel. Veuillez réessayer.",
    "Message",
    "Envoyer",
    "Envoi…",
    "En attente de connexion…",
    "Envoyé",
    "Non envoyé.",
    "Réessayer",
    "Vous",
    "Vous êtes hors ligne. Les messages seront envoyés dès votre retour en ligne.",
    "Reconnexion…",
    "Cette conversation a été résolue.",
    "Démarrer une nouvelle conversation",
    "Afficher les messages précédents",
    "Nouveau message de {hotel}",
    "Le message est trop long.",
    "Chargement…",
    "Messages",
    "Discutez avec nous, {n} non lus",
    "Discutez avec nous",
    "La discussion est indisponible pour le moment.",
    "Réessayer",
];

const ES: Table = [
    "Chatear con {hotel}",
    "Cerrar el chat",
    "Silenciar el sonido de avisos",
    "Activar el sonido de avisos",
    "Suele responder en {n} min",
    "Ahora mismo no estamos disponibles",
    "Deje un mensaje y le responderemos en cuanto volvamos (normalmente en {n} min).",
    "Su nombre",
    "Asunto",
    "Correo electrónico o número de reserva (opcional)",
    "Su mensaje",
    "Iniciar chat",
    "Iniciando…",
    "Introduzca su nombre.",
    "Introduzca un asunto.",
    "No hemos podido contactar con el hotel. Inténtelo de nuevo.",
    "Mensaje",
    "Enviar",
    "Enviando…",
    "Esperando conexión…",
    "Enviado",
    "No enviado.",
    "Reintentar",
    "Usted",
    "Está sin conexión. Los mensajes se enviarán cuando vuelva a estar en línea.",
    "Reconectando…",
    "Esta conversación se ha resuelto.",
    "Iniciar una nueva conversación",
    "Mostrar mensajes anteriores",
    "Nuevo mensaje de {hotel}",
    "El mensaje es demasiado largo.",
    "Cargando…",
    "Mensajes",
    "Chatee con nosotros, {n} sin leer",
    "Chatee con nosotros",
    "El chat no está disponible ahora mismo.",
    "Reintentar",
];

const IT: Table = [
    "Chatta con {hotel}",
    "Chiudi la chat",
    "Disattiva il suono delle notifiche",
    "Attiva il suono delle notifiche",
    "Di solito risponde entro {n} min",
    "Al momento non siamo disponibili",
    "Lascia un messaggio e ti risponderemo appena torniamo (di solito entro {n} min).",
    "Il tuo nome",
    "Argomento",
    "E-mail o numero di prenotazione (facoltativo)",
    "Il tuo messaggio",
    "Avvia la chat",
    "Avvio…",
    "Inserisci il tuo nome.",
    "Inserisci un argomento.",
    "Impossibile contattare l'hotel. Riprova.",
    "Messaggio",
    "Invia",
    "Invio…",
    "In attesa di connessione…",
    "Inviato",
    "Non inviato.",
    "Riprova",
    "Tu",
    "Sei offline. I messaggi verranno inviati quando tornerai online.",
    "Riconnessione…",
    "Questa conversazione è stata risolta.",
    "Inizia una nuova conversazione",
    "Mostra i messaggi precedenti",
    "Nuovo messaggio da {hotel}",
    "Il messaggio è troppo lungo.",
    "Caricamento…",
    "Messaggi",
    "Chatta con noi, {n} non letti",
    "Chatta con noi",
    "La chat non è disponibile al momento.",
    "Riprova",
];

const CS: Table = [
    "Chat s {hotel}",
    "Zavřít chat",
    "Vypnout zvuk oznámení",
    "Zapnout zvuk oznámení",
    "Obvykle odpovídá do {n} min",
    "Momentálně nejsme k dispozici",
    "Zanechte zprávu a odpovíme, jakmile se vrátíme (obvykle do {n} min).",
    "Vaše jméno",
    "Téma",
    "E-mail nebo číslo rezervace (nepovinné)",
    "Vaše zpráva",
    "Zahájit chat",
    "Zahajuje se…",
    "Zadejte prosím své jméno.",
    "Zadejte prosím téma.",
    "Hotel se nepodařilo zastihnout. Zkuste to prosím znovu.",
    "Zpráva",
    "Odeslat",
    "Odesílá se…",
    "Čeká se na připojení…",
    "Odesláno",
    "Neodesláno.",
    "Zkusit znovu",
    "Vy",
    "Jste offline. Zprávy se odešlou, až budete znovu online.",
    "Obnovuje se připojení…",
    "Tato konverzace byla vyřešena.",
    "Zahájit novou konverzaci",
    "Zobrazit starší zprávy",
    "Nová zpráva od {hotel}",
    "Zpráva je příliš dlouhá.",
    "Načítání…",
    "Zprávy",
    "Napište nám, nepřečtené: {n}",
    "Napište nám",
    "Chat je momentálně nedostupný.",
    "Zkusit znovu",
];

const NL: Table = [
    "Chat met {hotel}",
    "Chat sluiten",
    "Meldingsgeluid uit",
    "Meldingsgeluid aan",
    "Reageert meestal binnen {n} min",
    "We zijn er op dit moment niet",
    "Laat een bericht achter, dan reageren we zodra we terug zijn (meestal binnen {n} min).",
    "Uw naam",
    "Onderwerp",
    "E-mail of reserveringsnummer (optioneel)",
    "Uw bericht",
    "Chat starten",
    "Bezig met starten…",
    "Vul uw naam in.",
    "Vul een onderwerp in.",
    "We konden het hotel niet bereiken. Probeer het opnieuw.",
    "Bericht",
    "Versturen",
    "Wordt verstuurd…",
    "Wachten op verbinding…",
    "Verstuurd",
    "Niet verstuurd.",
    "Opnieuw proberen",
    "U",
    "U bent offline. Berichten worden verstuurd zodra u weer online bent.",
    "Opnieuw verbinden…",
    "Dit gesprek is afgerond.",
    "Nieuw gesprek starten",
    "Eerdere berichten tonen",
    "Nieuw bericht van {hotel}",
    "Het bericht is te lang.",
    "Laden…",
    "Berichten",
    "Chat met ons, {n} ongelezen",
    "Chat met ons",
    "De chat is op dit moment niet beschikbaar.",
    "Opnieuw proberen",
];

const AR: Table = [
    "الدردشة مع {hotel}",
    "إغلاق الدردشة",
    "كتم صوت الإشعارات",
    "تشغيل صوت الإشعارات",
    "يرد عادةً خلال {n} دقيقة",
    "نحن غير متاحين حاليًا",
    "اترك رسالة وسنرد عليك فور عودتنا (عادةً خلال {n} دقيقة).",
    "اسمك",
    "الموضوع",
    "البريد الإلكتروني أو رقم الحجز (اختياري)",
    "رسالتك",
    "ابدأ الدردشة",
    "جارٍ البدء…",
    "يرجى إدخال اسمك.",
    "يرجى إدخال الموضوع.",
    "تعذّر الوصول إلى الفندق. يرجى المحاولة مرة أخرى.",
    "الرسالة",
    "إرسال",
    "جارٍ الإرسال…",
    "بانتظار الاتصال…",
    "تم الإرسال",
    "لم تُرسل.",
    "إعادة المحاولة",
    "أنت",
    "أنت غير متصل. سيتم إرسال الرسائل عند عودة الاتصال.",
    "جارٍ إعادة الاتصال…",
    "تم حل هذه المحادثة.",
    "ابدأ محادثة جديدة",
    "عرض الرسائل السابقة",
    "رسالة جديدة من {hotel}",
    "الرسالة طويلة جدًا.",
    "جارٍ التحميل…",
    "الرسائل",
    "تحدث معنا، {n} غير مقروءة",
    "تحدث معنا",
    "الدردشة غير متاحة حاليًا.",
    "حاول مرة أخرى",
];

const TABLES: [&Table; 8] = [&EN, &DE, &FR, &ES, &IT, &CS, &NL, &AR];
