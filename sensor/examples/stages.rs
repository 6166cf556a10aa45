//! Times one stage of the pipeline over a capture, for `scripts/bench-analyze.sh`:
//! `stages read FILE` (the capture reader alone), `stages decode FILE` (reader + L2–L4 decode),
//! `stages full FILE` (the whole analyze pipeline without output). Prints one line:
//! `stage packets seconds packets_per_second peak_rss_kib`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::decode;
use otwatch_sensor::pipeline::Pipeline;
use std::time::Instant;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let stage = args.next().expect("usage: stages read|decode|full FILE");
    let file = args.next().expect("usage: stages read|decode|full FILE");
    let mut src = CaptureFile::open(file.as_ref()).expect("open capture");
    let mut pipeline = Pipeline::default();
    let mut packets = 0u64;
    let mut sink = 0u64;
    let start = Instant::now();
    while let Some(batch) = src.next_batch().expect("read capture") {
        packets += batch.len() as u64;
        match stage.as_str() {
            "read" => batch.iter().for_each(|f| sink += f.data.len() as u64),
            "decode" => batch.iter().for_each(|f| {
                if decode::decode(f.link, f.data).is_ok() {
                    sink += 1;
                }
            }),
            _ => batch.iter().for_each(|f| pipeline.frame(&f)),
        }
    }
    if stage == "full" {
        pipeline.finish();
        let r = otwatch_sensor::inventory::report(&pipeline.inventory, pipeline.capture_stats());
        sink += r.assets.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    println!(
        "{stage} {packets} {secs:.3} {:.0} {}",
        packets as f64 / secs,
        peak_rss_kib()
    );
}
