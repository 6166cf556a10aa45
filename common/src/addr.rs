//! Link-layer addresses and the address rules the inventory relies on.

use std::fmt;
use std::net::IpAddr;

/// An IEEE 802 MAC address. Displays in lower-case colon form (`00:1b:1b:12:34:56`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    pub const ZERO: Mac = Mac([0; 6]);

    /// Reads a MAC from the first six bytes of `b`, `None` when `b` is shorter.
    pub fn from_slice(b: &[u8]) -> Option<Mac> {
        b.get(..6)?.try_into().ok().map(Mac)
    }

    /// Group (multicast or broadcast) addresses have the I/G bit set in the first octet.
    pub fn is_group(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// A MAC that can identify one device: not group, not all-zero.
    pub fn is_unicast(&self) -> bool {
        !self.is_group() && *self != Mac::ZERO
    }

    /// Locally administered addresses (U/L bit) carry no IEEE vendor.
    pub fn is_local(&self) -> bool {
        self.0[0] & 2 == 2
    }

    /// The 24-bit organisationally unique identifier.
    pub fn oui(&self) -> u32 {
        u32::from_be_bytes([0, self.0[0], self.0[1], self.0[2]])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split([':', '-']) {
            if n == 6 || part.len() != 2 {
                return Err(format!("not a MAC address: {s:?} (want aa:bb:cc:dd:ee:ff)"));
            }
            out[n] = u8::from_str_radix(part, 16)
                .map_err(|_| format!("not a MAC address: {s:?} (want aa:bb:cc:dd:ee:ff)"))?;
            n += 1;
        }
        if n != 6 {
            return Err(format!("not a MAC address: {s:?} (want aa:bb:cc:dd:ee:ff)"));
        }
        Ok(Mac(out))
    }
}

/// True for an address that can name one host: not unspecified, not loopback-broadcast,
/// not multicast, not the IPv4 limited broadcast. Directed (subnet) broadcasts cannot be
/// told from the address alone; the sensor also checks the frame's destination MAC.
pub fn is_unicast_ip(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || v4.octets()[0] == 0)
        }
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

/// True for a globally routable unicast address (not private, shared, link-local, loopback or
/// unique-local). Documentation ranges count as global: benchmark mixes use them as the
/// internet.
pub fn is_global(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xfe00) == 0xfc00)
        }
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_text_round_trip() {
        let m: Mac = "00:1B:1b:12:34:5f".parse().unwrap();
        assert_eq!(m.to_string(), "00:1b:1b:12:34:5f");
        assert_eq!(m.oui(), 0x001b1b);
        assert!(m.is_unicast());
        assert!(Mac::BROADCAST.is_group());
        assert!("00:1b".parse::<Mac>().is_err());
        assert!("00:1b:1b:12:34:5f:00".parse::<Mac>().is_err());
    }

    #[test]
    fn unicast_rules() {
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.251",
            "ff02::fb",
            "::",
        ] {
            assert!(!is_unicast_ip(&s.parse().unwrap()), "{s}");
        }
        for s in ["10.0.0.1", "fe80::1", "2001:db8::1"] {
            assert!(is_unicast_ip(&s.parse().unwrap()), "{s}");
        }
    }
}
