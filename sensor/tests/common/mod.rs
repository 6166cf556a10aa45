//! Helpers shared by the sensor's integration tests: the binary, test captures, and captures
//! written on the fly.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod flood;
pub mod tshark;

#[path = "../../../tests/skip.rs"]
pub mod skip;

use otwatch_common::model::{Asset, InventoryReport};
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::decode::{decode, Net};
use otwatch_sensor::protocols::LinkFrame;
use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// A capture from `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

/// The shared capture corpus: `OTWATCH_CORPUS`, or `shared/pcaps` beside the checkout.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("OTWATCH_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/pcaps")),
    }
}

/// The corpus's directory, or `None` after saying the test skips for want of it.
pub fn corpus_root() -> Option<PathBuf> {
    let dir = corpus_dir();
    if dir.join("MANIFEST.tsv").exists() {
        return Some(dir);
    }
    skip::skip(
        &format!("corpus not found at {}", dir.display()),
        skip::Need::Corpus,
    );
    None
}

/// A capture of the corpus, or `None` after saying the test skips for want of it.
pub fn corpus(rel: &str) -> Option<PathBuf> {
    let p = corpus_dir().join(rel);
    if p.is_file() {
        return Some(p);
    }
    skip::skip(
        &format!(
            "corpus capture {} not found (set OTWATCH_CORPUS)",
            p.display()
        ),
        skip::Need::Corpus,
    );
    None
}

/// The report of analyzing one capture in memory (no state), which must read without errors.
pub fn report(path: &Path) -> InventoryReport {
    let out = analyze(&AnalyzeOptions {
        inputs: vec![path.to_path_buf()],
        state: None,
        progress: false,
        ..Default::default()
    })
    .unwrap();
    assert!(out.capture_errors.is_empty(), "{:?}", out.capture_errors);
    out.report
}

/// The asset of a report with this IP or MAC address.
pub fn asset<'a>(r: &'a InventoryReport, ip_or_mac: &str) -> &'a Asset {
    r.assets
        .iter()
        .find(|a| a.ips.iter().chain(&a.macs).any(|x| x == ip_or_mac))
        .unwrap_or_else(|| panic!("no asset with {ip_or_mac}"))
}

/// The kinds of a report's alerts with their protocols, sorted.
pub fn alert_kinds(r: &InventoryReport) -> Vec<(String, String)> {
    let mut k: Vec<(String, String)> = r
        .alerts
        .iter()
        .map(|a| (a.kind.clone(), a.protocol.clone()))
        .collect();
    k.sort();
    k
}

/// Whether one of the asset's descriptions contains `text`.
pub fn described(a: &Asset, text: &str) -> bool {
    a.evidence
        .iter()
        .any(|e| e.field == "description" && e.value.contains(text))
}

/// Each frame of a capture whose Ethernet payload is of `ethertype`: its number (from 1), its
/// source and destination MAC, and the payload.
pub fn link_frames(path: &Path, ethertype: u16, mut each: impl FnMut(u64, LinkFrame, &[u8])) {
    let mut src = CaptureFile::open(path).unwrap();
    let mut n = 0u64;
    while let Some(batch) = src.next_batch().unwrap() {
        for f in batch.iter() {
            n += 1;
            let Ok(p) = decode(f.link, f.data) else {
                continue;
            };
            if let (
                Net::Ether {
                    ethertype: t,
                    payload,
                },
                Some(s),
            ) = (&p.net, p.src_mac)
            {
                if *t == ethertype {
                    let lf = LinkFrame {
                        src: s,
                        dst: p.dst_mac,
                        ts: f.ts,
                    };
                    each(n, lf, payload);
                }
            }
        }
    }
}

/// The sensor binary, logging at info.
pub fn sensor() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_otwatch-sensor"));
    c.env("OTWATCH_LOG", "info");
    c
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Everything about a finished command, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// `inventory --format json --state DIR`, parsed.
pub fn inventory(state: &Path) -> (Output, Option<serde_json::Value>) {
    let o = sensor()
        .args(["inventory", "--format", "json", "--state"])
        .arg(state)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).ok();
    (o, v)
}

