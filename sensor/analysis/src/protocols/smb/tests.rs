//! Tests on real NetBIOS session service / SMB1 / NTLMSSP streams (payloads extracted with
//! tshark; expected values read from `tshark -T fields`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{
    self, byte_by_byte, hex, hex_segments, id, never_panics_in_conversation, run_segments, Noise,
};
use crate::protocols::FlowCtx;

fn ctx() -> FlowCtx {
    testing::ctx(Transport::Tcp, "141.81.0.182:4548", "141.81.0.10:139")
}

fn run_bytes(segs: &[(bool, Vec<u8>)]) -> Vec<Observation> {
    run_segments(new, &ctx(), segs)
}

fn run(segs: &[(bool, &str)]) -> Vec<Observation> {
    run_bytes(&hex_segments(segs))
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
        id(
            Client,
            Hostname,
            "PANELPC02",
            source::NETBIOS_SESSION_REQUEST,
        ),
        id(Server, Hostname, "IAS01", source::NETBIOS_SESSION_REQUEST),
        // 3704 Session Setup AndX request (NTLMSSP_NEGOTIATE).
        id(
            Client,
            Os,
            "Windows 2002 Service Pack 3 2600",
            source::SMB_NATIVE_OS,
        ),
        id(
            Client,
            Description,
            "Windows 2002 5.1",
            source::SMB_NATIVE_LANMAN,
        ),
        // 3705 response (NTLMSSP_CHALLENGE).
        id(Server, Hostname, "IAS01", source::NTLM_TARGET_INFO),
        id(
            Server,
            Os,
            "Windows NT 6.0 build 6002",
            source::NTLM_VERSION,
        ),
        id(
            Server,
            Os,
            "Windows Server (R) 2008 Standard 6002 Service Pack 2",
            source::SMB_NATIVE_OS,
        ),
        id(
            Server,
            Description,
            "Windows Server (R) 2008 Standard 6.0",
            source::SMB_NATIVE_LANMAN,
        ),
        // 3709 request (NTLMSSP_AUTH, anonymous).
        id(Client, Hostname, "PANELPC02", source::NTLM_WORKSTATION),
        id(Client, Os, "Windows XP build 2600", source::NTLM_VERSION),
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
    assert_eq!(run_bytes(&byte_by_byte(MB2_SMB1)), mb2_expected());
}

fn refused(account: &str) -> Observation {
    Observation::AuthFailure {
        user: account.to_string(),
        protocol: PROTOCOL,
    }
}

fn refusals(out: Vec<Observation>) -> Vec<Observation> {
    out.into_iter()
        .filter(|o| matches!(o, Observation::AuthFailure { .. }))
        .collect()
}

/// MB2_SMB1 with the response to `frame_marker`'s session setup given `status` (LE hex of
/// the NTSTATUS, [MS-CIFS] §2.2.3.1) instead of STATUS_SUCCESS.
fn mb2_answered(frame_marker: &str, status: &str) -> Vec<(bool, Vec<u8>)> {
    MB2_SMB1
        .iter()
        .map(|(to_server, h)| {
            let h = h.to_string();
            let h = if h.contains(frame_marker) {
                h.replacen("ff534d427300000000", &format!("ff534d4273{status}"), 1)
            } else {
                h
            };
            (*to_server, hex(&h))
        })
        .collect()
}

/// 3721 authenticates as PANELPC02\Administrator (tshark ntlmssp.auth.domain,
/// ntlmssp.auth.username) and 3723 accepts it; 3709 is anonymous.
#[test]
fn refused_ntlm_logon_names_the_account() {
    assert_eq!(refusals(run(MB2_SMB1)), []);
    // 3723 (MID 0x4001 like 3721) answering STATUS_LOGON_FAILURE, STATUS_ACCOUNT_LOCKED_OUT.
    for status in ["6d0000c0", "340200c0"] {
        assert_eq!(
            refusals(run_bytes(&mb2_answered("0330400104ff00e8", status))),
            [refused("PANELPC02\\Administrator")]
        );
    }
    // STATUS_ACCESS_DENIED is not a verdict on the password.
    assert_eq!(
        refusals(run_bytes(&mb2_answered("0330400104ff00e8", "220000c0"))),
        []
    );
    // 3710 refusing the anonymous 3709: no account was tried.
    assert_eq!(
        refusals(run_bytes(&mb2_answered("02e0800004ff00e8", "6d0000c0"))),
        []
    );
}

/// One SMB2 message in a direct-TCP frame ([MS-SMB2] §2.1, §2.2.1.2): `body` after the
/// 64-byte header.
fn smb2_frame(status: u32, reply: bool, message_id: u64, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::new();
    msg.extend_from_slice(SMB2_MAGIC);
    msg.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
    msg.extend_from_slice(&[0; 2]); // CreditCharge
    msg.extend_from_slice(&status.to_le_bytes());
    msg.extend_from_slice(&SMB2_SESSION_SETUP.to_le_bytes());
    msg.extend_from_slice(&1u16.to_le_bytes()); // Credit
    let flags = if reply { SMB2_FLAGS_SERVER_TO_REDIR } else { 0 };
    msg.extend_from_slice(&flags.to_le_bytes());
    msg.extend_from_slice(&[0; 4]); // NextCommand
    msg.extend_from_slice(&message_id.to_le_bytes());
    msg.resize(SMB2_HEADER, 0);
    msg.extend_from_slice(body);
    let mut frame = vec![0, 0];
    frame.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    frame.extend_from_slice(&msg);
    frame
}

