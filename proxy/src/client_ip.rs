//! Who the client is, for every per-address limit.
//!
//! The proxy speaks plain HTTP, so in production a TLS terminator or load balancer stands in
//! front and the TCP peer is that machine for every guest. The peer is believed only when it is
//! listed in `trusted_proxies`; then the forwarding header the proxies write (`X-Forwarded-For`
//! by default, or RFC 7239 `Forwarded`) is read **from the right**, skipping hops that are
//! themselves trusted, and the first untrusted address is the client. Entries to its left were
//! written by the client and are ignored, so a spoofed header changes nothing. An entry that does
//! not parse stops the walk at the last trusted hop. IPv6 clients are keyed per /64, the block
//! one subscriber gets; IPv4-mapped IPv6 addresses count as IPv4.
//!
//! The header parsing is hand-rolled (about 30 lines): the client-IP crates we looked at pick the
//! rightmost or leftmost entry but do not skip a configurable set of trusted CIDRs.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use ipnet::IpNet;
use serde::Deserialize;

use crate::{error::Error, state::AppState};

/// Which header the trusted proxies write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    #[default]
    XForwardedFor,
    Forwarded,
}

/// `trusted_proxies` and `client_ip_header` from the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientAddressConfig {
    pub trusted_proxies: Vec<IpNet>,
    pub header: ForwardedHeader,
}

impl ClientAddressConfig {
    /// Parses `"10.0.0.0/8"`, `"2001:db8::/32"` or a single address (`"10.1.2.3"`).
    pub fn parse_trusted(entries: &[String]) -> Result<Vec<IpNet>, String> {
        entries
            .iter()
            .map(|e| {
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted_proxies: `{e}` is not an address or CIDR"))
            })
            .collect()
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer, or what trusted proxies say stands behind them.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusted(client) {
            return client;
        }
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => list(headers, "x-forwarded-for", parse_xff),
            ForwardedHeader::Forwarded => list(headers, "forwarded", parse_forwarded),
        };
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(ip);
                    if !self.trusted(client) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// Every element of every instance of header `name`, in order, `None` where one does not parse.
fn list(headers: &HeaderMap, name: &str, parse: fn(&str) -> Option<IpAddr>) -> Vec<Option<IpAddr>> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(s) => s.split(',').map(|e| parse(e.trim())).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

fn parse_xff(e: &str) -> Option<IpAddr> {
    e.parse::<IpAddr>().ok().or_else(|| e.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// One `Forwarded` element: `for=192.0.2.1;proto=https`, `for="[2001:db8::1]:443"`.
fn parse_forwarded(e: &str) -> Option<IpAddr> {
    let value = e.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then(|| v.trim().trim_matches('"'))
    })?;
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split_once(']')?.0.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    value.parse::<IpAddr>().ok().or_else(|| value.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key a client's limits are counted under: the IPv4 address, or the IPv6 /64.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The client's limit key ([`limit_key`] of the resolved address), as an extractor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S> FromRequestParts<S> for ClientAddr
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        // Every connection the server accepts carries its peer; a request without one comes from
        // an in-process test through `oneshot` and counts as 0.0.0.0.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(ClientAddr(limit_key(state.client_addresses().client(peer, &parts.headers))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(header: ForwardedHeader) -> ClientAddressConfig {
        let trusted = ClientAddressConfig::parse_trusted(&["10.0.0.0/8".into(), "2001:db8:ffff::1".into()]).unwrap();
        ClientAddressConfig { trusted_proxies: trusted, header }
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_behind_a_trusted_peer_and_is_read_from_the_right() {
        let c = cfg(ForwardedHeader::XForwardedFor);
        let spoof = headers("x-forwarded-for", &["1.1.1.1"]);
        assert_eq!(c.client(ip("203.0.113.9"), &spoof), ip("203.0.113.9"), "untrusted peer: header ignored");
        // Client wrote 1.1.1.1, the edge appended the real address, an inner proxy appended the edge.
        let chain = headers("x-forwarded-for", &["1.1.1.1, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(c.client(ip("10.0.0.3"), &chain), ip("198.51.100.7"));
        // Only trusted hops: the leftmost one stands.
        assert_eq!(c.client(ip("10.0.0.3"), &headers("x-forwarded-for", &["10.0.0.9"])), ip("10.0.0.9"));
        // Garbage stops the walk at the last trusted hop; no header: the peer.
        assert_eq!(c.client(ip("10.0.0.3"), &headers("x-forwarded-for", &["nonsense"])), ip("10.0.0.3"));
        assert_eq!(c.client(ip("10.0.0.3"), &HeaderMap::new()), ip("10.0.0.3"));
    }

    #[test]
    fn forwarded_elements_with_ports_and_brackets() {
        let c = cfg(ForwardedHeader::Forwarded);
        let h = headers("forwarded", &["for=1.1.1.1, for=\"[2001:db8:1:2::5]:4711\";proto=https", "For=10.0.0.8"]);
        assert_eq!(c.client(ip("2001:db8:ffff::1"), &h), ip("2001:db8:1:2::5"));
        assert_eq!(c.client(ip("::ffff:10.0.0.1"), &headers("forwarded", &["for=192.0.2.60:80"])), ip("192.0.2.60"));
    }

    #[test]
    fn ipv6_is_keyed_per_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), limit_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(limit_key(ip("2001:db8:1:2::1")), limit_key(ip("2001:db8:1:3::1")));
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
