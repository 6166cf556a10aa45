//! Hash maps for keys an attacker chooses (addresses, ports, fragment ids).
//!
//! An unkeyed hash (FxHash) lets anyone who can send packets pick keys that all land in one
//! bucket and turn every lookup into a scan. These maps use foldhash seeded per process (and
//! per map), which is as fast for small keys and cannot be steered without the seed. Nothing
//! may depend on their iteration order: every output sorts (the determinism tests check).

/// A hash map with a per-process random seed.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A hash set with a per-process random seed.
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// An address as one word for hashing: IPv6 as is, IPv4 in the IPv4-mapped range.
pub fn ip_bits(ip: std::net::IpAddr) -> u128 {
    match ip {
        std::net::IpAddr::V4(a) => a.to_ipv6_mapped().to_bits(),
        std::net::IpAddr::V6(a) => a.to_bits(),
    }
}

/// Feeds two addresses and a word of ports and protocol to `h` as whole words (flow and
/// connection keys): the seeded hasher folds a word per step, where derived impls feed it byte
/// slices and enum tags.
pub fn write_addr_pair<H: std::hash::Hasher>(
    h: &mut H,
    a: std::net::IpAddr,
    b: std::net::IpAddr,
    meta: u64,
) {
    use std::net::IpAddr;
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            h.write_u64(u64::from(a.to_bits()) << 32 | u64::from(b.to_bits()));
            h.write_u64(meta);
        }
        (a, b) => {
            h.write_u128(ip_bits(a));
            h.write_u128(ip_bits(b));
            h.write_u64(meta | 1 << 63);
        }
    }
}
