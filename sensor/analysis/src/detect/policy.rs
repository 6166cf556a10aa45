//! The site policy: a learned baseline that a person can read, review, edit and version.
//!
//! `otwatch-sensor policy learn` writes it as TOML from what a capture (or `run --learn-for`)
//! showed: the assets, every conversation with its protocol, operations and function codes,
//! the zone's protocols, and the alerts raised while learning as `[[allow]]` entries (known
//! behaviour: from then on at most `low`). With a policy, the detector also raises
//! deviations: `new_asset`, `new_conversation`, `unauthorized_write`, `new_operation`,
//! `unknown_protocol_in_ot_zone`.
//!
//! Conversations are keyed by addresses, transport and server port; a recognised protocol
//! also matches on another port, and port 0 stands for any ephemeral server port (≥ 49152).

use super::alerts::Addr;
use super::catalog::Kind;
use super::text::{quote, Located, SourceText};
use otwatch_common::model::InventoryReport;
use otwatch_common::observation::Operation;
use otwatch_common::Mac;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use toml::Spanned;

/// The policy file format version this sensor reads and writes.
pub const POLICY_VERSION: u32 = 1;

/// Server ports from here up are ephemeral: a policy says port 0 for them.
const EPHEMERAL: u16 = 49152;

/// One allowed conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv {
    pub client: IpAddr,
    pub server: IpAddr,
    /// IP protocol number.
    pub transport: u8,
    /// Server port; 0 for any ephemeral port (and for transports without ports).
    pub port: u16,
    /// Recognised protocol name, empty when none.
    pub protocol: String,
    /// Bit `i` set: `Operation::ALL[i]` seen.
    pub ops: u32,
    /// Sorted.
    pub function_codes: Vec<u32>,
}

impl Conv {
    pub fn has_op(&self, op: Operation) -> bool {
        self.ops & op_bit(op) != 0
    }

    pub fn has_fc(&self, fc: u32) -> bool {
        self.function_codes.binary_search(&fc).is_ok()
    }

    /// Whether a flow with this transport, server port and (possibly empty) protocol is this
    /// conversation.
    fn fits(&self, transport: u8, port: u16, protocol: &str) -> bool {
        (!protocol.is_empty() && self.protocol == protocol)
            || (self.transport == transport
                && (self.port == port || (self.port == 0 && port >= EPHEMERAL)))
    }

    fn label(&self) -> String {
        zone_label(&self.protocol, self.transport, self.port)
    }
}

fn op_bit(op: Operation) -> u32 {
    Operation::ALL
        .iter()
        .position(|o| *o == op)
        .map_or(0, |i| 1 << i)
}

/// How a conversation's protocol is named in `ot_protocols`: the protocol, or transport/port.
pub fn zone_label(protocol: &str, transport: u8, port: u16) -> String {
    if !protocol.is_empty() {
        return protocol.to_string();
    }
    let t = transport_name(transport);
    if port == 0 || port >= EPHEMERAL {
        format!("{t}/ephemeral")
    } else {
        format!("{t}/{port}")
    }
}

fn transport_name(t: u8) -> String {
    match t {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        n => format!("ip-{n}"),
    }
}

fn transport_number(s: &str) -> Option<u8> {
    match s {
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmp" => Some(1),
        "icmpv6" => Some(58),
        _ => s.strip_prefix("ip-")?.parse().ok(),
    }
}

/// An alert seen while learning: from now on it is known behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub kind: String,
    /// `Addr::None`: any.
    pub src: Addr,
    pub dst: Addr,
}

/// One known device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAsset {
    pub macs: Vec<Mac>,
    pub ips: Vec<IpAddr>,
    pub note: String,
}

/// A site's policy, ready for lookups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub site: String,
    pub learned_from: String,
    pub learned_until: String,
    pub assets: Vec<KnownAsset>,
    pub conversations: Vec<Conv>,
    pub allows: Vec<Allow>,
    pub ot_protocols: BTreeSet<String>,
    macs: FxHashSet<Mac>,
    ips: FxHashSet<IpAddr>,
    /// (client, server) → indexes into `conversations`.
    by_pair: FxHashMap<(IpAddr, IpAddr), Vec<usize>>,
    /// (client, server) pairs where the client changed the server (wrote, programmed, ...).
    writers: FxHashSet<(IpAddr, IpAddr)>,
}

