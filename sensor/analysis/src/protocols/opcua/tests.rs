//! Tests on real OPC UA messages from /work/shared/pcaps/opcua (payloads extracted with
//! `tshark -T fields -e tcp.payload`; expected values read from `tshark -d
//! tcp.port==4840,opcua -V` and `-e opcua.servicenodeid.numeric -e opcua.security.spu
//! -e opcua.transport.endpoint -e opcua.ApplicationUri -e opcua.loctext.Text -e
//! opcua.UserName -e opcua.EncryptionAlgorithm`).

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{ctx, hex};
use crate::protocols::FlowCtx;
use crate::protocols::Probe;
use otwatch_common::observation::Operation;
use otwatch_common::observation::Source;

/// open62541_client-server_mainloop.pcap frame 26: Hello, EndpointUrl "opc.tcp://localhost:4840".
const HEL: &str = concat!(
    "48454c463800000000000000ffff0000ffff00000000000000000000180000006f70632e7463703a2f2f6c6f",
    "63616c686f73743a34383430",
);
/// frame 28: Acknowledge.
const ACK: &str = "41434b461c00000000000000ffff0000ffff00000000000000000000";
/// frame 32: OpenSecureChannel request, SecurityPolicy#None (opcua.security.spu), 446.
const OPN_REQ: &str = concat!(
    "4f504e4684000000000000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f",
    "5365637572697479506f6c696379234e6f6e65ffffffffffffffff01000000010000000100be0100004c4c06",
    "4f2dd1d5010000000000000000ffffffff00000000000000000000000000000001000000ffffffffc0270900",
);
/// frame 34: OpenSecureChannel response, SecureChannelId 4, 449.
const OPN_RESP: &str = concat!(
    "4f504e4687000000040000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f",
    "5365637572697479506f6c696379234e6f6e65ffffffffffffffff01000000010000000100c101ce710e4f2d",
    "d1d501000000000000000000ffffffff000000000000000400000004000000ba710e4f2dd1d501c0270900ff",
    "ffffff",
);
/// frame 36: MSG GetEndpointsRequest (428).
const GET_ENDPOINTS_REQ: &str = concat!(
    "4d5347465d000000040000000400000002000000020000000100ac0100003e7a0e4f2dd1d501020000000000",
    "0000ffffffff10270000000000180000006f70632e7463703a2f2f6c6f63616c686f73743a34383430ffffff",
    "ffffffffff",
);
/// frame 38: MSG GetEndpointsResponse (431): ApplicationUri urn:open62541.server.application,
/// ApplicationName "open62541-based OPC UA Application".
const GET_ENDPOINTS_RESP: &str = concat!(
    "4d534746dc010000040000000400000002000000020000000100af01b8b6164f2dd1d5010200000000000000",
    "00ffffffff00000001000000180000006f70632e7463703a2f2f6c6f63616c686f73743a3438343020000000",
    "75726e3a6f70656e36323534312e7365727665722e6170706c69636174696f6e14000000687474703a2f2f6f",
    "70656e36323534312e6f72670302000000656e220000006f70656e36323534312d6261736564204f50432055",
    "41204170706c69636174696f6e00000000ffffffffffffffffffffffffffffffff010000002f000000687474",
    "703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e65",
    "020000001a0000006f70656e36323534312d616e6f6e796d6f75732d706f6c69637900000000ffffffffffff",
    "ffffffffffff190000006f70656e36323534312d757365726e616d652d706f6c69637901000000ffffffffff",
    "ffffff2f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f536563757269747950",
    "6f6c696379234e6f6e6541000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412d5072",
    "6f66696c652f5472616e73706f72742f75617463702d756173632d756162696e61727901",
);
/// frame 40: MSG CreateSessionRequest (461): ApplicationUri urn:unconfigured:application, no
/// ApplicationName text.
const CREATE_SESSION_REQ: &str = concat!(
    "4d534746a6000000040000000400000003000000030000000100cd01000038be164f2dd1d501030000000000",
    "0000ffffffff102700000000001c00000075726e3a756e636f6e666967757265643a6170706c69636174696f",
    "6effffffff0001000000ffffffffffffffffffffffffffffffff180000006f70632e7463703a2f2f6c6f6361",
    "6c686f73743a34383430ffffffffffffffffffffffff00000000804f3241ffffff7f",
);
/// frame 42: MSG CreateSessionResponse (464), same server ApplicationDescription as 38.
const CREATE_SESSION_RESP: &str = concat!(
    "4d53474642020000040000000400000003000000030000000100d00156e81e4f2dd1d5010300000000000000",
    "00ffffffff000000040100a0f7639b18fd8d0a5235f3cff51fd1dd0401003912161546f36d34fecffcbfbacb",
    "4c1400000000804f324120000000598c5f8b8e16dbf2e5d02c5219ad6efbf5eb08dc590a17242c167432ee3a",
    "0d82ffffffff01000000180000006f70632e7463703a2f2f6c6f63616c686f73743a34383430200000007572",
    "6e3a6f70656e36323534312e7365727665722e6170706c69636174696f6e14000000687474703a2f2f6f7065",
    "6e36323534312e6f72670302000000656e220000006f70656e36323534312d6261736564204f504320554120",
    "4170706c69636174696f6e00000000ffffffffffffffffffffffffffffffff010000002f000000687474703a",
    "2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e650200",
    "00001a0000006f70656e36323534312d616e6f6e796d6f75732d706f6c69637900000000ffffffffffffffff",
    "ffffffff190000006f70656e36323534312d757365726e616d652d706f6c69637901000000ffffffffffffff",
    "ff2f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c",
    "696379234e6f6e6541000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412d50726f66",
    "696c652f5472616e73706f72742f75617463702d756173632d756162696e61727901ffffffffffffffffffff",
    "ffff00000000",
);
/// frame 44: MSG ActivateSessionRequest (467): UserNameIdentityToken (324), UserName "user1",
/// Password "password" in clear, EncryptionAlgorithm null.
const ACTIVATE_SESSION_REQ: &str = concat!(
    "4d534746a1000000040000000400000004000000040000000100d3010401003912161546f36d34fecffcbfba",
    "cb4c14c0ec1e4f2dd1d5010500000000000000ffffffffc0270900000000ffffffffffffffffffffffffffff",
    "ffff010044010136000000190000006f70656e36323534312d757365726e616d652d706f6c69637905000000",
    "75736572310800000070617373776f7264ffffffffffffffffffffffff",
);
/// frame 46: MSG ActivateSessionResponse (470).
const ACTIVATE_SESSION_RESP: &str = concat!(
    "4d53474660000000040000000400000004000000040000000100d601fa31274f2dd1d5010500000000000000",
    "00ffffffff00000020000000af823f28a4fd9fda7a4a82598c36a432fb0138ce7ca1f5d7b07e994f74aa2c0e",
    "ffffffffffffffff",
);
/// frame 76: three MSG PublishRequest (826) in one segment.
const THREE_PUBLISH: &str = concat!(
    "4d5347464e00000004000000040000000f0000000f00000001003a030401003912161546f36d34fecffcbfba",
    "cb4c146088474f2dd1d5011000000000000000ffffffff60ea0000000000000000004d5347464e0000000400",
    "000004000000100000001000000001003a030401003912161546f36d34fecffcbfbacb4c14ce88474f2dd1d5",
    "011100000000000000ffffffff60ea0000000000000000004d5347464e000000040000000400000011000000",
    "1100000001003a030401003912161546f36d34fecffcbfbacb4c141e89474f2dd1d5011200000000000000ff",
    "ffffff60ea000000000000000000",
);
/// frame 84: MSG ReadRequest (631).
const READ_REQ: &str = concat!(
    "4d5347467900000004000000040000001400000014000000010077020401003912161546f36d34fecffcbfba",
    "cb4c14bed68b4f2dd1d5011500000000000000ffffffff000000000000000000000000000000000000000100",
    "00000301000a0000007468652e616e737765720d000000ffffffff0000ffffffff",
);
/// frame 88: MSG WriteRequest (673).
const WRITE_REQ: &str = concat!(
    "4d5347466d000000040000000400000015000000150000000100a1020401003912161546f36d34fecffcbfba",
    "cb4c14b28f934f2dd1d5011600000000000000ffffffff00000000000000010000000301000a000000746865",
    "2e616e737765720d000000ffffffff010601000000",
);
/// frame 120: MSG CallRequest (712).
const CALL_REQ: &str = concat!(
    "4d53474669000000040000000400000018000000180000000100c8020401003912161546f36d34fecffcbfba",
    "cb4c149279ba4f2dd1d5011900000000000000ffffffff0000000000000001000000005501014df401000000",
    "0c0c00000048656c6c6f20536572766572",
);
/// frame 48: MSG BrowseRequest (527) of i=85 (Objects).
const BROWSE_REQ: &str = concat!(
    "4d534746710000000400000004000000050000000500000001000f020401003912161546f36d34fecffcbfba",
    "cb4c14f03b274f2dd1d5010600000000000000ffffffff000000000000000000000000000000000000000000",
    "0000000001000000005500000000000000000000003f000000",
);
/// frame 50: MSG BrowseResponse (530): FolderType (i=61), Server (i=2253), TheGreatNode
/// (ns=1;i=58192), VariableNode (ns=1;i=53813) (opcua.BrowseName).
const BROWSE_RESP: &str = concat!(
    "4d5347461d01000004000000040000000500000005000000010012020c272f4f2dd1d50106000000000000",
    "0000ffffffff0000000100000000000000ffffffff04000000002801003d00000a000000466f6c646572547970",
    "6503000000000a000000466f6c646572547970650800000000000023010100cd080000060000005365727665",
    "72030000000006000000536572766572010000000100d407002301010150e301000c00000054686547726561",
    "744e6f64650305000000656e2d55530f0000005468654e657747726561744e6f6465010000000101662f0023",
    "01010135d200000c0000005661726961626c654e6f64650305000000656e2d5553120000005468654e657756",
    "61726961626c654e6f646502000000003fffffffff",
);
/// frame 124: MSG AddNodesRequest (488).
const ADD_NODES_REQ: &str = concat!(
    "4d53474600010000040000000400000019000000190000000100e8010401003912161546f36d34fecffcbfba",
    "cb4c14a49bc24f2dd1d5011a00000000000000ffffffff00000000000000010000000023002d0101652f0100",
    "0c0000004e65775265666572656e636520000000010071010189000000000000000305000000656e2d55530c",
    "0000004e65775265666572656e63650305000000656e2d5553320000005265666572656e63657320736f6d65",
    "7468696e672074686174206d69676874206f72206d69676874206e6f74206578697374000000000000000000",
    "000305000000656e2d55531300000049734e65776c795265666572656e63656442790000",
);
/// python_opcua-client-server_minimal.pcap frame 27: TranslateBrowsePathsToNodeIdsRequest
/// (554) of the path Objects / 2:MyObject / 2:MyVariable from i=84.
const PY_TRANSLATE_REQ: &str = concat!(
    "4d5347467f000000090000000e000000050000000500000001002a02020000ec0300009e73f2a8e973d50105",
    "00000000000000ffffffffe803000000000001000000005403000000002100010000070000004f626a656374",
    "73002100010200080000004d794f626a6563740021000102000a0000004d795661726961626c65",
);
/// frame 29: its response (557): one target, ns=2;i=2, whole path resolved.
const PY_TRANSLATE_RESP: &str = concat!(
    "4d5347464f000000090000000e000000050000000500000001002d027e8ef2a8e973d50105000000000000",
    "00000000000000000001000000000000000100000002020002000000ffffffff00000000",
);
/// frame 144: CloseSecureChannel (452).
const CLO: &str = concat!(
    "434c4f463900000004000000040000001e0000001e0000000100c40100002240eb4f2dd1d501010000000000",
    "0000ffffffff10270000000000",
);
/// open62541_client-server_encrypted.pcap frame 31: OpenSecureChannel with
/// SecurityPolicy#Basic128Rsa15 (body encrypted; tshark shows no service id).
const OPN_BASIC128_REQ: &str = concat!(
    "4f504e46450600000000000038000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f",
    "5365637572697479506f6c6963792342617369633132385273613135e1030000308203dd308202c5a0030201",
    "02020900d3fa02037416b875300d06092a864886f70d01010b05003045310b30090603550406130244453112",
    "3010060355040a0c096f70656e36323534313122302006035504030c196f70656e3632353431536572766572",
    "406c6f63616c686f7374301e170d3230303132303230333232345a170d3231303131393230333232345a3045",
    "310b300906035504061302444531123010060355040a0c096f70656e36323534313122302006035504030c19",
    "6f70656e3632353431536572766572406c6f63616c686f737430820122300d06092a864886f70d0101010500",
    "0382010f003082010a0282010100bad1cae0df5d755473f1f27ec37393e9659c7400a478e0ac975a1d611e6d",
    "9ea923ae06e94d090897004d08059c124a85ba49709551598c65a51878779e22ec5927e533f4209e1b555fcf",
    "1719424e8daac3107f69a2f668a62a4ff4e7c19a03e9642038d6a342bdc0cda22b03d9809cba81e03b15a3d7",
    "56b8d14e445e6148e0831a84dd229a37c3d26c791b540dbef177e45048f8b749975234ce699d8bf495e47221",
    "d09280bad8f14c7009d6a6947c50d651e375a538755ed876d5d850d093cdce9293e5f9551ff6608fbbbc4269",
    "2deaee8ec043bdda7c03013a7321bdea7c773ad04c890d3901060e5fe952f055ef55465fe4c4a0c0c80e4a40",
    "2917ab307d6d0203010001a381cf3081cc301d0603551d0e04160414382fe5c60265130557e194eecbbcd0d1",
    "0b872aac301f0603551d23041830168014382fe5c60265130557e194eecbbcd0d10b872aac30090603551d13",
    "04023000300b0603551d0f0404030202f4301d0603551d250416301406082b0601050507030106082b060105",
    "0507030230530603551d11044c304a820e6561676c65726f636b2d35313530820e6561676c65726f636b2d35",
    "3135308704ac100a8f87047f000001861c75726e3a756e636f6e666967757265643a6170706c69636174696f",
    "6e300d06092a864886f70d01010b050003820101008a62b6bcd958e38f6786e70e94f35672b2f4b096c247b7",
    "cd33b84c66a0adc7ee5014c6685efa873b6feebe0d857b295796899d027f0141f1f87ce3107f71a2bcd3461b",
    "af8f6bd88ed4e85ca2a38119c86b3a19bd2b9c776f1b12bdfcb21ce15b72a8e82c98db6c9ceb08c07b41cac3",
    "b6412e4f0c6ec8691d79db62801697c6eaf7a2fe8ddbb5998233ec15a9228b129f4b6a63a18c2c11a70e6548",
    "6ec540018f493e4eea99fe5ce8c972c041c045aaf7c8822eb157d8527034d4a7c33755ffa4d6ed8dd05c6c9e",
    "cb090236f4d7d6b17b977c486877f4901030faf965906cf388d783b9f54b0d97a63246d7c9e70e275f4af997",
    "3dd0fcedc4ca549d2b91b58abf1400000002ef7d93ab6cbb3a6f9c202307188ddf171ec991ace6ec042192a3",
    "4bd5fc230f35db48ee56556d4f2bb8702f3b6f2ee848a2e8be1a38018ddbb8302f9365e03a449150919b38d1",
    "5c8c45926472c4f0cd628d9048beed96c28c25fa9b12c373d572b2f60b2921869e596cfb4b633d7eede5620d",
    "cc56fc5285370fda374f8575b158f672e52036ec5b80abf2156e8c1afcc28909cdbb4109ffd6e0dafe538bc0",
    "37ef9818b0f3e7b3ed03cb347b2d3c1cd79c3daea0c455d0c20ab9b18e3f4f2b2b2cc58671614bc1569be0b5",
    "7948c98ec58baffd19bec6b9aaec7dbcb00d19e191cc4342c199897621da8bd945b6ce017c53a08a249548ec",
    "77cc2deb2e86797e577a3b06949eb6b459df75a46dfd8bd7321c769194b431d5774c0bc7532e0002e5d3153a",
    "beecda8d0b58c7417cfa5d268663174fb6eaed2bc18f2e2ff2dc4af19dc088ba796e4f9ef423f4b48c1d8e63",
    "7a74602185c68827562938dc2f2a296237d2edb947318cb2fb561026ad94120ab34ca00160c27e1dafa10517",
    "b562a2c700073ebe7543acdd7060028c7f2fbeb04e999ce79fd3e867ceb132199a3f4bb7eabf29d2956e61c8",
    "85b18a3a1b9fd4143064d2a9195ffc0cbceaf47dc7814081151330ef00ce2a44c86e63bf89d2a8ebf5dc6057",
    "5ee615067c535d0ed28e794516ac9fcf4b489b59b805467308458120e6a90f176624ecabd4ecd0ddc66363fb",
    "778ba0a1e72215ec8911d653b9b84cb40a71c03692",
);
/// open62541_client-server_encrypted.pcap frame 43: MSG on that channel, encrypted.
const ENCRYPTED_MSG: &str = concat!(
    "4d53474690000000020000000200000006b243dc85b7e9e0a05a3e8c4b54e83dfd5749a5f5de475cb1628eeb",
    "a88008130a5126536c2eda8dd23e8ac911b29d95446e79be9071ad2147036a3b28662bccbfcab41c1bfd4826",
    "f041ac4e7d2dd0a710192c4883b50f9ed9a346e934eb50f928d7f3d9def2bf168577f798a0a572795ad17f70",
    "6eac5918bff7fea9bf8a3181",
);
/// python_opcua-client-server_minimal.pcap frame 7: Hello,
/// EndpointUrl "opc.tcp://localhost:4840/freeopcua/server/".
const PY_HEL: &str = concat!(
    "48454c464a00000000000000000001000000010000000000000000002a0000006f70632e7463703a2f2f6c6f",
    "63616c686f73743a343834302f667265656f706375612f7365727665722f",
);
/// frame 15: CreateSessionRequest: urn:freeopcua:client, "Pure Python Client".
const PY_CREATE_SESSION_REQ: &str = concat!(
    "4d5347461f010000090000000e00000002000000020000000100cd01000038b2f1a8e973d501020000000000",
    "0000ffffffffe80300000000001400000075726e3a667265656f706375613a636c69656e741e00000075726e",
    "3a667265656f706375612e6769746875622e696f3a636c69656e7402120000005075726520507974686f6e20",
    "436c69656e7401000000ffffffffffffffff00000000ffffffff2a0000006f70632e7463703a2f2f6c6f6361",
    "6c686f73743a343834302f667265656f706375612f7365727665722f1b0000005075726520507974686f6e20",
    "436c69656e742053657373696f6e3120000000c544de7293e5170aaeadb0abec732f035e0b82fed67c1c4728",
    "b2a9b3953f0a88ffffffff0000000040774b4100000000",
);
/// frame 17: CreateSessionResponse: urn:freeopcua:python:server, "FreeOpcUa Python Server".
const PY_CREATE_SESSION_RESP: &str = concat!(
    "4d5347466a020000090000000e00000002000000020000000100d00172d2f1a8e973d5010200000000000000",
    "00000000000000000200000e000000020000ec0300000000000040774b4120000000664e801ed546fa9aca0d",
    "082d04bda28cf690b22cead9a8a4b22bac523b91cfbfffffffff010000002a0000006f70632e7463703a2f2f",
    "3132372e302e302e313a343834302f667265656f706375612f7365727665722f1b00000075726e3a66726565",
    "6f706375613a707974686f6e3a7365727665722500000075726e3a667265656f706375612e6769746875622e",
    "696f3a707974686f6e3a7365727665720217000000467265654f7063556120507974686f6e20536572766572",
    "02000000ffffffffffffffff01000000280000006f70632e7463703a2f2f302e302e302e303a343834302f66",
    "7265656f706375612f7365727665722fffffffff010000002f000000687474703a2f2f6f7063666f756e6461",
    "74696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e650300000009000000616e6f6e79",
    "6d6f757300000000ffffffffffffffffffffffff1a00000063657274696669636174655f6261736963323536",
    "73686132353602000000ffffffffffffffffffffffff08000000757365726e616d6501000000ffffffffffff",
    "ffffffffffff41000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412d50726f66696c",
    "652f5472616e73706f72742f75617463702d756173632d756162696e61727900000000002a00000068747470",
    "3a2f2f7777772e77332e6f72672f323030302f30392f786d6c64736967237273612d73686131000000000000",
    "0100",
);
/// opc-ua-ap-method-wireshark-freeze.pcap frame 4 (TCP 12001): Hello,
/// EndpointUrl "opc.tcp://vm-xp-steven:12001/UA/StackTestServer".
const FREEZE_HEL: &str = concat!(
    "48454c464f00000000000000ffff0000ffff0000a00f0000000000002f0000006f70632e7463703a2f2f766d",
    "2d78702d73746576656e3a31323030312f55412f537461636b54657374536572766572",
);
/// frame 43: Error.
const FREEZE_ERR: &str = "455252461000000000000280ffffffff";

