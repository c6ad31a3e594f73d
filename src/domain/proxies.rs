//! Which address a request came from when reverse proxies stand in front (CONTRACT.md §6,
//! `server.trusted_proxies`): every per-address limit is only as good as this answer.

use std::net::IpAddr;
use std::str::FromStr;

/// One trusted proxy: an address, or a CIDR range such as `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is no address or CIDR range");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let network = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }
}

impl TryFrom<String> for TrustedProxy {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl TrustedProxy {
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, canonical(addr)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(
                u128::from(u32::from(n)),
                u128::from(u32::from(a)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                prefix_eq(u128::from(n), u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(n: u128, a: u128, bits: u8, prefix: u8) -> bool {
    let shift = u32::from(bits - prefix);
    shift >= 128 || (n >> shift) == (a >> shift)
}

/// An IPv4 address that arrived as `::ffff:a.b.c.d` is that IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn entry(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(a) = raw.parse::<IpAddr>() {
        return Some(canonical(a));
    }
    if let Ok(sa) = raw.parse::<std::net::SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    None
}

/// The client's address: the peer itself unless the peer is a trusted proxy; then the
/// right-most `X-Forwarded-For` address that is not itself a trusted proxy. Everything left
/// of that is what the client claimed and is never believed. `forwarded` holds the header's
/// lines in the order they came.
pub fn client_address(peer: IpAddr, forwarded: &[&str], trusted: &[TrustedProxy]) -> IpAddr {
    let is_trusted = |a: IpAddr| trusted.iter().any(|t| t.contains(a));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        return client;
    }
    let hops = forwarded.iter().flat_map(|line| line.split(','));
    let hops: Vec<&str> = hops.collect();
    for hop in hops.iter().rev() {
        match entry(hop) {
            Some(a) => {
                client = a;
                if !is_trusted(a) {
                    break;
                }
            }
            // A hop that is no address: stop at the last proxy we trust, which passed it on.
            None => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn ranges_contain_what_they_should() {
        let p: TrustedProxy = "10.0.0.0/8".parse().unwrap();
        assert!(p.contains(ip("10.200.3.4")) && !p.contains(ip("11.0.0.1")));
        assert!(p.contains(ip("::ffff:10.1.1.1")));
        let one: TrustedProxy = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: TrustedProxy = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let t = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(
            client_address(peer, &["203.0.113.7"], &t),
            ip("203.0.113.7")
        );
        // A client that forged a left part is believed only for its own hop.
        assert_eq!(
            client_address(peer, &["6.6.6.6, 203.0.113.7, 10.1.2.3"], &t),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(peer, &["6.6.6.6", "203.0.113.7:5555, 10.1.2.3"], &t),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(peer, &["[2001:db8::9]:443"], &t),
            ip("2001:db8::9")
        );
        // No header, or garbage: the nearest trusted hop.
        assert_eq!(client_address(peer, &[], &t), peer);
        assert_eq!(
            client_address(peer, &["junk, 10.1.2.3"], &t),
            ip("10.1.2.3")
        );
        // All trusted: the left-most.
        assert_eq!(
            client_address(peer, &["10.9.9.9, 10.1.2.3"], &t),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let t = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("198.51.100.4"), &["1.2.3.4"], &t),
            ip("198.51.100.4")
        );
        assert_eq!(
            client_address(ip("198.51.100.4"), &["1.2.3.4"], &[]),
            ip("198.51.100.4")
        );
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &["1.2.3.4"], &[]),
            ip("127.0.0.1")
        );
    }
}
