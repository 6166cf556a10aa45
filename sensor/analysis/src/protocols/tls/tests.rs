//! Tests on real TLS streams (TCP payloads extracted with a small pcap reader; expected values
//! read from `tshark -V`).
//!
//! /work/shared/pcaps holds only two TLS handshakes (RDP's TLS upgrade, and a ClientHello
//! sent to a Modbus port), neither with SNI or an O= subject. The OPENSSL_* streams were
//! therefore captured here with tcpdump on loopback between OpenSSL 3 s_client and s_server:
//! `openssl req -x509 -subj "/C=DE/O=Example Automation GmbH/CN=hmi-01.plant.example"`,
//! then `s_client -servername hmi-01.plant.example -tls1_2` and
//! `s_client -servername scada.example.org -tls1_3`.

use super::*;
use crate::protocols::source;
use crate::protocols::testing::{self, hex, id, Noise};
use crate::protocols::FlowCtx;

/// rdp/rdp-no-cookie-mstshash.pcap frame 11: ClientHello (TLS 1.2, no SNI) after X.224.
const RDP_CLIENT_HELLO: &str = "160303008e0100008a030367b4ac55e203e3879630e7d66974024e01872f2bffa34b65c070b61a385929c700002ac02cc02bc030c02f009f009ec024c023c028c027c00ac009c014c013009d009c003d003c0035002f000a01000037000a00080006001d00170018000b00020100000d001400120401050102010403050302030202060106030023000000170000ff01000100";
/// rdp/rdp-no-cookie-mstshash.pcap frame 13: ServerHello, Certificate
/// (CN=CLK-456040-D.one.phoenix.gov), ServerHelloDone in one record.
const RDP_SERVER_FLIGHT: &str = "160303036302000051030367b4ac55f715634e9a3e6f7f25d90548bdd32d83d9843132e20205f2c2392c9d20704a000082792136996dfcd6a7c1a69c0173e9f577bf6b7323f575c4bb2d0ae7009d00000900170000ff010001000b000306000303000300308202fc308201e4a0030201020210785897aeaaabc0bd4ac73f6eb275d540300d06092a864886f70d01010b05003027312530230603550403131c434c4b2d3435363034302d442e6f6e652e70686f656e69782e676f76301e170d3234313130323233313931395a170d3235303530343233313931395a3027312530230603550403131c434c4b2d3435363034302d442e6f6e652e70686f656e69782e676f7630820122300d06092a864886f70d01010105000382010f003082010a0282010100a578757d98228dce3525476a2c07a92577e5cf17050ad28f95fa56c7755c654ea9497f806bb695b7283f1e6accf7036d248d3ea5021a749628c2471db85bedcc61a1ec8f1a8af1b291033d2402e6df02d044e6db0383b702ae9fc46658dbead9c44d56b9f8de43ce150e1fc6a231aad76d20f3280042f237e002562104b077753a459402cf9cd6cbc96aa46f9c0913f0d35bdaf421e03e7816100c5c0bb59484ee3f7d70c9c97952a46b3e9c4839815b26af9da877dfc1cb8e871d491c1cf571404fb17b634965d5a452c9b6e176acc972290f43eef8492d556e643b6d7165b754ea8fad1f2bac3966c5a62df706347d22b6881564250c61840a572e3d9e44a90203010001a324302230130603551d25040c300a06082b06010505070301300b0603551d0f040403020430300d06092a864886f70d01010b050003820101006f83108524b2e1409e5d15d24a4f56386cc62d1b6f36b6d2399c447b5a521e18924d0f0263def041314ab4b17f51e9f26ca6155993b4a53195f7d445630d1bb7d6e5f02b946f53e94bae67ac015682e1356db46662273d1cb118e2adfd5e60a62f7d4b823d48e1618b945a6bd2ccb751266c24ef6eaed76bb16c240baf85c74f5d8d9550d86818f5dde6f59d4095e29e3f3afb79d9238d9fc2ab732ba8852f778c039919c4c395fa8ceb64398aa6d9feac8c50ea185f06dc2e4a1fc4d67b6aaf5a9ca74f82f03678d59237ecbde52fd3111026667550eda20b79d5eb0326ed12feffa528683c57e76f01a87a445c89bd88a1841513f86cc4daa6044967dec6ad0e000000";
/// rdp/rdp-no-cookie-mstshash.pcap frame 15: ClientKeyExchange, ChangeCipherSpec, Finished.
const RDP_CLIENT_FINISH: &str = "16030301061000010201001af4621d04a7597d0b467772f69cab47416c4961a1e53d9627d22e968072aa547c5c1dc0a4bf8fb6942ad0eb8b97d54514ea61449ffc0aa048c2be14587fc6356ce216974d895eddc2d0a4aa821d8f3320a325c311111cf7e29a5c5ead31d26f19796a924a0fe127a64f0902ea5cbeefd7709f5412ae5d2b129f3c3e994d05fd2bb90892e2cd200aa3402d21a4e43e43b7286db6aef8cdd73b11e07183da54014bab9d2eb671b9d0a874e111bc965c3073738bc5769d6de858f7aa0c97d03434a01e4ffa184596753868267b9a8a59c5619bf2969eb7b20a2eac844fd6ccd28d0e812b1759c8227bf81120c7f4f2dae6e8963251d8434d99a880e134e60f90f914030300010116030300280000000000000000af8e9475549d1045b825507dd9e6e41bc3f16ba108e528da28776cc48eb57cf9";
/// modbus/modbus-and-non-modbus-p502.pcap frame 49: ClientHello to TCP port 502.
const P502_CLIENT_HELLO: &str = "1603010085010000810303736ff818542129f78f492d9b1557dafcc7926f075fa314dc76a47a73d1b6f109000020c02fc030c02bc02ccca8cca9c013c009c014c00a009c009d002f0035c012000a01000038000500050100000000000a000a0008001d001700180019000b00020100000d000e000c040104030501050302010203ff0100010000120000";
/// modbus/modbus-and-non-modbus-p502.pcap frame 51: the Modbus server's exception reply,
/// which happens to start 16 03 01 00 00.
const P502_MODBUS_REPLY: &str = "160301000003008001";
/// Local capture, TLS 1.2: ClientHello with SNI hmi-01.plant.example.
const OPENSSL_12_CLIENT_HELLO: &str = "16030100d4010000d00303b26a54306b6a69976035a87545b5baace2b5a35ec3626cddb243c315ebf48e94000038c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff0100006f000000190017000014686d692d30312e706c616e742e6578616d706c65000b000403000102000a000c000a001d0017001e00190018002300000016000000170000000d002a0028040305030603080708080809080a080b080408050806040105010601030303010302040205020602";
/// Local capture, TLS 1.2: ServerHello, Certificate, ServerKeyExchange, ServerHelloDone as
/// four records in one segment.
const OPENSSL_12_SERVER_FLIGHT: &str = "16030300410200003d0303fee60b84928faf8e74770079a69811a800e596e029a6361d3b19288061d1627600c030000015ff01000100000b0004030001020023000000170000160303038b0b0003870003840003813082037d30820265a0030201020214485e917709b078ee60637b784032ea69c3766597300d06092a864886f70d01010b0500304e310b30090603550406130244453120301e060355040a0c174578616d706c65204175746f6d6174696f6e20476d6248311d301b06035504030c14686d692d30312e706c616e742e6578616d706c65301e170d3236313132353232333832375a170d3336313132323232333832375a304e310b30090603550406130244453120301e060355040a0c174578616d706c65204175746f6d6174696f6e20476d6248311d301b06035504030c14686d692d30312e706c616e742e6578616d706c6530820122300d06092a864886f70d01010105000382010f003082010a0282010100a616570f00012efbe75c6336ec395631ff17ef16924fb14407e3fe60a46d97d414686f7c16fcc843bd34cac33034c1158bf22af215cb79adc600949fb054f451685cc0e89db3ff7f764943ab24b2ce7b34434760eaef5b61603ce3c360804c3c030e8c63fcb202c03b98a906204108bf5e218c0cfb88552634209c21ea08d5068a97443a84a05b0ced2cfc46cc01a3976348c24f46d73dd609845faf50f46e03cdc1991fdd4d97214c64dd8d34468d8c294fab3b8700feca6397eadb4fa307400b8f097275b7ba1d0d1654e067665ca03445657d034f5faa77fe892977b516d7b0d19bdd5de0b7d636891ca6f3dd6f22c331b3c714f179fc576286df1bd2f76f0203010001a3533051301d0603551d0e041604145c150fe84ab72841243574cb7d158a60f4faf22b301f0603551d230418301680145c150fe84ab72841243574cb7d158a60f4faf22b300f0603551d130101ff040530030101ff300d06092a864886f70d01010b0500038201010079cee8aebf7e734d32b6f6c326691acd61bc26e23672d890961daedf44f9846277872efb604e1c4eb60891401a46d9fe1fed7432ab8951cecfa2c06f12d6fb69ef8311ee2ea8af888645f79cbfa93dc62dd9cfbc8f8af62e467f6b92de07b69403940ec7a26914531513298df7c50958e40de1bbbd107a994d0bf9924f7b85ab296f2030466d2d729043a4a80ae658325a454aaee1d0d68ec61b577868b95422294c4f168d0b41241f4d5d4d0c54151616142603a1a2c4ae4e1c375581191707f46e85d2d16867139f751f9b56d0a0f1fdda9f15ce5aaf119a245361f65001b67b325eb629ca057ba5e8ea883c7970693ce854fc7c702fb7b4fa668712ef9411160303012c0c00012803001d201e48abbdb482b228dc77f7e2947a8c052e253d31ce11f7d8c2ddb80ea44fcb5a080401000cfa0f953aa4cb247472af6e85b6b1e4d3f05f0482889f1f37eace3d2e4316cd6547b35f8cdf65d2f6976590c3485435f9db5e92041d766f607018faf7e0c74e0dea824ec033c8e70a0ff57d0fba82387c4e0fb900229b6a78a040fce2aa0259347f450d0dd88b8fd88d14c3af9b9491585705ab721421233322a0a601d9dbfc5fbf7021d1c0d99a1d04a6f32119d9b5af7fd499522ce1ff1aa09df763511c3029c9a58497059284ecfb76e0a041e6b2d1beef2fe97faff006eef2d8e81cca26fb01bb31a6b63ceee7dd4e39dd257da19eb888dcd0a9342a0d61650096029f4f4b8db715e546384b1cd7921e2b245f84bd9023b186570dc2c551d3759082020016030300040e000000";
/// Local capture, TLS 1.3: ClientHello with SNI scada.example.org.
const OPENSSL_13_CLIENT_HELLO: &str = "16030100f6010000f20303ab001e3fb87943300e0d09b264ff866d2037b8cbeb8ff38c3fb35793c5bf3bc720920b1728bd89dedc29dd67d9c8736db3afbd5aa595706c927df986f320b32cfe000813021303130100ff010000a100000016001400001173636164612e6578616d706c652e6f7267000b000403000102000a00160014001d0017001e0019001801000101010201030104002300000016000000170000000d001e001c040305030603080708080809080a080b080408050806040105010601002b0003020304002d00020101003300260024001d0020cd8d05c59f3b7022b09a9b2f4a830bbeff8cc96f625dea33d99f9a040ed96a4f";
/// Local capture, TLS 1.3: ServerHello, ChangeCipherSpec, then encrypted records.
const OPENSSL_13_SERVER_FLIGHT: &str = "160303007a020000760303465a8255ba91990e8679088c06c666584da57939523c2d30220c3a3bef0548b720920b1728bd89dedc29dd67d9c8736db3afbd5aa595706c927df986f320b32cfe130200002e002b0002030400330024001d00202de48f15fc87a8ce79ad9ef46145f2869bbae2a98c4729530bd9c8715090d94d14030300010117030300171481424e882e53296772980b017b8fd0f295703187bdbe170303039f82ca2bed1762706a7d3bb223f35d8324514023ee8bee78232c0382c113a6f26495f47c22b2ac6ee228dc4fcd608da8c710a6b52425b1338882edb38b0e80cc2a485dc32ee5d90931833505427539b6fed86b4098213bec918e0cb3de91c4723778b1fe7f2462e023b9922fafcd27ddf1c72472d89bf6452ba45fe26e1cb03ae4278ccfe2aa76330b5d587a805c4014ce92b475b7519281e9843081c1df539269bb92dc067f993f884f69cbe0090f6e98ed2316506009c096df9a705ab9b8b147f084946b7301b83680d73a5f2c49425e61e5397e9f012571f8f647dab881b90438b2203b98a1d48fbc315442f009097725dcaf7f68300f80e2b1b673d1469b8bcdf2d7eb2db3a5bc6c8581ec58364afaad138e5c694c61611765c484d1167fb603604ca048508722808f49fd224f2f2c91b661c941763140d837552cbbe8af3eb76d989a88c0f6bfd6a40c3807a97eb0c71f8ed16713c3d3e23b952d899ec6ad6475a37099ad88c46fe3c21787a856344db1f7fdb44469c1090c9f58b0ffaa739025b513b0f36b01a7482d708a0704596d984d8f4570bb747768e3bd7671ca81e2fbbbb5e636c56cad7d81f804f81391d682e552298da73df60d404cdf7266e1da67bf899221fb595f3891dcbbb0bef800f577c1eb591726d392c21005e05c4eb99f136af7896a4bb92b2a09f65af42fceae0658c77aa6ab99f3c9ff829db064218c5527660806f70a2f3d8ddcbe8d936da1eee51890c2faa5652134a3a4703264d4a0ed720ed3e22a73c6b205010d86e4d140ffceb7f238352c7b9caee9ac960269a8c50b560e5f5cf791c618c1a9aab9e6f4279ee120384b888ffcd844282359fb25714d831b1f02d2f5e9a28213dca7488c314d2ed4075efc2e1702328c8b8d4d0cfd75d0a89bc738220464fd3849ae672191a7d85ce705b55e6678dcb7ea7a931f99a20ec7057ed6714d074ef34c144929fa03373a5795dca2b28a4cf10b6d11a4f278d979c3a6d2aee380c22153b9f4f9f05b496a61d4f7c483992b6fb346b91fff4f31169e087bb18ad231d7371ea815b483b18a45121bbd0ea76d3a6f67f5f8d1d1225138844105cd9aead51780c9a4c8814263f8030117ab34246f8c0a3a726b174da0c08ea233cd9bab5c0631660e26958d62049397343fffa955a74c2ad0823c3eacd141fe57da9520ef05f22a70b114607d7867957c6c81a18d2dc4809206dd3cf760f08f34fb5f8549de7f0e9bf2e880cdd374a01c6fd59e61ea6ee48b292038b1aff270ed9501cdae0484bd1258c9afbdd31e3a67f2d2188d1703030119a8a427e88601a2f5158f59655186ef6f5843bd8734cda73cc0e523946a15406d9c3bf1c15afafd5e6ab0e534e64a43aad7c73c7110a6d85bc03be9b0a89fe7774c25a3d4e3f0553d39b29683067179114c9ad3eeaedf8a7b3697c2a4b65219f1e54e2dd34c86a0e910896b45f8bdef01d5ae65fd4ab581de4784f044dd0c7e03cf76df251915044ad75a47e8d3fff98c5003522eac8ca49d8a2414942e58ac12db2547e5153bb0149c0e2a87cccb896b246b58106c0f0bf204c8c26b2bcf6a90b94cab9a5e916f052ad87a074494bfad2843e0d76d8b4fef315b6fc8b414645f596e4b6f751d06465cf26f98bc139ef541ac7b9ad2d29fa469822ef5d3cbfb0e1d38a9257f5d54e08824dcf635e5246581201f59f762d03b4b170303004571ceda4666c897854fcb0f6765c104d59e1aa956301b6d285ece43a48c945664194f2301a99a9c3afc0b67563b6d0639e6aefaa4b122c54558b9aee8e3ec44b64ebaa11a47";

