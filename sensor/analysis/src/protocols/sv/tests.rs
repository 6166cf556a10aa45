use super::*;
use crate::protocols::testing::{frames_never_panic, hex, id, speaks};
use otwatch_common::{Mac, Timestamp};

/// Frame 1 of `tests/data/sv_2streams.pcap` (made with seapath/sv-pcap-generator) after the
/// VLAN tag and ethertype: APPID 0x4000, Length 107, savPdu noASDU 1, one ASDU svID
/// "MU01_0000", smpCnt 0, confRev 1, smpSynch 0, seqData of 64 octets (8 channels).
fn mu() -> Vec<u8> {
    hex(
        "4000006b000000006061800101a25c305a80094d5530315f3030303082020000830400000001850100
        87400000000000000000000004c800000000fffffb3800000000000000000000000000001f7d0000
        0000fffff04200000000fffff042000000000000000000000000",
    )
}

const SRC: Mac = Mac([0xc4, 0xb5, 0x12, 0x00, 0x00, 0x01]);

fn run(d: &mut SvDissector, payload: &[u8]) -> Vec<Observation> {
    let f = LinkFrame {
        src: SRC,
        dst: Some(Mac([0x01, 0x0c, 0xcd, 0x04, 0x00, 0x01])),
        ts: Timestamp::ZERO,
    };
    let mut out = Vec::new();
    d.frame(&f, payload, &mut out);
    out
}

fn violations(out: &[Observation]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Observation::ProtocolViolation { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// A BER TLV with a one-octet tag (short or one-octet long length form).
fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
    let len = match u8::try_from(v.len()) {
        Ok(l) if l < 0x80 => vec![l],
        Ok(l) => vec![0x81, l],
        Err(_) => vec![0x82, (v.len() >> 8) as u8, v.len() as u8],
    };
    [&[tag][..], &len, v].concat()
}

/// An SV frame of ASDUs built from their fields.
fn built(no_asdu: u8, asdus: &[Vec<u8>]) -> Vec<u8> {
    let seq: Vec<u8> = asdus.iter().flat_map(|a| tlv(0x30, a)).collect();
    let pdu = tlv(0x60, &[tlv(0x80, &[no_asdu]), tlv(0xa2, &seq)].concat());
    let len = (pdu.len() + 8) as u16;
    [&[0x40, 0x01][..], &len.to_be_bytes(), &[0, 0, 0, 0], &pdu].concat()
}

fn asdu(sv_id: &str, dat_set: Option<&str>, smp_cnt: &[u8]) -> Vec<u8> {
    let mut a = tlv(0x80, sv_id.as_bytes());
    if let Some(ds) = dat_set {
        a.extend(tlv(0x81, ds.as_bytes()));
    }
    a.extend(tlv(0x82, smp_cnt));
    a.extend(tlv(0x83, &[0, 0, 0, 2]));
    a.extend(tlv(0x85, &[2]));
    a.extend(tlv(0x86, &[0x0f, 0xa0]));
    a.extend(tlv(0x87, &[0; 64]));
    a
}

#[test]
fn reads_the_asdu_of_a_generated_stream() {
    let payload = mu();
    let h = Header::parse(&payload).unwrap();
    assert_eq!((h.appid, h.length), (0x4000, 107));
    let pdu = SavPdu::parse(h.apdu).unwrap();
    assert_eq!(pdu.no_asdu, 1);
    let asdus: Vec<_> = pdu.asdus().map(Result::unwrap).collect();
    assert_eq!(
        asdus,
        [Asdu {
            sv_id: b"MU01_0000",
            dat_set: None,
            smp_cnt: 0,
            conf_rev: 1,
            smp_synch: 0,
            smp_rate: None,
            seq_data_len: 64,
        }]
    );
}

#[test]
fn a_new_stream_describes_its_merging_unit_once() {
    let mut d = SvDissector::default();
    let s = Subject::Mac(SRC);
    let publishes = Observation::Publishes {
        subject: s,
        stream: Box::new(Published {
            protocol: PROTOCOL,
            id: "MU01_0000".into(),
            appid: 0x4000,
            group: Some(Mac([0x01, 0x0c, 0xcd, 0x04, 0x00, 0x01])),
            dataset: None,
            go_id: None,
            conf_rev: 1,
            st_num: None,
            state_change: false,
            simulation: false,
        }),
    };
    assert_eq!(
        run(&mut d, &mu()),
        [
            speaks(s, PROTOCOL, Role::Server, 0),
            id(s, Field::DeviceType, "ied", source::SV_PUBLISHER),
            id(
                s,
                Field::Description,
                "IEC 61850-9-2 merging unit publishing svID MU01_0000, confRev 1, smpSynch \
                 none, APPID 0x4000, 1 ASDU(s) of 64 sample octets, to 01:0c:cd:04:00:01",
                source::SV_PUBLISHER
            ),
            publishes.clone(),
        ]
    );
    // Later frames: the publisher speaks, and the frame of its stream.
    assert_eq!(
        run(&mut d, &mu()),
        [speaks(s, PROTOCOL, Role::Server, 0), publishes]
    );
    assert_eq!(d.streams(), 1);
}

#[test]
fn the_dataset_names_the_logical_device() {
    let mut d = SvDissector::default();
    let a = asdu(
        "AA1J1Q01MU01",
        Some("AA1J1Q01MU01LD0/LLN0$PhsMeas1"),
        &[0, 7],
    );
    let out = run(&mut d, &built(2, &[a.clone(), a]));
    let s = Subject::Mac(SRC);
    assert_eq!(
        out[1],
        id(s, Field::Hostname, "AA1J1Q01MU01LD0", source::SV_DATASET)
    );
    let Observation::Identity { value, .. } = &out[3] else {
        panic!("{out:?}")
    };
    assert!(
        value.contains(", dataset AA1J1Q01MU01LD0/LLN0$PhsMeas1, confRev 2, smpSynch global"),
        "{value}"
    );
    assert!(
        value.contains("2 ASDU(s) of 64 sample octets, smpRate 4000"),
        "{value}"
    );
}

#[test]
fn malformed_frames_are_violations() {
    let good = asdu("MU", None, &[0, 1]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            mu()[..3].to_vec(),
            "SV frame of 3 octets too short for the APPID/Length header",
        ),
        (
            mu()[..50].to_vec(),
            "SV Length 107 runs past the 50 octets of the frame",
        ),
        (
            built(2, std::slice::from_ref(&good)),
            "SV noASDU 2 but seqASDU holds 1",
        ),
        (
            built(1, &[asdu("MU", None, &[0, 1, 2])]),
            "SV ASDU smpCnt of 3 octets, not 2",
        ),
        (built(0, &[]), "SV savPdu without ASDUs"),
        (
            {
                let mut f = mu();
                f[8] = 0x61;
                f
            },
            "SV APDU is [APPLICATION 1] constructed, not a savPdu [APPLICATION 0]",
        ),
    ];
    for (frame, reason) in cases {
        let mut d = SvDissector::default();
        assert_eq!(violations(&run(&mut d, &frame)), [reason], "{frame:02x?}");
    }
}

#[test]
fn never_panics() {
    let mut d = SvDissector::default();
    let a = asdu(
        "AA1J1Q01MU01",
        Some("AA1J1Q01MU01LD0/LLN0$PhsMeas1"),
        &[0, 7],
    );
    frames_never_panic(&mut d, &[&mu(), &built(2, &[a.clone(), a])]);
}
