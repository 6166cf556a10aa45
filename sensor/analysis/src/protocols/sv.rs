//! IEC 61850-9-2 Sampled Values (ethertype 0x88BA): a merging unit digitises the currents
//! and voltages of instrument transformers and multicasts them on the process bus, thousands
//! of frames a second, to the protection IEDs that subscribe. Read against Wireshark's
//! `packet-sv.c` and the ASN.1 of IEC 61850-9-2:2011 §8.5 (Table 14); written from the
//! standard.
//!
//! Layers: the APPID/Length header shared with GOOSE ([`iec61850_frame`]), then the savPdu
//! `[APPLICATION 0]`: noASDU `[0]`, security `[1]` OPTIONAL, seqASDU `[2]`, a SEQUENCE OF
//! ASDU, each with svID `[0]`, datSet `[1]` OPTIONAL, smpCnt `[2]` (2 octets), confRev `[3]`
//! (4 octets), refrTm `[4]` OPTIONAL, smpSynch `[5]` (1 octet), smpRate `[6]` OPTIONAL,
//! seqData `[7]` (the samples, not decoded: their layout is the dataset's) and smpMod `[8]`
//! OPTIONAL.
//!
//! What it reports, about the frame's source MAC (the publisher):
//! - identity, the first time a stream (publisher, APPID, svID of the first ASDU) is seen, so
//!   that thousands of frames a second cost no allocation: the logical device of datSet as
//!   host name when datSet is sent; device type `ied`, the catalog's type for IEC 61850
//!   devices, with "merging unit" in the description. Its Purdue level is 1, from the type: a
//!   merging unit is the process-level IED of IEC 61850's station/bay/process model and sits
//!   beside the protection IEDs it feeds, while the instrument transformers it samples are
//!   level 0; a configurable, addressable device publishing on the bus belongs with level 1
//!   as the catalog defines it (`io_module` at 0 is for fieldbus I/O that only answers a
//!   controller). The description names svID, datSet, confRev, smpSynch, the ASDUs per frame,
//!   the seqData length and the destination group (the subscribers' process-bus address).
//! - violations: a header too short or a Length past the frame, BER that does not parse, an
//!   APDU that is not one savPdu, noASDU that disagrees with the ASDUs sent, and ASDU fields
//!   of the wrong size. Each stream has its own budget.

use super::ber::{self, Reader, Tag};
use super::iec61850_frame::{self, Header, HeaderError, StreamKey, Streams};
use super::text::clean_text;
use super::violations::Violations;
use super::{push_identity, source, FrameDissector, LinkFrame};
use otwatch_common::observation::{Field, Observation, Published, Role, Subject};

/// The name reports use.
pub const PROTOCOL: &str = "sv";
/// Sampled Values' ethertype (IEC 61850-9-2 §8.2).
pub const ETHERTYPE: u16 = 0x88ba;
/// ASDUs read from one savPdu at most (9-2LE sends 1 or 8).
const MAX_ASDUS: usize = 64;
/// Characters kept of svID and datSet (VisibleString129 and ObjectReference).
const MAX_NAME_CHARS: usize = 129;

/// [APPLICATION 0] constructed.
const SAV_PDU: Tag = Tag::application(0, true);

/// What was wrong with an SV frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SvError {
    #[error("SV {0}")]
    Header(#[from] HeaderError),
    #[error("SV {0}")]
    Ber(#[from] ber::Error),
    #[error("SV APDU is {0}, not a savPdu [APPLICATION 0]")]
    NotSavPdu(Tag),
    #[error("SV APDU has {0} octets after the savPdu within Length")]
    TrailingOctets(usize),
    #[error("SV noASDU {declared} but seqASDU holds {found}")]
    AsduCount { declared: i64, found: usize },
    #[error("SV ASDU {field} of {len} octets, not {expected}")]
    FieldSize {
        field: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("SV savPdu without ASDUs")]
    NoAsdu,
    #[error("SV frame from group address")]
    GroupSource,
}

/// One ASDU's fields (seqData only by length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asdu<'a> {
    pub sv_id: &'a [u8],
    pub dat_set: Option<&'a [u8]>,
    pub smp_cnt: u16,
    pub conf_rev: u32,
    /// 0 none, 1 local clock, 2 global (IEC 61850-9-2 Ed2.1 Table 14).
    pub smp_synch: u8,
    pub smp_rate: Option<u16>,
    /// Octets of samples (8 a channel in 9-2LE: value and quality).
    pub seq_data_len: usize,
}