const ALL: &[&str] = &[
    RDP_CLIENT_HELLO,
    RDP_SERVER_FLIGHT,
    RDP_CLIENT_FINISH,
    P502_CLIENT_HELLO,
    P502_MODBUS_REPLY,
    OPENSSL_12_CLIENT_HELLO,
    OPENSSL_12_SERVER_FLIGHT,
    OPENSSL_13_CLIENT_HELLO,
    OPENSSL_13_SERVER_FLIGHT,
];

fn ctx() -> FlowCtx {
    testing::ctx(Transport::Tcp, "10.0.0.1:50000", "10.0.0.2:443")
}

/// [`testing::feed`] on this flow.
fn feed(
    d: &mut dyn Dissector,
    dir: Direction,
    stream: &[u8],
    chunk: usize,
    out: &mut Vec<Observation>,
) -> usize {
    testing::feed(d, dir, &ctx(), stream, chunk, out)
}

fn run(msgs: &[(Direction, &str)]) -> Vec<Observation> {
    let mut d = (SPEC.new)();
    let mut out = Vec::new();
    for (dir, h) in msgs {
        let left = feed(d.as_mut(), *dir, &hex(h), usize::MAX, &mut out);
        assert_eq!(left, 0, "{h}");
    }
    out
}

#[test]
fn rdp_certificate_names_the_server() {
    let out = run(&[
        (Direction::ToServer, RDP_CLIENT_HELLO),
        (Direction::ToClient, RDP_SERVER_FLIGHT),
        (Direction::ToServer, RDP_CLIENT_FINISH),
    ]);
    assert_eq!(
        out,
        vec![
            id(
                Subject::Server,
                Field::Description,
                "tls certificate subject: CN=CLK-456040-D.one.phoenix.gov",
                source::TLS_CERTIFICATE
            ),
            id(
                Subject::Server,
                Field::Hostname,
                "CLK-456040-D.one.phoenix.gov",
                source::TLS_CERTIFICATE
            ),
        ]
    );
}

