//! The client address of a request: the TCP peer, unless the peer is a trusted reverse proxy
//! (`[http] trusted_proxies`); then the rightmost `X-Forwarded-For` entry that is not itself a
//! trusted proxy. Each proxy appends the address it saw, so entries right of the first untrusted
//! one were written by our proxies, and anything left of it may be the client's own invention.
//! From an untrusted peer `X-Forwarded-For` is ignored: a client cannot choose its address.
//!
//! Login throttling keys on this address (see [`tenantry::limits::LoginThrottle`]).

use crate::app::App;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The reverse proxies whose `X-Forwarded-For` is believed. Default: none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDR blocks (`10.0.0.0/8`, `fd00::/8`) and single addresses (`192.0.2.7`, `::1`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let net = |text: &str| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR block"))
        };
        entries
            .iter()
            .map(|e| net(e.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request from `peer` carrying `headers` (see the module docs).
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        // Header lines in order, each a comma-separated list: walk every entry right to left.
        let lines: Vec<_> = headers.get_all(X_FORWARDED_FOR).iter().collect();
        for line in lines.into_iter().rev() {
            let Ok(text) = line.to_str() else {
                return client; // unreadable: believe nothing left of it
            };
            for entry in text.rsplit(',') {
                match parse_entry(entry) {
                    Some(ip) if self.contains(ip) => client = ip,
                    Some(ip) => return ip,
                    None => return client,
                }
            }
        }
        // Every hop is one of our proxies: the leftmost is the closest thing to a client.
        client
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`) or in brackets.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let bare = entry.strip_prefix('[')?.strip_suffix(']')?;
            bare.parse::<IpAddr>().ok()
        })?;
    Some(ip.to_canonical())
}

/// The client's IP address (see the module docs), when the server was started with connect info
/// (`startup::run` is); login throttling keys on it.
pub struct ClientAddr(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<App> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let trusted = &app.trusted_proxies;
        Ok(ClientAddr(
            peer.map(|p| trusted.client_of(p, &parts.headers)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(X_FORWARDED_FOR, l.parse().unwrap());
        }
        h
    }

    #[test]
    fn with_no_trusted_proxy_the_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::default();
        let h = forwarded(&["203.0.113.9"]);
        assert_eq!(none.client_of(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address_with_the_header() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = forwarded(&["10.0.0.5, 203.0.113.9"]);
        assert_eq!(t.client_of(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_entry() {
        let t = trusted(&["10.0.0.0/8", "192.0.2.7"]);
        // The client claimed 1.1.1.1; our edge proxy saw 203.0.113.9; the inner proxy 192.0.2.7.
        let h = forwarded(&["1.1.1.1, 203.0.113.9", "192.0.2.7"]);
        assert_eq!(t.client_of(ip("10.1.2.3"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_client() {
        let t = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            t.client_of(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn when_every_hop_is_trusted_the_leftmost_is_the_client() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = forwarded(&["10.9.9.9, 10.0.0.2"]);
        assert_eq!(t.client_of(ip("10.0.0.1"), &h), ip("10.9.9.9"));
    }

    #[test]
    fn garbage_in_the_header_stops_the_walk_at_the_last_trusted_hop() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = forwarded(&["203.0.113.9, unknown, 10.0.0.2"]);
        assert_eq!(t.client_of(ip("10.0.0.1"), &h), ip("10.0.0.2"));
    }

    #[test]
    fn entries_with_ports_brackets_and_mapped_addresses_are_understood() {
        let t = trusted(&["127.0.0.1", "::1"]);
        let peer = ip("::ffff:127.0.0.1");
        assert_eq!(
            t.client_of(peer, &forwarded(&["198.51.100.4:4711"])),
            ip("198.51.100.4")
        );
        assert_eq!(
            t.client_of(peer, &forwarded(&["[2001:db8::1]:443"])),
            ip("2001:db8::1")
        );
        assert_eq!(
            t.client_of(ip("::1"), &forwarded(&["[2001:db8::2]"])),
            ip("2001:db8::2")
        );
    }

    #[test]
    fn proxies_parse_as_cidr_blocks_or_single_addresses_and_nonsense_is_refused() {
        let t = trusted(&["10.0.0.0/8", " 192.0.2.7 ", "fd00::/8"]);
        assert!(t.contains(ip("10.200.0.1")) && t.contains(ip("192.0.2.7")));
        assert!(t.contains(ip("fd12::1")) && !t.contains(ip("192.0.2.8")));
        let err = TrustedProxies::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(TrustedProxies::parse(&["proxy.local"]).is_err());
    }
}