const TO_SERVER: Direction = Direction::ToServer;
const TO_CLIENT: Direction = Direction::ToClient;

fn flow() -> FlowCtx {
    ctx(Transport::Tcp, "[::1]:56322", "[::1]:4840")
}

/// Feeds segments through one dissector the way the flow layer does: the bytes a call did
/// not consume are offered again, followed by the next segment of that direction.
fn run_bytes(d: &mut dyn Dissector, segs: &[(Direction, Vec<u8>)]) -> Vec<Observation> {
    let mut pending = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    for (dir, bytes) in segs {
        let p = &mut pending[*dir as usize];
        p.extend_from_slice(bytes);
        let n = d.parse(*dir, p, &flow(), &mut out);
        assert!(n <= p.len());
        p.drain(..n);
    }
    out
}

fn run(msgs: &[(Direction, &str)]) -> Vec<Observation> {
    let segs: Vec<_> = msgs.iter().map(|(d, h)| (*d, hex(h))).collect();
    run_bytes(new().as_mut(), &segs)
}

fn id(subject: Subject, value: &str, source: Source) -> Observation {
    Observation::Identity {
        subject,
        field: Field::Description,
        value: value.to_owned(),
        source,
    }
}

fn op(op: Operation, code: u32) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(code),
        details: Vec::new(),
    }
}

