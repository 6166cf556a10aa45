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
//!   and domain names are not reported as logins: NTLM is a challenge-response, not a
//!   cleartext login;
//! - SMB1 Session Setup AndX NativeOS (as the OS) and NativeLanMan (as a description)
//!   ([MS-CIFS] §2.2.4.53, [MS-SMB] §2.2.4.6).
//!
//! A refused logon: a session setup request naming an account (NTLM AUTHENTICATE user and
//! domain, or the SMB1 AccountName and PrimaryDomain of a non-extended-security request)
//! answered, by message id, with a logon failure status ([`LOGON_REFUSALS`], or the SMB1
//! DOS error ERRSRV/ERRbadpw) is an `AuthFailure` with `DOMAIN\user`. Anonymous attempts
//! (no user name) and Kerberos (no name in clear) are not reported.

use super::framing::{self, Framing, Stream, Unread};
use super::source;
use super::spec::ProtocolSpec;
use super::text::{utf16le_text, wire_text};
use super::violations::Violations;
use super::{Direction, Dissector, Probe, Transport};
use otwatch_common::observation::{Field, Observation, Source, Subject};

pub static SPEC: ProtocolSpec = ProtocolSpec {
    name: "smb",
    transport: Transport::Tcp,
    ports: &[445, 139],
    probe,
    new,
};

const PROTOCOL: &str = "smb";
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
/// [MS-CIFS] §2.2.3.1 Flags2: the Status field is a 32-bit NTSTATUS, not a DOS error.
const SMB1_FLAGS2_NT_STATUS: u16 = 0x4000;
/// [MS-CIFS] §2.2.2.4 DOS error class ERRSRV and its code ERRbadpw ("bad password").
const ERRSRV: u8 = 0x02;
const ERR_BAD_PW: u16 = 0x0002;

/// NTSTATUS values ([MS-ERREF] §2.3.1) a SESSION_SETUP answers when the account or its
/// password is refused: LOGON_FAILURE, WRONG_PASSWORD, NO_SUCH_USER, ACCOUNT_LOCKED_OUT,
/// ACCOUNT_DISABLED, ACCOUNT_EXPIRED, ACCOUNT_RESTRICTION, INVALID_LOGON_HOURS,
/// INVALID_WORKSTATION, PASSWORD_EXPIRED, PASSWORD_MUST_CHANGE, LOGON_TYPE_NOT_GRANTED.
pub const LOGON_REFUSALS: &[u32] = &[
    0xC000_006D,
    0xC000_006A,
    0xC000_0064,
    0xC000_0234,
    0xC000_0072,
    0xC000_0193,
    0xC000_006E,
    0xC000_006F,
    0xC000_0070,
    0xC000_0071,
    0xC000_0224,
    0xC000_015B,
];

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
    Box::new(SmbDissector::default())
}

/// A session message whose payload starts with an SMB protocol id, or a well-formed session
/// service control packet; leading keep-alives are skipped.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
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

/// Why SMB (or its NetBIOS session framing) is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmbError {
    #[error("not a NetBIOS session service packet")]
    NotNetbios,
    #[error("session message without an SMB protocol id")]
    NoProtocolId,
}

#[derive(Default)]
struct Side {
    /// What is left of the current session message past [`INSPECT`], passed over unread.
    unread: Unread,
    /// After a gap: looking for the next session message header.
    resync: bool,
    dead: bool,
    violations: Violations,
    /// Which (source) facts this side already reported.
    reported: u8,
}

impl Side {
    /// One violation per side is enough to flag the flow.
    fn violation(&mut self, out: &mut Vec<Observation>, reason: SmbError) {
        if !self.violations.any() {
            self.violations.record(PROTOCOL, reason, out);
        }
    }
}

// Bits of `Side::reported`.
const NB_NAME: u8 = 1;
const NTLM_NAME: u8 = 2;
const NTLM_VERSION: u8 = 4;
const NATIVE_OS: u8 = 8;

/// A session setup request that named an account, until its response.
struct LogonAttempt {
    /// SMB2 MessageId ([MS-SMB2] §2.2.1) or SMB1 MID ([MS-CIFS] §2.2.3.1).
    id: u64,
    smb2: bool,
    /// `DOMAIN\user`, or `user` without a domain.
    account: String,
}