#[test]
fn tls12_sni_and_certificate() {
    let out = run(&[
        (Direction::ToServer, OPENSSL_12_CLIENT_HELLO),
        (Direction::ToClient, OPENSSL_12_SERVER_FLIGHT),
    ]);
    assert_eq!(
        out,
        vec![
            sni_lookup("hmi-01.plant.example"),
            id(
                Subject::Server,
                Field::Hostname,
                "hmi-01.plant.example",
                source::TLS_SNI
            ),
            id(
                Subject::Server,
                Field::Description,
                "tls certificate subject: CN=hmi-01.plant.example, O=Example Automation GmbH",
                source::TLS_CERTIFICATE
            ),
            id(
                Subject::Server,
                Field::Hostname,
                "hmi-01.plant.example",
                source::TLS_CERTIFICATE
            ),
        ]
    );
}

#[test]
fn hello_fields() {
    let body = |h: &str| hex(h)[9..].to_vec();
    let ch = body(OPENSSL_13_CLIENT_HELLO);
    let hello = parse_client_hello(&ch).unwrap();
    assert_eq!(hello.legacy_version, 0x0303);
    assert_eq!(hello.server_name, Some(&b"scada.example.org"[..]));
    assert_eq!(hello.max_supported_version, Some(TLS13));
    let ch = body(RDP_CLIENT_HELLO);
    let hello = parse_client_hello(&ch).unwrap();
    assert_eq!(
        (hello.server_name, hello.max_supported_version),
        (None, None)
    );
    let sh = body(OPENSSL_13_SERVER_FLIGHT);
    let hello = parse_server_hello(&sh).unwrap();
    assert_eq!(hello.selected_version(), TLS13);
    assert!(!hello.hello_retry);
    let sh = body(RDP_SERVER_FLIGHT);
    let hello = parse_server_hello(&sh).unwrap();
    assert_eq!(
        (hello.legacy_version, hello.supported_version),
        (0x0303, None)
    );
}

