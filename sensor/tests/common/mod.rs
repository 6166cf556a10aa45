//! Helpers shared by the sensor's integration tests: the binary, test captures, and captures
//! written on the fly.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A capture from `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
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
    let mut out = Vec::with_capacity(24 + n as usize * 80);
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for i in 0..n {
        let src = 0x0a00_0000u32 + 1 + i;
        let dst = 0x0aff_fffeu32;
        let payload = b"otwatch test";
        let udp_len = 8 + payload.len() as u16;
        let ip_len = 20 + udp_len;
        let mut f = Vec::with_capacity(14 + ip_len as usize);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // dst MAC
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // src MAC (a router)
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&src.to_be_bytes());
        ip[16..20].copy_from_slice(&dst.to_be_bytes());
        let mut sum = 0u32;
        for c in ip.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&9999u16.to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&0u16.to_be_bytes());
        f.extend_from_slice(payload);
        let t = u64::from(i) * step_us;
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
