//! The few OPC UA Binary built-in types this dissector reads (OPC 10000-6, "Part 6", §5.2),
//! little-endian (UInt32/Int32 are [`Cursor::u32_le`]/[`Cursor::i32_le`]), over the
//! bounds-checked [`Cursor`]. Every reader returns `None` on
//! truncation or an impossible length and never allocates.
//!
//! Read to understand, not copied: open62541 `src/ua_types_encoding_binary.c`, asyncua
//! `asyncua/ua/ua_binary.py`, Zeek ICSNPP opcua-binary `src/types/opcua_binary-types.pac`.

use crate::protocols::reader::Cursor;
use crate::protocols::text::{clean_text, fingerprint};
use std::fmt::Write as _;

/// Nesting limit for DiagnosticInfo (§5.2.2.12: InnerDiagnosticInfo is recursive).
const MAX_DIAGNOSTIC_DEPTH: usize = 8;

/// String or ByteString (§5.2.2.4, §5.2.2.7): Int32 length then bytes; -1 is null (read as
/// empty). Any other negative length is malformed.
pub fn bytes<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let len = c.i32_le()?;
    if len == -1 {
        return Some(&[]);
    }
    c.take(usize::try_from(len).ok()?)
}

/// Array length (§5.2.5): Int32, -1 is null (read as 0).
pub fn array_len(c: &mut Cursor<'_>) -> Option<usize> {
    let len = c.i32_le()?;
    if len == -1 {
        return Some(0);
    }
    usize::try_from(len).ok()
}

/// An array of String or ByteString, skipped. Each element is at least 4 bytes, so the
/// loop is bounded by the input.
pub fn skip_string_array(c: &mut Cursor<'_>) -> Option<()> {
    for _ in 0..array_len(c)? {
        bytes(c)?;
    }
    Some(())
}

/// The parts of a NodeId this dissector uses: namespace and numeric identifier (`None` for
/// String, Guid and ByteString identifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeId {
    pub namespace: u16,
    pub numeric: Option<u32>,
}

impl NodeId {
    /// The numeric identifier when this is a namespace-0 numeric NodeId (the form every
    /// standard service and type encoding id takes).
    pub fn ns0_numeric(self) -> Option<u32> {
        if self.namespace == 0 {
            self.numeric
        } else {
            None
        }
    }
}

/// The identifier of a NodeId (§5.2.2.9), borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier<'a> {
    Numeric(u32),
    String(&'a [u8]),
    Guid(&'a [u8]),
    Opaque(&'a [u8]),
}

/// A whole NodeId: namespace and identifier, for naming a node (a method called, a node
/// browsed) rather than a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRef<'a> {
    pub namespace: u16,
    pub id: Identifier<'a>,
}

impl NodeRef<'_> {
    /// A fingerprint of namespace and identifier, to key a map of node names.
    pub fn key(&self) -> u64 {
        let (kind, bytes): (u64, &[u8]) = match self.id {
            Identifier::Numeric(n) => return u64::from(self.namespace) << 40 | u64::from(n),
            Identifier::String(b) => (1, b),
            Identifier::Guid(b) => (2, b),
            Identifier::Opaque(b) => (3, b),
        };
        fingerprint(bytes) ^ (kind << 60 | u64::from(self.namespace) << 40)
    }

    /// The OPC UA text form (Part 6 §5.3.1.10): `i=85` in namespace 0, `ns=2;s=Pump`,
    /// `ns=1;g=…` (Guid fields), `ns=1;b=…` (the ByteString in hex here, not base64).
    /// String identifiers are cleaned and capped at [`MAX_NODE_TEXT`] characters.
    pub fn text(&self) -> String {
        let mut s = String::new();
        if self.namespace != 0 {
            let _ = write!(s, "ns={};", self.namespace);
        }
        let _ = match self.id {
            Identifier::Numeric(n) => write!(s, "i={n}"),
            Identifier::String(b) => {
                write!(s, "s={}", clean_text(b, MAX_NODE_TEXT).unwrap_or_default())
            }
            Identifier::Guid(g) => {
                let le32 = |i: usize| {
                    g.get(i..i + 4)
                        .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
                };
                let le16 = |i: usize| {
                    g.get(i..i + 2)
                        .map_or(0, |b| u16::from_le_bytes(b.try_into().unwrap_or_default()))
                };
                let _ = write!(s, "g={:08x}-{:04x}-{:04x}-", le32(0), le16(4), le16(6));
                for (i, b) in g.iter().enumerate().skip(8) {
                    if i == 10 {
                        s.push('-');
                    }
                    let _ = write!(s, "{b:02x}");
                }
                Ok(())
            }
            Identifier::Opaque(b) => {
                s.push_str("b=");
                for x in b.iter().take(MAX_NODE_TEXT / 2) {
                    let _ = write!(s, "{x:02x}");
                }
                Ok(())
            }
        };
        s
    }

    /// The identifier's own text, when it is a String (a name chosen by the server).
    pub fn string(&self) -> Option<&[u8]> {
        match self.id {
            Identifier::String(b) => Some(b),
            _ => None,
        }
    }
}

