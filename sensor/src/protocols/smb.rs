//! SMB over NetBIOS session service (TCP 139) or direct TCP (445): the cheap identity facts.
//!
//! Framing: RFC 1002 §4.3.1 session packets (type, flags, length); on 445 the same 4-byte
//! header carries a 24-bit length ([MS-SMB2] §2.1). Only the first 4 KiB of each session
//! message are looked at; the rest (file data) is skipped without buffering.
//!
//! Facts, each reported once per side and source:
//! - the NetBIOS names of a session request (RFC 1002 §4.3.2): calling = client, called =
//!   server, as hostnames;
//! - NTLMSSP ([MS-NLMP] §2.2.1) inside SMB1 Session Setup AndX or SMB2 SESSION_SETUP, found
//!   by its signature rather than by decoding SPNEGO: the CHALLENGE's target info (server
//!   computer name) and VERSION, the AUTHENTICATE's workstation name and VERSION. NTLM user
//!   and domain names are not reported: NTLM is a challenge-response, not a cleartext login;
//! - SMB1 Session Setup AndX NativeOS (as the OS) and NativeLanMan (as a description)
//!   ([MS-CIFS] §2.2.4.53, [MS-SMB] §2.2.4.6).

use super::registry::ProtocolSpec;
use super::{Direction, Dissector, FlowCtx, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "smb",
    transport: Transport::Tcp,
    ports: &[445, 139],
    probe,
    new,
};

const PROTOCOL: &str = "smb";
const MAX_TEXT_CHARS: usize = 256;
const NBSS_HEADER: usize = 4;
/// Bytes of a session message inspected; the rest is skipped.
const INSPECT: usize = 4096;
/// RFC 1002 §4.3.2: two encoded names of at most 255 bytes each (with scope).
const MAX_SESSION_REQUEST: usize = 512;
/// Control packets (responses, keep-alive) are a few bytes.
const MAX_CONTROL: usize = 64;

// RFC 1002 §4.3.1 session packet types.
const SESSION_MESSAGE: u8 = 0x00;
const SESSION_REQUEST: u8 = 0x81;
const POSITIVE_RESPONSE: u8 = 0x82;
const NEGATIVE_RESPONSE: u8 = 0x83;
const RETARGET_RESPONSE: u8 = 0x84;
const KEEP_ALIVE: u8 = 0x85;

// Protocol identifiers ([MS-CIFS] §2.2.3.1, [MS-SMB2] §2.2.1, §2.2.41, §2.2.42).
const SMB1_MAGIC: &[u8; 4] = b"\xffSMB";
const SMB2_MAGIC: &[u8; 4] = b"\xfeSMB";
const SMB2_TRANSFORM_MAGIC: &[u8; 4] = b"\xfdSMB";
const SMB2_COMPRESSED_MAGIC: &[u8; 4] = b"\xfcSMB";

const SMB1_HEADER: usize = 32;
const SMB1_COM_SESSION_SETUP_ANDX: u8 = 0x73;
const SMB1_FLAGS_REPLY: u8 = 0x80;
const SMB1_FLAGS2_UNICODE: u16 = 0x8000;
const SMB2_HEADER: usize = 64;
const SMB2_SESSION_SETUP: u16 = 0x0001;
const SMB2_FLAGS_SERVER_TO_REDIR: u32 = 0x1;

// [MS-NLMP] §2.2.1 and §2.2.2.5.
const NTLMSSP_SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
const NTLM_CHALLENGE: u32 = 2;
const NTLM_AUTHENTICATE: u32 = 3;
const NTLMSSP_NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const NTLMSSP_NEGOTIATE_VERSION: u32 = 0x0200_0000;
/// [MS-NLMP] §2.2.2.10 NTLMRevisionCurrent.
const NTLMSSP_REVISION_W2K3: u8 = 0x0f;
/// [MS-NLMP] §2.2.2.1 AV_PAIR ids.
const MSV_AV_EOL: u16 = 0;
const MSV_AV_NB_COMPUTER_NAME: u16 = 1;
const MSV_AV_DNS_COMPUTER_NAME: u16 = 3;

fn new() -> Box<dyn Dissector> {
    Box::new(Smb::default())
}

/// A session message whose payload starts with an SMB protocol id, or a well-formed session
/// service control packet; leading keep-alives are skipped.
fn probe(dir: Direction, data: &[u8]) -> Probe {
    let mut rest = data;
    for _ in 0..8 {
        if rest.first().is_some_and(|&ty| {
            ty != SESSION_MESSAGE && !(SESSION_REQUEST..=KEEP_ALIVE).contains(&ty)
        }) {
            return Probe::No;
        }
        let Some((ty, len)) = nbss_header(rest) else {
            return Probe::NeedMore;
        };
        let flags = rest.get(1).copied().unwrap_or(0);
        let body = rest.get(NBSS_HEADER..).unwrap_or_default();
        match (ty, dir) {
            (KEEP_ALIVE, _) if len == 0 => rest = body,
            (SESSION_MESSAGE, _) => {
                if len < 4 {
                    return Probe::No;
                }
                let Some(magic) = body.get(..4) else {
                    return Probe::NeedMore;
                };
                let known = [
                    SMB1_MAGIC,
                    SMB2_MAGIC,
                    SMB2_TRANSFORM_MAGIC,
                    SMB2_COMPRESSED_MAGIC,
                ]
                .iter()
                .any(|m| m.as_slice() == magic);
                return if known { Probe::Yes } else { Probe::No };
            }
            (SESSION_REQUEST, Direction::ToServer)
                if flags & 0xfe == 0 && (68..=MAX_SESSION_REQUEST).contains(&len) =>
            {
                // RFC 1001 §14.1: the first-level encoded called name, 32 bytes 'A'..='P'.
                let Some(name) = body.get(..33) else {
                    return Probe::NeedMore;
                };
                let encoded = name.first() == Some(&0x20)
                    && name.iter().skip(1).all(|b| (b'A'..=b'P').contains(b));
                return if encoded { Probe::Yes } else { Probe::No };
            }
            (POSITIVE_RESPONSE, Direction::ToClient) if flags == 0 && len == 0 => {
                return Probe::Yes
            }
            (NEGATIVE_RESPONSE, Direction::ToClient) if flags == 0 && len == 1 => {
                // RFC 1002 §4.3.4 error codes.
                return match body.first() {
                    None => Probe::NeedMore,
                    Some(0x80..=0x83 | 0x8f) => Probe::Yes,
                    Some(_) => Probe::No,
                };
            }
            (RETARGET_RESPONSE, Direction::ToClient) if flags == 0 && len == 6 => {
                return Probe::Yes
            }
            _ => return Probe::No,
        }
    }
    Probe::No
}