impl<'a> Asdu<'a> {
    /// Reads the content of one ASDU SEQUENCE.
    pub fn parse(content: &'a [u8]) -> Result<Self, SvError> {
        let mut r = Reader::new(content);
        let ctx = |n| Tag::context(n, false);
        let sv_id = r.read_expect(ctx(0))?;
        let dat_set = r.read_optional(ctx(1))?;
        let smp_cnt = u16::from_be_bytes(fixed(r.read_expect(ctx(2))?, "smpCnt")?);
        let conf_rev = u32::from_be_bytes(fixed(r.read_expect(ctx(3))?, "confRev")?);
        r.read_optional(ctx(4))?;
        let [smp_synch] = fixed(r.read_expect(ctx(5))?, "smpSynch")?;
        let smp_rate = match r.read_optional(ctx(6))? {
            Some(v) => Some(u16::from_be_bytes(fixed(v, "smpRate")?)),
            None => None,
        };
        let seq_data_len = r.read_expect(ctx(7))?.len();
        Ok(Asdu {
            sv_id,
            dat_set,
            smp_cnt,
            conf_rev,
            smp_synch,
            smp_rate,
            seq_data_len,
        })
    }
}

/// A fixed-size OCTET STRING field.
fn fixed<const N: usize>(v: &[u8], field: &'static str) -> Result<[u8; N], SvError> {
    v.try_into().map_err(|_| SvError::FieldSize {
        field,
        len: v.len(),
        expected: N,
    })
}

/// A savPdu: noASDU and the encoded seqASDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavPdu<'a> {
    pub no_asdu: i64,
    seq_asdu: &'a [u8],
}

impl<'a> SavPdu<'a> {
    /// Reads the APDU: exactly one savPdu filling it.
    pub fn parse(apdu: &'a [u8]) -> Result<Self, SvError> {
        let mut outer = Reader::new(apdu);
        let tlv = outer.read()?;
        if tlv.tag != SAV_PDU {
            return Err(SvError::NotSavPdu(tlv.tag));
        }
        if !outer.is_empty() {
            return Err(SvError::TrailingOctets(outer.remaining().len()));
        }
        let mut r = tlv.reader();
        let no_asdu = ber::integer(r.read_expect(Tag::context(0, false))?)?;
        // security [1] ANY OPTIONAL: a primitive or constructed [1].
        if r.peek_tag().is_some_and(|t| t.number == 1) {
            r.read()?;
        }
        let seq_asdu = r.read_expect(Tag::context(2, true))?;
        Ok(SavPdu { no_asdu, seq_asdu })
    }

    /// The ASDUs, each as [`Asdu::parse`] reads it (at most [`MAX_ASDUS`]).
    pub fn asdus(&self) -> impl Iterator<Item = Result<Asdu<'a>, SvError>> + 'a {
        Reader::new(self.seq_asdu).take(MAX_ASDUS).map(|tlv| {
            let tlv = tlv?;
            if tlv.tag != Tag::SEQUENCE {
                return Err(ber::Error::UnexpectedTag {
                    expected: Tag::SEQUENCE,
                    found: tlv.tag,
                }
                .into());
            }
            Asdu::parse(tlv.value)
        })
    }
}

/// What is remembered of a stream: only that it was described, and its budget.
#[derive(Debug, Default)]
struct Stream {
    described: bool,
    violations: Violations,
}

/// The SV dissector of a pipeline: the streams seen so far.
#[derive(Debug, Default)]
pub struct SvDissector {
    streams: Streams<Stream>,
    unattributed: Violations,
}

