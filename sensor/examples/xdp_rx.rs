//! Receives from an interface with AF_XDP and prints packets per second:
//! `xdp_rx IFACE [auto|native|generic] [SECONDS]` (needs root or the AF_XDP capabilities).
//! One thread per receive queue, as the sensor runs them. Frames are counted, not decoded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use otwatch_sensor::capture::af_xdp::{self, XdpAttach, XdpConfig};
use otwatch_sensor::capture::live::{LiveCounters, LiveSource};
use otwatch_sensor::capture::PacketSource;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: xdp_rx IFACE [auto|native|generic] [SECONDS]";
    let interface = args.next().expect(usage);
    let attach = match args.next().as_deref() {
        None | Some("auto") => XdpAttach::Auto,
        Some("native") => XdpAttach::Native,
        Some("generic") => XdpAttach::Generic,
        Some(_) => panic!("{usage}"),
    };
    let seconds: u64 = args.next().map_or(10, |s| s.parse().expect(usage));
    let cfg = XdpConfig {
        interface,
        attach,
        ..Default::default()
    };
    let (program, sockets) = match af_xdp::open_interface(&cfg) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("xdp_rx: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "{} queues, {}",
        sockets.len(),
        sockets.first().map(|s| s.describe()).unwrap_or_default()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let packets = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = sockets
        .into_iter()
        .map(|mut s| {
            let (stop, packets) = (stop.clone(), packets.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = s.next_batch().expect("next_batch").map_or(0, |b| b.len());
                    packets.fetch_add(n as u64, Ordering::Relaxed);
                }
                s.counters()
            })
        })
        .collect();

    let start = Instant::now();
    let mut last = 0;
    for _ in 0..seconds {
        std::thread::sleep(Duration::from_secs(1));
        let now = packets.load(Ordering::Relaxed);
        println!("{} packets/s", now - last);
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = LiveCounters::default();
    for w in workers {
        total.add(&w.join().expect("worker"));
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "total {} packets in {secs:.1} s ({:.0}/s), {} bytes, lost {} (rx_dropped {}, ring full {}), fill ring empty {}, invalid {}",
        total.packets,
        total.packets as f64 / secs,
        total.bytes,
        total.lost(),
        total.kernel_drops,
        total.rx_ring_full,
        total.fill_ring_empty,
        total.invalid_descs,
    );
    drop(program);
}
