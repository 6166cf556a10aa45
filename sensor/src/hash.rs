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
