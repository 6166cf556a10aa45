// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Read};

use super::*;

/// Real captures (see sensor/tests/data/README.md for source and licence).
/// Classic pcap, little-endian µs, Ethernet, one CDP frame.
const CDP_V1: &[u8] = include_bytes!("../../../../tests/data/cdp-v1.pcap");
/// Classic pcap despite its name: detection goes by magic, not extension.
const STEP7: &[u8] = include_bytes!("../../../../tests/data/step7_s300_copyRamToRom.pcapng");
/// pcapng with if_tsresol 9 and an Interface Statistics Block after the packet.
const ENIP_NG: &[u8] =
    include_bytes!("../../../../tests/data/set_attribute_single_service_cip.pcapng");

/// One frame as read, owned, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    ts: u64,
    link: LinkType,
    data: Vec<u8>,
    wire_len: u32,
    interface: u32,
}

/// What reading a whole capture gives: frames, then the error if any (as its message).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    recs: Vec<Rec>,
    err: Option<String>,
}

fn drain(mut cf: CaptureFile) -> (Outcome, Option<CaptureError>, Progress) {
    let mut recs = Vec::new();
    let mut error = None;
    loop {
        match cf.next_batch() {
            Ok(Some(b)) => {
                assert!(!b.is_empty(), "a batch is never empty");
                recs.extend(b.iter().map(|f| Rec {
                    ts: f.ts.0,
                    link: f.link,
                    data: f.data.to_vec(),
                    wire_len: f.wire_len,
                    interface: f.interface,
                }));
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // After the end or an error the source stays finished.
    assert!(matches!(cf.next_batch(), Ok(None)));
    assert!(matches!(cf.next_batch(), Ok(None)));
    let err = error.as_ref().map(|e| e.to_string());
    (Outcome { recs, err }, error, cf.progress())
}

fn open_chunked(bytes: &[u8], chunk: usize) -> Result<CaptureFile, CaptureError> {
    let total = Some(bytes.len() as u64);
    CaptureFile::with_chunk(
        Box::new(Cursor::new(bytes.to_vec())),
        "t".into(),
        total,
        chunk,
    )
}

fn read(bytes: &[u8]) -> (Outcome, Option<CaptureError>, Progress) {
    drain(open_chunked(bytes, CHUNK).unwrap())
}

/// A reader that returns 1 to 7 bytes per call.
struct Dribble {
    data: Vec<u8>,
    at: usize,
    calls: usize,
}

impl Read for Dribble {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        let n = (1 + self.calls % 7)
            .min(out.len())
            .min(self.data.len() - self.at);
        out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads `bytes` with the default chunk, with tiny chunks, and through a dribbling reader, and
/// checks that every way gives the same frames and the same error.
fn read_every_way(bytes: &[u8]) -> Outcome {
    let (want, _, progress) = read(bytes);
    if want.err.is_none() {
        assert_eq!(progress.done, bytes.len() as u64);
    }
    for chunk in (1..=40).chain([63, 64, 65, 100, 333, 4096]) {
        match open_chunked(bytes, chunk) {
            Ok(cf) => assert_eq!(drain(cf).0, want, "chunk {chunk}"),
            Err(e) => panic!("chunk {chunk}: {e}"),
        }
    }
    let dribble = Dribble {
        data: bytes.to_vec(),
        at: 0,
        calls: 0,
    };
    let cf = CaptureFile::from_reader(Box::new(dribble), "t".into(), None).unwrap();
    assert_eq!(drain(cf).0, want, "dribble");
    want
}

// ---- builders ----

fn put32(out: &mut Vec<u8>, be: bool, v: u32) {
    out.extend(if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put16(out: &mut Vec<u8>, be: bool, v: u16) {
    out.extend(if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// A classic pcap file: records are (seconds, fraction, data, original length).
fn pcap(be: bool, nanos: bool, link: u32, recs: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let mut o = Vec::new();
    put32(&mut o, be, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    put16(&mut o, be, 2);
    put16(&mut o, be, 4);
    put32(&mut o, be, 0);
    put32(&mut o, be, 0);
    put32(&mut o, be, 65535);
    put32(&mut o, be, link);
    for &(s, f, d, orig) in recs {
        put32(&mut o, be, s);
        put32(&mut o, be, f);
        put32(&mut o, be, d.len() as u32);
        put32(&mut o, be, orig);
        o.extend_from_slice(d);
    }
    o
}

/// A pcapng writer, one section byte order at a time.
struct Ng {
    be: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(be: bool) -> Ng {
        let mut ng = Ng {
            be,
            out: Vec::new(),
        };
        ng.shb(be);
        ng
    }

    fn block(&mut self, btype: u32, body: &[u8]) -> usize {
        let at = self.out.len();
        let padded = body.len().next_multiple_of(4);
        let len = (12 + padded) as u32;
        put32(&mut self.out, self.be, btype);
        put32(&mut self.out, self.be, len);
        self.out.extend_from_slice(body);
        self.out.resize(at + 8 + padded, 0);
        put32(&mut self.out, self.be, len);
        at
    }

    fn shb(&mut self, be: bool) {
        self.be = be;
        let mut b = Vec::new();
        put32(&mut b, be, 0x1a2b_3c4d);
        put16(&mut b, be, 1);
        put16(&mut b, be, 0);
        b.extend([0xff; 8]);
        self.block(0x0a0d_0d0a, &b);
    }

    /// An IDB with options given as (code, value).
    fn idb(&mut self, link: u16, snaplen: u32, opts: &[(u16, Vec<u8>)]) {
        let be = self.be;
        let mut b = Vec::new();
        put16(&mut b, be, link);
        put16(&mut b, be, 0);
        put32(&mut b, be, snaplen);
        for (code, v) in opts {
            put16(&mut b, be, *code);
            put16(&mut b, be, v.len() as u16);
            b.extend_from_slice(v);
            b.resize(b.len().next_multiple_of(4), 0);
        }
        if !opts.is_empty() {
            b.extend([0; 4]);
        }
        self.block(1, &b);
    }

    fn epb(&mut self, iface: u32, units: u64, data: &[u8], orig: u32) -> usize {
        let be = self.be;
        let mut b = Vec::new();
        put32(&mut b, be, iface);
        put32(&mut b, be, (units >> 32) as u32);
        put32(&mut b, be, units as u32);
        put32(&mut b, be, data.len() as u32);
        put32(&mut b, be, orig);
        b.extend_from_slice(data);
        self.block(6, &b)
    }

    fn spb(&mut self, data: &[u8], orig: u32) {
        let mut b = Vec::new();
        put32(&mut b, self.be, orig);
        b.extend_from_slice(data);
        self.block(3, &b);
    }

    fn packet_block(&mut self, iface: u16, units: u64, data: &[u8]) {
        let be = self.be;
        let mut b = Vec::new();
        put16(&mut b, be, iface);
        put16(&mut b, be, 0);
        put32(&mut b, be, (units >> 32) as u32);
        put32(&mut b, be, units as u32);
        put32(&mut b, be, data.len() as u32);
        put32(&mut b, be, data.len() as u32);
        b.extend_from_slice(data);
        self.block(2, &b);
    }
}

fn tsoffset(be: bool, secs: i64) -> Vec<u8> {
    if be {
        secs.to_be_bytes()
    } else {
        secs.to_le_bytes()
    }
    .to_vec()
}

const ETH: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3, 4, 5, 0x08, 0x06, 0xaa,
];
const IP: &[u8] = &[
    0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
];

// ---- classic pcap ----

#[test]
fn pcap_all_magics() {
    for be in [false, true] {
        for nanos in [false, true] {
            let bytes = pcap(
                be,
                nanos,
                0x1000_0001, // FCS bits above the link type are ignored
                &[
                    (1_445_505_155, 123_456, ETH, 60),
                    (1_445_505_156, 7, IP, 10),
                ],
            );
            let out = read_every_way(&bytes);
            assert_eq!(out.err, None);
            let mult = if nanos { 1 } else { 1000 };
            assert_eq!(
                out.recs,
                vec![
                    Rec {
                        ts: 1_445_505_155_000_000_000 + 123_456 * mult,
                        link: LinkType::Ethernet,
                        data: ETH.to_vec(),
                        wire_len: 60,
                        interface: 0,
                    },
                    Rec {
                        ts: 1_445_505_156_000_000_000 + 7 * mult,
                        link: LinkType::Ethernet,
                        data: IP.to_vec(),
                        // original length below captured length: the captured one wins
                        wire_len: IP.len() as u32,
                        interface: 0,
                    },
                ],
                "be={be} nanos={nanos}"
            );
        }
    }
}

#[test]
fn pcap_raw_link_and_empty_capture() {
    let out = read_every_way(&pcap(false, false, 101, &[(1, 2, IP, 20)]));
    assert_eq!(out.recs[0].link, LinkType::Raw);
    // A header and no records is a valid, empty capture.
    let (out, _, progress) = read(&pcap(true, true, 1, &[]));
    assert_eq!(
        out,
        Outcome {
            recs: vec![],
            err: None
        }
    );
    assert_eq!(progress.done, 24);
}

/// Values from `tshark -r cdp-v1.pcap -T fields -e frame.time_epoch -e frame.len -e eth.src`.
#[test]
fn real_pcap_matches_tshark() {
    let out = read_every_way(CDP_V1);
    assert_eq!(out.err, None);
    assert_eq!(out.recs.len(), 1);
    let f = &out.recs[0];
    assert_eq!(f.ts, 1_164_034_146_739_806_000);
    assert_eq!((f.data.len(), f.wire_len), (300, 300));
    assert_eq!(f.link, LinkType::Ethernet);
    assert_eq!(&f.data[6..12], &[0x00, 0xe0, 0x1e, 0xd5, 0xd5, 0x15]);

    let out = read_every_way(STEP7);
    assert_eq!(out.err, None);
    let ts: Vec<_> = out.recs.iter().map(|r| (r.ts, r.data.len())).collect();
    assert_eq!(
        ts,
        [
            (1_399_302_758_707_640_000, 89),
            (1_399_302_758_750_796_000, 74)
        ]
    );
}

#[test]
fn pcap_truncated_record_returns_frames_first() {
    let bytes = pcap(
        false,
        false,
        1,
        &[(1, 0, ETH, 15), (2, 0, ETH, 15), (3, 0, IP, 20)],
    );
    let third = 24 + 2 * (16 + ETH.len());
    // Cut inside the third record's data, then inside its header.
    for cut in [bytes.len() - 1, third + 5] {
        let (out, err, progress) = read(&bytes[..cut]);
        assert_eq!(out.recs.len(), 2);
        match err {
            Some(CaptureError::Truncated { offset, .. }) => assert_eq!(offset, third as u64),
            other => panic!("{other:?}"),
        }
        assert_eq!(progress.done, third as u64);
        assert_eq!(read_every_way(&bytes[..cut]), out);
    }
    // A file header cut short.
    assert!(matches!(
        open_chunked(&bytes[..20], CHUNK),
        Err(CaptureError::Truncated { .. })
    ));
}

#[test]
fn pcap_oversized_record_is_corrupt() {
    let mut bytes = pcap(false, false, 1, &[(1, 0, ETH, 15), (2, 0, ETH, 15)]);
    let second = 24 + 16 + ETH.len();
    // incl_len of the second record: beyond max(snaplen, 262144)
    bytes[second + 8..second + 12].copy_from_slice(&300_000u32.to_le_bytes());
    let (out, err, _) = read(&bytes);
    assert_eq!(out.recs.len(), 1);
    match err {
        Some(CaptureError::Corrupt { offset, detail, .. }) => {
            assert_eq!(offset, second as u64);
            assert!(detail.contains("300000"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // A huge snaplen does not lift the 64 MiB cap.
    let mut bytes = pcap(false, false, 1, &[(1, 0, ETH, 15)]);
    bytes[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[24 + 8..24 + 12].copy_from_slice(&(65u32 << 20).to_le_bytes());
    let (_, err, _) = read(&bytes);
    assert!(matches!(
        err,
        Some(CaptureError::Corrupt { offset: 24, .. })
    ));
}

#[test]
fn large_record_grows_the_buffer() {
    let big = vec![0x5a; 200_000];
    let bytes = pcap(
        false,
        false,
        1,
        &[(1, 0, ETH, 15), (2, 0, &big, 200_000), (3, 0, IP, 20)],
    );
    for chunk in [16, 4096, CHUNK] {
        let (out, err, _) = drain(open_chunked(&bytes, chunk).unwrap());
        assert!(err.is_none());
        assert_eq!(out.recs.len(), 3);
        assert_eq!(out.recs[1].data, big);
        assert_eq!(out.recs[2].data, IP);
    }
}

#[test]
fn many_records_come_in_bounded_batches() {
    let recs: Vec<_> = (0..40_000u32).map(|i| (i, 0, &IP[..4], 4)).collect();
    let bytes = pcap(false, false, 1, &recs);
    let mut cf = open_chunked(&bytes, CHUNK).unwrap();
    let (mut n, mut batches) = (0u32, 0);
    while let Some(b) = cf.next_batch().unwrap() {
        assert!(b.len() <= MAX_BATCH_FRAMES);
        for f in b.iter() {
            assert_eq!(f.ts.secs(), u64::from(n));
            n += 1;
        }
        batches += 1;
    }
    assert_eq!((n, batches), (40_000, 3));
    assert_eq!(
        cf.progress(),
        Progress {
            done: bytes.len() as u64,
            total: Some(bytes.len() as u64)
        }
    );
}

// ---- pcapng ----

#[test]
fn pcapng_two_interfaces_with_resolutions_and_offset() {
    for be in [false, true] {
        let mut ng = Ng::new(be);
        // Interface 0: Ethernet, nanoseconds.
        ng.idb(1, 0, &[(2, b"eth0".to_vec()), (9, vec![9])]);
        // Interface 1: raw IP, 2^-10 s units, 100 s offset.
        ng.idb(101, 96, &[(9, vec![0x80 | 10]), (14, tsoffset(be, 100))]);
        ng.epb(0, 1_445_505_155_123_456_789, ETH, 64);
        ng.epb(1, 1_000 * 1024 + 512, IP, 20);
        let out = read_every_way(&ng.out);
        assert_eq!(out.err, None);
        assert_eq!(
            out.recs,
            vec![
                Rec {
                    ts: 1_445_505_155_123_456_789,
                    link: LinkType::Ethernet,
                    data: ETH.to_vec(),
                    wire_len: 64,
                    interface: 0,
                },
                Rec {
                    ts: 1_100_500_000_000,
                    link: LinkType::Raw,
                    data: IP.to_vec(),
                    wire_len: 20,
                    interface: 1,
                },
            ]
        );
    }
}

#[test]
fn pcapng_timestamp_resolutions_and_overflow() {
    let ts = |resol: u8, offset: i64, units: u64| {
        let mut ng = Ng::new(false);
        ng.idb(1, 0, &[(9, vec![resol]), (14, tsoffset(false, offset))]);
        ng.epb(0, units, IP, 20);
        read(&ng.out).0.recs[0].ts
    };
    assert_eq!(ts(6, 0, 1_500_000), 1_500_000_000); // default resolution, microseconds
    assert_eq!(ts(0, 0, 3), 3_000_000_000);
    assert_eq!(ts(12, 0, 5_000_000_000_000), 5_000_000_000);
    assert_eq!(ts(127, 0, u64::MAX), 0);
    assert_eq!(ts(0x80, 0, 2), 2_000_000_000);
    assert_eq!(ts(0x80 | 127, 0, u64::MAX), 0);
    assert_eq!(ts(0, 0, u64::MAX), u64::MAX); // saturates
    assert_eq!(ts(9, i64::MAX, u64::MAX - 5), u64::MAX);
    assert_eq!(ts(9, -5, 1_000_000_000), 0); // never below the epoch
    assert_eq!(ts(9, -1, 3_000_000_000), 2_000_000_000);
}

#[test]
fn pcapng_sections_reset_interfaces_and_byte_order() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    ng.idb(1, 0, &[]);
    ng.epb(1, 1_000_000, ETH, 15);
    ng.shb(true);
    ng.idb(101, 0, &[(9, vec![9])]);
    ng.epb(0, 2_000_000_000, IP, 20);
    let good = ng.out.clone();
    let out = read_every_way(&good);
    assert_eq!(out.err, None);
    let got: Vec<_> = out
        .recs
        .iter()
        .map(|r| (r.ts, r.link, r.interface))
        .collect();
    assert_eq!(
        got,
        [
            (1_000_000_000, LinkType::Ethernet, 1),
            (2_000_000_000, LinkType::Raw, 0)
        ]
    );
    // Interface 1 belonged to the first section only.
    let bad_at = ng.epb(1, 3, IP, 20);
    let (out, err, _) = read(&ng.out);
    assert_eq!(out.recs.len(), 2);
    match err {
        Some(CaptureError::Corrupt { offset, detail, .. }) => {
            assert_eq!(offset, bad_at as u64);
            assert!(detail.contains("interface 1"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pcapng_skips_other_blocks_and_reads_spb_and_packet_block() {
    let mut ng = Ng::new(false);
    ng.block(4, &[0, 0, 0, 0]); // NRB with only opt_endofopt... before the IDB
    ng.idb(1, 8, &[]);
    ng.block(0x0000_0BAD, b"custom block body"); // custom
    ng.block(0x1234_5678, &[1, 2, 3]); // unknown
    ng.epb(0, 7_000_000, ETH, 15);
    ng.spb(&ETH[..8], 15); // cut to the snaplen of 8 by the writer
    ng.block(5, &[0; 12]); // ISB
    ng.block(10, &[0; 8]); // DSB
    ng.packet_block(0, 9_000_000, IP);
    ng.spb(&IP[..3], 3);
    let out = read_every_way(&ng.out);
    assert_eq!(out.err, None);
    let got: Vec<_> = out
        .recs
        .iter()
        .map(|r| (r.ts, r.data.clone(), r.wire_len))
        .collect();
    assert_eq!(
        got,
        [
            (7_000_000_000, ETH.to_vec(), 15),
            (7_000_000_000, ETH[..8].to_vec(), 15), // SPB: last timestamp seen
            (9_000_000_000, IP.to_vec(), 20),
            (9_000_000_000, IP[..3].to_vec(), 3),
        ]
    );
    // An SPB needs interface 0.
    let mut ng = Ng::new(false);
    ng.spb(ETH, 15);
    assert!(matches!(
        read(&ng.out).1,
        Some(CaptureError::Corrupt { offset: 28, .. })
    ));
}

#[test]
fn pcapng_bad_block_lengths_are_corrupt() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    ng.epb(0, 1, ETH, 15);
    let at = ng.epb(0, 2, ETH, 15);
    let good = ng.out.clone();
    let set_len = |bytes: &mut Vec<u8>, pos: usize, v: u32| {
        bytes[pos..pos + 4].copy_from_slice(&v.to_le_bytes());
    };
    // leading length: not a multiple of 4, too small, too large; trailing length differs
    let trail = good.len() - 4;
    for (pos, v, what) in [
        (at + 4, 46, "multiple of 4"),
        (at + 4, 8, "multiple of 4"),
        (at + 4, 128 << 20, "limit"),
        (trail, 44, "trailing"),
    ] {
        let mut bytes = good.clone();
        set_len(&mut bytes, pos, v);
        let (out, err, _) = read(&bytes);
        assert_eq!(out.recs.len(), 1, "{what}");
        match err {
            Some(CaptureError::Corrupt { offset, detail, .. }) => {
                assert_eq!(offset, at as u64, "{what}");
                assert!(detail.contains(what), "{detail}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(read_every_way(&bytes), out);
    }
    // captured length running past the block
    let mut bytes = good.clone();
    set_len(&mut bytes, at + 20, 100);
    assert!(
        matches!(read(&bytes).1, Some(CaptureError::Corrupt { offset, .. }) if offset == at as u64)
    );
    // a later SHB with a bad byte-order magic
    let mut ng = Ng::new(false);
    let at = ng.out.len();
    ng.shb(false);
    ng.out[at + 8] = 0x99;
    assert!(
        matches!(read(&ng.out).1, Some(CaptureError::Corrupt { offset, .. }) if offset == at as u64)
    );
}

#[test]
fn pcapng_truncated_block() {
    let mut ng = Ng::new(true);
    ng.idb(1, 0, &[]);
    ng.epb(0, 1, ETH, 15);
    let at = ng.epb(0, 2, ETH, 15);
    for cut in [at + 3, at + 20, ng.out.len() - 1] {
        let out = read_every_way(&ng.out[..cut]);
        assert_eq!(out.recs.len(), 1);
        let (_, err, _) = read(&ng.out[..cut]);
        assert!(
            matches!(err, Some(CaptureError::Truncated { offset, .. }) if offset == at as u64),
            "{err:?}"
        );
    }
}

/// Values from `tshark -r set_attribute_single_service_cip.pcapng -T fields
/// -e frame.time_epoch -e frame.len -e frame.cap_len -e frame.interface_id`.
#[test]
fn real_pcapng_matches_tshark() {
    let out = read_every_way(ENIP_NG);
    assert_eq!(out.err, None);
    assert_eq!(out.recs.len(), 1);
    let f = &out.recs[0];
    assert_eq!(f.ts, 1_738_823_410_493_630_309);
    assert_eq!((f.data.len(), f.wire_len, f.interface), (110, 110, 0));
    assert_eq!(f.link, LinkType::Ethernet);
}

// ---- not a capture, robustness ----

#[test]
fn not_a_capture() {
    for (bytes, shown) in [
        (&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], "47 45 54 20"),
        (&b"\xd4\xc3"[..], "d4 c3"),
        // pcapng block type with a bad byte-order magic
        (
            &b"\x0a\x0d\x0d\x0a\x1c\0\0\0\x11\x22\x33\x44"[..],
            "11 22 33 44",
        ),
    ] {
        match open_chunked(bytes, CHUNK) {
            Err(e @ CaptureError::NotACapture { .. }) => {
                assert!(e.to_string().contains(shown), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
    // An empty file is said to be empty, not shown as bytes that are not a capture.
    match open_chunked(b"", CHUNK) {
        Err(e @ CaptureError::Empty { .. }) => assert!(e.to_string().contains("is empty"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn io_error_is_reported() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let err = CaptureFile::from_reader(Box::new(Broken), "b".into(), None).unwrap_err();
    assert!(matches!(err, CaptureError::Io { .. }));
    assert!(matches!(
        CaptureFile::open(Path::new("/nonexistent/x.pcap")),
        Err(CaptureError::Io { .. })
    ));
}

/// Every prefix of a real capture, and random bytes behind a valid header, never panic and
/// give a prefix of the frames.
#[test]
fn truncations_and_random_bytes_never_panic() {
    for real in [CDP_V1, STEP7, ENIP_NG] {
        let full = read(real).0.recs;
        for cut in 0..real.len() {
            if let Ok(cf) = open_chunked(&real[..cut], 7) {
                let (out, _, _) = drain(cf);
                assert!(full.starts_with(&out.recs));
            }
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..2000 {
        let mut bytes = match i % 3 {
            0 => CDP_V1[..24].to_vec(),
            1 => ENIP_NG[..28].to_vec(),
            _ => ENIP_NG[..(rnd() % 500) as usize].to_vec(),
        };
        let n = rnd() % 400;
        bytes.extend((0..n).map(|_| rnd() as u8));
        // Flip a few bytes anywhere, including the headers.
        for _ in 0..(rnd() % 4) {
            let len = bytes.len();
            if len > 0 {
                bytes[(rnd() as usize) % len] ^= rnd() as u8;
            }
        }
        if let Ok(cf) = open_chunked(&bytes, 1 + (rnd() % 64) as usize) {
            let _ = drain(cf);
        }
    }
}