/// Per-flow SMB state.
#[derive(Default)]
pub struct SmbDissector {
    client: Side,
    server: Side,
    /// The latest session setup that named an account: one at a time is what clients send.
    logon: Option<LogonAttempt>,
}

/// Frames the session packet at the start of a stream (RFC 1002 §4.3.1): a session message
/// once its first [`INSPECT`] bytes are at hand (the rest is passed over unread), a session
/// request or control packet whole. Anything else ends the direction.
fn frame(data: &[u8]) -> Framing<SmbError> {
    let Some((ty, len)) = nbss_header(data) else {
        return Framing::Incomplete {
            needed: NBSS_HEADER,
        };
    };
    let len = match ty {
        SESSION_MESSAGE => NBSS_HEADER + len.min(INSPECT),
        SESSION_REQUEST if len <= MAX_SESSION_REQUEST => NBSS_HEADER + len,
        POSITIVE_RESPONSE | NEGATIVE_RESPONSE | RETARGET_RESPONSE | KEEP_ALIVE
            if len <= MAX_CONTROL =>
        {
            NBSS_HEADER + len
        }
        _ => return Framing::broken(data.len(), SmbError::NotNetbios),
    };
    if data.len() >= len {
        Framing::Complete { len }
    } else {
        Framing::Incomplete { needed: len }
    }
}

/// The resync scan: the next plausible session message (see [`resync_point`]). With none,
/// keeps the tail: a header may straddle the next delivery.
fn boundary(data: &[u8]) -> Framing<SmbError> {
    match resync_point(data) {
        Some(0) => Framing::Complete { len: 0 },
        Some(at) => Framing::skip(at),
        None => match data.len().saturating_sub(NBSS_HEADER + 3) {
            0 => Framing::Incomplete {
                needed: NBSS_HEADER + 4,
            },
            skip => Framing::skip(skip),
        },
    }
}

impl SmbDissector {
    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }
}

impl Stream for SmbDissector {
    type Error = SmbError;

    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<SmbError> {
        let side = self.side(dir);
        if side.dead {
            return Framing::skip(data.len());
        }
        if let Some(skip) = side.unread.pass(data) {
            return skip;
        }
        let framing = framing::step(&mut side.resync, data, frame, boundary);
        if let Framing::Resync { error: Some(_), .. } = framing {
            side.dead = true;
        }
        framing
    }

    fn on_broken(&mut self, dir: Direction, error: SmbError, out: &mut Vec<Observation>) {
        self.side(dir).violation(out, error);
    }