#[test]
fn tls13_stops_after_server_hello() {
    let mut d = TlsDissector::default();
    let mut out = Vec::new();
    feed(
        &mut d,
        Direction::ToServer,
        &hex(OPENSSL_13_CLIENT_HELLO),
        usize::MAX,
        &mut out,
    );
    let left = feed(
        &mut d,
        Direction::ToClient,
        &hex(OPENSSL_13_SERVER_FLIGHT),
        usize::MAX,
        &mut out,
    );
    assert_eq!(left, 0);
    assert!(d.server.done);
    assert!(!d.client.done);
    assert_eq!(
        out,
        vec![
            sni_lookup("scada.example.org"),
            id(
                Subject::Server,
                Field::Hostname,
                "scada.example.org",
                source::TLS_SNI
            )
        ]
    );
}

fn sni_lookup(name: &str) -> Observation {
    Observation::Lookup {
        name: name.to_string(),
        via: "tls sni",
    }
}

/// A TLS 1.2 ClientHello record (RFC 5246 §7.4.1.2) with one server_name (RFC 6066 §3).
fn client_hello(sni: &[u8]) -> Vec<u8> {
    let len16 = |n: usize| (n as u16).to_be_bytes();
    let mut name_list = vec![0]; // host_name
    name_list.extend_from_slice(&len16(sni.len()));
    name_list.extend_from_slice(sni);
    let mut ext = len16(name_list.len()).to_vec();
    ext.extend_from_slice(&name_list);
    let mut exts = vec![0, 0]; // server_name
    exts.extend_from_slice(&len16(ext.len()));
    exts.extend_from_slice(&ext);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(0); // legacy_session_id
    body.extend_from_slice(&[0, 2, 0xc0, 0x2f]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&len16(exts.len()));
    body.extend_from_slice(&exts);
    let mut msg = vec![CLIENT_HELLO, 0];
    msg.extend_from_slice(&len16(body.len()));
    msg.extend_from_slice(&body);
    let mut record = vec![HANDSHAKE, 3, 1];
    record.extend_from_slice(&len16(msg.len()));
    record.extend_from_slice(&msg);
    record
}

