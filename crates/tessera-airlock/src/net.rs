//! Client networks: the unit the edge defences reason about besides single addresses.
//!
//! One person rarely has one address: a home router hands out a /24's worth of neighbours to an
//! IPv4 botnet, and every IPv6 customer gets at least a /48 (RFC 6177 recommends /48 for sites),
//! so limiting or blocking single IPv6 addresses is pointless. [`network_of`] maps an address to
//! its IPv4 /24 or IPv6 /48. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack
//! socket reports for an IPv4 peer) is the IPv4 address it carries, so the same client is never
//! counted twice under two spellings.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 /24 or an IPv6 /48, holding only the prefix bytes so it cannot carry host bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    /// The first three octets of an IPv4 address.
    V4([u8; 3]),
    /// The first six bytes (three 16-bit groups) of an IPv6 address.
    V6([u8; 6]),
}

/// Maps an IPv4-mapped IPv6 address back to IPv4; every other address is returned unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The /24 (IPv4) or /48 (IPv6) that `ip` belongs to, after [`canonical`].
pub fn network_of(ip: IpAddr) -> Network {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Network::V4([a, b, c])
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            Network::V6([o[0], o[1], o[2], o[3], o[4], o[5]])
        }
    }
}

impl Network {
    /// Whether `ip` lies in this network (after [`canonical`]).
    pub fn contains(&self, ip: IpAddr) -> bool {
        network_of(ip) == *self
    }

    fn v6_base(bytes: [u8; 6]) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o[..6].copy_from_slice(&bytes);
        Ipv6Addr::from(o)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Network::V4([a, b, c]) => write!(f, "{a}.{b}.{c}.0/24"),
            // The low 80 bits are zero, so std prints the compressed form ("2001:db8:1::") and
            // never the dotted IPv4-mapped form.
            Network::V6(bytes) => write!(f, "{}/48", Self::v6_base(bytes)),
        }
    }
}

/// Why a network string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkParseError {
    /// No `/prefix` part.
    #[error("expected a network like 203.0.113.0/24 or 2001:db8:1::/48")]
    MissingPrefix,
    /// The address part is not an IP address.
    #[error("not an IP address")]
    BadAddress,
    /// Only /24 for IPv4 and /48 for IPv6 are tracked.
    #[error("prefix must be /24 for IPv4 and /48 for IPv6")]
    UnsupportedPrefix,
    /// Bits beyond the prefix are set, so the text does not name one network unambiguously.
    #[error("host bits are set; write the network address, e.g. 203.0.113.0/24")]
    HostBitsSet,
}

impl FromStr for Network {
    type Err = NetworkParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.trim().split_once('/').ok_or(NetworkParseError::MissingPrefix)?;
        let addr: IpAddr = addr.parse().map_err(|_| NetworkParseError::BadAddress)?;
        match (addr, prefix) {
            (IpAddr::V4(v4), "24") => {
                let [a, b, c, d] = v4.octets();
                if d != 0 {
                    return Err(NetworkParseError::HostBitsSet);
                }
                Ok(Network::V4([a, b, c]))
            }
            (IpAddr::V6(v6), "48") => {
                // A mapped address would be an IPv4 network in disguise; `network_of` never
                // produces such a V6 value, so refuse it rather than create an unmatchable entry.
                if v6.to_ipv4_mapped().is_some() {
                    return Err(NetworkParseError::UnsupportedPrefix);
                }
                let o = v6.octets();
                if o[6..].iter().any(|&b| b != 0) {
                    return Err(NetworkParseError::HostBitsSet);
                }
                Ok(Network::V6([o[0], o[1], o[2], o[3], o[4], o[5]]))
            }
            _ => Err(NetworkParseError::UnsupportedPrefix),
        }
    }
}

// Serialised as its text form so that JSON written by operators reads naturally.
impl Serialize for Network {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_is_slash_24() {
        assert_eq!(network_of(ip("203.0.113.77")), Network::V4([203, 0, 113]));
        assert_eq!(network_of(ip("203.0.113.77")).to_string(), "203.0.113.0/24");
        assert_ne!(network_of(ip("203.0.114.1")), network_of(ip("203.0.113.1")));
    }

    #[test]
    fn v6_is_slash_48() {
        let n = network_of(ip("2001:db8:1:ffff::42"));
        assert_eq!(n, Network::V6([0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01]));
        assert_eq!(n.to_string(), "2001:db8:1::/48");
        assert_eq!(network_of(ip("2001:db8:1:2:3:4:5:6")), n);
        assert_ne!(network_of(ip("2001:db8:2::1")), n);
        assert_eq!(network_of(ip("::1")).to_string(), "::/48");
    }

    #[test]
    fn mapped_v6_counts_as_v4() {
        let mapped = ip("::ffff:203.0.113.9");
        assert_eq!(canonical(mapped), ip("203.0.113.9"));
        assert_eq!(network_of(mapped), Network::V4([203, 0, 113]));
        // Only the mapped form is unmapped; other addresses are returned as they are.
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(canonical(ip("::1")), ip("::1"));
    }

    #[test]
    fn parse_round_trips() {
        for s in ["203.0.113.0/24", "2001:db8:1::/48", "::/48", "2001:0:1::/48", "10.0.0.0/24"] {
            let n: Network = s.parse().unwrap();
            assert_eq!(n.to_string(), s);
            assert_eq!(n.to_string().parse::<Network>().unwrap(), n);
        }
        assert!("203.0.113.0/24".parse::<Network>().unwrap().contains(ip("203.0.113.200")));
    }

    #[test]
    fn parse_refuses_nonsense() {
        assert_eq!("203.0.113.0".parse::<Network>(), Err(NetworkParseError::MissingPrefix));
        assert_eq!("203.0.113.5/24".parse::<Network>(), Err(NetworkParseError::HostBitsSet));
        assert_eq!("203.0.113.0/16".parse::<Network>(), Err(NetworkParseError::UnsupportedPrefix));
        assert_eq!("2001:db8:1::1/48".parse::<Network>(), Err(NetworkParseError::HostBitsSet));
        assert_eq!("2001:db8::/24".parse::<Network>(), Err(NetworkParseError::UnsupportedPrefix));
        assert_eq!("nonsense/24".parse::<Network>(), Err(NetworkParseError::BadAddress));
        assert_eq!("".parse::<Network>(), Err(NetworkParseError::MissingPrefix));
    }

    #[test]
    fn serde_as_text() {
        let n: Network = "2001:db8:1::/48".parse().unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"2001:db8:1::/48\"");
        assert_eq!(serde_json::from_str::<Network>(&json).unwrap(), n);
        assert!(serde_json::from_str::<Network>("\"1.2.3.4/24\"").is_err());
    }
}