/// A method call with its evidence.
fn call(op: Operation, object: &str) -> Observation {
    Observation::Operation {
        op,
        function_code: Some(712),
        details: vec![
            ("service", "Call".to_owned()),
            ("object", object.to_owned()),
        ],
    }
}

/// CALL_REQ with another MethodId (its encoded NodeId), the message size fixed up.
fn call_req_to(method: &str) -> Vec<u8> {
    let mut m = hex(CALL_REQ);
    let at = m
        .windows(4)
        .position(|w| w == [0x01, 0x01, 0x4d, 0xf4])
        .unwrap();
    m.splice(at..at + 4, hex(method));
    let size = u32::try_from(m.len()).unwrap().to_le_bytes();
    m[4..8].copy_from_slice(&size);
    m
}

fn fc(code: u32) -> Observation {
    Observation::FunctionCode(code)
}

/// The whole second connection of open62541_client-server_mainloop.pcap, in order.
const MAINLOOP: &[(Direction, &str)] = &[
    (TO_SERVER, HEL),
    (TO_CLIENT, ACK),
    (TO_SERVER, OPN_REQ),
    (TO_CLIENT, OPN_RESP),
    (TO_SERVER, GET_ENDPOINTS_REQ),
    (TO_CLIENT, GET_ENDPOINTS_RESP),
    (TO_SERVER, CREATE_SESSION_REQ),
    (TO_CLIENT, CREATE_SESSION_RESP),
    (TO_SERVER, ACTIVATE_SESSION_REQ),
    (TO_CLIENT, ACTIVATE_SESSION_RESP),
    (TO_SERVER, THREE_PUBLISH),
    (TO_SERVER, READ_REQ),
    (TO_SERVER, WRITE_REQ),
    (TO_SERVER, CALL_REQ),
    (TO_SERVER, ADD_NODES_REQ),
    (TO_SERVER, CLO),
];

