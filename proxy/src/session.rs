//! Guest session credentials.
//!
//! A session is a self-contained, encrypted token, `v2.<key id>.<base64url(nonce ‖ ciphertext)>`:
//! the claims (property, Mews thread, guest name, topic, issue time) sealed with
//! XChaCha20-Poly1305 under a key derived from `session_secret`, the version and key id bound in
//! as associated data. It binds the guest to one property and one Mews thread, so it works on any
//! proxy instance that shares the secret and survives restarts, without a session store; a guest
//! cannot change the thread it names, and nobody who sees the token (a log, a browser extension)
//! can read the name or topic in it.
//!
//! Rotation: the key id names the secret a token was sealed with. New tokens use
//! `session_secret`; tokens sealed with a secret listed in `[[session.previous]]` are still
//! accepted until that entry's `accept_until`, then rejected. Lifetime: `[session] lifetime_days`
//! (default 90), counted from the issue time at every check, so shortening it takes effect at
//! once; an issue time more than [`CLOCK_SKEW`] in the future is rejected. Tokens of the earlier
//! signed-but-readable format (no `v2.` prefix) are no longer accepted: those guests start a new
//! conversation.
//!
//! The token travels in `Authorization: Bearer`. Only the SSE stream, which `EventSource` opens
//! without custom headers, also takes it from the `session` query parameter; access logs record
//! routes without queries or headers. The extractors that check it for handlers live in
//! `routes::extract`, so this module depends on nothing of the server's state.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
};
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The default lifetime: how long a guest can come back to the same conversation.
pub const SESSION_TTL: SignedDuration = SignedDuration::from_hours(24 * 90);
/// How far in the future an issue time may lie (clocks of instances differ a little).
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(60);
const VERSION: &str = "v2";
const NONCE_LEN: usize = 24;

/// What a session proves.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Property id.
    pub p: String,
    /// Mews thread id.
    pub t: String,
    /// Guest name (the thread's `OriginalSender`).
    pub n: String,
    /// Topic as the guest typed it.
    pub s: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
}

/// A retired secret whose tokens are still accepted for a while (config `[[session.previous]]`).
#[derive(Clone, Debug)]
pub struct PreviousSecret {
    pub secret: SecretString,
    pub accept_until: Timestamp,
}

/// Session lifetime and rotation (config `[session]`).
#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub lifetime: SignedDuration,
    pub previous: Vec<PreviousSecret>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self { lifetime: SESSION_TTL, previous: Vec::new() }
    }
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
    /// `None` for the current key.
    accept_until: Option<Timestamp>,
}

impl Key {
    fn derive(secret: &SecretString, accept_until: Option<Timestamp>) -> Self {
        let prf = |label: &[u8]| {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes()).expect("any key length");
            mac.update(label);
            mac.finalize().into_bytes()
        };
        let key = prf(b"lobby session encryption key v2");
        let id = B64.encode(&prf(b"lobby session key id v2")[..6]);
        Self { id, cipher: XChaCha20Poly1305::new(&key), accept_until }
    }
}

/// Seals and opens session tokens.
#[derive(Clone)]
pub struct SessionKeys {
    keys: std::sync::Arc<Vec<Key>>,
    lifetime: SignedDuration,
}

impl SessionKeys {
    pub fn new(secret: SecretString, settings: SessionSettings) -> Self {
        let mut keys = vec![Key::derive(&secret, None)];
        keys.extend(settings.previous.iter().map(|p| Key::derive(&p.secret, Some(p.accept_until))));
        Self { keys: std::sync::Arc::new(keys), lifetime: settings.lifetime }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let key = &self.keys[0];
        let aad = format!("{VERSION}.{}", key.id);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let plain = serde_json::to_vec(claims).expect("claims serialise");
        let sealed =
            key.cipher.encrypt(&nonce, Payload { msg: &plain, aad: aad.as_bytes() }).expect("encryption cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{aad}.{}", B64.encode(out))
    }

