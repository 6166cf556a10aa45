#![allow(clippy::unwrap_used, clippy::expect_used)]
//! AF_XDP capture on a veth pair: frames sent from a network namespace must arrive byte for
//! byte, in generic and native mode; the counters must add up; the XDP program must be gone
//! after drop and after the owning process is killed with SIGKILL.
//!
//! Needs root, iproute2 and python3 (the sender is a raw AF_PACKET socket inside the
//! namespace). Without root, or on a kernel without AF_XDP, each test says why it skips.

use otwatch_sensor::capture::af_xdp::{self, AttachedMode, XdpAttach, XdpConfig, ZeroCopy};
use otwatch_sensor::capture::live::{LiveError, LiveSource};
use otwatch_sensor::capture::PacketSource;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const HOST_MAC: [u8; 6] = [0x02, 0x6f, 0x74, 0x00, 0x00, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0x6f, 0x74, 0x00, 0x00, 0x02];
/// IEEE 802 local experimental ethertype: nothing else on the link uses it.
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
const CHILD_ENV: &str = "OTWATCH_XDP_TEST_CHILD_IF";

fn run(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(|e| e == "0"))
            .unwrap_or(false)
    })
}

/// Why this machine cannot run the test, if it cannot.
fn skip_reason() -> Option<String> {
    if !is_root() {
        return Some("needs root (network namespaces, XDP programs, AF_XDP sockets)".into());
    }
    if let Err(e @ LiveError::Unsupported { .. }) = af_xdp::available() {
        return Some(format!("the kernel lacks AF_XDP: {e}"));
    }
    None
}

macro_rules! skip_unless_able {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}

/// A veth pair: `host` here, `peer` in namespace `ns`. Removed on drop, even after a panic.
struct Veth {
    ns: String,
    host: String,
}

impl Veth {
    fn new() -> Veth {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::Relaxed)
        );
        let v = Veth {
            ns: format!("otwns{id}"),
            host: format!("oxa{id}"),
        };
        let peer = format!("oxb{id}");
        let mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        let (hmac, pmac) = (mac(HOST_MAC), mac(PEER_MAC));
        assert!(run(&["ip", "netns", "add", &v.ns]), "ip netns add {}", v.ns);
        assert!(
            run(&[
                "ip", "link", "add", &v.host, "address", &hmac, "type", "veth", "peer", "name",
                &peer, "address", &pmac
            ]),
            "ip link add {} type veth",
            v.host
        );
        // Less noise on the link: no IPv6 router solicitations or DAD from the host end.
        let _ = run(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", v.host),
        ]);
        assert!(run(&["ip", "link", "set", &peer, "netns", &v.ns]));
        assert!(run(&["ip", "link", "set", &v.host, "up"]));
        assert!(run(&["ip", "-n", &v.ns, "link", "set", &peer, "up"]));
        v
    }

    fn peer(&self) -> String {
        self.host.replacen("oxa", "oxb", 1)
    }

    /// The XDP part of `ip -d link show`: empty when no program is attached.
    fn xdp_attached(&self) -> Option<String> {
        let out = Command::new("ip")
            .args(["-d", "link", "show", "dev", &self.host])
            .output()
            .expect("ip link show");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("xdp").then_some(text)
    }

    fn wait_detached(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(t) = self.xdp_attached() {
            assert!(
                Instant::now() < deadline,
                "XDP program still attached:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `frames` from the namespace end through a raw AF_PACKET socket.
    fn send(&self, frames: &[Vec<u8>]) {
        let script = "import socket,sys\n\
s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
s.bind((sys.argv[1],0))\n\
for line in sys.stdin:\n    s.send(bytes.fromhex(line.strip()))\n";
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "python3",
                "-c",
                script,
                &self.peer(),
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("python3 in the namespace");
        let mut stdin = child.stdin.take().unwrap();
        for f in frames {
            let hex: String = f.iter().map(|b| format!("{b:02x}")).collect();
            writeln!(stdin, "{hex}").unwrap();
        }
        drop(stdin);
        assert!(child.wait().unwrap().success(), "the sender failed");
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        // Deleting one end deletes the pair.
        let _ = run(&["ip", "link", "del", &self.host]);
        let _ = run(&["ip", "netns", "del", &self.ns]);
    }
}

/// `n` distinct frames of varied length (60 to 1514 bytes) to the host end.
fn test_frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = 60 + (i * 37) % (1514 - 60 + 1);
            let mut f = Vec::with_capacity(len);
            f.extend_from_slice(&HOST_MAC);
            f.extend_from_slice(&PEER_MAC);
            f.extend_from_slice(&ETHERTYPE);
            f.extend_from_slice(&(i as u32).to_be_bytes());
            while f.len() < len {
                f.push((f.len() as u8).wrapping_mul(31).wrapping_add(i as u8));
            }
            f
        })
        .collect()
}

fn config(v: &Veth, attach: XdpAttach) -> XdpConfig {
    XdpConfig {
        interface: v.host.clone(),
        source_index: 3,
        poll_timeout: Duration::from_millis(20),
        attach,
        ..Default::default()
    }
}

