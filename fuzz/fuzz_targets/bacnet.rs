//! Arbitrary datagrams into one BACnet/IP flow: the input is split into datagrams by a
//! one-byte length prefix whose top bit picks the direction, so one input is a conversation;
//! every datagram also goes through the probe and the service parsers directly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_common::{Mac, Timestamp};
use otwatch_sensor::protocols::{bacnet, Direction, Endpoint, FlowCtx, Transport};

fuzz_target!(|data: &[u8]| {
    let ep = |ip: [u8; 4], mac: u8| Endpoint {
        ip: ip.into(),
        port: 47808,
        mac: Some(Mac([0, 1, 2, 3, 4, mac])),
    };
    let mut ctx = FlowCtx {
        client: ep([10, 0, 0, 1], 1),
        server: ep([10, 0, 0, 2], 2),
        transport: Transport::Udp,
        ts: Timestamp(1_600_000_000_000_000_000),
        dst_mac: None,
    };
    let mut d = (bacnet::SPEC.new)();
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len & 0x7f).min(tail.len());
        let (datagram, next) = tail.split_at(n);
        let dir = if len & 0x80 == 0 { Direction::ToServer } else { Direction::ToClient };
        ctx.dst_mac = (n % 3 == 0).then_some(Mac::BROADCAST);
        let _ = (bacnet::SPEC.probe)(dir, datagram);
        assert!(d.parse(dir, datagram, &ctx, &mut out) <= datagram.len());
        let _ = bacnet::parse_i_am(datagram);
        let _ = bacnet::parse_read_property_ack(datagram);
        let _ = bacnet::for_each_rpm_result(datagram, |_| {});
        let _ = bacnet::tags::character_string(datagram);
        out.clear();
        rest = next;
    }
});