fn mainloop_expected() -> Vec<Observation> {
    vec![
        id(
            Subject::Server,
            "opcua endpoint opc.tcp://localhost:4840",
            source::OPCUA_HELLO,
        ),
        id(
            Subject::Server,
            "opcua security policy None",
            source::OPCUA_OPEN_SECURE_CHANNEL,
        ),
        // tshark: opcua.MessageSecurityMode 0x00000001 (frame 10).
        id(
            Subject::Server,
            "opcua security mode None",
            source::OPCUA_OPEN_SECURE_CHANNEL,
        ),
        fc(446),
        op(Operation::Identify, 428),
        id(
            Subject::Server,
            "opcua application open62541-based OPC UA Application (urn:open62541.server.application)",
            source::OPCUA_GET_ENDPOINTS,
        ),
        fc(461),
        id(
            Subject::Client,
            "opcua application urn:unconfigured:application",
            source::OPCUA_CREATE_SESSION,
        ),
        fc(467),
        Observation::CleartextLogin {
            user: "user1".into(),
            protocol: "opcua",
        },
        fc(826),
        fc(826),
        fc(826),
        op(Operation::Read, 631),
        op(Operation::Write, 673),
        // tshark: MethodId ns=1;i=62541 on ObjectId i=85; no name for it was browsed.
        call(Operation::Control, "ns=1;i=62541"),
        op(Operation::Write, 488),
        fc(452),
    ]
}

