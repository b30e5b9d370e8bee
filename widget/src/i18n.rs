//! The widget's strings: English is built in (`locales/en.json`, also the fallback for a missing
//! string), every other language is one flat JSON file (`widget/locales/<code>.json`, key →
//! string) that the proxy serves precompressed and immutable beside the widget
//! (`/widget/<H>.<code>.json`) and the widget fetches only for the language in use
//! ([`crate::state::Chat::set_lang`]). `{n}` and `{hotel}` are placeholders filled by [`Lang::fill`].
//! Hotel content (name, greeting, away message) is shown as configured. Dates and times are
//! formatted by the browser's `Intl` ([`Lang::time`]).

use std::cell::RefCell;

use js_sys::{JSON, Object, Reflect};
use wasm_bindgen::JsValue;

pub use crate::keys::{CODES, KEYS, Key, NAMES, RTL};

/// A supported language: an index into [`CODES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lang(u8);

thread_local! {
    /// The string tables loaded so far (English first, parsed on first use).
    static TABLES: RefCell<Vec<(Lang, JsValue)>> = const { RefCell::new(Vec::new()) };
}

/// Every supported language.
pub fn all() -> impl Iterator<Item = Lang> {
    (0..CODES.len() as u8).map(Lang)
}

/// Decimal digits of `n` (without `fmt`, which costs the wasm more than this).
pub fn num(mut n: u32) -> String {
    let mut d = Vec::new();
    loop {
        d.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    d.reverse();
    String::from_utf8(d).unwrap_or_default()
}

fn table(l: Lang) -> Option<JsValue> {
    TABLES.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_empty() {
            let en = JSON::parse(include_str!("../locales/en.json")).unwrap_or_else(|_| Object::new().into());
            t.push((Lang::EN, en));
        }
        t.iter().find(|(x, _)| *x == l).map(|(_, v)| v.clone())
    })
}

impl Lang {
    /// English, the built-in language.
    pub const EN: Lang = Lang(0);

    /// BCP 47 code.
    pub fn code(self) -> &'static str {
        CODES[self.0 as usize]
    }

    /// Matches a tag such as `de-AT`, `zh-Hant` or `HE`; `None` when unsupported.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        // `iw` is the old code of Hebrew, still sent by some browsers.
        let primary = if primary == "iw" { "he".into() } else { primary };
        all().find(|l| l.code() == primary)
    }

    /// Whether the script runs right to left.
    pub fn rtl(self) -> bool {
        RTL.contains(&self.code())
    }

    /// `"rtl"` or `"ltr"` for the `dir` attribute.
    pub fn dir(self) -> &'static str {
        if self.rtl() { "rtl" } else { "ltr" }
    }

    /// Whether this language's strings are here (English always is).
    pub fn loaded(self) -> bool {
        table(self).is_some()
    }

    /// Adds a language's strings (the parsed `<code>.json`).
    pub fn insert(self, strings: JsValue) {
        if !self.loaded() {
            TABLES.with(|t| t.borrow_mut().push((self, strings)));
        }
    }

    /// The string for `key`; English when this language lacks it (the locale test forbids that).
    pub fn t(self, key: Key) -> String {
        let name: JsValue = NAMES[key as usize].into();
        let get = |l: Lang| table(l).and_then(|t| Reflect::get(&t, &name).ok()).and_then(|v| v.as_string());
        get(self).or_else(|| get(Lang::EN)).unwrap_or_default()
    }

    /// The string for `key` with `{n}` and `{hotel}` replaced.
    pub fn fill(self, key: Key, n: u32, hotel: &str) -> String {
        self.t(key).replace("{n}", &num(n)).replace("{hotel}", hotel)
    }

    /// A property-local date (`YYYY-MM-DD`) as the guest reads it (`12 Dec`).
    pub fn day(self, date: &str) -> String {
        self.intl(&js_sys::Date::new(&(String::from(date) + "T00:00").into()), false, true)
    }

    /// A message time (`at` is RFC 3339) as the guest reads it: the time of day today, the date
    /// and time otherwise. Empty when `at` is empty.
    pub fn time(self, at: &str) -> String {
        if at.is_empty() {
            return String::new();
        }
        let date = js_sys::Date::new(&at.into());
        let today = js_sys::Date::new_0().to_date_string() == date.to_date_string();
        self.intl(&date, true, !today)
    }

    /// `date` through the browser's `Intl`: the time of day (`clock`), the day and month (`day`).
    fn intl(self, date: &js_sys::Date, clock: bool, day: bool) -> String {
        let opts = Object::new();
        let set = |k: &str, v: &str| {
            let _ = Reflect::set(&opts, &k.into(), &v.into());
        };
        if clock {
            set("hour", "numeric");
            set("minute", "2-digit");
        }
        if day {
            set("day", "numeric");
            set("month", "short");
        }
        String::from(date.to_locale_string(self.code(), &opts))
    }
}