/// Type and length of an RFC 1002 §4.3.1 header. A session message uses a 24-bit length
/// (the 7 reserved flag bits are zero on 139, and [MS-SMB2] §2.1 makes them length on 445);
/// other packets use the 17-bit length with the E flag.
fn nbss_header(b: &[u8]) -> Option<(u8, usize)> {
    let &[ty, flags, hi, lo] = b.get(..NBSS_HEADER)? else {
        return None;
    };
    let len16 = usize::from(u16::from_be_bytes([hi, lo]));
    let len = if ty == SESSION_MESSAGE {
        usize::from(flags) << 16 | len16
    } else {
        usize::from(flags & 1) << 16 | len16
    };
    Some((ty, len))
}

#[derive(Default)]
struct Side {
    /// Bytes of the current session message still to skip.
    skip: usize,
    /// After a gap: looking for the next session message header.
    resync: bool,
    dead: bool,
    violated: bool,
    /// Which (source) facts this side already reported.
    reported: u8,
}

// Bits of `Side::reported`.
const NB_NAME: u8 = 1;
const NTLM_NAME: u8 = 2;
const NTLM_VERSION: u8 = 4;
const NATIVE_OS: u8 = 8;

/// Per-flow SMB state.
#[derive(Default)]
pub struct Smb {
    client: Side,
    server: Side,
}

impl Dissector for Smb {
    fn parse(
        &mut self,
        dir: Direction,
        data: &[u8],
        _ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize {
        let (side, peer) = match dir {
            Direction::ToServer => (&mut self.client, &mut self.server),
            Direction::ToClient => (&mut self.server, &mut self.client),
        };
        if side.dead {
            return data.len();
        }
        let mut used = 0;
        loop {
            let rest = data.get(used..).unwrap_or_default();
            if side.skip > 0 {
                let n = side.skip.min(rest.len());
                side.skip -= n;
                used += n;
                if side.skip > 0 {
                    return used;
                }
                continue;
            }
            if side.resync {
                match resync_point(rest) {
                    Some(at) => {
                        used += at;
                        side.resync = false;
                        continue;
                    }
                    // Keep the tail: a header may straddle the next delivery.
                    None => return used + rest.len().saturating_sub(7),
                }
            }
            let Some((ty, len)) = nbss_header(rest) else {
                return used;
            };
            let body = rest.get(NBSS_HEADER..).unwrap_or_default();
            match ty {
                SESSION_MESSAGE => {
                    let Some(head) = body.get(..len.min(INSPECT)) else {
                        return used;
                    };
                    inspect(dir, head, side, out);
                    let total = NBSS_HEADER + len;
                    let take = total.min(rest.len());
                    used += take;
                    side.skip = total - take;
                }
                SESSION_REQUEST if len <= MAX_SESSION_REQUEST => {
                    let Some(names) = body.get(..len) else {
                        return used;
                    };
                    if dir == Direction::ToServer {
                        session_request(names, side, peer, out);
                    }
                    used += NBSS_HEADER + len;
                }
                POSITIVE_RESPONSE | NEGATIVE_RESPONSE | RETARGET_RESPONSE | KEEP_ALIVE
                    if len <= MAX_CONTROL =>
                {
                    if body.len() < len {
                        return used;
                    }
                    used += NBSS_HEADER + len;
                }
                _ => {
                    violation(side, out, "not a NetBIOS session service packet");
                    side.dead = true;
                    return data.len();
                }
            }
        }
    }

    fn gap(&mut self, dir: Direction) {
        let side = match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        };
        side.skip = 0;
        side.resync = true;
    }
}

/// Offset of the next plausible session message (type 0 header, then an SMB1/SMB2 id).
fn resync_point(data: &[u8]) -> Option<usize> {
    data.windows(NBSS_HEADER + 4).position(|w| {
        w.first() == Some(&SESSION_MESSAGE)
            && w.get(NBSS_HEADER..)
                .is_some_and(|m| m == SMB1_MAGIC || m == SMB2_MAGIC)
    })
}

fn violation(side: &mut Side, out: &mut Vec<Observation>, reason: &str) {
    if !side.violated {
        side.violated = true;
        out.push(Observation::ProtocolViolation {
            protocol: PROTOCOL,
            reason: reason.to_string(),
        });
    }
}

fn subject(dir: Direction) -> Subject {
    match dir {
        Direction::ToServer => Subject::Client,
        Direction::ToClient => Subject::Server,
    }
}

