#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Device-changing operations and their evidence on real captures: EtherNet/IP + CIP,
//! BACnet/IP, OPC UA and PROFINET DCP.
//!
//! Two views of each capture: the report of `analyze` (the operations a connection shows),
//! and the operations with their details as the dissectors emit them, collected by feeding
//! the capture through the flow table and the frame dissectors (the report does not carry
//! details; alerts will). Captures in `../tests/data` always run; those of the shared corpus
//! (`../shared/pcaps`, or `OTWATCH_CORPUS`) are skipped with a message when it is absent.
//! Expected values were read from `tshark -V` on the same packets.

mod common;

use common::{corpus, data, report};
use otwatch_common::observation::{Details, Observation, Operation};
use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::decode::{decode, Net};
use otwatch_sensor::flow::table::PacketInfo;
use otwatch_sensor::flow::{FlowConfig, FlowEvent, FlowTable};
use otwatch_sensor::protocols::registry::{FrameMatch, FRAME_PROTOCOLS};
use otwatch_sensor::protocols::LinkFrame;
use std::path::Path;

/// An operation as a dissector emitted it, with the flow's protocol ("" for link-layer
/// frames).
#[derive(Debug, Clone)]
struct Op {
    protocol: &'static str,
    op: Operation,
    code: Option<u32>,
    details: Details,
}

