//! How typed input is compared with what Mews holds (`mews-guests.md` §5.1): `fold` for last
//! names and room numbers (NFKD, marks dropped, full case folding, a few letters that do not
//! decompose mapped by hand, only letters and digits kept), `variants` for confirmation numbers
//! (as typed, without separators, upper-case). No fuzzy or partial matching, no transliteration
//! between scripts.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Longest input accepted, in characters.
pub const MAX_INPUT: usize = 100;

pub fn fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        for l in c.to_lowercase() {
            match l {
                'ß' => out.push_str("ss"),
                'ø' => out.push('o'),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                'ł' => out.push('l'),
                'đ' => out.push('d'),
                'ı' => out.push('i'),
                'ς' => out.push('σ'),
                l if l.is_alphanumeric() => out.push(l),
                _ => {}
            }
        }
    }
    out
}

/// The forms of a typed confirmation number to look up: trimmed without a leading `#`, without
/// spaces, dots and hyphens, and upper-case copies of both, de-duplicated, first as typed.
pub fn variants(n: &str) -> Vec<String> {
    let t = n.trim().trim_start_matches('#').trim().to_owned();
    let bare: String = t.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
    let mut out: Vec<String> = Vec::new();
    for v in [t.clone(), bare.clone(), t.to_uppercase(), bare.to_uppercase()] {
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// `typed` matches the last name, or the last name followed by the second last name.
pub fn last_name_matches(typed: &str, last: &str, second: Option<&str>) -> bool {
    let t = fold(typed);
    t.len() >= 2 && (t == fold(last) || second.is_some_and(|s| t == fold(&format!("{last}{s}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("DVOŘÁKOVÁ"), "dvorakova");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("Østergaard"), "ostergaard");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold(" 12a "), "12a");
        assert_eq!(fold("Suite 1"), "suite1");
        assert_eq!(fold("Łukasz Đorđe"), "lukaszdorde");
    }

    #[test]
    fn last_names_match_whole_or_with_the_second_surname_never_partly() {
        assert!(last_name_matches("garcia", "García", Some("López")));
        assert!(last_name_matches("García López", "García", Some("López")));
        assert!(!last_name_matches("lopez", "García", Some("López")));
        assert!(!last_name_matches("Müll", "Müller", None));
        assert!(!last_name_matches("'", "O", None), "a folded name shorter than 2 never matches");
        assert!(last_name_matches("obrien", "O'Brien", None));
    }

    #[test]
    fn number_variants_drop_separators_and_a_leading_hash() {
        assert_eq!(variants(" #4123.456.789 "), ["4123.456.789", "4123456789"]);
        assert_eq!(variants("exp-7788990"), ["exp-7788990", "exp7788990", "EXP-7788990", "EXP7788990"]);
        assert_eq!(variants("1001"), ["1001"]);
        assert!(variants(" # ").is_empty());
    }
}