    fn on_message(
        &mut self,
        dir: Direction,
        packet: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize> {
        let (ty, len) = nbss_header(packet)?;
        let body = packet.get(NBSS_HEADER..).unwrap_or_default();
        let logon = &mut self.logon;
        let (side, peer) = match dir {
            Direction::ToServer => (&mut self.client, &mut self.server),
            Direction::ToClient => (&mut self.server, &mut self.client),
        };
        match ty {
            SESSION_MESSAGE => {
                inspect(dir, body, side, logon, out);
                side.unread.set(len - body.len());
            }
            SESSION_REQUEST if dir == Direction::ToServer => session_request(body, side, peer, out),
            _ => {}
        }
        Some(packet.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        let side = self.side(dir);
        side.unread.clear();
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

/// Reports `value` about the sender of `dir` unless `side` already reported `bit`.
fn report(
    side: &mut Side,
    bit: u8,
    subject: Subject,
    facts: &[(Field, String, Source)],
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
                source: *source,
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
    let source = source::NETBIOS_SESSION_REQUEST;
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
    let text = wire_text(name.get(..15)?);
    let text = if text.starts_with('*') {
        String::new()
    } else {
        text
    };
    Some((text, rest))
}

/// Looks into the first bytes of one session message.
fn inspect(
    dir: Direction,
    msg: &[u8],
    side: &mut Side,
    logon: &mut Option<LogonAttempt>,
    out: &mut Vec<Observation>,
) {
    match msg.get(..4) {
        Some(m) if m == SMB1_MAGIC => smb1(dir, msg, side, logon, out),
        Some(m) if m == SMB2_MAGIC => smb2(dir, msg, side, logon, out),
        // Encrypted or compressed SMB 3: nothing readable.
        Some(m) if m == SMB2_TRANSFORM_MAGIC || m == SMB2_COMPRESSED_MAGIC => {}
        _ => side.violation(out, SmbError::NoProtocolId),
    }
}

/// [MS-CIFS] §2.2.3.1 header: Command at 4, Status at 5, Flags at 9, Flags2 at 10 (LE),
/// MID at 30.
fn smb1(
    dir: Direction,
    msg: &[u8],
    side: &mut Side,
    logon: &mut Option<LogonAttempt>,
    out: &mut Vec<Observation>,
) {
    let (Some(&command), Some(&flags), Some(flags2), Some(mid)) =
        (msg.get(4), msg.get(9), le_u16(msg, 10), le_u16(msg, 30))
    else {
        return;
    };
    let reply = flags & SMB1_FLAGS_REPLY != 0;
    if command != SMB1_COM_SESSION_SETUP_ANDX || reply != (dir == Direction::ToClient) {
        return;
    }
    let unicode = flags2 & SMB1_FLAGS2_UNICODE != 0;
    let account = msg
        .get(SMB1_HEADER..)
        .and_then(|body| ntlmssp(dir, body, side, out));
    if reply {
        let refused = if flags2 & SMB1_FLAGS2_NT_STATUS != 0 {
            le_u32(msg, 5).is_some_and(|s| LOGON_REFUSALS.contains(&s))
        } else {
            // DOS error: ErrorClass at 5, reserved, ErrorCode at 7.
            msg.get(5) == Some(&ERRSRV) && le_u16(msg, 7) == Some(ERR_BAD_PW)
        };
        logon_answered(logon, u64::from(mid), false, refused, out);
    } else if let Some(account) = account.or_else(|| smb1_account(msg, unicode)) {
        remember_logon(logon, u64::from(mid), false, account);
    }
    if let Some((os, lanman)) = native_os(msg, reply, unicode) {
        let facts = [
            (Field::Os, os, source::SMB_NATIVE_OS),
            (Field::Description, lanman, source::SMB_NATIVE_LANMAN),
        ];
        report(side, NATIVE_OS, dir.sender(), &facts, out);
    }
}

/// [MS-SMB2] §2.2.1 header: StructureSize 64 at 4, Status at 8, Command at 12, Flags at 16,
/// MessageId at 24.
fn smb2(
    dir: Direction,
    msg: &[u8],
    side: &mut Side,
    logon: &mut Option<LogonAttempt>,
    out: &mut Vec<Observation>,
) {
    let (Some(size), Some(status), Some(command), Some(flags), Some(message_id)) = (
        le_u16(msg, 4),
        le_u32(msg, 8),
        le_u16(msg, 12),
        le_u32(msg, 16),
        le_u64(msg, 24),
    ) else {
        return;
    };
    let reply = flags & SMB2_FLAGS_SERVER_TO_REDIR != 0;
    if usize::from(size) != SMB2_HEADER
        || command != SMB2_SESSION_SETUP
        || reply != (dir == Direction::ToClient)
    {
        return;
    }
    let account = msg
        .get(SMB2_HEADER..)
        .and_then(|body| ntlmssp(dir, body, side, out));
    if reply {
        let refused = LOGON_REFUSALS.contains(&status);
        logon_answered(logon, message_id, true, refused, out);
    } else if let Some(account) = account {
        remember_logon(logon, message_id, true, account);
    }
}

/// A session setup request named `account` (not empty: anonymous attempts are not kept).
fn remember_logon(logon: &mut Option<LogonAttempt>, id: u64, smb2: bool, account: String) {
    if !account.is_empty() {
        *logon = Some(LogonAttempt { id, smb2, account });
    }
}

/// A session setup response with message id `id`: the end of the attempt it answers,
/// reported when `refused`.
fn logon_answered(
    logon: &mut Option<LogonAttempt>,
    id: u64,
    smb2: bool,
    refused: bool,
    out: &mut Vec<Observation>,
) {
    // Any answer ends the attempt; only a refusal is reported.
    let Some(attempt) = logon.take_if(|a| a.id == id && a.smb2 == smb2) else {
        return;
    };
    if refused {
        out.push(Observation::AuthFailure {
            user: attempt.account,
            protocol: PROTOCOL,
        });
    }
}

/// AccountName and PrimaryDomain of an SMB1 Session Setup AndX request without extended
/// security ([MS-CIFS] §2.2.4.53.1: WordCount 13; OEMPasswordLen at word byte 14,
/// UnicodePasswordLen at 16; bytes: the passwords, skipped unread, then AccountName,
/// PrimaryDomain) as `DOMAIN\user`.
fn smb1_account(msg: &[u8], unicode: bool) -> Option<String> {
    let word_count = usize::from(*msg.get(SMB1_HEADER)?);
    if word_count != 13 {
        return None;
    }
    let words = msg.get(SMB1_HEADER + 1..SMB1_HEADER + 1 + 2 * word_count)?;
    let passwords = usize::from(le_u16(words, 14)?) + usize::from(le_u16(words, 16)?);
    let mut at = SMB1_HEADER + 1 + 2 * word_count + 2 + passwords;
    if unicode && at % 2 == 1 {
        at += 1;
    }
    let (user, at) = smb_string(msg, at, unicode)?;
    let (domain, _) = smb_string(msg, at, unicode)?;
    Some(account_name(domain, user))
}

/// `DOMAIN\user`, or `user` alone; empty when there is no user.
fn account_name(domain: String, user: String) -> String {
    if user.is_empty() || domain.is_empty() {
        user
    } else {
        format!("{domain}\\{user}")
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
        Some((wire_text(raw), at + end + 1))
    }
}

/// Finds an NTLMSSP message in `body` and reports what the sender says about itself;
/// returns the account an AUTHENTICATE names (`DOMAIN\user`, empty when anonymous).
fn ntlmssp(
    dir: Direction,
    body: &[u8],
    side: &mut Side,
    out: &mut Vec<Observation>,
) -> Option<String> {
    let at = body
        .windows(NTLMSSP_SIGNATURE.len())
        .position(|w| w == NTLMSSP_SIGNATURE)?;
    let msg = body.get(at..)?;
    let message_type = le_u32(msg, 8)?;
    let who = dir.sender();
    match (message_type, dir) {
        // [MS-NLMP] §2.2.1.2 CHALLENGE_MESSAGE: TargetNameFields 12, NegotiateFlags 20,
        // TargetInfoFields 40, Version 48..56.
        (NTLM_CHALLENGE, Direction::ToClient) => {
            let flags = le_u32(msg, 20)?;
            let name = ntlm_field(msg, 40).and_then(target_computer_name);
            let payload = [ntlm_field_offset(msg, 12), ntlm_field_offset(msg, 40)];
            let os = ntlm_version(msg, flags, 48, &payload);
            report_ntlm(side, who, name, source::NTLM_TARGET_INFO, os, out);
            None
        }
        // [MS-NLMP] §2.2.1.3 AUTHENTICATE_MESSAGE: LmChallengeResponseFields 12,
        // NtChallengeResponseFields 20, DomainNameFields 28, UserNameFields 36,
        // WorkstationFields 44, EncryptedRandomSessionKeyFields 52, NegotiateFlags 60,
        // Version 64..72. Domain and user name are kept only for a refused logon.
        (NTLM_AUTHENTICATE, Direction::ToServer) => {
            let flags = le_u32(msg, 60)?;
            let text = |at: usize| {
                ntlm_field(msg, at).map(|raw| {
                    if flags & NTLMSSP_NEGOTIATE_UNICODE != 0 {
                        utf16le_text(raw)
                    } else {
                        wire_text(raw)
                    }
                })
            };
            let payload = [12, 20, 28, 36, 44, 52].map(|at| ntlm_field_offset(msg, at));
            let os = ntlm_version(msg, flags, 64, &payload);
            report_ntlm(side, who, text(44), source::NTLM_WORKSTATION, os, out);
            let user = text(36).unwrap_or_default();
            Some(account_name(text(28).unwrap_or_default(), user))
        }
        _ => None,
    }
}

/// Reports what an NTLM message says of its sender: the computer name it states (`name`,
/// read from `name_source`), then the Windows version its VERSION slot holds.
fn report_ntlm(
    side: &mut Side,
    who: Subject,
    name: Option<String>,
    name_source: Source,
    os: Option<String>,
    out: &mut Vec<Observation>,
) {
    if let Some(name) = name {
        report(
            side,
            NTLM_NAME,
            who,
            &[(Field::Hostname, name, name_source)],
            out,
        );
    }
    if let Some(os) = os {
        report(
            side,
            NTLM_VERSION,
            who,
            &[(Field::Os, os, source::NTLM_VERSION)],
            out,
        );
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

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