/// The NTLMSSP AUTHENTICATE of frame 3721, as an SMB2 SESSION_SETUP request would carry it
/// ([MS-SMB2] §2.2.5: the security buffer at offset 88).
fn smb2_authenticate(message_id: u64) -> Vec<u8> {
    let smb1 = hex(MB2_SMB1
        .iter()
        .find(|(_, h)| h.contains("033040010cff"))
        .unwrap()
        .1);
    let at = smb1
        .windows(8)
        .position(|w| w == NTLMSSP_SIGNATURE)
        .unwrap();
    let blob = &smb1[at..];
    let mut body = Vec::new();
    body.extend_from_slice(&25u16.to_le_bytes()); // StructureSize
    body.extend_from_slice(&[0, 1]); // Flags, SecurityMode
    body.extend_from_slice(&[0; 8]); // Capabilities, Channel
    body.extend_from_slice(&88u16.to_le_bytes()); // SecurityBufferOffset
    body.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    body.extend_from_slice(&[0; 8]); // PreviousSessionId
    body.extend_from_slice(blob);
    smb2_frame(0, false, message_id, &body)
}

#[test]
fn refused_smb2_session_setup_is_paired_by_message_id() {
    // [MS-SMB2] §2.2.6 SESSION_SETUP response without a security buffer.
    let empty = [9, 0, 0, 0, 72, 0, 0, 0];
    let logon_failure = 0xC000_006D;
    let out = run_bytes(&[
        (true, smb2_authenticate(2)),
        (false, smb2_frame(logon_failure, true, 2, &empty)),
    ]);
    assert_eq!(refusals(out), [refused("PANELPC02\\Administrator")]);
    // A response to another message, then success: nothing.
    let out = run_bytes(&[
        (true, smb2_authenticate(3)),
        (false, smb2_frame(logon_failure, true, 2, &empty)),
        (false, smb2_frame(0, true, 3, &empty)),
        (false, smb2_frame(logon_failure, true, 3, &empty)),
    ]);
    assert_eq!(refusals(out), []);
}

/// [MS-CIFS] §2.2.4.53.1 Session Setup AndX request without extended security (WordCount
/// 13, OEM strings), answered with the DOS error ERRSRV/ERRbadpw (§2.2.2.4).
#[test]
fn refused_smb1_plain_logon_names_the_account() {
    let header = |reply: bool, status: [u8; 4], flags2: u16| {
        let mut h = Vec::new();
        h.extend_from_slice(SMB1_MAGIC);
        h.push(SMB1_COM_SESSION_SETUP_ANDX);
        h.extend_from_slice(&status);
        h.push(if reply { SMB1_FLAGS_REPLY } else { 0 });
        h.extend_from_slice(&flags2.to_le_bytes());
        h.resize(30, 0);
        h.extend_from_slice(&7u16.to_le_bytes()); // MID
        h
    };
    let mut request = header(false, [0; 4], 0);
    request.push(13);
    let mut words = [0u8; 26];
    words[0] = 0xff; // no AndX
    words[14] = 3; // OEMPasswordLen
    words[16] = 0; // UnicodePasswordLen
    request.extend_from_slice(&words);
    let bytes = b"pw\0admin\0WORKGROUP\0Unix\0Samba\0";
    request.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    request.extend_from_slice(bytes);
    let mut response = header(true, [ERRSRV, 0, 2, 0], 0);
    response.extend_from_slice(&[0, 0, 0]); // WordCount 0, ByteCount 0
    let frame = |m: Vec<u8>| {
        let mut f = vec![0, 0];
        f.extend_from_slice(&(m.len() as u16).to_be_bytes());
        f.extend_from_slice(&m);
        f
    };
    let out = run_bytes(&[(true, frame(request)), (false, frame(response))]);
    assert_eq!(refusals(out), [refused("WORKGROUP\\admin")]);
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
                source::NTLM_TARGET_INFO
            ),
            id(
                Subject::Server,
                Field::Os,
                "Windows NT 6.0 build 6002",
                source::NTLM_VERSION
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
    let segs = hex_segments(MB2_SMB1);
    never_panics_in_conversation(&SPEC, &ctx(), &segs);
    // Truncated messages with the NBSS length fixed up, so the parsers see a short SMB/NTLM
    // message as complete.
    for (to_server, msg) in &segs {
        for cut in NBSS_HEADER..=msg.len() {
            let mut fixed = msg[..cut].to_vec();
            let len = (cut - NBSS_HEADER) as u16;
            fixed[1] = 0;
            fixed[2..4].copy_from_slice(&len.to_be_bytes());
            let _ = run_bytes(&[(*to_server, fixed)]);
        }
    }
    // Random bodies behind valid framing and headers reach the inner parsers.
    let mut noise = Noise::new(0x1357_9bdf);
    for _ in 0..1000 {
        let len = (noise.next_u64() % 600) as usize;
        let bytes = noise.bytes(len);
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
            msg.extend_from_slice(&[2 + (noise.next_u64() % 2) as u8, 0, 0, 0]);
            msg.extend_from_slice(&body);
            let mut frame = vec![0, 0];
            frame.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            frame.extend_from_slice(&msg);
            let _ = run_bytes(&[(true, frame.clone()), (false, frame)]);
        }
    }
}
