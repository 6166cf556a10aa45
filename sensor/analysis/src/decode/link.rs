//! The link-layer header type a capture gives each frame.

/// Link-layer header type of a frame (tcpdump LINKTYPE_* values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte address family in host byte order.
    Null,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
    /// LINKTYPE_RAW (101) and DLT_RAW (12/14): the frame starts with an IPv4 or IPv6 header.
    Raw,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL (113): Linux "cooked" capture v1.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux "cooked" capture v2.
    LinuxSll2,
    /// Anything else: counted, not decoded.
    Other(u32),
}

impl LinkType {
    /// Maps a LINKTYPE_* number (as in pcap and pcapng headers) to a [`LinkType`].
    pub fn from_linktype(n: u32) -> LinkType {
        match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Other(other),
        }
    }
}