#[test]
fn sni_lookup_once_from_the_client_normalised() {
    let lookups = |out: Vec<Observation>| -> Vec<Observation> {
        out.into_iter()
            .filter(|o| matches!(o, Observation::Lookup { .. }))
            .collect()
    };
    // A second ClientHello (after a HelloRetryRequest, RFC 8446 §4.1.4) repeats the name.
    let mut d = TlsDissector::default();
    let mut out = Vec::new();
    let hello = client_hello(b"C2.Evil.Example");
    feed(&mut d, Direction::ToServer, &hello, usize::MAX, &mut out);
    feed(&mut d, Direction::ToServer, &hello, usize::MAX, &mut out);
    assert_eq!(lookups(out), vec![sni_lookup("c2.evil.example")]);
    // A ClientHello from the flow's server would name the wrong asker.
    let mut d = TlsDissector::default();
    let mut out = Vec::new();
    feed(&mut d, Direction::ToClient, &hello, usize::MAX, &mut out);
    assert_eq!(lookups(out), vec![]);
    // RFC 6066 §3 forbids address literals; they name no domain.
    let mut d = TlsDissector::default();
    let mut out = Vec::new();
    let hello = client_hello(b"192.0.2.7");
    feed(&mut d, Direction::ToServer, &hello, usize::MAX, &mut out);
    assert_eq!(lookups(out), vec![]);
}

