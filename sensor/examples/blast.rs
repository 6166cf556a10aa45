//! A fast frame sender for the live-capture benchmark (scripts/bench-live.sh): AF_PACKET with
//! `sendmmsg` and `PACKET_QDISC_BYPASS`, many UDP flows, fixed frame size, optional pacing.
//! tcpreplay tops out around 350 k frames/s on this kind of machine; this goes further.
//!
//! A benchmark tool only: the sensor itself never transmits. Run it inside a network
//! namespace on one end of a veth pair whose other end the sensor reads:
//!
//! ```text
//! ip netns exec tx cargo run --release -p otwatch-sensor --example blast -- \
//!     --interface veth0 --size 64 --seconds 5 [--pps 600000] [--flows 1024]
//! ```
//! It prints one line: `sent=N seconds=S pps=R`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

struct Args {
    interface: String,
    size: usize,
    seconds: f64,
    pps: Option<u64>,
    flows: u16,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        interface: String::new(),
        size: 64,
        seconds: 5.0,
        pps: None,
        flows: 1024,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--interface" => a.interface = v()?,
            "--size" => a.size = v()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--seconds" => a.seconds = v()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--pps" => a.pps = Some(v()?.parse().map_err(|e| format!("--pps: {e}"))?),
            "--flows" => a.flows = v()?.parse().map_err(|e| format!("--flows: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.interface.is_empty() {
        return Err("--interface IF is required".into());
    }
    if !(60..=1514).contains(&a.size) {
        return Err("--size must be 60..=1514 (without FCS)".into());
    }
    Ok(a)
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet/IPv4/UDP frame of `size` bytes for flow `i` (10.99.x.y:port -> 10.98.0.1:502).
fn frame(size: usize, i: u16) -> Vec<u8> {
    let mut f = vec![0u8; size];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, (i >> 8) as u8, i as u8]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (size - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 99, (i >> 8) as u8, i as u8]);
    ip[16..20].copy_from_slice(&[10, 98, 0, 1]);
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&(20000 + i).to_be_bytes());
    udp[2..4].copy_from_slice(&502u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f
}

fn ifindex(name: &str) -> io::Result<i32> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))?
        .trim()
        .parse()
        .map_err(|_| io::Error::other("bad ifindex"))
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("blast: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&a) {
        eprintln!("blast: {e}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> io::Result<()> {
    let index = ifindex(&a.interface)?;
    // SAFETY: plain syscall; the descriptor is checked and owned below.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    // SAFETY: a valid c_int for the call's duration.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            (&one as *const libc::c_int).cast(),
            4,
        );
    }
    // SAFETY: sockaddr_ll is plain data; zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = index;
    sll.sll_halen = 6;
    let frames: Vec<Vec<u8>> = (0..a.flows.max(1)).map(|i| frame(a.size, i)).collect();
    const BATCH: usize = 256;
    let mut iov: Vec<libc::iovec> = (0..BATCH)
        .map(|k| libc::iovec {
            iov_base: frames[k % frames.len()].as_ptr() as *mut libc::c_void,
            iov_len: a.size,
        })
        .collect();
    // SAFETY: mmsghdr is plain data; zero is valid, pointers are filled in below.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    let mut next = 0usize;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.seconds);
    let mut sent: u64 = 0;
    while Instant::now() < end {
        if let Some(pps) = a.pps {
            let due = (start.elapsed().as_secs_f64() * pps as f64) as u64;
            if sent + BATCH as u64 > due {
                std::hint::spin_loop();
                continue;
            }
        }
        for k in 0..BATCH {
            let f = &frames[next % frames.len()];
            next += 1;
            iov[k].iov_base = f.as_ptr() as *mut libc::c_void;
            msgs[k].msg_hdr.msg_iov = &mut iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
            msgs[k].msg_hdr.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
            msgs[k].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        }
        // SAFETY: `msgs` holds BATCH initialised headers whose iovecs point into `frames`,
        // alive for the call.
        let n = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), BATCH as u32, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) => continue,
                _ => return Err(e),
            }
        }
        sent += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sent={sent} seconds={secs:.3} pps={:.0}",
        sent as f64 / secs
    );
    Ok(())
}