/// A classic pcap (microsecond timestamps, Ethernet) of `n` UDP packets, one every `step_us`
/// microseconds from `start_unix` seconds on, each from its own address 10.x.y.z (port
/// 40000) to 10.255.255.254:9999, so that each makes an asset and a connection.
pub fn udp_hosts_pcap(path: &Path, n: u32, start_unix: u32, step_us: u64) {
    let router = [0x02, 0, 0, 0, 0, 0x02];
    let host = [0x02, 0, 0, 0, 0, 0x01];
    let frames = (0..n).map(|i| {
        let src = SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000u32 + 1 + i), 40000);
        let dst = SocketAddrV4::new(Ipv4Addr::from(0x0aff_fffeu32), 9999);
        let t = u64::from(i) * step_us;
        (t, udp_frame(router, host, src, dst, b"otwatch test"))
    });
    write_pcap(path, start_unix, frames);
}

/// A classic pcap of UDP datagrams (source, destination, payload), one a millisecond from
/// 2024-01-01 on; each address's MAC is 02:00 and its four octets.
pub fn udp_pcap(path: &Path, datagrams: &[(SocketAddrV4, SocketAddrV4, Vec<u8>)]) {
    let mac = |a: &SocketAddrV4| {
        let [a, b, c, d] = a.ip().octets();
        [0x02, 0, a, b, c, d]
    };
    let frames = datagrams
        .iter()
        .enumerate()
        .map(|(i, (src, dst, payload))| {
            let f = udp_frame(mac(src), mac(dst), *src, *dst, payload);
            (i as u64 * 1000, f)
        });
    write_pcap(path, 1_704_067_200, frames);
}

/// An Ethernet frame of an IPv4 UDP datagram (no UDP checksum).
pub fn udp_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = 8 + payload.len() as u16;
    let ip_len = 20 + udp_len;
    let mut f = Vec::with_capacity(14 + ip_len as usize);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.ip().octets());
    ip[16..20].copy_from_slice(&dst.ip().octets());
    set_ipv4_checksum(&mut ip);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&src.port().to_be_bytes());
    f.extend_from_slice(&dst.port().to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&0u16.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Writes a classic pcap (microsecond timestamps, Ethernet) of `frames`, each at its offset in
/// microseconds from `start_unix` seconds.
pub fn write_pcap(path: &Path, start_unix: u32, frames: impl Iterator<Item = (u64, Vec<u8>)>) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (t, f) in frames {
        let sec = start_unix + (t / 1_000_000) as u32;
        let usec = (t % 1_000_000) as u32;
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
    }
    std::fs::write(path, out).unwrap();
}

/// Fills in the header checksum of a 20-byte IPv4 header (RFC 791).
pub fn set_ipv4_checksum(ip: &mut [u8]) {
    let mut sum = 0u32;
    for c in ip.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// A tmpfs of `mb` MiB mounted on a new directory; unmounted on drop.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(mb: u32) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "cannot mount a tmpfs (needs root): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the file system of `dir` with a new file `dir/<name>`, then frees `leave` bytes of it.
pub fn fill(dir: &Path, name: &str, leave: u64) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    let chunk = vec![1u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let small = [1u8; 512];
    while f.write_all(&small).is_ok() {}
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(leave)).unwrap();
    let _ = f.sync_all();
    p
}

/// Runs `cmd` until it ends, deleting `filler` as soon as its log says the disk is full. Returns
/// its exit status, its log, and whether the disk filled up.
pub fn run_freeing_space(mut cmd: Command, filler: &Path) -> (ExitStatus, String, bool) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut log = String::new();
    let mut freed = false;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) {
        log.push_str(&line);
        log.push('\n');
        if !freed && line.contains("is full") {
            std::fs::remove_file(filler).unwrap();
            freed = true;
        }
    }
    let status = child.wait().unwrap();
    reader.join().unwrap();
    (status, log, freed)
}
