use super::*;

/// Ethernet + 802.1Q + IPv4 + UDP 10.0.0.1:1234 -> 10.0.0.2:53, payload "hi".
fn vlan_udp() -> Vec<u8> {
    let mut f = vec![
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // dst
        0x00, 0x1b, 0x1b, 0x00, 0x00, 0x01, // src
        0x81, 0x00, 0x00, 0x2a, // VLAN 42
        0x08, 0x00,
    ];
    f.extend_from_slice(&[
        0x45, 0, 0, 30, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend_from_slice(&[0x04, 0xd2, 0, 53, 0, 10, 0, 0, b'h', b'i']);
    f.extend_from_slice(&[0; 8]); // Ethernet padding, beyond the IP total length
    f
}

#[test]
fn decodes_vlan_ipv4_udp_and_trims_padding() {
    let f = vlan_udp();
    let p = decode(LinkType::Ethernet, &f).unwrap();
    assert_eq!(p.vlan, Some(42));
    assert_eq!(p.src_mac.unwrap().to_string(), "00:1b:1b:00:00:01");
    let Net::Ip(ip) = p.net else { panic!("not ip") };
    assert_eq!(ip.src.to_string(), "10.0.0.1");
    assert_eq!(ip.ttl, 64);
    match ip.l4 {
        L4::Udp {
            src_port,
            dst_port,
            payload,
        } => {
            assert_eq!((src_port, dst_port), (1234, 53));
            assert_eq!(payload, b"hi");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn decodes_qinq_and_sll() {
    let mut f = vlan_udp();
    // Wrap in an outer 802.1ad tag.
    f.splice(12..12, [0x88, 0xa8, 0x00, 0x07]);
    let p = decode(LinkType::Ethernet, &f).unwrap();
    assert_eq!(p.vlan, Some(7));
    assert!(matches!(p.net, Net::Ip(_)));

    // Linux cooked v1 around the same IPv4 packet.
    let ipv4 = &vlan_udp()[18..48];
    let mut sll = vec![
        0, 0, 0, 1, 0, 6, 0x00, 0x1b, 0x1b, 0, 0, 1, 0, 0, 0x08, 0x00,
    ];
    sll.extend_from_slice(ipv4);
    let p = decode(LinkType::LinuxSll, &sll).unwrap();
    assert_eq!(p.src_mac.unwrap().to_string(), "00:1b:1b:00:00:01");
    assert!(matches!(
        p.net,
        Net::Ip(IpPacket {
            l4: L4::Udp { .. },
            ..
        })
    ));

    // Linux cooked v2.
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0x00, 0x1b, 0x1b, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(ipv4);
    let p = decode(LinkType::LinuxSll2, &sll2).unwrap();
    assert!(matches!(
        p.net,
        Net::Ip(IpPacket {
            l4: L4::Udp { .. },
            ..
        })
    ));

    // Raw IP and BSD loopback.
    assert!(matches!(
        decode(LinkType::Raw, ipv4).unwrap().net,
        Net::Ip(_)
    ));
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(ipv4);
    assert!(matches!(
        decode(LinkType::Null, &null).unwrap().net,
        Net::Ip(_)
    ));
}

#[test]
fn decodes_ipv6_with_extension_headers() {
    let mut f = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
    f[4..6].copy_from_slice(&(8u16 + 20).to_be_bytes());
    f[6] = 0; // hop-by-hop
    f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    f.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // HBH -> TCP, router alert
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&502u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&40000u16.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = TcpFlags::SYN;
    f.extend_from_slice(&tcp);
    let p = decode(LinkType::Raw, &f).unwrap();
    let Net::Ip(ip) = p.net else { panic!() };
    assert_eq!(ip.src.to_string(), "fe80::1");
    assert_eq!(ip.dst.to_string(), "2001:db8::2");
    assert_eq!(ip.proto, 6);
    assert!(matches!(ip.l4, L4::Tcp { src_port: 502, flags, .. } if flags.syn()));
}

#[test]
fn arp_and_llc_snap() {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x00, 0x1b, 0x1b, 0, 0, 1, 0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&[0x00, 0x1b, 0x1b, 0, 0, 1, 10, 0, 0, 1]);
    f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    let p = decode(LinkType::Ethernet, &f).unwrap();
    let Net::Arp(a) = p.net else { panic!() };
    assert_eq!(a.op, 1);
    assert_eq!(a.sender_ip.to_string(), "10.0.0.1");

    // 802.3 + LLC/SNAP with Cisco OUI (CDP).
    let mut f = vec![0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc, 0, 1, 2, 3, 4, 5, 0, 12];
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, 2, 180, 0, 0]);
    let p = decode(LinkType::Ethernet, &f).unwrap();
    match p.net {
        Net::Llc {
            snap: Some((0x00000c, 0x2000)),
            payload,
            ..
        } => assert_eq!(payload, &[2, 180, 0, 0]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn gre_erspan_inner_frame() {
    // IPv4 + GRE(seq) + ERSPAN II header + inner Ethernet.
    let inner = vlan_udp();
    let mut gre = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1];
    gre.extend_from_slice(&[0x10, 0, 0, 1, 0, 0, 0, 0]);
    gre.extend_from_slice(&inner);
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 47, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    let total = (20 + gre.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&gre);
    let p = decode(LinkType::Raw, &ip).unwrap();
    let inner = p.inner.unwrap();
    assert_eq!(inner.link, LinkType::Ethernet);
    let q = decode(inner.link, inner.data).unwrap();
    assert_eq!(q.vlan, Some(42));
}

#[test]
fn malformed_headers_are_errors_not_panics() {
    let f = vlan_udp();
    for cut in 0..f.len() {
        let _ = decode(LinkType::Ethernet, &f[..cut]);
        let _ = decode(LinkType::Raw, &f[18..18 + cut.min(f.len() - 18)]);
        let _ = decode(LinkType::LinuxSll2, &f[..cut]);
    }
    assert_eq!(
        decode(LinkType::Ethernet, &f[..10]).unwrap_err(),
        DecodeError::Ethernet
    );
    // IHL below 5.
    let mut bad = f.clone();
    bad[18] = 0x44;
    assert_eq!(
        decode(LinkType::Ethernet, &bad).unwrap_err(),
        DecodeError::Ipv4Header
    );
    // Deterministic pseudo-random frames.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..20_000 {
        let mut buf = [0u8; 96];
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let len = (x % 96) as usize;
        for link in [
            LinkType::Ethernet,
            LinkType::Raw,
            LinkType::LinuxSll,
            LinkType::Null,
        ] {
            let _ = decode(link, &buf[..len]);
        }
    }
}
