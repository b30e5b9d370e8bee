//! Guest session credentials.
//!
//! A session is a signed, self-contained token: `base64url(claims JSON) "." base64url(HMAC-SHA256)`
//! under the proxy's `session_secret`. It binds the guest to one property and one Mews thread,
//! so it works on any proxy instance that shares the secret and survives restarts, without a
//! session store. A guest cannot change the thread it names without breaking the signature, which
//! is what keeps them inside their own conversation. Tokens expire after [`SESSION_TTL`].
//!
//! The token travels in `Authorization: Bearer` (and, for `EventSource`, which cannot set headers,
//! in the `session` query parameter); access logs record paths without queries or headers.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{error::Error, state::AppState};

/// How long a guest can come back to the same conversation.
pub const SESSION_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 90);

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

/// Signs and verifies session tokens.
#[derive(Clone)]
pub struct SessionKeys {
    secret: SecretString,
}

impl SessionKeys {
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes()).expect("HMAC takes any key length")
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    pub fn verify(&self, token: &str, now: Timestamp) -> Option<Claims> {
        let (payload, sig) = token.split_once('.')?;
        let sig = B64.decode(sig).ok()?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig).ok()?; // constant-time
        let claims: Claims = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        let issued = Timestamp::from_second(claims.iat).ok()?;
        (now.duration_since(issued) < SESSION_TTL).then_some(claims)
    }
}

/// Extracts a verified session from `Authorization: Bearer …` or, failing that, `?session=…`.
#[derive(Clone, Debug)]
pub struct Session(pub Claims);

impl<S> FromRequestParts<S> for Session
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let token = bearer.or_else(|| {
            parts
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("session=")).map(|v| v.to_owned()))
        });
        let claims = token.and_then(|t| state.sessions().verify(&t, Timestamp::now())).ok_or(Error::Unauthorized)?;
        if state.property(&claims.p).is_none() {
            return Err(Error::Unauthorized);
        }
        Ok(Session(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(SecretString::from("k".repeat(32)))
    }

    fn claims() -> Claims {
        Claims { p: "grand".into(), t: "thread-1".into(), n: "Jane".into(), s: "Parking".into(), iat: 1_790_000_000 }
    }

    #[test]
    fn a_signed_session_verifies_and_a_tampered_one_does_not() {
        let now = Timestamp::from_second(1_790_000_100).unwrap();
        let token = keys().sign(&claims());
        assert_eq!(keys().verify(&token, now), Some(claims()));
        // Point the session at another thread, keep the signature.
        let (_, sig) = token.split_once('.').unwrap();
        let mut other = claims();
        other.t = "thread-2".into();
        let forged = format!("{}.{sig}", B64.encode(serde_json::to_vec(&other).unwrap()));
        assert_eq!(keys().verify(&forged, now), None);
        // Another key.
        let foreign = SessionKeys::new(SecretString::from("z".repeat(32))).sign(&other);
        assert_eq!(keys().verify(&foreign, now), None);
        assert_eq!(keys().verify("garbage", now), None);
    }

    #[test]
    fn sessions_expire() {
        let token = keys().sign(&claims());
        let later = Timestamp::from_second(1_790_000_000).unwrap() + SESSION_TTL;
        assert_eq!(keys().verify(&token, later), None);
    }
}