impl FrameDissector for SvDissector {
    fn frame(&mut self, f: &LinkFrame, payload: &[u8], out: &mut Vec<Observation>) {
        if !f.src.is_unicast() {
            self.unattributed
                .record(PROTOCOL, SvError::GroupSource, out);
            return;
        }
        let subject = Subject::Mac(f.src);
        let header = match Header::parse(payload) {
            Ok(h) => h,
            Err(e) => return self.violation(StreamKey::new(f.src, 0, b""), e.into(), out),
        };
        let unnamed = StreamKey::new(f.src, header.appid, b"");
        let pdu = match SavPdu::parse(header.apdu) {
            Ok(p) => p,
            Err(e) => return self.violation(unnamed, e, out),
        };
        let mut first = None;
        let mut found = 0usize;
        for asdu in pdu.asdus() {
            match asdu {
                Ok(a) => {
                    found += 1;
                    first.get_or_insert(a);
                }
                Err(e) => return self.violation(unnamed, e, out),
            }
        }
        let Some(asdu) = first else {
            return self.violation(unnamed, SvError::NoAsdu, out);
        };
        out.push(Observation::Speaks {
            subject,
            protocol: PROTOCOL,
            role: Role::Server,
            port: 0,
        });
        let key = StreamKey::new(f.src, header.appid, asdu.sv_id);
        if i64::try_from(found).ok() != Some(pdu.no_asdu) {
            let e = SvError::AsduCount {
                declared: pdu.no_asdu,
                found,
            };
            self.violation(key, e, out);
        }
        let stream = self.streams.entry(key);
        if !stream.described {
            stream.described = true;
            merging_unit(subject, f, &header, &asdu, found, out);
        }
        let text = |raw| clean_text(raw, MAX_NAME_CHARS);
        out.push(Observation::Publishes {
            subject,
            stream: Box::new(Published {
                protocol: PROTOCOL,
                id: text(asdu.sv_id).unwrap_or_default(),
                appid: header.appid,
                group: f.dst,
                dataset: asdu.dat_set.and_then(text),
                go_id: None,
                conf_rev: asdu.conf_rev,
                st_num: None,
                state_change: false,
                simulation: header.simulated(),
            }),
        });
    }
}

impl SvDissector {
    fn violation(&mut self, key: StreamKey, e: SvError, out: &mut Vec<Observation>) {
        self.streams.entry(key).violations.record(PROTOCOL, e, out);
    }

    /// How many streams are remembered.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }
}

/// What a stream says of its publisher: a merging unit (`ied`), named after its dataset's
/// logical device when it sends datSet.
fn merging_unit(
    subject: Subject,
    f: &LinkFrame,
    header: &Header<'_>,
    asdu: &Asdu<'_>,
    asdus: usize,
    out: &mut Vec<Observation>,
) {
    let text = |raw| clean_text(raw, MAX_NAME_CHARS);
    let dat_set = asdu.dat_set.and_then(text);
    let ld = dat_set
        .as_deref()
        .and_then(iec61850_frame::logical_device)
        .map(str::to_owned);
    push_identity(out, subject, Field::Hostname, ld, source::SV_DATASET);
    push_identity(
        out,
        subject,
        Field::DeviceType,
        Some("ied".to_owned()),
        source::SV_PUBLISHER,
    );
    let mut d = format!(
        "IEC 61850-9-2 merging unit publishing svID {}",
        text(asdu.sv_id).unwrap_or_default()
    );
    if let Some(ds) = &dat_set {
        d.push_str(&format!(", dataset {ds}"));
    }
    let synch = match asdu.smp_synch {
        0 => "none",
        1 => "local",
        2 => "global",
        _ => "other",
    };
    d.push_str(&format!(
        ", confRev {}, smpSynch {synch}, APPID {:#06x}, {asdus} ASDU(s) of {} sample octets",
        asdu.conf_rev, header.appid, asdu.seq_data_len
    ));
    if let Some(rate) = asdu.smp_rate {
        d.push_str(&format!(", smpRate {rate}"));
    }
    if let Some(dst) = f.dst {
        d.push_str(&format!(", to {dst}"));
    }
    push_identity(
        out,
        subject,
        Field::Description,
        Some(d),
        source::SV_PUBLISHER,
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