#[test]
fn open62541_session_gives_endpoint_policy_applications_login_and_operations() {
    assert_eq!(run(MAINLOOP), mainloop_expected());
}

#[test]
fn byte_by_byte_delivery_gives_the_same_result() {
    let mut segs = Vec::new();
    for (dir, h) in MAINLOOP {
        for b in hex(h) {
            segs.push((*dir, vec![b]));
        }
    }
    assert_eq!(run_bytes(new().as_mut(), &segs), mainloop_expected());
}

#[test]
fn every_split_of_a_message_gives_the_same_result() {
    let msg = hex(ACTIVATE_SESSION_REQ);
    for cut in 0..=msg.len() {
        let segs = [
            (TO_SERVER, hex(OPN_REQ)),
            (TO_SERVER, msg[..cut].to_vec()),
            (TO_SERVER, msg[cut..].to_vec()),
        ];
        let out = run_bytes(new().as_mut(), &segs);
        assert_eq!(out.len(), 5, "cut at {cut}: {out:?}");
        assert_eq!(
            out[4],
            Observation::CleartextLogin {
                user: "user1".into(),
                protocol: "opcua"
            }
        );
    }
}

#[test]
fn the_password_never_appears() {
    let text = format!("{:?}", run(MAINLOOP));
    assert!(!text.contains("password"), "{text}");
}

#[test]
fn encrypted_channel_reports_its_policy_and_nothing_from_ciphertext() {
    let out = run(&[(TO_SERVER, OPN_BASIC128_REQ), (TO_SERVER, ENCRYPTED_MSG)]);
    assert_eq!(
        out,
        vec![
            id(
                Subject::Server,
                "opcua security policy Basic128Rsa15",
                source::OPCUA_OPEN_SECURE_CHANNEL
            ),
            fc(446),
        ]
    );
    // The mode is inside the encrypted OpenSecureChannel; requests that stay unreadable
    // say SignAndEncrypt (the capture has four such MSG chunks from the client).
    // (A Hello names the sides first, as in the capture.)
    let mut msgs = vec![(TO_SERVER, HEL), (TO_SERVER, OPN_BASIC128_REQ)];
    msgs.extend([(TO_SERVER, ENCRYPTED_MSG); OPAQUE_REQUESTS as usize + 1]);
    let modes: Vec<Observation> = run(&msgs)
        .into_iter()
        .filter(|o| format!("{o:?}").contains("security mode"))
        .collect();
    assert_eq!(
        modes,
        [id(
            Subject::Server,
            "opcua security mode SignAndEncrypt",
            source::OPCUA_ENCRYPTED_MESSAGE
        )]
    );
    // A request in clear on such a channel: the mode only signs.
    let out = run(&[
        (TO_SERVER, HEL),
        (TO_SERVER, OPN_BASIC128_REQ),
        (TO_SERVER, ENCRYPTED_MSG),
        (TO_SERVER, READ_REQ),
        (TO_SERVER, ENCRYPTED_MSG),
        (TO_SERVER, ENCRYPTED_MSG),
    ]);
    let modes: Vec<&Observation> = out
        .iter()
        .filter(|o| format!("{o:?}").contains("security mode"))
        .collect();
    assert_eq!(
        modes,
        [&id(
            Subject::Server,
            "opcua security mode Sign",
            source::OPCUA_SIGNED_MESSAGE
        )]
    );
}

#[test]
fn python_client_and_server_applications_without_open_secure_channel() {
    // No OpenSecureChannel seen: bodies are believed because the structures decode.
    let out = run(&[
        (TO_SERVER, PY_HEL),
        (TO_SERVER, PY_CREATE_SESSION_REQ),
        (TO_CLIENT, PY_CREATE_SESSION_RESP),
    ]);
    assert_eq!(
        out,
        vec![
            id(
                Subject::Server,
                "opcua endpoint opc.tcp://localhost:4840/freeopcua/server/",
                source::OPCUA_HELLO
            ),
            fc(461),
            id(
                Subject::Client,
                "opcua application Pure Python Client (urn:freeopcua:client)",
                source::OPCUA_CREATE_SESSION
            ),
            id(
                Subject::Server,
                "opcua application FreeOpcUa Python Server (urn:freeopcua:python:server)",
                source::OPCUA_CREATE_SESSION
            ),
        ]
    );
}