#[test]
fn any_segmentation_gives_the_same_result() {
    let whole = run(&[
        (Direction::ToServer, OPENSSL_12_CLIENT_HELLO),
        (Direction::ToClient, OPENSSL_12_SERVER_FLIGHT),
    ]);
    for chunk in [1, 2, 3, 5, 7, 64, 500, 1000] {
        let mut d = TlsDissector::default();
        let mut out = Vec::new();
        feed(
            &mut d,
            Direction::ToServer,
            &hex(OPENSSL_12_CLIENT_HELLO),
            chunk,
            &mut out,
        );
        let left = feed(
            &mut d,
            Direction::ToClient,
            &hex(OPENSSL_12_SERVER_FLIGHT),
            chunk,
            &mut out,
        );
        assert_eq!(left, 0);
        assert_eq!(out, whole, "chunk {chunk}");
    }
}

/// Re-frames a stream's handshake bytes into records of at most `size` octets (RFC 8446 §5.1
/// lets a handshake message span records).
fn refragment(stream: &[u8], size: usize) -> Vec<u8> {
    let mut handshake = Vec::new();
    let mut rest = stream;
    while rest.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        assert_eq!(rest[0], HANDSHAKE);
        handshake.extend_from_slice(&rest[5..5 + len]);
        rest = &rest[5 + len..];
    }
    let mut out = Vec::new();
    for piece in handshake.chunks(size) {
        out.extend_from_slice(&[HANDSHAKE, 3, 3]);
        out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
        out.extend_from_slice(piece);
    }
    out
}