impl Policy {
    fn index(&mut self) {
        self.macs = self.assets.iter().flat_map(|a| a.macs.clone()).collect();
        self.ips = self.assets.iter().flat_map(|a| a.ips.clone()).collect();
        self.by_pair.clear();
        self.writers.clear();
        for (i, c) in self.conversations.iter().enumerate() {
            self.by_pair
                .entry((c.client, c.server))
                .or_default()
                .push(i);
            if Operation::ALL
                .iter()
                .any(|o| o.changes_device() && c.has_op(*o))
            {
                self.writers.insert((c.client, c.server));
            }
        }
    }

    pub fn knows_mac(&self, m: &Mac) -> bool {
        self.macs.contains(m)
    }

    pub fn knows_ip(&self, ip: &IpAddr) -> bool {
        self.ips.contains(ip)
    }

    /// The conversation a flow belongs to (either orientation), if the policy has it, with its
    /// index in `conversations`.
    pub fn conversation(
        &self,
        client: IpAddr,
        server: IpAddr,
        transport: u8,
        port: u16,
        protocol: &str,
    ) -> Option<(usize, &Conv)> {
        let find = |a, b| {
            self.by_pair.get(&(a, b))?.iter().copied().find(|&i| {
                self.conversations
                    .get(i)
                    .is_some_and(|c| c.fits(transport, port, protocol))
            })
        };
        let i = find(client, server).or_else(|| find(server, client))?;
        Some((i, self.conversations.get(i)?))
    }

    /// Whether `client` ever changed `server` (a write, a program download, ...).
    pub fn wrote(&self, client: IpAddr, server: IpAddr) -> bool {
        self.writers.contains(&(client, server))
    }

    /// Whether an alert of `kind` between these addresses was seen while learning.
    pub fn allows(&self, kind: &str, src: Addr, dst: Addr) -> bool {
        self.allows.iter().any(|a| {
            a.kind == kind && (a.src.is_none() || a.src == src) && (a.dst.is_none() || a.dst == dst)
        })
    }

    /// Learns a policy from a report: its assets (not internet hosts), conversations and the
    /// alerts raised while learning.
    pub fn learn(report: &InventoryReport, site: &str) -> Policy {
        let mut p = Policy {
            site: site.to_string(),
            learned_from: report.stats().first_packet.clone(),
            learned_until: report.stats().last_packet.clone(),
            ..Policy::default()
        };
        let mut ot_ips: FxHashSet<IpAddr> = FxHashSet::default();
        for a in &report.assets {
            if a.purdue_level == Some(5) {
                continue;
            }
            if a.purdue_level.is_some_and(|l| l <= 2) {
                ot_ips.extend(a.ips.iter().filter_map(|i| i.parse::<IpAddr>().ok()));
            }
            let note = [
                a.device_type.as_str(),
                a.vendor.as_str(),
                a.model.as_str(),
                a.hostname.as_str(),
            ]
            .iter()
            .filter(|s| !s.is_empty() && **s != "unknown")
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
            p.assets.push(KnownAsset {
                macs: a.macs.iter().filter_map(|m| m.parse().ok()).collect(),
                ips: a.ips.iter().filter_map(|i| i.parse().ok()).collect(),
                note,
            });
        }
        for c in &report.connections {
            let (Ok(client), Ok(server)) = (c.client.parse(), c.server.parse()) else {
                continue;
            };
            let transport = transport_number(&c.transport).unwrap_or(0);
            let port = u16::try_from(c.port).unwrap_or(0);
            let port = if port >= EPHEMERAL { 0 } else { port };
            let mut ops = 0;
            for o in &c.operations {
                if let Some(op) = Operation::parse(o) {
                    ops |= op_bit(op);
                }
            }
            let mut function_codes: Vec<u32> = c
                .function_codes
                .iter()
                .filter_map(|f| f.parse().ok())
                .collect();
            function_codes.sort_unstable();
            function_codes.dedup();
            let conv = Conv {
                client,
                server,
                transport,
                port,
                protocol: c.protocol.clone(),
                ops,
                function_codes,
            };
            if ot_ips.contains(&client) || ot_ips.contains(&server) {
                p.ot_protocols.insert(conv.label());
            }
            // Two flows that only differ by ephemeral port are one conversation.
            match p.conversations.iter_mut().find(|x| {
                x.client == conv.client
                    && x.server == conv.server
                    && x.transport == conv.transport
                    && x.port == conv.port
                    && x.protocol == conv.protocol
            }) {
                Some(x) => {
                    x.ops |= conv.ops;
                    x.function_codes.extend(conv.function_codes);
                    x.function_codes.sort_unstable();
                    x.function_codes.dedup();
                }
                None => p.conversations.push(conv),
            }
        }
        let mut allows: BTreeSet<(String, Addr, Addr)> = BTreeSet::new();
        for a in &report.alerts {
            let builtin = Kind::parse(&a.kind);
            if builtin.is_some_and(|k| k.entry().needs_policy) {
                continue;
            }
            let src = a.src.parse().unwrap_or_default();
            let dst = a.dst.parse().unwrap_or_default();
            allows.insert((a.kind.clone(), src, dst));
        }
        p.allows = allows
            .into_iter()
            .map(|(kind, src, dst)| Allow { kind, src, dst })
            .collect();
        p.index();
        p
    }