/// Characters of a String NodeId kept in its text form.
pub const MAX_NODE_TEXT: usize = 128;

/// NodeId (§5.2.2.9) or ExpandedNodeId (§5.2.2.10): the low six bits of the encoding byte
/// choose the identifier form; in an ExpandedNodeId bit 7 adds a NamespaceUri String and
/// bit 6 a ServerIndex UInt32. Reading every NodeId as expanded is a superset, and Wireshark
/// shows service type ids that way.
pub fn node_ref<'a>(c: &mut Cursor<'a>) -> Option<NodeRef<'a>> {
    let mask = c.u8()?;
    let node = match mask & 0x3f {
        // Two-byte: namespace 0, one-byte identifier.
        0x00 => NodeRef {
            namespace: 0,
            id: Identifier::Numeric(u32::from(c.u8()?)),
        },
        // Four-byte: one-byte namespace, UInt16 identifier.
        0x01 => {
            let namespace = u16::from(c.u8()?);
            let [a, b] = c.array()?;
            NodeRef {
                namespace,
                id: Identifier::Numeric(u32::from(u16::from_le_bytes([a, b]))),
            }
        }
        // Numeric: UInt16 namespace, UInt32 identifier.
        0x02 => NodeRef {
            namespace: c.u16_le()?,
            id: Identifier::Numeric(c.u32_le()?),
        },
        // String (3) or ByteString (5): UInt16 namespace, then a String/ByteString.
        0x03 => NodeRef {
            namespace: c.u16_le()?,
            id: Identifier::String(bytes(c)?),
        },
        0x05 => NodeRef {
            namespace: c.u16_le()?,
            id: Identifier::Opaque(bytes(c)?),
        },
        // Guid: UInt16 namespace, 16 bytes.
        0x04 => NodeRef {
            namespace: c.u16_le()?,
            id: Identifier::Guid(c.take(16)?),
        },
        _ => return None,
    };
    if mask & 0x80 != 0 {
        bytes(c)?; // NamespaceUri
    }
    if mask & 0x40 != 0 {
        c.u32_le()?; // ServerIndex
    }
    Some(node)
}

/// A NodeId or ExpandedNodeId reduced to what naming a service needs (see [`node_ref`]).
pub fn expanded_node_id(c: &mut Cursor<'_>) -> Option<NodeId> {
    let n = node_ref(c)?;
    Some(NodeId {
        namespace: n.namespace,
        numeric: match n.id {
            Identifier::Numeric(v) => Some(v),
            _ => None,
        },
    })
}

/// QualifiedName (§5.2.2.13): NamespaceIndex UInt16, Name String. Returns the name.
pub fn qualified_name<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    c.skip(2)?;
    bytes(c)
}