#[test]
fn hello_on_a_non_standard_port_and_an_error_message() {
    let out = run(&[(TO_SERVER, FREEZE_HEL), (TO_CLIENT, FREEZE_ERR)]);
    assert_eq!(
        out,
        vec![id(
            Subject::Server,
            "opcua endpoint opc.tcp://vm-xp-steven:12001/UA/StackTestServer",
            source::OPCUA_HELLO
        )]
    );
}

/// Splits a real single-chunk MSG into an intermediate 'C' chunk and a final 'F' chunk after
/// `at` body bytes; both keep the original security and sequence headers.
fn two_chunks(msg: &[u8], at: usize) -> (Vec<u8>, Vec<u8>) {
    let (head, body) = msg.split_at(24);
    let (a, b) = body.split_at(at);
    let chunk = |kind: u8, part: &[u8]| {
        let mut v = b"MSG".to_vec();
        v.push(kind);
        v.extend_from_slice(&((24 + part.len()) as u32).to_le_bytes());
        v.extend_from_slice(&head[8..]);
        v.extend_from_slice(part);
        v
    };
    (chunk(b'C', a), chunk(b'F', b))
}

#[test]
fn chunked_message_is_reassembled() {
    let msg = hex(PY_CREATE_SESSION_REQ);
    for at in [4, 30, 100, msg.len() - 24] {
        let (c1, c2) = two_chunks(&msg, at);
        let out = run_bytes(
            new().as_mut(),
            &[(TO_SERVER, hex(OPN_REQ)), (TO_SERVER, c1), (TO_SERVER, c2)],
        );
        assert_eq!(
            out[3..],
            [
                fc(461),
                id(
                    Subject::Client,
                    "opcua application Pure Python Client (urn:freeopcua:client)",
                    source::OPCUA_CREATE_SESSION
                )
            ],
            "split at {at}"
        );
    }
}

#[test]
fn aborted_message_is_dropped_and_the_next_one_parsed() {
    let msg = hex(PY_CREATE_SESSION_REQ);
    let (c1, _) = two_chunks(&msg, 100);
    // An abort chunk (§6.7.3): same headers, body = Error UInt32 + Reason String (null).
    let mut abort = c1[..24].to_vec();
    abort[3] = b'A';
    abort[4..8].copy_from_slice(&32u32.to_le_bytes());
    abort.extend_from_slice(&0x8000_0000u32.to_le_bytes());
    abort.extend_from_slice(&(-1i32).to_le_bytes());
    let out = run_bytes(
        new().as_mut(),
        &[
            (TO_SERVER, c1),
            (TO_SERVER, abort),
            (TO_SERVER, hex(READ_REQ)),
        ],
    );
    assert_eq!(out, vec![fc(461), op(Operation::Read, 631)]);
}

#[test]
fn a_chunk_bigger_than_the_cap_is_skipped_without_buffering() {
    // A ReadRequest whose chunk is padded past the prefix cap (a huge NodesToRead list).
    let mut big = hex(READ_REQ);
    let size = CHUNK_PREFIX_CAP * 3 + 17;
    big.resize(size, 0);
    big[4..8].copy_from_slice(&(size as u32).to_le_bytes());
    let mut d = new();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut pending = Vec::new();
    for piece in big.chunks(1460) {
        pending.extend_from_slice(piece);
        let n = d.parse(TO_SERVER, &pending, &flow(), &mut out);
        pending.drain(..n);
        fed += piece.len();
        assert!(
            pending.len() <= CHUNK_PREFIX_CAP,
            "held {} at {fed}",
            pending.len()
        );
    }
    assert!(pending.is_empty());
    let write = hex(WRITE_REQ);
    assert_eq!(d.parse(TO_SERVER, &write, &flow(), &mut out), write.len());
    assert_eq!(
        out,
        vec![op(Operation::Read, 631), op(Operation::Write, 673)]
    );
}

#[test]
fn gap_resynchronises_at_the_next_header() {
    let mut d = new();
    let mut out = Vec::new();
    let read = hex(READ_REQ);
    assert_eq!(d.parse(TO_SERVER, &read[..30], &flow(), &mut out), 0);
    d.gap(TO_SERVER);
    // The tail of some lost message, then a whole WriteRequest.
    let mut data = read[40..].to_vec();
    data.extend_from_slice(&hex(WRITE_REQ));
    let mut pending = data;
    let n = d.parse(TO_SERVER, &pending, &flow(), &mut out);
    pending.drain(..n);
    assert!(pending.is_empty());
    assert_eq!(out, vec![op(Operation::Write, 673)]);
}

#[test]
fn resync_checks_the_secure_channel_id() {
    let mut d = new();
    let mut out = Vec::new();
    let _ = d.parse(TO_CLIENT, &hex(OPN_RESP), &flow(), &mut out);
    d.gap(TO_SERVER);
    // A lookalike header with another SecureChannelId is passed over.
    let mut fake = hex(READ_REQ);
    fake[8] = 0x99;
    fake.extend_from_slice(&hex(WRITE_REQ));
    out.clear();
    let n = d.parse(TO_SERVER, &fake, &flow(), &mut out);
    assert_eq!(n, fake.len());
    assert_eq!(out, vec![op(Operation::Write, 673)]);
}

#[test]
fn garbage_is_a_violation_and_parsing_resumes() {
    let mut data = b"XYZF\x10\x00\x00\x00garbage!".to_vec();
    data.extend_from_slice(&hex(READ_REQ));
    let out = run_bytes(new().as_mut(), &[(TO_SERVER, data)]);
    assert!(
        matches!(&out[..], [Observation::ProtocolViolation { reason, .. }, o]
            if reason == "unknown message type" && *o == op(Operation::Read, 631)),
        "{out:?}"
    );
}

