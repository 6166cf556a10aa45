//! Criterion benches on a real capture (tests/data/mb2.pcap: Modbus, S7, ENIP, PROFINET, SMB,
//! 13,472 frames): decode alone, and decode + flows + dissectors + inventory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otwatch_common::Timestamp;
use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::{LinkType, PacketSource};
use otwatch_sensor::decode;
use otwatch_sensor::pipeline::Pipeline;
use std::path::Path;

/// The capture's frames, owned, so the benches measure the analysis and not the file reader.
fn frames() -> Vec<(Timestamp, LinkType, Vec<u8>, u32)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/mb2.pcap");
    let mut src = CaptureFile::open(&path).unwrap();
    let mut out = Vec::new();
    while let Some(b) = src.next_batch().unwrap() {
        out.extend(
            b.iter()
                .map(|f| (f.ts, f.link, f.data.to_vec(), f.wire_len)),
        );
    }
    out
}

fn benches(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("mb2");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut ok = 0u32;
            for (_, link, data, _) in &frames {
                ok += decode::decode(*link, data).is_ok() as u32;
            }
            ok
        })
    });
    g.bench_function("pipeline", |b| {
        b.iter(|| {
            let mut p = Pipeline::default();
            for (ts, link, data, wire_len) in &frames {
                p.frame(&otwatch_sensor::capture::Frame {
                    ts: *ts,
                    link: *link,
                    data,
                    wire_len: *wire_len,
                    interface: 0,
                    vlan: 0,
                });
            }
            p.finish();
            p.stats.packets
        })
    });
    g.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