/// Reports `value` about the sender of `dir` unless `side` already reported `bit`.
fn report(
    side: &mut Side,
    bit: u8,
    subject: Subject,
    facts: &[(Field, String, &'static str)],
    out: &mut Vec<Observation>,
) {
    if side.reported & bit != 0 {
        return;
    }
    side.reported |= bit;
    for (field, value, source) in facts {
        if !value.is_empty() {
            out.push(Observation::Identity {
                subject,
                field: *field,
                value: value.clone(),
                source,
            });
        }
    }
}

/// RFC 1002 §4.3.2 SESSION REQUEST: CALLED NAME then CALLING NAME.
fn session_request(names: &[u8], client: &mut Side, server: &mut Side, out: &mut Vec<Observation>) {
    let Some((called, rest)) = netbios_name(names) else {
        return;
    };
    let Some((calling, _)) = netbios_name(rest) else {
        return;
    };
    let source = "netbios session request";
    report(
        client,
        NB_NAME,
        Subject::Client,
        &[(Field::Hostname, calling, source)],
        out,
    );
    report(
        server,
        NB_NAME,
        Subject::Server,
        &[(Field::Hostname, called, source)],
        out,
    );
}

/// One RFC 1001 §14.1 first-level encoded name (length 32, 'A'+nibble pairs, then scope
/// labels up to a zero length); the 15-character name without its suffix and padding, or ""
/// for names that are not a host's (`*SMBSERVER`, `*`).
fn netbios_name(b: &[u8]) -> Option<(String, &[u8])> {
    let (&len, rest) = b.split_first()?;
    if len != 32 {
        return None;
    }
    let (encoded, mut rest) = rest.split_at_checked(32)?;
    let mut name = [0u8; 16];
    for (slot, pair) in name.iter_mut().zip(encoded.chunks_exact(2)) {
        let &[hi, lo] = pair else { return None };
        if !(b'A'..=b'P').contains(&hi) || !(b'A'..=b'P').contains(&lo) {
            return None;
        }
        *slot = (hi - b'A') << 4 | (lo - b'A');
    }
    // Scope labels (RFC 1001 §14.1), ended by a zero length.
    loop {
        let (&label, after) = rest.split_first()?;
        rest = after.get(usize::from(label)..)?;
        if label == 0 {
            break;
        }
    }
    let text = wire_text(&String::from_utf8_lossy(name.get(..15)?));
    let text = if text.starts_with('*') {
        String::new()
    } else {
        text
    };
    Some((text, rest))
}

/// Looks into the first bytes of one session message.
fn inspect(dir: Direction, msg: &[u8], side: &mut Side, out: &mut Vec<Observation>) {
    match msg.get(..4) {
        Some(m) if m == SMB1_MAGIC => smb1(dir, msg, side, out),
        Some(m) if m == SMB2_MAGIC => smb2(dir, msg, side, out),
        // Encrypted or compressed SMB 3: nothing readable.
        Some(m) if m == SMB2_TRANSFORM_MAGIC || m == SMB2_COMPRESSED_MAGIC => {}
        _ => violation(side, out, "session message without an SMB protocol id"),
    }
}

/// [MS-CIFS] §2.2.3.1 header: Command at 4, Flags at 9, Flags2 at 10 (LE).
fn smb1(dir: Direction, msg: &[u8], side: &mut Side, out: &mut Vec<Observation>) {
    let (Some(&command), Some(&flags), Some(flags2)) = (msg.get(4), msg.get(9), le_u16(msg, 10))
    else {
        return;
    };
    let reply = flags & SMB1_FLAGS_REPLY != 0;
    if command != SMB1_COM_SESSION_SETUP_ANDX || reply != (dir == Direction::ToClient) {
        return;
    }
    if let Some(body) = msg.get(SMB1_HEADER..) {
        ntlmssp(dir, body, side, out);
    }
    let unicode = flags2 & SMB1_FLAGS2_UNICODE != 0;
    if let Some((os, lanman)) = native_os(msg, reply, unicode) {
        let facts = [
            (Field::Os, os, "smb native os"),
            (Field::Description, lanman, "smb native lanman"),
        ];
        report(side, NATIVE_OS, subject(dir), &facts, out);
    }
}

/// [MS-SMB2] §2.2.1 header: StructureSize 64 at 4, Command at 12, Flags at 16.
fn smb2(dir: Direction, msg: &[u8], side: &mut Side, out: &mut Vec<Observation>) {
    let (Some(size), Some(command), Some(flags)) =
        (le_u16(msg, 4), le_u16(msg, 12), le_u32(msg, 16))
    else {
        return;
    };
    let reply = flags & SMB2_FLAGS_SERVER_TO_REDIR != 0;
    if usize::from(size) != SMB2_HEADER
        || command != SMB2_SESSION_SETUP
        || reply != (dir == Direction::ToClient)
    {
        return;
    }
    if let Some(body) = msg.get(SMB2_HEADER..) {
        ntlmssp(dir, body, side, out);
    }
}

/// NativeOS and NativeLanMan of an SMB1 Session Setup AndX.
///
/// Request: WordCount 12 (extended security, [MS-SMB] §2.2.4.6.1: SecurityBlobLength at
/// word byte 14; bytes: blob, NativeOS, NativeLanMan) or 13 ([MS-CIFS] §2.2.4.53.1:
/// OEMPasswordLen at 14, UnicodePasswordLen at 16; bytes: passwords, AccountName,
/// PrimaryDomain, NativeOS, NativeLanMan). The passwords and account name are skipped unread.
/// Response: WordCount 4 ([MS-SMB] §2.2.4.6.2: SecurityBlobLength at 6) or 3 ([MS-CIFS]
/// §2.2.4.53.2; bytes: NativeOS, NativeLanMan, PrimaryDomain).
fn native_os(msg: &[u8], reply: bool, unicode: bool) -> Option<(String, String)> {
    let word_count = usize::from(*msg.get(SMB1_HEADER)?);
    let words = msg.get(SMB1_HEADER + 1..SMB1_HEADER + 1 + 2 * word_count)?;
    let bytes_at = SMB1_HEADER + 1 + 2 * word_count + 2;
    let word = |at: usize| le_u16(words, at).map(usize::from);
    let (skip, skip_strings) = match (reply, word_count) {
        (false, 12) => (word(14)?, 0),
        (false, 13) => (word(14)? + word(16)?, 2),
        (true, 4) => (word(6)?, 0),
        (true, 3) => (0, 0),
        _ => return None,
    };
    let mut at = bytes_at + skip;
    // [MS-CIFS] §2.2.4.53.1: Unicode strings are aligned to 16 bits from the header start.
    if unicode && at % 2 == 1 {
        at += 1;
    }
    for _ in 0..skip_strings {
        at = smb_string(msg, at, unicode)?.1;
    }
    let (os, at) = smb_string(msg, at, unicode)?;
    let (lanman, _) = smb_string(msg, at, unicode)?;
    Some((os, lanman))
}

/// A NUL-terminated SMB string at `at` (UTF-16LE or OEM), and the offset after it.
fn smb_string(msg: &[u8], at: usize, unicode: bool) -> Option<(String, usize)> {
    let rest = msg.get(at..)?;
    if unicode {
        let units = rest.chunks_exact(2).position(|c| c == [0, 0])?;
        let raw = rest.get(..units * 2)?;
        Some((utf16le_text(raw), at + units * 2 + 2))
    } else {
        let end = rest.iter().position(|&b| b == 0)?;
        let raw = rest.get(..end)?;
        Some((wire_text(&String::from_utf8_lossy(raw)), at + end + 1))
    }
}

/// Finds an NTLMSSP message in `body` and reports what the sender says about itself.
fn ntlmssp(dir: Direction, body: &[u8], side: &mut Side, out: &mut Vec<Observation>) {
    let Some(at) = body
        .windows(NTLMSSP_SIGNATURE.len())
        .position(|w| w == NTLMSSP_SIGNATURE)
    else {
        return;
    };
    let Some(msg) = body.get(at..) else {
        return;
    };
    let Some(message_type) = le_u32(msg, 8) else {
        return;
    };
    let who = subject(dir);
    match (message_type, dir) {
        // [MS-NLMP] §2.2.1.2 CHALLENGE_MESSAGE: TargetNameFields 12, NegotiateFlags 20,
        // TargetInfoFields 40, Version 48..56.
        (NTLM_CHALLENGE, Direction::ToClient) => {
            let Some(flags) = le_u32(msg, 20) else {
                return;
            };
            if let Some(name) = ntlm_field(msg, 40).and_then(target_computer_name) {
                let facts = [(Field::Hostname, name, "ntlm target info")];
                report(side, NTLM_NAME, who, &facts, out);
            }
            let payload = [ntlm_field_offset(msg, 12), ntlm_field_offset(msg, 40)];
            if let Some(os) = ntlm_version(msg, flags, 48, &payload) {
                report(
                    side,
                    NTLM_VERSION,
                    who,
                    &[(Field::Os, os, "ntlm version")],
                    out,
                );
            }
        }
        // [MS-NLMP] §2.2.1.3 AUTHENTICATE_MESSAGE: LmChallengeResponseFields 12,
        // NtChallengeResponseFields 20, DomainNameFields 28, UserNameFields 36,
        // WorkstationFields 44, EncryptedRandomSessionKeyFields 52, NegotiateFlags 60,
        // Version 64..72. Domain and user name are deliberately not read.
        (NTLM_AUTHENTICATE, Direction::ToServer) => {
            let Some(flags) = le_u32(msg, 60) else {
                return;
            };
            if let Some(raw) = ntlm_field(msg, 44) {
                let name = if flags & NTLMSSP_NEGOTIATE_UNICODE != 0 {
                    utf16le_text(raw)
                } else {
                    wire_text(&String::from_utf8_lossy(raw))
                };
                let facts = [(Field::Hostname, name, "ntlm workstation")];
                report(side, NTLM_NAME, who, &facts, out);
            }
            let payload = [12, 20, 28, 36, 44, 52].map(|at| ntlm_field_offset(msg, at));
            if let Some(os) = ntlm_version(msg, flags, 64, &payload) {
                report(
                    side,
                    NTLM_VERSION,
                    who,
                    &[(Field::Os, os, "ntlm version")],
                    out,
                );
            }
        }
        _ => {}
    }
}

/// [MS-NLMP] §2.2.1 field descriptor at `at`: Len u16, MaxLen u16, BufferOffset u32 (from
/// the start of the message); the bytes it points at.
fn ntlm_field(msg: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(le_u16(msg, at)?);
    let offset = usize::try_from(le_u32(msg, at + 4)?).ok()?;
    msg.get(offset..offset.checked_add(len)?)
}

/// Buffer offset of a non-empty field, to tell whether the Version slot holds payload.
fn ntlm_field_offset(msg: &[u8], at: usize) -> Option<usize> {
    let len = le_u16(msg, at)?;
    let offset = usize::try_from(le_u32(msg, at + 4)?).ok()?;
    (len > 0).then_some(offset)
}

/// The [MS-NLMP] §2.2.2.10 VERSION at `at` as an OS name, when the flag says it is there,
/// no payload overlaps it, its revision is the one defined, and the numbers are a Windows
/// NT release (5.0-5.2, 6.0-6.3, 10.0) with a build. Only 5.0 and 5.1 name one product.
fn ntlm_version(msg: &[u8], flags: u32, at: usize, payload: &[Option<usize>]) -> Option<String> {
    if flags & NTLMSSP_NEGOTIATE_VERSION == 0 {
        return None;
    }
    let end = at + 8;
    if payload.iter().flatten().any(|&offset| offset < end) {
        return None;
    }
    let &[major, minor, b0, b1, r0, r1, r2, revision] = msg.get(at..end)? else {
        return None;
    };
    let build = u16::from_le_bytes([b0, b1]);
    if revision != NTLMSSP_REVISION_W2K3 || [r0, r1, r2] != [0, 0, 0] || build == 0 {
        return None;
    }
    match (major, minor) {
        (5, 0) => Some(format!("Windows 2000 build {build}")),
        (5, 1) => Some(format!("Windows XP build {build}")),
        (5, 2) | (6, 0..=3) | (10, 0) => Some(format!("Windows NT {major}.{minor} build {build}")),
        _ => None,
    }
}

/// The server's computer name from CHALLENGE target info ([MS-NLMP] §2.2.2.1 AV_PAIRs,
/// always UTF-16LE): the DNS name when present, else the NetBIOS name.
fn target_computer_name(info: &[u8]) -> Option<String> {
    let mut rest = info;
    let mut netbios = None;
    while let Some(id) = le_u16(rest, 0) {
        let len = usize::from(le_u16(rest, 2)?);
        let value = rest.get(4..4 + len)?;
        match id {
            MSV_AV_EOL => break,
            MSV_AV_DNS_COMPUTER_NAME => {
                let name = utf16le_text(value);
                if !name.is_empty() {
                    return Some(name);
                }
            }
            MSV_AV_NB_COMPUTER_NAME => netbios = Some(value),
            _ => {}
        }
        rest = rest.get(4 + len..)?;
    }
    netbios.map(utf16le_text).filter(|n| !n.is_empty())
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// UTF-16LE from the wire as printable text (see [`wire_text`]).
fn utf16le_text(raw: &[u8]) -> String {
    let units = raw.chunks_exact(2).map(|c| match c {
        [lo, hi] => u16::from_le_bytes([*lo, *hi]),
        _ => 0,
    });
    let s: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    wire_text(&s)
}

/// Printable text: runs of whitespace and control characters folded into one space, trimmed,
/// capped at 256 characters.
// Private until protocols::text lands; then use that one.
fn wire_text(s: &str) -> String {
    let mut out = String::new();
    let mut chars = 0usize;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = chars > 0;
            continue;
        }
        if chars + usize::from(pending_space) >= MAX_TEXT_CHARS {
            break;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocols::{Endpoint, Transport};
    use otwatch_common::Timestamp;
    use std::net::{IpAddr, Ipv4Addr};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn ctx() -> FlowCtx {
        let ep = |last, port| Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(141, 81, 0, last)),
            port,
            mac: None,
        };
        FlowCtx {
            client: ep(182, 4548),
            server: ep(10, 139),
            transport: Transport::Tcp,
            ts: Timestamp::ZERO,
            dst_mac: None,
        }
    }

    /// Feeds segments like the flow layer: per-direction buffers, consumed bytes drained.
    fn run_bytes(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
        let mut d = new();
        let mut pending = [Vec::new(), Vec::new()];
        let mut out = Vec::new();
        for (to_server, seg) in segs {
            let (dir, i) = if *to_server {
                (Direction::ToServer, 0)
            } else {
                (Direction::ToClient, 1)
            };
            pending[i].extend_from_slice(seg);
            let n = d.parse(dir, &pending[i], &ctx(), &mut out);
            assert!(n <= pending[i].len());
            pending[i].drain(..n);
        }
        out
    }

    fn run(segs: &[(bool, &str)]) -> Vec<Observation> {
        let segs: Vec<(bool, Vec<u8>)> = segs.iter().map(|(d, h)| (*d, hex(h))).collect();
        run_bytes(&segs)
    }

    fn id(subject: Subject, field: Field, value: &str, source: &'static str) -> Observation {
        Observation::Identity {
            subject,
            field,
            value: value.to_string(),
            source,
        }
    }

    // ITI/ICS-Security-Tools pcaps/ModbusTCP/mb2.pcap, tcp.stream 65 (NBSS on 139, SMB1,
    // NTLMSSP in Session Setup AndX), up to the first Tree Connect.
    const MB2_SMB1: &[(bool, &str)] = &[
        // 3695
        (
            true,
            concat!(
                "8100004420454a454246444441444243414341434143414341434143414341434143414341002046",
                "414542454f4546454d4641454444414443434143414341434143414341414100",
            ),
        ),
        (false, "82000000"), // 3696
        // 3698
        (
            true,
            concat!(
                "00000085ff534d4272000000001853c80000000000000000000000000000fffe0000000000620002",
                "5043204e4554574f524b2050524f4752414d20312e3000024c414e4d414e312e30000257696e646f",
                "777320666f7220576f726b67726f75707320332e316100024c4d312e325830303200024c414e4d41",
                "4e322e3100024e54204c4d20302e313200",
            ),
        ),
        // 3701
        (
            false,
            concat!(
                "00000073ff534d4272000000009853c80000000000000000000000000000fffe0000000011050003",
                "32000100044100000000010000000000fde30180c09a12bbd8c0cd010000002e009e1523d5afe49e",
                "4a9b7b314e366f6f8c601c06062b0601050502a0123010a00e300c060a2b06010401823702020a",
            ),
        ),
        // 3704
        (
            true,
            concat!(
                "000000ecff534d4273000000001807c80000000000000000000000000000fffe000040000cff00ec",
                "00044132000000000000004a0000000000d40000a0b100604806062b0601050502a03e303ca00e30",
                "0c060a2b06010401823702020aa22a04284e544c4d5353500001000000078208a200000000000000",
                "0000000000000000000501280a0000000f00570069006e0064006f00770073002000320030003000",
                "32002000530065007200760069006300650020005000610063006b00200033002000320036003000",
                "30000000570069006e0064006f007700730020003200300030003200200035002e00310000000000",
            ),
        ),
        // 3705
        (
            false,
            concat!(
                "00000188ff534d4273160000c09807c80000000000000000000000000000fffe02e0400004ff0088",
                "010000a9005d01a181a63081a3a0030a0101a10c060a2b06010401823702020aa2818d04818a4e54",
                "4c4d53535000020000000a000a003800000005828aa2c086cd651c1d9cf600000000000000004800",
                "480042000000060072170000000f4900410053003000310002000a00490041005300300031000100",
                "0a004900410053003000310004000a004900410053003000310003000a0049004100530030003100",
                "07000800d0c112bbd8c0cd0100000000570069006e0064006f007700730020005300650072007600",
                "6500720020002800520029002000320030003000380020005300740061006e006400610072006400",
                "200036003000300032002000530065007200760069006300650020005000610063006b0020003200",
                "0000570069006e0064006f0077007300200053006500720076006500720020002800520029002000",
                "320030003000380020005300740061006e006400610072006400200036002e0030000000",
            ),
        ),
        // 3709
        (
            true,
            concat!(
                "00000104ff534d4273000000001807c80000000000000000000000000000fffe02e080000cff0004",
                "0104413200000000000000630000000000d40000a0c900a161305fa25d045b4e544c4d5353500003",
                "000000010001005a000000000000005b000000000000004800000000000000480000001200120048",
                "000000000000005b000000058a88a20501280a0000000f500041004e0045004c0050004300300032",
                "0000570069006e0064006f0077007300200032003000300032002000530065007200760069006300",
                "650020005000610063006b0020003300200032003600300030000000570069006e0064006f007700",
                "730020003200300030003200200035002e00310000000000",
            ),
        ),
        // 3710
        (
            false,
            concat!(
                "000000e8ff534d4273000000009807c80000000000000000000000000000fffe02e0800004ff00e8",
                "0000000900bd00a1073005a0030a0100570069006e0064006f007700730020005300650072007600",
                "6500720020002800520029002000320030003000380020005300740061006e006400610072006400",
                "200036003000300032002000530065007200760069006300650020005000610063006b0020003200",
                "0000570069006e0064006f0077007300200053006500720076006500720020002800520029002000",
                "320030003000380020005300740061006e006400610072006400200036002e0030000000",
            ),
        ),
        // 3714
        (
            true,
            concat!(
                "0000004cff534d4275000000001807c80000000000000000000000000000fffe02e0c00004ff004c",
                "00080001002100005c005c00490041005300300031005c00490050004300240000003f3f3f3f3f00",
            ),
        ),
        // 3715
        (
            false,
            concat!(
                "00000038ff534d4275000000009807c800000000000000000000000005e0fffe02e0c00007ff0038",
                "000100ffff1f00ffff1f00070049504300000000",
            ),
        ),
        // 3718
        (
            true,
            concat!(
                "000000ecff534d4273000000001807c80000000000000000000000000000fffe000000010cff00ec",
                "00044132000100000000004a0000000000d40000a0b100604806062b0601050502a03e303ca00e30",
                "0c060a2b06010401823702020aa22a04284e544c4d5353500001000000078208a200000000000000",
                "0000000000000000000501280a0000000f00570069006e0064006f00770073002000320030003000",
                "32002000530065007200760069006300650020005000610063006b00200033002000320036003000",
                "30000000570069006e0064006f007700730020003200300030003200200035002e00310000000000",
            ),
        ),
        // 3719
        (
            false,
            concat!(
                "00000188ff534d4273160000c09807c80000000000000000000000000000fffe0330000104ff0088",
                "010000a9005d01a181a63081a3a0030a0101a10c060a2b06010401823702020aa2818d04818a4e54",
                "4c4d53535000020000000a000a003800000005828aa2966da7ee7ba135b900000000000000004800",
                "480042000000060072170000000f4900410053003000310002000a00490041005300300031000100",
                "0a004900410053003000310004000a004900410053003000310003000a0049004100530030003100",
                "07000800208513bbd8c0cd0100000000570069006e0064006f007700730020005300650072007600",
                "6500720020002800520029002000320030003000380020005300740061006e006400610072006400",
                "200036003000300032002000530065007200760069006300650020005000610063006b0020003200",
                "0000570069006e0064006f0077007300200053006500720076006500720020002800520029002000",
                "320030003000380020005300740061006e006400610072006400200036002e0030000000",
            ),
        ),
        // 3721
        (
            true,
            concat!(
                "00000164ff534d4273000000001807c80000000000000000000000000000fffe033040010cff0064",
                "0104413200010000000000c20000000000d40000a02901a181bf3081bca281b90481b64e544c4d53",
                "535000030000001800180086000000180018009e00000012001200480000001a001a005a00000012",
                "0012007400000000000000b6000000058288a20501280a0000000f500041004e0045004c00500043",
                "0030003200410064006d0069006e006900730074007200610074006f007200500041004e0045004c",
                "0050004300300032005d4d016cedb70f1500000000000000000000000000000000432c045f9299ed",
                "3a0eb28ea85267489cdc6acdce4b95b76e00570069006e0064006f00770073002000320030003000",
                "32002000530065007200760069006300650020005000610063006b00200033002000320036003000",
                "30000000570069006e0064006f007700730020003200300030003200200035002e00310000000000",
            ),
        ),
        // 3723
        (
            false,
            concat!(
                "000000e8ff534d4273000000009807c80000000000000000000000000000fffe0330400104ff00e8",
                "0000000900bd00a1073005a0030a0100570069006e0064006f007700730020005300650072007600",
                "6500720020002800520029002000320030003000380020005300740061006e006400610072006400",
                "200036003000300032002000530065007200760069006300650020005000610063006b0020003200",
                "0000570069006e0064006f0077007300200053006500720076006500720020002800520029002000",
                "320030003000380020005300740061006e006400610072006400200036002e0030000000",
            ),
        ),
    ];
    // ITI/ICS-Security-Tools pcaps/hart/hart_ip.pcap: an SMB1 Check Directory on 445.
    const HART_445: &[(bool, &str)] = &[
        // 115
        (
            true,
            concat!(
                "00000028ff534d4210000000000801c8000000000000000000000000010001006400511b00050004",
                "5c000000",
            ),
        ),
    ];

    // Expected values from `tshark -T fields -e nbss.called_name -e nbss.calling_name
    // -e ntlmssp.auth.hostname -e ntlmssp.challenge.target_info.dns_computer_name
    // -e ntlmssp.version.major -e ntlmssp.version.minor -e ntlmssp.version.build_number
    // -e smb.native_os -e smb.native_lanman`.
    fn mb2_expected() -> Vec<Observation> {
        use Field::*;
        use Subject::*;
        vec![
            // 3695 session request: to IAS01<20> from PANELPC02<00>.
            id(Client, Hostname, "PANELPC02", "netbios session request"),
            id(Server, Hostname, "IAS01", "netbios session request"),
            // 3704 Session Setup AndX request (NTLMSSP_NEGOTIATE).
            id(
                Client,
                Os,
                "Windows 2002 Service Pack 3 2600",
                "smb native os",
            ),
            id(Client, Description, "Windows 2002 5.1", "smb native lanman"),
            // 3705 response (NTLMSSP_CHALLENGE).
            id(Server, Hostname, "IAS01", "ntlm target info"),
            id(Server, Os, "Windows NT 6.0 build 6002", "ntlm version"),
            id(
                Server,
                Os,
                "Windows Server (R) 2008 Standard 6002 Service Pack 2",
                "smb native os",
            ),
            id(
                Server,
                Description,
                "Windows Server (R) 2008 Standard 6.0",
                "smb native lanman",
            ),
            // 3709 request (NTLMSSP_AUTH, anonymous).
            id(Client, Hostname, "PANELPC02", "ntlm workstation"),
            id(Client, Os, "Windows XP build 2600", "ntlm version"),
        ]
    }

    #[test]
    fn smb1_session_setup_identity() {
        assert_eq!(run(MB2_SMB1), mb2_expected());
    }

    #[test]
    fn ntlm_user_names_are_not_reported() {
        // 3721 authenticates as PANELPC02\Administrator.
        let text = format!("{:?}", run(MB2_SMB1));
        assert!(!text.contains("Administrator"));
        assert!(!text.contains("CleartextLogin"));
    }

    #[test]
    fn byte_by_byte_delivery_gives_the_same_result() {
        let mut segs = Vec::new();
        for (to_server, h) in MB2_SMB1 {
            for b in hex(h) {
                segs.push((*to_server, vec![b]));
            }
        }
        assert_eq!(run_bytes(&segs), mb2_expected());
    }

    #[test]
    fn other_commands_say_nothing() {
        assert!(run(HART_445).is_empty());
    }

    /// The real CHALLENGE of frame 3705 in an SMB2 SESSION_SETUP response: SMB2 framing built
    /// here from [MS-SMB2] §2.2.1.2 and §2.2.6 (no SMB2 capture with NTLMSSP is at hand).
    fn smb2_session_setup_response() -> Vec<u8> {
        let smb1 = hex(&MB2_SMB1
            .iter()
            .map(|(_, h)| *h)
            .collect::<Vec<_>>()
            .concat());
        let at = smb1
            .windows(8)
            .position(|w| w == NTLMSSP_SIGNATURE)
            .unwrap();
        // The second NTLMSSP in the stream is the CHALLENGE (the first is the NEGOTIATE).
        let at2 = at
            + 8
            + smb1[at + 8..]
                .windows(8)
                .position(|w| w == NTLMSSP_SIGNATURE)
                .unwrap();
        let blob = &smb1[at2..at2 + 0x8a];
        let mut msg = Vec::new();
        msg.extend_from_slice(SMB2_MAGIC);
        msg.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
        msg.extend_from_slice(&[0; 6]); // CreditCharge, Status
        msg.extend_from_slice(&SMB2_SESSION_SETUP.to_le_bytes());
        msg.extend_from_slice(&1u16.to_le_bytes()); // CreditResponse
        msg.extend_from_slice(&SMB2_FLAGS_SERVER_TO_REDIR.to_le_bytes());
        msg.resize(SMB2_HEADER, 0);
        msg.extend_from_slice(&9u16.to_le_bytes()); // StructureSize
        msg.extend_from_slice(&0u16.to_le_bytes()); // SessionFlags
        msg.extend_from_slice(&72u16.to_le_bytes()); // SecurityBufferOffset
        msg.extend_from_slice(&(blob.len() as u16).to_le_bytes());
        msg.extend_from_slice(blob);
        let mut frame = vec![0, 0];
        frame.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        frame.extend_from_slice(&msg);
        frame
    }

    #[test]
    fn smb2_session_setup_challenge() {
        let out = run_bytes(&[(false, smb2_session_setup_response())]);
        assert_eq!(
            out,
            vec![
                id(
                    Subject::Server,
                    Field::Hostname,
                    "IAS01",
                    "ntlm target info"
                ),
                id(
                    Subject::Server,
                    Field::Os,
                    "Windows NT 6.0 build 6002",
                    "ntlm version"
                ),
            ]
        );
        assert_eq!(
            probe(Direction::ToClient, &smb2_session_setup_response()),
            Probe::Yes
        );
    }

    #[test]
    fn large_messages_are_skipped_without_buffering() {
        // A 1 MiB SMB2 READ response on 445 delivered in 1400-byte pieces, then the CHALLENGE.
        let len: usize = 1 << 20;
        let mut big = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        big.extend_from_slice(SMB2_MAGIC);
        big.extend_from_slice(&64u16.to_le_bytes());
        big.resize(NBSS_HEADER + len, 0x55);
        big.extend_from_slice(&smb2_session_setup_response());
        let mut d = new();
        let mut out = Vec::new();
        let mut pending = Vec::new();
        for chunk in big.chunks(1400) {
            pending.extend_from_slice(chunk);
            let n = d.parse(Direction::ToClient, &pending, &ctx(), &mut out);
            pending.drain(..n);
            assert!(pending.len() <= INSPECT + 2 * 1400);
        }
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn gap_resynchronises_on_the_next_message() {
        let mut d = new();
        let mut out = Vec::new();
        d.gap(Direction::ToClient);
        let mut data = vec![0x12, 0x34, 0x56];
        data.extend_from_slice(&smb2_session_setup_response());
        let n = d.parse(Direction::ToClient, &data, &ctx(), &mut out);
        assert_eq!(n, data.len());
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn version_only_for_windows_releases() {
        let mut m = vec![0u8; 72];
        let flags = NTLMSSP_NEGOTIATE_VERSION;
        let mut with = |v: [u8; 8]| {
            m[64..72].copy_from_slice(&v);
            ntlm_version(&m, flags, 64, &[Some(72)])
        };
        assert_eq!(
            with([10, 0, 0x61, 0x4a, 0, 0, 0, 0x0f]).as_deref(),
            Some("Windows NT 10.0 build 19041")
        );
        assert_eq!(
            with([5, 0, 0x93, 0x08, 0, 0, 0, 0x0f]).as_deref(),
            Some("Windows 2000 build 2195")
        );
        assert_eq!(with([6, 1, 0, 0, 0, 0, 0, 0x0f]), None);
        assert_eq!(with([4, 15, 1, 0, 0, 0, 0, 0x0f]), None);
        assert_eq!(with([6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0a]), None);
        // Payload where the Version would be: no Version.
        assert_eq!(ntlm_version(&m, flags, 64, &[Some(64)]), None);
        assert_eq!(ntlm_version(&m, 0, 64, &[Some(72)]), None);
    }

    #[test]
    fn probe_is_strict() {
        let c = |d: &[u8]| probe(Direction::ToServer, d);
        let s = |d: &[u8]| probe(Direction::ToClient, d);
        assert_eq!(c(&hex(MB2_SMB1[0].1)), Probe::Yes); // session request
        assert_eq!(s(&hex(MB2_SMB1[1].1)), Probe::Yes); // positive response
        assert_eq!(c(&hex(MB2_SMB1[2].1)), Probe::Yes); // SMB1 negotiate
        assert_eq!(c(&hex(HART_445[0].1)), Probe::Yes);
        let mut keepalive = vec![KEEP_ALIVE, 0, 0, 0];
        assert_eq!(c(&keepalive), Probe::NeedMore);
        keepalive.extend_from_slice(&hex(HART_445[0].1));
        assert_eq!(c(&keepalive), Probe::Yes);
        assert_eq!(c(&[0, 0]), Probe::NeedMore);
        assert_eq!(c(&[0, 0, 0, 0x28, 0xff, b'S']), Probe::NeedMore);
        assert_eq!(c(b"GET / HTTP/1.1\r\n"), Probe::No);
        assert_eq!(c(&[0x16, 0x03, 0x01, 0x00, 0x2f, 0x01]), Probe::No);
        // A DCE/RPC bind on 135 (mb2.pcap frame 5049 starts 05 00 0b 03): not NBSS.
        assert_eq!(c(&hex("05000b0310000000")), Probe::No);
        // Session message whose payload is not SMB.
        assert_eq!(c(&hex("0000000a0102030405060708090a")), Probe::No);
        // A positive response from the client is not one.
        assert_eq!(c(&hex(MB2_SMB1[1].1)), Probe::No);
    }

    #[test]
    fn unknown_packet_type_is_a_violation() {
        let out = run_bytes(&[(true, vec![0x42, 0, 0, 0])]);
        assert!(matches!(
            out.as_slice(),
            [Observation::ProtocolViolation { .. }]
        ));
    }

    #[test]
    fn truncations_and_random_bytes_never_panic() {
        let segs: Vec<(bool, Vec<u8>)> = MB2_SMB1.iter().map(|(d, h)| (*d, hex(h))).collect();
        for (i, (to_server, msg)) in segs.iter().enumerate() {
            for cut in 0..=msg.len() {
                let piece = msg[..cut].to_vec();
                let _ = probe(Direction::ToServer, &piece);
                let _ = probe(Direction::ToClient, &piece);
                // Truncated body with an unchanged length field, alone and in context.
                let _ = run_bytes(&[(*to_server, piece.clone())]);
                let mut ctx_segs = segs[..i].to_vec();
                ctx_segs.push((*to_server, piece.clone()));
                let _ = run_bytes(&ctx_segs);
                // The same bytes with the NBSS length fixed up, so the parsers see a short
                // SMB/NTLM message as complete.
                if cut >= NBSS_HEADER {
                    let mut fixed = piece;
                    let len = (cut - NBSS_HEADER) as u16;
                    fixed[1] = 0;
                    fixed[2..4].copy_from_slice(&len.to_be_bytes());
                    let _ = run_bytes(&[(*to_server, fixed)]);
                }
            }
        }
        let mut x: u32 = 0x1357_9bdf;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for _ in 0..1000 {
            let len = (rnd() % 600) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            let _ = probe(Direction::ToServer, &bytes);
            let _ = run_bytes(&[(true, bytes.clone()), (false, bytes.clone())]);
            // Random bodies behind valid framing and headers reach the inner parsers.
            for (magic, cmd_at, cmd) in [
                (SMB1_MAGIC, 4, SMB1_COM_SESSION_SETUP_ANDX),
                (SMB2_MAGIC, 12, 1),
            ] {
                let mut msg = magic.to_vec();
                msg.extend_from_slice(&bytes);
                if msg.len() > 20 {
                    msg[cmd_at] = cmd;
                    msg[4] = if magic == SMB2_MAGIC { 64 } else { cmd };
                    msg[5] = 0;
                }
                let mut body = bytes.clone();
                body.truncate(len / 2);
                msg.extend_from_slice(NTLMSSP_SIGNATURE);
                msg.extend_from_slice(&[2 + (rnd() % 2) as u8, 0, 0, 0]);
                msg.extend_from_slice(&body);
                let mut frame = vec![0, 0];
                frame.extend_from_slice(&(msg.len() as u16).to_be_bytes());
                frame.extend_from_slice(&msg);
                let _ = run_bytes(&[(true, frame.clone()), (false, frame)]);
            }
        }
    }
}