    /// The policy as TOML: sorted, commented, one line a fact, so a diff shows what changed.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# otwatch site policy: what is normal on this network.\n\
             # Learned by otwatch-sensor; review it, edit it, keep it under version control.\n\
             # `otwatch-sensor policy check FILE` validates it. Deviations raise new_asset,\n\
             # new_conversation, unauthorized_write, new_operation and unknown_protocol_in_ot_zone;\n\
             # an [[allow]] entry lowers a known alert to severity low.\n"
        );
        let _ = writeln!(s, "version = {POLICY_VERSION}");
        let _ = writeln!(s, "site = {}", quote(&self.site));
        let _ = writeln!(s, "learned_from = {}", quote(&self.learned_from));
        let _ = writeln!(s, "learned_until = {}", quote(&self.learned_until));
        let zone: Vec<String> = self.ot_protocols.iter().map(|p| quote(p)).collect();
        let _ = writeln!(
            s,
            "# Protocols seen on conversations of Purdue level 0-2 assets.\not_protocols = [{}]",
            zone.join(", ")
        );
        let mut assets = self.assets.clone();
        assets.sort_by(|a, b| (&a.ips, &a.macs).cmp(&(&b.ips, &b.macs)));
        for a in &assets {
            let _ = writeln!(s, "\n[[asset]]");
            if !a.note.is_empty() {
                let _ = writeln!(s, "note = {}", quote(&a.note));
            }
            if !a.ips.is_empty() {
                let ips: Vec<String> = a.ips.iter().map(|i| quote(&i.to_string())).collect();
                let _ = writeln!(s, "ips = [{}]", ips.join(", "));
            }
            if !a.macs.is_empty() {
                let macs: Vec<String> = a.macs.iter().map(|m| quote(&m.to_string())).collect();
                let _ = writeln!(s, "macs = [{}]", macs.join(", "));
            }
        }
        let mut convs = self.conversations.clone();
        convs.sort_by(|a, b| {
            (a.client, a.server, a.transport, a.port, &a.protocol).cmp(&(
                b.client,
                b.server,
                b.transport,
                b.port,
                &b.protocol,
            ))
        });
        for c in &convs {
            let _ = writeln!(s, "\n[[conversation]]");
            let _ = writeln!(s, "client = {}", quote(&c.client.to_string()));
            let _ = writeln!(s, "server = {}", quote(&c.server.to_string()));
            let _ = writeln!(s, "transport = {}", quote(&transport_name(c.transport)));
            let _ = writeln!(s, "port = {}", c.port);
            if !c.protocol.is_empty() {
                let _ = writeln!(s, "protocol = {}", quote(&c.protocol));
            }
            let ops: Vec<String> = Operation::ALL
                .iter()
                .filter(|o| c.has_op(**o))
                .map(|o| quote(o.as_str()))
                .collect();
            if !ops.is_empty() {
                let _ = writeln!(s, "operations = [{}]", ops.join(", "));
            }
            if !c.function_codes.is_empty() {
                let fcs: Vec<String> = c.function_codes.iter().map(|f| f.to_string()).collect();
                let _ = writeln!(s, "function_codes = [{}]", fcs.join(", "));
            }
        }
        for a in &self.allows {
            let _ = writeln!(s, "\n[[allow]]");
            let _ = writeln!(s, "kind = {}", quote(&a.kind));
            if !a.src.is_none() {
                let _ = writeln!(s, "src = {}", quote(&a.src.to_string()));
            }
            if !a.dst.is_none() {
                let _ = writeln!(s, "dst = {}", quote(&a.dst.to_string()));
            }
        }
        s
    }

    /// Reads and validates a policy file; errors name the file, line and reason.
    pub fn load(path: &Path) -> Result<Policy, Located> {
        let src = SourceText::read(path)?;
        Policy::parse(&src)
    }

    /// Parses and validates policy text.
    pub fn parse(src: &SourceText) -> Result<Policy, Located> {
        let f: PolicyFile = src.toml()?;
        if *f.version.get_ref() != POLICY_VERSION {
            return Err(src.at(
                f.version.span().start,
                format!(
                    "policy version {} is not supported; this sensor reads version {POLICY_VERSION} (learn the policy again with `otwatch-sensor policy learn`)",
                    f.version.get_ref()
                ),
            ));
        }
        let mut p = Policy {
            site: f.site,
            learned_from: f.learned_from,
            learned_until: f.learned_until,
            ..Policy::default()
        };
        for z in f.ot_protocols {
            p.ot_protocols.insert(z.into_inner());
        }
        for entry in f.asset {
            let at = entry.span().start;
            let a = entry.into_inner();
            let mut k = KnownAsset {
                macs: Vec::new(),
                ips: Vec::new(),
                note: a.note.clone(),
            };
            for m in &a.macs {
                k.macs.push(m.get_ref().parse::<Mac>().map_err(|_| {
                    src.at(
                        m.span().start,
                        format!(
                            "{:?} is not a MAC address (use 00:1b:1b:aa:bb:cc)",
                            m.get_ref()
                        ),
                    )
                })?);
            }
            for i in &a.ips {
                k.ips.push(src.ip(i)?);
            }
            if k.macs.is_empty() && k.ips.is_empty() {
                return Err(src.at(
                    at,
                    "an [[asset]] needs at least one of ips or macs".to_string(),
                ));
            }
            p.assets.push(k);
        }
        for c in f.conversation {
            let client = src.ip(&c.client)?;
            let server = src.ip(&c.server)?;
            let transport = transport_number(c.transport.get_ref()).ok_or_else(|| {
                src.at(
                    c.transport.span().start,
                    format!(
                        "unknown transport {:?}; use tcp, udp, icmp, icmpv6 or ip-N",
                        c.transport.get_ref()
                    ),
                )
            })?;
            let mut ops = 0;
            for o in &c.operations {
                ops |= op_bit(src.operation(o)?);
            }
            let mut function_codes = c.function_codes;
            function_codes.sort_unstable();
            function_codes.dedup();
            p.conversations.push(Conv {
                client,
                server,
                transport,
                port: c.port,
                protocol: c.protocol,
                ops,
                function_codes,
            });
        }
        for a in f.allow {
            let kind = a.kind.get_ref();
            if Kind::parse(kind).is_none() && !kind.starts_with("rule:") {
                return Err(src.at(
                    a.kind.span().start,
                    format!("unknown alert kind {kind:?}; see docs/DETECTION.md for the catalog"),
                ));
            }
            let addr = |v: &Option<Spanned<String>>| -> Result<Addr, Located> {
                match v {
                    None => Ok(Addr::None),
                    Some(s) => s
                        .get_ref()
                        .parse::<Addr>()
                        .map_err(|e| src.at(s.span().start, e)),
                }
            };
            p.allows.push(Allow {
                kind: kind.clone(),
                src: addr(&a.src)?,
                dst: addr(&a.dst)?,
            });
        }
        p.index();
        Ok(p)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: Spanned<u32>,
    #[serde(default)]
    site: String,
    #[serde(default)]
    learned_from: String,
    #[serde(default)]
    learned_until: String,
    #[serde(default)]
    ot_protocols: Vec<Spanned<String>>,
    #[serde(default)]
    asset: Vec<Spanned<AssetEntry>>,
    #[serde(default)]
    conversation: Vec<ConvEntry>,
    #[serde(default)]
    allow: Vec<AllowEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetEntry {
    #[serde(default)]
    macs: Vec<Spanned<String>>,
    #[serde(default)]
    ips: Vec<Spanned<String>>,
    /// What the device was when learned (informational).
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvEntry {
    client: Spanned<String>,
    server: Spanned<String>,
    transport: Spanned<String>,
    #[serde(default)]
    port: u16,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    operations: Vec<Spanned<String>>,
    #[serde(default)]
    function_codes: Vec<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowEntry {
    kind: Spanned<String>,
    #[serde(default)]
    src: Option<Spanned<String>>,
    #[serde(default)]
    dst: Option<Spanned<String>>,
}

#[cfg(test)]
mod tests;