/// Opens the host end in `attach` mode, sends frames from the namespace and checks them.
fn receive_all(attach: XdpAttach, want_mode: AttachedMode, want_describe: &str) {
    let v = Veth::new();
    let cfg = config(&v, attach);
    let (program, mut sockets) = af_xdp::open_interface(&cfg).expect("open AF_XDP");
    assert_eq!(program.mode(), want_mode);
    assert!(v.xdp_attached().is_some(), "no XDP program on {}", v.host);
    for s in &sockets {
        assert_eq!(s.describe(), want_describe);
        assert_eq!(s.location().0, v.host);
    }

    let sent = test_frames(500);
    v.send(&sent);

    let mut got = Vec::new();
    let (mut all_packets, mut all_bytes) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < sent.len() && Instant::now() < deadline {
        for s in &mut sockets {
            let batch = s.next_batch().expect("next_batch").expect("never None");
            for f in batch.iter() {
                all_packets += 1;
                all_bytes += f.data.len() as u64;
                assert_eq!(f.interface, 3);
                assert_eq!(f.wire_len as usize, f.data.len());
                assert!(f.ts.0 > 1_600_000_000_000_000_000, "timestamp {:?}", f.ts);
                if f.data.get(12..14) == Some(&ETHERTYPE[..]) {
                    got.push(f.data.to_vec());
                }
            }
        }
    }
    assert_eq!(got.len(), sent.len(), "frames received");
    assert!(got == sent, "frames differ from what was sent");

    // An idle socket returns empty batches, never None. Stray frames (IPv6 neighbour
    // discovery of the fresh namespace) may still trickle in first.
    let mut idle_seen = false;
    for _ in 0..50 {
        let b = sockets[0]
            .next_batch()
            .unwrap()
            .expect("a batch, never None");
        all_packets += b.len() as u64;
        all_bytes += b.iter().map(|f| f.data.len() as u64).sum::<u64>();
        if b.is_empty() {
            idle_seen = true;
            break;
        }
    }
    assert!(idle_seen, "an idle socket returns an empty batch");

    let mut total = otwatch_sensor::capture::live::LiveCounters::default();
    for s in &mut sockets {
        total.add(&s.counters());
    }
    assert_eq!(total.packets, all_packets);
    assert_eq!(total.bytes, all_bytes);
    assert_eq!(total.lost(), 0, "{total:?}");
    assert_eq!(total.invalid_descs, 0, "{total:?}");

    // A second capture on the same interface is refused with a message that says why.
    match af_xdp::open_interface(&cfg) {
        Err(e @ LiveError::Busy { .. }) => assert!(e.to_string().contains("busy"), "{e}"),
        other => panic!("second open: {:?}", other.map(|_| ())),
    }

    drop(sockets);
    drop(program);
    v.wait_detached();
}

#[test]
fn generic_mode_receives_every_frame() {
    skip_unless_able!();
    receive_all(
        XdpAttach::Generic,
        AttachedMode::Generic,
        "af_xdp generic copy",
    );
}

#[test]
fn native_mode_receives_every_frame() {
    skip_unless_able!();
    // veth has native XDP but no AF_XDP zero-copy: auto falls back to copy.
    receive_all(
        XdpAttach::Native,
        AttachedMode::Native,
        "af_xdp native copy",
    );
}

#[test]
fn auto_attaches_natively_on_veth() {
    skip_unless_able!();
    let v = Veth::new();
    let (program, sockets) = af_xdp::open_interface(&config(&v, XdpAttach::Auto)).unwrap();
    assert_eq!(program.mode(), AttachedMode::Native);
    assert!(!sockets.is_empty());
    drop(program);
    drop(sockets);
    v.wait_detached();
}

#[test]
fn forced_zero_copy_on_veth_is_unsupported() {
    skip_unless_able!();
    let v = Veth::new();
    let cfg = XdpConfig {
        zero_copy: ZeroCopy::On,
        ..config(&v, XdpAttach::Native)
    };
    match af_xdp::open_interface(&cfg) {
        Err(e @ LiveError::Unsupported { .. }) => {
            eprintln!("as expected: {e}");
            assert!(e.to_string().contains("zero-copy"), "{e}")
        }
        Ok((_, s)) => eprintln!("this veth supports zero-copy: {}", s[0].describe()),
        Err(e) => panic!("unexpected error: {e}"),
    }
    v.wait_detached();
}

#[test]
fn no_such_interface() {
    skip_unless_able!();
    let cfg = XdpConfig {
        interface: "no-such-if0".into(),
        ..Default::default()
    };
    assert!(matches!(
        af_xdp::open_interface(&cfg),
        Err(LiveError::NoInterface(_))
    ));
}

/// Run by `sigkill_detaches_the_program` in a child process: attaches and waits to be killed.
#[test]
fn child_holds_program() {
    let Ok(interface) = std::env::var(CHILD_ENV) else {
        return; // only meaningful in the child
    };
    let cfg = XdpConfig {
        interface,
        attach: XdpAttach::Generic,
        ..Default::default()
    };
    let (_program, _sockets) = af_xdp::open_interface(&cfg).expect("child attach");
    println!("ATTACHED");
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[test]
fn sigkill_detaches_the_program() {
    skip_unless_able!();
    let v = Veth::new();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_holds_program",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &v.host)
        .stdout(Stdio::piped())
        .spawn()
        .expect("re-run the test binary");
    let stdout = child.stdout.take().unwrap();
    let attached = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("ATTACHED"));
    if !attached {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the child did not attach");
    }
    assert!(
        v.xdp_attached().is_some(),
        "child attached but ip shows no XDP"
    );
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    v.wait_detached();
}