impl Op {
    fn get(&self, key: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every operation the dissectors emit for a capture, in order.
fn operations(path: &Path) -> Vec<Op> {
    let mut src = CaptureFile::open(path).unwrap();
    let mut flows = FlowTable::new(FlowConfig::default());
    let mut ops = Vec::new();
    let mut frame_dissectors: Vec<_> = FRAME_PROTOCOLS.iter().map(|s| (s.new)()).collect();
    let collect = |flows: &mut FlowTable, ops: &mut Vec<Op>| {
        for ev in flows.drain_events() {
            if let FlowEvent::Observation {
                protocol,
                obs:
                    Observation::Operation {
                        op,
                        function_code,
                        details,
                    },
                ..
            } = ev
            {
                ops.push(Op {
                    protocol,
                    op,
                    code: function_code,
                    details,
                });
            }
        }
    };
    while let Some(batch) = src.next_batch().unwrap() {
        for f in batch.iter() {
            let Ok(p) = decode(f.link, f.data) else {
                continue;
            };
            match &p.net {
                Net::Ip(ip) if ip.fragment.is_none() => {
                    flows.packet(&PacketInfo {
                        ts: f.ts,
                        wire_len: f.wire_len,
                        frames: 1,
                        src_mac: p.src_mac,
                        dst_mac: p.dst_mac,
                        lan: otwatch_sensor::decode::Lan::vlan(p.vlan.unwrap_or(0)),
                        ip,
                    });
                    collect(&mut flows, &mut ops);
                }
                Net::Ether { ethertype, payload } => {
                    let Some(src_mac) = p.src_mac else {
                        continue;
                    };
                    let mut out = Vec::new();
                    let frame = LinkFrame {
                        src: src_mac,
                        dst: p.dst_mac,
                        ts: f.ts,
                    };
                    let m = FrameMatch::Ethertype(*ethertype);
                    for (spec, d) in FRAME_PROTOCOLS.iter().zip(frame_dissectors.iter_mut()) {
                        if spec.matches == m {
                            d.frame(&frame, payload, &mut out);
                        }
                    }
                    for o in out {
                        if let Observation::Operation {
                            op,
                            function_code,
                            details,
                        } = o
                        {
                            ops.push(Op {
                                protocol: "",
                                op,
                                code: function_code,
                                details,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    }
    flows.finish_all();
    collect(&mut flows, &mut ops);
    ops
}

/// The operations of kind `op`.
fn of(ops: &[Op], op: Operation) -> Vec<&Op> {
    ops.iter().filter(|o| o.op == op).collect()
}

/// Operations that change a device carry details; reads and identification never do.
fn routine_ops_are_detail_free(ops: &[Op]) {
    for o in ops {
        if matches!(
            o.op,
            Operation::Read | Operation::Identify | Operation::Diagnostics
        ) {
            assert!(o.details.is_empty(), "{o:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// EtherNet/IP and CIP.

#[test]
fn cip_wall_clock_set_is_a_clock_change() {
    // enip_cip_example.pcap frame 138 (the same exchange as EIP-ChangeDateAttempt.pcap frame
    // 138): cip.sc 0x04 Set Attribute List on class 0x8b instance 1, attribute 6, data
    // c0587222085a0400 (µs since 1970: one day after the capture was taken).
    let path = data("enip_cip_example.pcap");
    let ops = operations(&path);
    routine_ops_are_detail_free(&ops);
    let clock = of(&ops, Operation::ConfigChange);
    assert_eq!(clock.len(), 1, "{clock:?}");
    let c = clock[0];
    assert_eq!(c.protocol, "enip");
    assert_eq!(c.code, Some(0x04));
    assert_eq!(c.get("service"), Some("Set_Attribute_List"));
    assert_eq!(
        c.get("object"),
        Some("class 0x8b (Rockwell Wall Clock Time) instance 1 attribute 6")
    );
    assert_eq!(c.get("setting"), Some("clock"));
    assert_eq!(c.get("value"), Some("2008-10-24T23:28:11.000000Z"));
    let r = report(&path);
    let conn = r
        .connections
        .iter()
        .find(|c| c.client == "192.168.10.105" && c.server == "192.168.10.120")
        .unwrap();
    assert_eq!(conn.operations, ["config_change", "read"]);
}

#[test]
fn cip_stop_is_a_cpu_stop_with_its_object() {
    // cip_stop_plc.pcap: cip.sc 0x07 (Stop) on class 0x8e instance 1.
    let ops = operations(&data("cip_stop_plc.pcap"));
    let stop = of(&ops, Operation::CpuStop);
    assert_eq!(stop.len(), 1);
    assert_eq!(
        stop[0].get("service"),
        Some("Stop (Logix Controller object)")
    );
    assert_eq!(
        stop[0].get("object"),
        Some("class 0x8e (Logix Controller) instance 1")
    );
}

#[test]
fn cip_firmware_cut_reports_the_update_the_partial_image_and_the_reset() {
    // eip_firmware_cut.pcap (tests/data/README.md): the ControlFLASH session of
    // EIP-FirmwareChange.pcap up to the third NVS Transfer, then the Reset that followed.
    let path = data("eip_firmware_cut.pcap");
    let ops = operations(&path);
    let fw = of(&ops, Operation::FirmwareUpdate);
    assert_eq!(fw.len(), 2, "{fw:?}");
    // cip.sc 0x4b on class 0xa1: Update announcing 0x1bff16 bytes.
    assert_eq!(fw[0].code, Some(0x4B));
    assert_eq!(fw[0].get("bytes"), Some("1834774"));
    // Three 350-byte pieces, then the reset ends the transfer short of its size.
    assert_eq!(fw[1].code, Some(0x4D));
    assert_eq!(fw[1].get("bytes"), Some("1050"));
    assert_eq!(fw[1].get("complete"), Some("false"));
    assert_eq!(fw[1].get("sha256").map(str::len), Some(64));
    let restart = of(&ops, Operation::Restart);
    assert_eq!(restart.len(), 1);
    assert_eq!(restart[0].get("service"), Some("Reset (Identity object)"));
}

#[test]
fn cip_firmware_change_whole_image() {
    let Some(path) = corpus("enip/EIP-FirmwareChange.pcap") else {
        return;
    };
    let ops = operations(&path);
    routine_ops_are_detail_free(&ops);
    let fw = of(&ops, Operation::FirmwareUpdate);
    assert_eq!(fw.len(), 2, "{fw:?}");
    // The 5243 cip.data pieces of the 0x4d requests after their 4-byte offsets, hashed in
    // order with sha256sum: 1 834 774 bytes.
    let image = fw[1];
    assert_eq!(image.get("bytes"), Some("1834774"));
    assert_eq!(
        image.get("sha256"),
        Some("23dedb4c83e1dc07740228dff9e97b02527bf4907677bbb3c485eeb18bd32dba")
    );
    assert_eq!(image.get("complete"), Some("true"));
    assert_eq!(
        image.get("object"),
        Some("class 0xa1 (Rockwell Nonvolatile Storage) instance 1")
    );
    assert_eq!(of(&ops, Operation::Restart).len(), 1);
}

#[test]
fn cip_lock_attempt_is_a_security_change() {
    let Some(path) = corpus("enip/EIP-LockPLCAttempt.pcap") else {
        return;
    };
    // Frames 518/914/1232: 0x4b on class 0x8e / class 0x74 (lock, data 01); frames
    // 722/1062/1435: 0x4c (unlock). Each reported once per flow.
    let ops = operations(&path);
    routine_ops_are_detail_free(&ops);
    let sec: Vec<_> = of(&ops, Operation::ConfigChange)
        .into_iter()
        .map(|o| (o.get("setting"), o.get("value")))
        .collect();
    assert_eq!(
        sec,
        [
            (Some("security"), Some("lock")),
            (Some("security"), Some("unlock"))
        ]
    );
}

#[test]
fn cip_reboot_capture_stops_downloads_and_starts() {
    let Some(path) = corpus("enip/EIP-RebootorRestart.pcap") else {
        return;
    };
    let ops = operations(&path);
    routine_ops_are_detail_free(&ops);
    // Frame 399: Stop (0x07) on 0x8e; frame 804: Start (0x06) on 0x8e.
    assert_eq!(of(&ops, Operation::CpuStop).len(), 1);
    assert_eq!(of(&ops, Operation::CpuStart).len(), 1);
    // Frames 520, 549, ...: Create (0x08) below the Logix Program object.
    let dl = of(&ops, Operation::ProgramDownload);
    assert!(!dl.is_empty());
    assert_eq!(dl[0].get("service"), Some("Create (Logix Program object)"));
    // Frame 581: Set Attribute List on class 0x8b inside a Multiple Service Packet.
    assert!(of(&ops, Operation::ConfigChange)
        .iter()
        .any(|o| o.get("setting") == Some("clock")));
}

#[test]
fn cip_start_and_set_attribute_single() {
    // cip_start_plc.pcap: cip.sc 0x06 (Start) on class 0x8e instance 1.
    let ops = operations(&data("cip_start_plc.pcap"));
    let start = of(&ops, Operation::CpuStart);
    assert_eq!(start.len(), 1);
    assert_eq!(
        start[0].get("service"),
        Some("Start (Logix Controller object)")
    );
    // Set Attribute Single on Identity instance 0 without an attribute: a plain write.
    let ops = operations(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/set_attribute_single_service_cip.pcapng"),
    );
    assert_eq!(
        ops.iter().map(|o| o.op).collect::<Vec<_>>(),
        [Operation::Write]
    );
    assert!(ops[0].details.is_empty());
}

// ---------------------------------------------------------------------------------------
// BACnet/IP.

#[test]
fn bacnet_reinitialize_names_the_state_never_the_password() {
    let Some(path) = corpus("bacnet/bacnet_example.pcap") else {
        return;
    };
    // 120 ReinitializeDevice requests (bacapp.confirmed_service 20) from 172.20.32.250,
    // each abort-restore (6) with a guessed password.
    let ops = operations(&path);
    routine_ops_are_detail_free(&ops);
    let reinit: Vec<_> = ops.iter().filter(|o| o.code == Some(20)).collect();
    assert_eq!(reinit.len(), 120);
    for o in &reinit {
        assert_eq!(o.op, Operation::Control);
        assert_eq!(o.get("service"), Some("ReinitializeDevice abortrestore"));
        assert_eq!(o.details.len(), 1, "{o:?}");
    }
}

#[test]
fn bacnet_time_sync_broadcast_has_no_conversation() {
    // bacnet_segmented_data.pcap frame 9: TimeSynchronization to ff:ff:ff:ff:ff:ff
    // (10.0.0.255): a broadcast is no conversation, so no operation is attached to one; the
    // reads of the capture carry no details.
    let ops = operations(&data("bacnet_segmented_data.pcap"));
    routine_ops_are_detail_free(&ops);
    assert!(of(&ops, Operation::TimeSync).is_empty());
    let ops = operations(&data("bacnet_test.pcap"));
    assert!(!ops.is_empty());
    assert!(ops.iter().all(|o| o.details.is_empty()));
}

// ---------------------------------------------------------------------------------------
// PROFINET DCP.

#[test]
fn dcp_set_name_of_station_is_a_name_change() {
    // profinet-wireshark-bug.pcap frame 3: Set Req from 00:80:c8:38:a4:8b, NameOfStation
    // "%n%n%n " (save permanent), End-Transaction; frame 1 an Identify request.
    let ops = operations(&data("profinet-wireshark-bug.pcap"));
    routine_ops_are_detail_free(&ops);
    let set = of(&ops, Operation::ConfigChange);
    assert_eq!(set.len(), 1, "{ops:?}");
    assert_eq!(set[0].code, Some(4));
    assert_eq!(set[0].get("service"), Some("DCP Set"));
    assert_eq!(set[0].get("setting"), Some("name"));
    assert_eq!(set[0].get("value"), Some("%n%n%n"));
    assert_eq!(of(&ops, Operation::Identify).len(), 1);
}

// ---------------------------------------------------------------------------------------
// OPC UA.

#[test]
fn opcua_call_names_its_method() {
    // open62541_client-server_mainloop-not-localhost-non-standard-port.pcap: CallRequest
    // (opcua.servicenodeid.numeric 712), MethodId ns=1;i=62541 on ObjectId i=85; the Browse
    // of the same session did not name that node.
    let path = data("open62541_client-server_mainloop-not-localhost-non-standard-port.pcap");
    let ops = operations(&path);
    routine_ops_are_detail_free(&ops);
    let calls: Vec<_> = ops.iter().filter(|o| o.code == Some(712)).collect();
    assert!(!calls.is_empty());
    for c in calls {
        assert_eq!(c.protocol, "opcua");
        assert_eq!(c.op, Operation::Control);
        assert_eq!(c.get("service"), Some("Call"));
        assert_eq!(c.get("object"), Some("ns=1;i=62541"));
    }
}

#[test]
fn opcua_fuzzed_calls_never_break_the_flow() {
    let Some(path) = corpus("opcua/opc-ua-ap-method-wireshark-freeze.pcap") else {
        return;
    };
    // Frame 42 (a 5224-byte CallRequest in four segments): MethodId ns=32767, a String
    // whose length says 262144 bytes (tshark: malformed); frame 84: MethodId with the
    // reserved encoding 0x07. No method can be read: each is the generic call, no evidence.
    let ops = operations(&path);
    let calls: Vec<_> = ops.iter().filter(|o| o.code == Some(712)).collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for c in calls {
        assert_eq!(c.op, Operation::Control);
        assert!(c.details.is_empty());
    }
}
