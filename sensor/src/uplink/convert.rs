//! Report types (`otwatch_common::model`, serde) to their generated proto twins
//! (`otwatch_proto::v1`, prost). Both follow `inventory.proto` field for field.

use otwatch_common::model as m;
use otwatch_proto::v1 as p;

pub fn asset(a: &m::Asset) -> p::Asset {
    p::Asset {
        id: a.id.clone(),
        macs: a.macs.clone(),
        ips: a.ips.clone(),
        vendor: a.vendor.clone(),
        hostname: a.hostname.clone(),
        model: a.model.clone(),
        firmware: a.firmware.clone(),
        os: a.os.clone(),
        serial: a.serial.clone(),
        device_type: a.device_type.clone(),
        purdue_level: a.purdue_level,
        protocols: a
            .protocols
            .iter()
            .map(|u| p::ProtocolUse {
                name: u.name.clone(),
                role: u.role.clone(),
                port: u.port,
            })
            .collect(),
        packets: a.packets,
        bytes: a.bytes,
        first_seen: a.first_seen.clone(),
        last_seen: a.last_seen.clone(),
        names: a.names.clone(),
        evidence: a
            .evidence
            .iter()
            .map(|e| p::Evidence {
                field: e.field.clone(),
                value: e.value.clone(),
                source: e.source.clone(),
                first_seen: e.first_seen.clone(),
            })
            .collect(),
        vlans: a.vlans.clone(),
    }
}

pub fn connection(c: &m::Connection) -> p::Connection {
    p::Connection {
        client: c.client.clone(),
        server: c.server.clone(),
        transport: c.transport.clone(),
        port: c.port,
        protocol: c.protocol.clone(),
        packets: c.packets,
        bytes: c.bytes,
        function_codes: c.function_codes.clone(),
        operations: c.operations.clone(),
        cleartext_logins: c
            .cleartext_logins
            .iter()
            .map(|l| p::CleartextLogin {
                user: l.user.clone(),
                protocol: l.protocol.clone(),
                first_seen: l.first_seen.clone(),
            })
            .collect(),
        first_seen: c.first_seen.clone(),
        last_seen: c.last_seen.clone(),
        flows: c.flows,
        accessed: c
            .accessed
            .iter()
            .map(|r| p::AccessedRanges {
                unit: r.unit,
                area: r.area.clone(),
                op: r.op.clone(),
                ranges: r.ranges.clone(),
                dropped: r.dropped,
            })
            .collect(),
        vlan: c.vlan,
    }
}

pub fn alert(a: &m::Alert) -> p::Alert {
    p::Alert {
        id: a.id.clone(),
        kind: a.kind.clone(),
        severity: a.severity.clone(),
        title: a.title.clone(),
        description: a.description.clone(),
        mitre: a.mitre.clone(),
        src: a.src.clone(),
        dst: a.dst.clone(),
        asset: a.asset.clone(),
        protocol: a.protocol.clone(),
        first_seen: a.first_seen.clone(),
        last_seen: a.last_seen.clone(),
        count: a.count,
        evidence: a
            .evidence
            .iter()
            .map(|e| p::AlertEvidence {
                field: e.field.clone(),
                value: e.value.clone(),
            })
            .collect(),
    }
}

pub fn capture_stats(s: &m::CaptureStats) -> p::CaptureStats {
    let map = |x: &std::collections::BTreeMap<String, u64>| {
        x.iter().map(|(k, v)| (k.clone(), *v)).collect()
    };
    p::CaptureStats {
        packets: s.packets,
        bytes: s.bytes,
        flows: s.flows,
        decode_errors: s.decode_errors,
        first_packet: s.first_packet.clone(),
        last_packet: s.last_packet.clone(),
        decode_errors_by_kind: map(&s.decode_errors_by_kind),
        limits: map(&s.limits),
        protocol_violations: map(&s.protocol_violations),
        sources: s
            .sources
            .iter()
            .map(|c| p::CaptureSource {
                interface: c.interface.clone(),
                queue: c.queue,
                mode: c.mode.clone(),
                packets: c.packets,
                bytes: c.bytes,
                kernel_drops: c.kernel_drops,
                freezes: c.freezes,
                rx_ring_full: c.rx_ring_full,
                fill_ring_empty: c.fill_ring_empty,
                invalid_descs: c.invalid_descs,
            })
            .collect(),
    }
}

/// The connection's upsert key on the link: `client|server|transport|port`.
pub fn connection_key(c: &m::Connection) -> String {
    format!("{}|{}|{}|{}", c.client, c.server, c.transport, c.port)
}