#[test]
fn lying_sizes_and_lengths_are_violations() {
    // MessageSize smaller than a MSG header.
    let mut small = hex(READ_REQ);
    small[4..8].copy_from_slice(&12u32.to_le_bytes());
    let out = run_bytes(new().as_mut(), &[(TO_SERVER, small)]);
    assert!(
        matches!(&out[0], Observation::ProtocolViolation { reason, .. }
        if reason == "message size smaller than its header")
    );
    // EndpointUrl length running past the Hello.
    let mut hel = hex(HEL);
    hel[28..32].copy_from_slice(&1000i32.to_le_bytes());
    let out = run_bytes(new().as_mut(), &[(TO_SERVER, hel)]);
    assert!(
        matches!(&out[..], [Observation::ProtocolViolation { reason, .. }]
        if reason == "Hello EndpointUrl overruns the message")
    );
    // An OPN without a SecurityPolicyUri.
    let mut opn = b"OPNF".to_vec();
    opn.extend_from_slice(&32u32.to_le_bytes());
    opn.extend_from_slice(&[0; 4]);
    opn.extend_from_slice(&(-1i32).to_le_bytes().repeat(3));
    opn.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
    let out = run_bytes(new().as_mut(), &[(TO_SERVER, opn)]);
    assert!(matches!(&out[..], [Observation::ProtocolViolation { .. }]));
}

#[test]
fn reverse_hello_makes_the_tcp_client_the_ua_server() {
    // ReverseHello (§7.1.2.6) from the TCP client: ServerUri, EndpointUrl.
    let server_uri = b"urn:plc";
    let url = b"opc.tcp://plc:4840";
    let mut rhe = b"RHEF".to_vec();
    rhe.extend_from_slice(&((16 + server_uri.len() + url.len()) as u32).to_le_bytes());
    for s in [&server_uri[..], &url[..]] {
        rhe.extend_from_slice(&(s.len() as i32).to_le_bytes());
        rhe.extend_from_slice(s);
    }
    assert_eq!(probe(TO_SERVER, &rhe), Probe::Yes);
    let out = run_bytes(
        new().as_mut(),
        &[
            (TO_SERVER, rhe),
            (TO_CLIENT, hex(READ_REQ)),
            (TO_SERVER, hex(WRITE_REQ)),
        ],
    );
    assert_eq!(
        out,
        vec![
            id(
                Subject::Client,
                "opcua endpoint opc.tcp://plc:4840",
                source::OPCUA_REVERSE_HELLO
            ),
            op(Operation::Read, 631),
        ]
    );
}

#[test]
fn sides_guessed_the_wrong_way_round_are_learned_from_request_ids() {
    // A capture that starts after the handshake, with the flow's sides swapped: the
    // CreateSessionRequest (a request encoding id) fixes who the UA client is.
    let out = run(&[
        (TO_CLIENT, PY_CREATE_SESSION_REQ),
        (TO_SERVER, PY_CREATE_SESSION_RESP),
        (TO_CLIENT, READ_REQ),
        (TO_SERVER, ACTIVATE_SESSION_RESP),
    ]);
    assert_eq!(
        out,
        vec![
            fc(461),
            id(
                Subject::Server,
                "opcua application Pure Python Client (urn:freeopcua:client)",
                source::OPCUA_CREATE_SESSION
            ),
            id(
                Subject::Client,
                "opcua application FreeOpcUa Python Server (urn:freeopcua:python:server)",
                source::OPCUA_CREATE_SESSION
            ),
            op(Operation::Read, 631),
        ]
    );
}

#[test]
fn probe_is_strict() {
    let s = |h: &str| probe(TO_SERVER, &hex(h));
    let c = |h: &str| probe(TO_CLIENT, &hex(h));
    assert_eq!(s(HEL), Probe::Yes);
    assert_eq!(s(FREEZE_HEL), Probe::Yes);
    assert_eq!(c(ACK), Probe::Yes);
    assert_eq!(c(FREEZE_ERR), Probe::Yes);
    assert_eq!(s(OPN_REQ), Probe::Yes);
    assert_eq!(c(OPN_RESP), Probe::Yes);
    assert_eq!(s(OPN_BASIC128_REQ), Probe::Yes);
    assert_eq!(s(READ_REQ), Probe::Yes);
    assert_eq!(c(GET_ENDPOINTS_RESP), Probe::Yes);
    assert_eq!(s(CLO), Probe::Yes);
    // A Hello from the server, an Acknowledge from the client.
    assert_eq!(c(HEL), Probe::No);
    assert_eq!(s(ACK), Probe::No);
    // Partial headers wait; a partial Hello waits for its URL length.
    let hel = hex(HEL);
    assert_eq!(probe(TO_SERVER, &hel[..2]), Probe::NeedMore);
    assert_eq!(probe(TO_SERVER, &hel[..10]), Probe::NeedMore);
    assert_eq!(probe(TO_SERVER, &hel[..30]), Probe::NeedMore);
    let opn = hex(OPN_REQ);
    assert_eq!(probe(TO_SERVER, &opn[..30]), Probe::NeedMore);
    // Wrong version, lying sizes, foreign policy URIs.
    let mut v1 = hel.clone();
    v1[8] = 1;
    assert_eq!(probe(TO_SERVER, &v1), Probe::No);
    let mut huge = hel.clone();
    huge[7] = 0x7f;
    assert_eq!(probe(TO_SERVER, &huge), Probe::No);
    let mut foreign = opn.clone();
    foreign[16..20].copy_from_slice(b"ftp:");
    assert_eq!(probe(TO_SERVER, &foreign), Probe::No);
    // Other protocols.
    for other in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\n",
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc][..],
        // MQTT CONNECT, Modbus/TCP read request, S7 TPKT.
        &[0x10, 0x1c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0xc2][..],
        &[
            0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x0a,
        ][..],
        &[0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00][..],
        b"MSGX\x20\x00\x00\x00",
        b"HELLO world\r\n",
    ] {
        assert_eq!(probe(TO_SERVER, other), Probe::No, "{other:?}");
        assert_eq!(probe(TO_CLIENT, other), Probe::No, "{other:?}");
    }
}

#[test]
fn probe_rejects_random_bytes() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for len in 0..2000usize {
        let buf: Vec<u8> = (0..len % 300)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for dir in [TO_SERVER, TO_CLIENT] {
            assert_ne!(probe(dir, &buf), Probe::Yes, "{buf:?}");
        }
    }
}