#[test]
fn handshake_messages_spanning_records_are_reassembled() {
    let whole = run(&[(Direction::ToClient, RDP_SERVER_FLIGHT)]);
    assert_eq!(whole.len(), 2);
    for size in [1, 3, 100, 700] {
        let stream = refragment(&hex(RDP_SERVER_FLIGHT), size);
        for chunk in [usize::MAX, 13] {
            let mut d = TlsDissector::default();
            let mut out = Vec::new();
            let left = feed(&mut d, Direction::ToClient, &stream, chunk, &mut out);
            assert_eq!(left, 0);
            assert_eq!(out, whole, "size {size} chunk {chunk}");
            assert!(d.server.pending.is_empty());
        }
    }
}

#[test]
fn oversized_handshake_is_dropped_not_buffered() {
    // A Certificate message claiming 1 MiB.
    let mut d = TlsDissector::default();
    let mut out = Vec::new();
    let stream = hex("16030300080b1000000000000a");
    feed(&mut d, Direction::ToClient, &stream, usize::MAX, &mut out);
    assert!(d.server.done);
    assert!(d.server.pending.is_empty());
}

#[test]
fn modbus_port_with_a_client_hello() {
    assert_eq!(
        probe(Direction::ToServer, &hex(P502_CLIENT_HELLO)),
        Probe::Yes
    );
    assert_eq!(
        probe(Direction::ToClient, &hex(P502_MODBUS_REPLY)),
        Probe::No
    );
    let mut d = TlsDissector::default();
    let mut out = Vec::new();
    feed(
        &mut d,
        Direction::ToServer,
        &hex(P502_CLIENT_HELLO),
        usize::MAX,
        &mut out,
    );
    assert!(out.is_empty());
    feed(
        &mut d,
        Direction::ToClient,
        &hex(P502_MODBUS_REPLY),
        usize::MAX,
        &mut out,
    );
    assert_eq!(
        out,
        vec![Observation::ProtocolViolation {
            protocol: "tls",
            reason: "zero-length TLS handshake record".to_owned()
        }]
    );
}