/// ExtensionObject (§5.2.2.15): TypeId, encoding byte (0 no body, 1 ByteString body, 2
/// XmlElement body), then the body. Returns the type id and the body bytes (empty without
/// a body).
pub fn extension_object<'a>(c: &mut Cursor<'a>) -> Option<(NodeId, u8, &'a [u8])> {
    let type_id = expanded_node_id(c)?;
    let encoding = c.u8()?;
    let body = match encoding {
        0x00 => &[][..],
        0x01 | 0x02 => bytes(c)?,
        _ => return None,
    };
    Some((type_id, encoding, body))
}

/// LocalizedText (§5.2.2.14): encoding mask, then Locale (bit 0) and Text (bit 1). Returns
/// the text (empty when absent).
pub fn localized_text<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let mask = c.u8()?;
    if mask & 0x01 != 0 {
        bytes(c)?;
    }
    if mask & 0x02 != 0 {
        bytes(c)
    } else {
        Some(&[])
    }
}

/// DiagnosticInfo (§5.2.2.12), skipped: encoding mask, then SymbolicId, NamespaceUri,
/// Locale, LocalizedText (Int32 each), AdditionalInfo (String), InnerStatusCode (UInt32) and
/// an InnerDiagnosticInfo, each present when its mask bit is set. The inner one is last, so
/// the nesting is walked as a loop, bounded in depth.
pub fn skip_diagnostic_info(c: &mut Cursor<'_>) -> Option<()> {
    for _ in 0..MAX_DIAGNOSTIC_DEPTH {
        let mask = c.u8()?;
        for bit in [0x01, 0x02, 0x08, 0x04] {
            if mask & bit != 0 {
                c.i32_le()?;
            }
        }
        if mask & 0x10 != 0 {
            bytes(c)?;
        }
        if mask & 0x20 != 0 {
            c.u32_le()?;
        }
        if mask & 0x40 == 0 {
            return Some(());
        }
    }
    None
}

/// RequestHeader (OPC 10000-4 §7.28, binary layout per Part 6 §5.2.6 field order):
/// AuthenticationToken NodeId, Timestamp DateTime (Int64), RequestHandle UInt32,
/// ReturnDiagnostics UInt32, AuditEntryId String, TimeoutHint UInt32, AdditionalHeader
/// ExtensionObject. Skipped.
pub fn skip_request_header(c: &mut Cursor<'_>) -> Option<()> {
    expanded_node_id(c)?;
    c.skip(8 + 4 + 4)?;
    bytes(c)?;
    c.u32_le()?;
    extension_object(c)?;
    Some(())
}

/// ResponseHeader (OPC 10000-4 §7.29): Timestamp DateTime, RequestHandle UInt32,
/// ServiceResult StatusCode, ServiceDiagnostics DiagnosticInfo, StringTable String[],
/// AdditionalHeader ExtensionObject. Skipped.
pub fn skip_response_header(c: &mut Cursor<'_>) -> Option<()> {
    c.skip(8 + 4 + 4)?;
    skip_diagnostic_info(c)?;
    skip_string_array(c)?;
    extension_object(c)?;
    Some(())
}

/// The identifying part of an ApplicationDescription (OPC 10000-4 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicationDescription<'a> {
    pub application_uri: &'a [u8],
    pub product_uri: &'a [u8],
    pub application_name: &'a [u8],
    /// 0 Server, 1 Client, 2 ClientAndServer, 3 DiscoveryServer.
    pub application_type: i32,
}

/// ApplicationDescription: ApplicationUri String, ProductUri String, ApplicationName
/// LocalizedText, ApplicationType Int32, GatewayServerUri String, DiscoveryProfileUri
/// String, DiscoveryUrls String[].
pub fn application_description<'a>(c: &mut Cursor<'a>) -> Option<ApplicationDescription<'a>> {
    let application_uri = bytes(c)?;
    let product_uri = bytes(c)?;
    let application_name = localized_text(c)?;
    let application_type = c.i32_le()?;
    bytes(c)?;
    bytes(c)?;
    skip_string_array(c)?;
    Some(ApplicationDescription {
        application_uri,
        product_uri,
        application_name,
        application_type,
    })
}