/// Every prefix of every message, every message with one byte flipped, and noise, offered to
/// the probe and to fresh dissectors in both directions: nothing panics and no parse claims
/// more bytes than it was given. (Kept local so it does not depend on the shared testing
/// helpers' signature.)
fn never_panics(messages: &[&[u8]]) {
    let mut out = Vec::new();
    for dir in [TO_SERVER, TO_CLIENT] {
        for m in messages {
            for n in 0..=m.len() {
                let _ = probe(dir, &m[..n]);
                assert!(new().parse(dir, &m[..n], &flow(), &mut out) <= n);
            }
            for i in 0..m.len() {
                let mut v = m.to_vec();
                v[i] ^= 0xff;
                assert!(new().parse(dir, &v, &flow(), &mut out) <= v.len());
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut d = new();
        for len in 0..600usize {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = probe(dir, &buf);
            assert!(d.parse(dir, &buf, &flow(), &mut out) <= buf.len());
        }
        out.clear();
    }
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    let all: Vec<Vec<u8>> = [
        HEL,
        ACK,
        OPN_REQ,
        OPN_RESP,
        GET_ENDPOINTS_REQ,
        GET_ENDPOINTS_RESP,
        CREATE_SESSION_REQ,
        CREATE_SESSION_RESP,
        ACTIVATE_SESSION_REQ,
        ACTIVATE_SESSION_RESP,
        THREE_PUBLISH,
        READ_REQ,
        WRITE_REQ,
        CALL_REQ,
        ADD_NODES_REQ,
        CLO,
        OPN_BASIC128_REQ,
        ENCRYPTED_MSG,
        PY_HEL,
        PY_CREATE_SESSION_REQ,
        PY_CREATE_SESSION_RESP,
        FREEZE_HEL,
        FREEZE_ERR,
        BROWSE_REQ,
        BROWSE_RESP,
        PY_TRANSLATE_REQ,
        PY_TRANSLATE_RESP,
    ]
    .iter()
    .map(|h| hex(h))
    .collect();
    let refs: Vec<&[u8]> = all.iter().map(|m| m.as_slice()).collect();
    never_panics(&refs);
    for m in &refs {
        for n in 0..=m.len() {
            let _ = probe(TO_SERVER, &m[..n]);
            let _ = probe(TO_CLIENT, &m[..n]);
        }
    }
    // Service bodies with every length field lying: decoders return None, never panic.
    for m in &refs {
        for i in 0..m.len().min(400) {
            let mut v = m.to_vec();
            v[i] = 0xff;
            let body = v.get(24..).unwrap_or_default();
            let _ = services::create_session_request(body);
            let _ = services::activate_session_request(body);
            let _ = services::get_endpoints_response(body);
            let _ = services::create_session_response(body);
        }
    }
}

#[test]
fn called_methods_are_named_from_browse_and_translate() {
    // The method called is a node the Browse answer named (built: CALL_REQ calling
    // ns=1;i=58192 instead of ns=1;i=62541).
    let segs = vec![
        (TO_SERVER, hex(BROWSE_REQ)),
        (TO_CLIENT, hex(BROWSE_RESP)),
        (TO_SERVER, call_req_to("010150e3")),
    ];
    let out = run_bytes(new().as_mut(), &segs);
    assert_eq!(
        out,
        vec![
            op(Operation::Read, 527),
            call(Operation::Control, "ns=1;i=58192 (TheGreatNode)")
        ]
    );
    // Named by TranslateBrowsePathsToNodeIds, paired with its response by RequestId 5.
    let segs = vec![
        (TO_SERVER, hex(PY_TRANSLATE_REQ)),
        (TO_CLIENT, hex(PY_TRANSLATE_RESP)),
        (TO_SERVER, call_req_to("02020002000000")),
    ];
    let out = run_bytes(new().as_mut(), &segs);
    assert_eq!(
        out.last(),
        Some(&call(Operation::Control, "ns=2;i=2 (MyVariable)"))
    );
}

#[test]
fn method_names_decide_the_operation() {
    // Built: String NodeIds ns=2;s=UpdateFirmware, ns=2;s=StopPLC, ns=2;s=RestartDevice.
    let named = |name: &str| {
        let mut node = vec![0x03, 0x02, 0x00];
        node.extend_from_slice(&u32::try_from(name.len()).unwrap().to_le_bytes());
        node.extend_from_slice(name.as_bytes());
        let h: String = node.iter().map(|b| format!("{b:02x}")).collect();
        run_bytes(new().as_mut(), &[(TO_SERVER, call_req_to(&h))])
    };
    assert_eq!(
        named("UpdateFirmware"),
        vec![call(Operation::FirmwareUpdate, "ns=2;s=UpdateFirmware")]
    );
    assert_eq!(
        named("StopPLC"),
        vec![call(Operation::CpuStop, "ns=2;s=StopPLC")]
    );
    assert_eq!(
        named("RestartDevice"),
        vec![call(Operation::Restart, "ns=2;s=RestartDevice")]
    );
    use methods::method_operation as m;
    assert_eq!(m("UploadProgram"), Some(Operation::ProgramUpload));
    assert_eq!(m("DeployApp"), Some(Operation::ProgramDownload));
    assert_eq!(m("Start"), Some(Operation::CpuStart));
    assert_eq!(m("Hello World"), None);
}

#[test]
fn the_fuzzed_call_of_the_wireshark_freeze_capture() {
    // opc-ua-ap-method-wireshark-freeze.pcap frame 84 (second connection): CallRequest whose
    // MethodId has the reserved encoding 0x07: no method can be read, so the call is reported
    // without evidence.
    let m = "4d5347466e000000601900000100000005000000050000000100c802010080190069ae0d5c2bca0101000000ff030000ffffffff00000000000000010000000100560107ff7f000013000000687474703a2f2f2f2f3a2f2f2f2f3a2f2f2f2f0100000099010000000c0100000025";
    let out = run(&[(TO_SERVER, m)]);
    assert_eq!(out, vec![op(Operation::Control, 712)]);
}