#[test]
fn probe_is_strict() {
    for h in [
        RDP_CLIENT_HELLO,
        RDP_SERVER_FLIGHT,
        OPENSSL_12_CLIENT_HELLO,
        OPENSSL_13_SERVER_FLIGHT,
    ] {
        assert_eq!(probe(Direction::ToServer, &hex(h)), Probe::Yes);
    }
    assert_eq!(
        probe(Direction::ToServer, &hex(RDP_CLIENT_FINISH)),
        Probe::No
    );
    assert_eq!(probe(Direction::ToServer, &[]), Probe::NeedMore);
    assert_eq!(
        probe(Direction::ToServer, &[0x16, 0x03, 0x01]),
        Probe::NeedMore
    );
    assert_eq!(
        probe(Direction::ToServer, &hex("16030100d401")),
        Probe::NeedMore
    );
    for other in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"SSH-2.0-OpenSSH_9.2\r\n",
        // Modbus read holding registers request.
        &[
            0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x0a,
        ],
        &[0x17, 0x03, 0x03, 0x00, 0x20, 0x00],
        &[0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0x00, 0x00, 0x05, 0x03],
    ] {
        assert_eq!(probe(Direction::ToServer, other), Probe::No, "{other:?}");
    }
}

#[test]
fn gap_gives_up_the_direction() {
    let mut d = TlsDissector::default();
    let mut out = Vec::new();
    d.gap(Direction::ToClient);
    let data = hex(RDP_SERVER_FLIGHT);
    assert_eq!(
        d.parse(Direction::ToClient, &data, &ctx(), &mut out),
        data.len()
    );
    assert!(out.is_empty());
}

#[test]
fn not_tls_is_a_violation_once() {
    let mut d = TlsDissector::default();
    let mut out = Vec::new();
    let junk = b"HTTP/1.1 200 OK\r\n\r\n";
    assert_eq!(
        d.parse(Direction::ToClient, junk, &ctx(), &mut out),
        junk.len()
    );
    assert_eq!(
        d.parse(Direction::ToClient, junk, &ctx(), &mut out),
        junk.len()
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn hostnames() {
    for ok in [
        "plc-7",
        "hmi-01.plant.example",
        "CLK-456040-D.one.phoenix.gov",
        "a1.b2",
    ] {
        assert_eq!(hostname(ok.as_bytes()).as_deref(), Some(ok));
    }
    for bad in [
        "",
        "*.example.com",
        "192.168.1.10",
        "localhost",
        "my host",
        "-a.b",
        "a..b",
        "a.b.",
        "Example Automation GmbH",
        "ex_ample.com",
    ] {
        assert_eq!(hostname(bad.as_bytes()), None, "{bad}");
    }
    assert_eq!(hostname(&[b'a'; 254]), None);
}

#[test]
fn never_panics() {
    for h in ALL {
        let data = hex(h);
        for cut in 0..data.len() {
            for dir in [Direction::ToServer, Direction::ToClient] {
                let mut d = TlsDissector::default();
                let mut out = Vec::new();
                let _ = probe(dir, &data[..cut]);
                let n = d.parse(dir, &data[..cut], &ctx(), &mut out);
                assert!(n <= cut);
            }
        }
        // Corrupt each byte of the server flights in turn.
        if data.len() > 800 {
            for i in 0..data.len() {
                let mut bad = data.clone();
                bad[i] ^= 0xa5;
                let mut d = TlsDissector::default();
                let mut out = Vec::new();
                feed(&mut d, Direction::ToClient, &bad, usize::MAX, &mut out);
            }
        }
    }
    let mut noise = Noise::new(0xfeed_f00d_1234_5678);
    for len in 0..600 {
        let mut data = noise.bytes(len);
        if data.len() >= 6 {
            data[..3].copy_from_slice(&[0x16, 0x03, 0x03]);
            data[5] = 0x0b;
        }
        let mut d = TlsDissector::default();
        let mut out = Vec::new();
        feed(&mut d, Direction::ToClient, &data, 17, &mut out);
    }
}
