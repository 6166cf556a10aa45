#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The evidence industrial dissectors attach to device-changing operations, on whole real
//! captures: S7comm program download (block and SHA-256 of its content), stop, copy RAM to
//! ROM, PLC password, clock; S7comm-plus block download; DNP3 restart and file transfers;
//! Modbus restart and listen-only mode.
//!
//! Each capture goes through `analyze` (the operations reach the connection) and through the
//! flow table directly, whose observations carry the details (the report shows them only as
//! alert evidence). Captures from `../shared/pcaps` (or `OTWATCH_CORPUS`) are skipped with a
//! message when the corpus is absent; the download, copy RAM to ROM, the DNP3 file write and
//! the Modbus diagnostics are in `tests/data` (or `sensor/tests/data`) and always run. Expected values were read with
//! `tshark -V` (noted per capture).

mod common;

use common::{corpus, data as test_data, report};
use otwatch_common::observation::{Observation, Operation};
use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::decode::{self, Net};
use otwatch_sensor::flow::table::PacketInfo;
use otwatch_sensor::flow::{FlowConfig, FlowEvent, FlowTable};
use std::path::Path;

/// One operation with its details, as `(operation, [(field, value)])`.
type Op = (Operation, Vec<(&'static str, String)>);

/// The operations the dissectors emit for `path`, in order (IP captures without fragments).
fn operations(path: &Path) -> Vec<Op> {
    let mut src = CaptureFile::open(path).unwrap();
    let mut flows = FlowTable::new(FlowConfig::default());
    let mut ops = Vec::new();
    let mut take = |flows: &mut FlowTable| {
        for ev in flows.drain_events() {
            if let FlowEvent::Observation {
                obs: Observation::Operation { op, details, .. },
                ..
            } = ev
            {
                ops.push((op, details));
            }
        }
    };
    while let Some(batch) = src.next_batch().unwrap() {
        for f in batch.iter() {
            let Ok(p) = decode::decode(f.link, f.data) else {
                continue;
            };
            let Net::Ip(ip) = &p.net else {
                continue;
            };
            flows.packet(&PacketInfo {
                ts: f.ts,
                wire_len: f.wire_len,
                frames: 1,
                src_mac: p.src_mac,
                dst_mac: p.dst_mac,
                lan: otwatch_sensor::decode::Lan::vlan(p.vlan.unwrap_or(0)),
                ip,
            });
            take(&mut flows);
        }
    }
    flows.finish_all();
    take(&mut flows);
    ops
}

/// The operations `analyze` puts on the capture's connections.
fn reported_operations(path: &Path) -> Vec<String> {
    let mut ops: Vec<String> = report(path)
        .connections
        .iter()
        .flat_map(|c| c.operations.iter().cloned())
        .collect();
    ops.sort();
    ops.dedup();
    ops
}

fn value<'a>(details: &'a [(&'static str, String)], field: &str) -> Option<&'a str> {
    details
        .iter()
        .find(|(k, _)| *k == field)
        .map(|(_, v)| v.as_str())
}

/// The operations of kind `op` that carry `field` = `want`.
fn with<'a>(ops: &'a [Op], op: Operation, field: &str, want: &str) -> Vec<&'a Op> {
    ops.iter()
        .filter(|(o, d)| *o == op && value(d, field) == Some(want))
        .collect()
}

/// The program downloads that carry a content hash.
fn hashed(ops: &[Op]) -> Vec<&Op> {
    ops.iter()
        .filter(|(o, d)| *o == Operation::ProgramDownload && value(d, "sha256").is_some())
        .collect()
}

#[test]
fn s7_download_of_ob1_names_the_block_and_hashes_it() {
    // tia_s300_downloadOb1.pcapng: request download "_0800001P [OB1]" (frame 57), two
    // download-block answers of 222 and 110 bytes (frames 60, 62; load memory 332), download
    // ended, PI service _INSE of OB1 (frame 65).
    let path = test_data("tia_s300_downloadOb1.pcapng");
    let ops = operations(&path);
    let h = hashed(&ops);
    assert_eq!(h.len(), 1, "{ops:?}");
    let d = &h[0].1;
    assert_eq!(value(d, "block"), Some("OB1"));
    assert_eq!(
        value(d, "sha256"),
        Some("0a1b7e00bc6438667355002c8eb563544c0fc19607470abc5b384a1c9bc2761b")
    );
    assert_eq!(value(d, "bytes"), Some("332"));
    assert_eq!(value(d, "complete"), None);
    assert_eq!(
        with(
            &ops,
            Operation::ProgramDownload,
            "service",
            "PI service _INSE"
        )
        .len(),
        1
    );
    assert!(with(&ops, Operation::ProgramDownload, "block", "OB1").len() >= 5);
    assert!(reported_operations(&path).contains(&"program_download".to_string()));
}

#[test]
fn s7_corpus_program_stop_clock_password_and_copy_ram_to_rom() {
    // step7_s300_download.pcapng: DB1 ("_0A00001P", load memory 000216) in one answer.
    if let Some(path) = corpus("s7comm/step7_s300_download.pcapng") {
        let ops = operations(&path);
        let h = hashed(&ops);
        assert_eq!(h.len(), 1, "{ops:?}");
        assert_eq!(value(&h[0].1, "block"), Some("DB1"));
        assert_eq!(value(&h[0].1, "bytes"), Some("216"));
        assert_eq!(value(&h[0].1, "sha256").map(str::len), Some(64));
    }
    // step7_s300_stop.pcapng frame 1: PLC stop (0x29).
    if let Some(path) = corpus("s7comm/step7_s300_stop.pcapng") {
        let ops = operations(&path);
        assert_eq!(
            with(&ops, Operation::CpuStop, "service", "PLC stop").len(),
            1
        );
        assert!(reported_operations(&path).contains(&"cpu_stop".to_string()));
    }
    // step7_s300_copyRamToRom.pcapng frame 1: PI service _MODU (a copy in sensor/tests/data).
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/step7_s300_copyRamToRom.pcapng");
    let ops = operations(&path);
    let c = with(&ops, Operation::ConfigChange, "setting", "configuration");
    assert_eq!(c.len(), 1);
    assert_eq!(value(&c[0].1, "service"), Some("PI service _MODU"));
    // step7_s300_AuthPassword.pcapng frame 3: userdata group 5 subfunction 1, whose 8 data
    // bytes (the obfuscated password) appear nowhere.
    if let Some(path) = corpus("s7comm/step7_s300_AuthPassword.pcapng") {
        let ops = operations(&path);
        assert_eq!(
            with(&ops, Operation::ConfigChange, "setting", "security").len(),
            1
        );
        assert!(!format!("{ops:?}").contains("213a1b1d"));
    }
    // snap7_s300_everything.pcapng: set clock (frame 47, "Feb  8, 2016 23:08:10.000"),
    // uploads of SDB0 and others, stop, _MODU, _GARB, and a cold start P_PROGRAM("C ").
    if let Some(path) = corpus("s7comm/snap7_s300_everything.pcapng") {
        let ops = operations(&path);
        let clock = with(&ops, Operation::TimeSync, "setting", "clock");
        assert_eq!(clock.len(), 1);
        assert_eq!(value(&clock[0].1, "value"), Some("2016-02-08T23:08:10.000"));
        assert!(!with(&ops, Operation::ProgramUpload, "block", "SDB0").is_empty());
        assert_eq!(
            with(&ops, Operation::CpuStart, "service", "PI service P_PROGRAM").len(),
            1
        );
        assert_eq!(
            ops.iter().filter(|(o, _)| *o == Operation::CpuStop).count(),
            1
        );
        let reported = reported_operations(&path);
        for op in [
            "config_change",
            "cpu_start",
            "cpu_stop",
            "program_upload",
            "time_sync",
        ] {
            assert!(reported.contains(&op.to_string()), "{op}: {reported:?}");
        }
    }
}

#[test]
fn s7_plus_block_creation_is_a_download_of_ob1() {
    // S7-1200-Uploading-OB1-TIAV12.pcap frames 127-129: CreateObject under the PLC program
    // of a ProgramCycleOB "Main", block number 1.
    let Some(path) = corpus("s7comm-plus/S7-1200-Uploading-OB1-TIAV12.pcap") else {
        return;
    };
    let ops = operations(&path);
    let d = with(&ops, Operation::ProgramDownload, "service", "CreateObject");
    assert_eq!(d.len(), 1, "{ops:?}");
    assert_eq!(value(&d[0].1, "block"), Some("OB1"));
}

#[test]
fn dnp3_restart_and_file_transfers() {
    // file_write.pcap: open ./helloworld.txt for WRITE, write a block, close.
    let path = test_data("dnp3_file_write.pcap");
    let ops = operations(&path);
    let files = with(&ops, Operation::FileTransfer, "file", "./helloworld.txt");
    let file_ops: Vec<_> = files
        .iter()
        .filter_map(|(_, d)| value(d, "file_op"))
        .collect();
    assert_eq!(file_ops, ["write", "write", "close"]);
    assert_eq!(reported_operations(&path), ["file_transfer"]);
    // cold_restart_and_response.pcap frame 4.
    if let Some(path) = corpus("dnp3/cold_restart_and_response.pcap") {
        let ops = operations(&path);
        assert_eq!(
            with(&ops, Operation::Restart, "service", "cold restart").len(),
            1
        );
        assert_eq!(reported_operations(&path), ["restart"]);
    }
    // file_read.pcap: ./testfile.txt opened for READ, read, closed.
    if let Some(path) = corpus("dnp3/file_read.pcap") {
        let ops = operations(&path);
        let files = with(&ops, Operation::FileTransfer, "file", "./testfile.txt");
        let file_ops: Vec<_> = files
            .iter()
            .filter_map(|(_, d)| value(d, "file_op"))
            .collect();
        assert_eq!(file_ops, ["read", "read", "close"]);
    }
    // file_delete.pcap frame 1: DELETE FILE ./helloworld.txt.
    if let Some(path) = corpus("dnp3/file_delete.pcap") {
        let ops = operations(&path);
        let d = with(&ops, Operation::FileTransfer, "file_op", "delete");
        assert_eq!(d.len(), 1);
        assert_eq!(value(&d[0].1, "file"), Some("./helloworld.txt"));
    }
}

#[test]
fn modbus_restart_and_listen_only_mode() {
    // suricata-modbus.pcap: function 8 sub-function 4 (frames 8, 10, 12) and 1 (15, 17, 20).
    let path = test_data("suricata-modbus.pcap");
    let ops = operations(&path);
    let mode = with(&ops, Operation::ConfigChange, "setting", "mode");
    assert_eq!(mode.len(), 3);
    assert_eq!(value(&mode[0].1, "value"), Some("listen only"));
    let restarts = ops.iter().filter(|(o, _)| *o == Operation::Restart);
    assert!(restarts.clone().count() >= 3);
    assert!(restarts
        .into_iter()
        .all(|(_, d)| value(d, "service")
            == Some("FC 8 sub-function 1 restart communications option")));
    // Routine reads and writes carry nothing.
    assert!(ops
        .iter()
        .filter(|(o, _)| matches!(o, Operation::Read | Operation::Write))
        .all(|(_, d)| d.is_empty()));
}
