//! The fixed world the simulator serves: enterprises, client applications (`ClientToken`s) and
//! their access tokens, plus one `IntegrationId` per (client, enterprise) connection.
//!
//! It is built once from [`Config`] and never changes, so it needs no lock. Authentication
//! (`ClientToken` + `AccessToken` → [`Caller`]) lives here because it is a pure lookup.

use std::collections::HashMap;

use rand::{RngCore, SeedableRng, rngs::StdRng};

use crate::config::Config;

#[derive(Clone, Debug)]
pub struct Enterprise {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Client {
    pub name: String,
    pub client_token: String,
    /// The client's own General Webhook URL, if configured.
    pub webhook_url: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AccessToken {
    pub name: String,
    pub token: String,
    /// Index into [`Directory::clients`].
    pub client: usize,
    pub enterprise_ids: Vec<String>,
}

/// An authenticated Connector API caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub client: usize,
    pub client_token: String,
    pub access_token: String,
    pub token_name: String,
    /// The enterprises the access token covers, in configuration order.
    pub enterprise_ids: Vec<String>,
}

#[derive(Debug)]
pub struct Directory {
    pub enterprises: Vec<Enterprise>,
    pub clients: Vec<Client>,
    tokens: HashMap<String, AccessToken>,
    client_by_token: HashMap<String, usize>,
    integrations: HashMap<(usize, String), String>,
}

/// Authentication failures (both become `401`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    ClientToken,
    AccessToken,
}

impl Directory {
    pub fn new(config: &Config) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed ^ 0x1D1D_1D1D);
        let enterprises: Vec<Enterprise> =
            config.enterprises.iter().map(|e| Enterprise { id: e.id.clone(), name: e.name.clone() }).collect();
        let mut clients = Vec::new();
        let mut tokens = HashMap::new();
        let mut client_by_token = HashMap::new();
        let mut integrations = HashMap::new();
        for (index, c) in config.clients.iter().enumerate() {
            clients.push(Client {
                name: c.name.clone(),
                client_token: c.client_token.clone(),
                webhook_url: c.webhook_url.clone(),
            });
            client_by_token.insert(c.client_token.clone(), index);
            for t in &c.access_tokens {
                tokens.insert(
                    t.token.clone(),
                    AccessToken {
                        name: t.name.clone(),
                        token: t.token.clone(),
                        client: index,
                        enterprise_ids: t.enterprise_ids.clone(),
                    },
                );
            }
            for e in &enterprises {
                integrations.insert((index, e.id.clone()), random_uuid(&mut rng));
            }
        }
        Self { enterprises, clients, tokens, client_by_token, integrations }
    }

    /// Resolves the body tokens of a request.
    pub fn authenticate(&self, client_token: Option<&str>, access_token: Option<&str>) -> Result<Caller, AuthFailure> {
        let client = client_token.and_then(|t| self.client_by_token.get(t)).copied().ok_or(AuthFailure::ClientToken)?;
        let token = access_token
            .and_then(|t| self.tokens.get(t))
            .filter(|t| t.client == client)
            .ok_or(AuthFailure::AccessToken)?;
        Ok(Caller {
            client,
            client_token: self.clients[client].client_token.clone(),
            access_token: token.token.clone(),
            token_name: token.name.clone(),
            enterprise_ids: token.enterprise_ids.clone(),
        })
    }

    /// The configured name of an access token, if it is one of ours.
    pub fn token_name(&self, access_token: &str) -> Option<&str> {
        self.tokens.get(access_token).map(|t| t.name.as_str())
    }

    pub fn enterprise(&self, id: &str) -> Option<&Enterprise> {
        self.enterprises.iter().find(|e| e.id == id)
    }

    pub fn client_index(&self, client_token: &str) -> Option<usize> {
        self.client_by_token.get(client_token).copied()
    }

    /// The `IntegrationId` of the (client, enterprise) connection.
    pub fn integration_id(&self, client: usize, enterprise_id: &str) -> String {
        self.integrations.get(&(client, enterprise_id.to_string())).cloned().unwrap_or_default()
    }
}

/// A lower-case hyphenated v4-shaped GUID from the given generator.
pub fn random_uuid(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// A short, stable, non-reversible label for a token we do not know (FNV-1a, 8 hex digits), so
/// logs never show a full token.
pub fn short_hash(token: &str) -> String {
    let mut h: u32 = 0x811C_9DC5;
    for b in token.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("#{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mews_wire::demo;

    #[test]
    fn demo_tokens_authenticate_and_cross_client_pairs_do_not() {
        let d = Directory::new(&Config::default());
        let (_, ct, gross, _) = demo::TOKEN_SETS[0];
        let caller = d.authenticate(Some(ct), Some(gross)).unwrap();
        assert_eq!(caller.enterprise_ids, vec![demo::GROSS_ID.to_string()]);
        let other_access = demo::TOKEN_SETS[1].2;
        assert_eq!(d.authenticate(Some(ct), Some(other_access)).unwrap_err(), AuthFailure::AccessToken);
        assert_eq!(d.authenticate(Some("x"), Some(gross)).unwrap_err(), AuthFailure::ClientToken);
        assert_eq!(d.authenticate(None, None).unwrap_err(), AuthFailure::ClientToken);
    }

    #[test]
    fn integration_ids_are_per_client_and_enterprise_and_seeded() {
        let a = Directory::new(&Config::default());
        let b = Directory::new(&Config::default());
        assert_eq!(a.integration_id(0, demo::GROSS_ID), b.integration_id(0, demo::GROSS_ID));
        assert_ne!(a.integration_id(0, demo::GROSS_ID), a.integration_id(0, demo::NET_ID));
        assert_ne!(a.integration_id(0, demo::GROSS_ID), a.integration_id(1, demo::GROSS_ID));
        assert_eq!(a.integration_id(0, demo::GROSS_ID).len(), 36);
    }

    #[test]
    fn short_hash_hides_the_token() {
        let h = short_hash("C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D");
        assert_eq!(h.len(), 9);
        assert!(!h.contains("C66EF7"));
    }
}