    pub fn verify(&self, token: &str, now: Timestamp) -> Option<Claims> {
        let mut parts = token.splitn(3, '.');
        let (version, kid, body) = (parts.next()?, parts.next()?, parts.next()?);
        if version != VERSION {
            return None;
        }
        let key = self.keys.iter().find(|k| k.id == kid)?;
        if key.accept_until.is_some_and(|until| now >= until) {
            return None;
        }
        let raw = B64.decode(body).ok()?;
        if raw.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let aad = format!("{VERSION}.{kid}");
        let plain = key.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() }).ok()?;
        let claims: Claims = serde_json::from_slice(&plain).ok()?;
        let issued = Timestamp::from_second(claims.iat).ok()?;
        let age = now.duration_since(issued);
        (age >= -CLOCK_SKEW && age < self.lifetime).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_790_000_000;

    fn secret(c: &str) -> SecretString {
        SecretString::from(c.repeat(32))
    }

    fn keys() -> SessionKeys {
        SessionKeys::new(secret("k"), SessionSettings::default())
    }

    fn claims() -> Claims {
        Claims { p: "grand".into(), t: "thread-1".into(), n: "Jane Roe".into(), s: "Parking".into(), iat: T0 }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn a_sealed_session_opens_and_a_tampered_or_foreign_one_does_not() {
        let now = at(T0 + 100);
        let token = keys().sign(&claims());
        assert_eq!(keys().verify(&token, now), Some(claims()));
        // Flip one bit of the ciphertext; change the key id; another key.
        let (head, body) = token.rsplit_once('.').unwrap();
        let mut raw = B64.decode(body).unwrap();
        raw[NONCE_LEN + 2] ^= 1;
        assert_eq!(keys().verify(&format!("{head}.{}", B64.encode(&raw)), now), None);
        assert_eq!(keys().verify(&token.replacen(".", ".x", 1), now), None);
        let foreign = SessionKeys::new(secret("z"), SessionSettings::default()).sign(&claims());
        assert_eq!(keys().verify(&foreign, now), None);
        assert_eq!(keys().verify("garbage", now), None);
        assert_eq!(keys().verify("v2..", now), None);
    }

    #[test]
    fn nothing_personal_is_readable_in_the_token() {
        let token = keys().sign(&claims());
        let bytes: Vec<u8> = token.split('.').flat_map(|p| B64.decode(p).unwrap_or_default()).collect();
        let text = format!("{token} {}", String::from_utf8_lossy(&bytes));
        for word in ["Jane", "Roe", "Parking", "thread-1", "grand"] {
            assert!(!text.contains(word), "{word} readable in {token}");
        }
        assert_ne!(keys().sign(&claims()), token, "a fresh nonce each time");
    }

    #[test]
    fn sessions_expire_and_future_issue_times_are_rejected() {
        let token = keys().sign(&claims());
        assert_eq!(keys().verify(&token, at(T0) + SESSION_TTL), None);
        assert!(keys().verify(&token, at(T0) + SESSION_TTL - SignedDuration::from_secs(1)).is_some());
        // Issued 10 min ahead of this instance's clock: rejected; 30 s ahead: within the skew.
        assert_eq!(keys().verify(&token, at(T0 - 600)), None);
        assert!(keys().verify(&token, at(T0 - 30)).is_some());
        let short = SessionKeys::new(
            secret("k"),
            SessionSettings { lifetime: SignedDuration::from_hours(1), ..Default::default() },
        );
        assert_eq!(short.verify(&token, at(T0 + 3600)), None, "a shorter lifetime applies to old tokens");
    }

    #[test]
    fn a_rotated_secret_is_accepted_until_its_grace_ends() {
        let old_token = keys().sign(&claims());
        let until = at(T0 + 86_400);
        let rotated = SessionKeys::new(
            secret("n"),
            SessionSettings {
                previous: vec![PreviousSecret { secret: secret("k"), accept_until: until }],
                ..Default::default()
            },
        );
        assert_eq!(rotated.verify(&old_token, at(T0 + 100)), Some(claims()), "old key inside its grace");
        assert_eq!(rotated.verify(&old_token, until), None, "old key after its grace");
        let new_token = rotated.sign(&claims());
        assert_eq!(rotated.verify(&new_token, at(T0 + 100)), Some(claims()));
        assert_eq!(keys().verify(&new_token, at(T0 + 100)), None, "new tokens use the new key");
    }
}
