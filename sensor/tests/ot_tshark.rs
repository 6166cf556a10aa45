#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Per-packet protocol facts against an independent dissector: for every industrial capture in
//! the corpus, the function codes otwatch records on each connection must equal the codes tshark
//! decodes from the same packets (modbus.func_code, s7comm job and userdata functions,
//! dnp3.al.func, IEC 104 type ids and U-frames, mms.confirmedServiceRequest, omron.command of FINS commands, synphasor.command of C37.118 command frames, ENIP commands and
//! CIP request services, MQTT packet types sent by clients, OPC UA request service type ids,
//! BACnet confirmed and unconfirmed service choices and BVLC management functions, PROFINET IO CM
//! opnums of requests to the PNIO interfaces, HART-IP command numbers of requests). PROFINET DCP
//! has no connection: there the role each source MAC takes (from pn_dcp.service_id and
//! pn_dcp.service_type) is compared with the asset's `profinet_dcp` protocol use; GOOSE likewise:
//! each publishing MAC and the logical device of its gocbRef against the assets speaking `goose`.
//! Skips with a message when the corpus or tshark is missing.

mod common;

use common::{corpus_root, tshark};
use otwatch_sensor::analyze::{analyze, AnalyzeOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

/// How one protocol's codes are read from tshark fields.
struct Check {
    protocol: &'static str,
    /// Corpus files (relative paths) to compare.
    files: &'static [&'static str],
    fields: &'static [&'static str],
    /// A display filter selecting the packets whose codes otwatch records (e.g. one direction).
    filter: Option<&'static str>,
    /// tshark `-d` rules for captures on non-standard ports.
    decode_as: &'static [&'static str],
    /// Codes of one packet from its field values (each a list: fields repeat per occurrence).
    codes: fn(&[Vec<String>]) -> Vec<u32>,
}

fn num(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn all(v: &[String]) -> Vec<u32> {
    v.iter().filter_map(|s| num(s)).collect()
}

const CHECKS: &[Check] = &[
    Check {
        protocol: "modbus",
        files: &[
            "modbus/ModbusTCP.pcap",
            "modbus/modbus_test.pcap",
            "modbus/modicon_test.pcap",
            "modbus/modbus-eit.pcap",
            "modbus/modbusSmall.pcap",
            "modbus/suricata-modbus.pcap",
            "modbus/modbus-and-non-modbus-p502.pcap",
            "mixed/mb2.pcap",
        ],
        fields: &["modbus.func_code"],
        filter: None,
        decode_as: &[],
        codes: |f| all(&f[0]),
    },
    Check {
        protocol: "s7comm",
        files: &[
            "s7comm/s7comm_reading_plc_status.pcap",
            "s7comm/s7comm_program_blocklist_onlineview.pcap",
            "s7comm/snap7_s300_everything.pcapng",
            "s7comm/step7_s300_stop.pcapng",
            "s7comm/step7_s300_download.pcapng",
            "s7comm/tia_s300_downloadOb1.pcapng",
            "s7comm/wincc_s400_production.pcapng",
            "s7comm/s7comm_clean.pcap",
            "mixed/mb2.pcap",
        ],
        fields: &[
            "s7comm.header.rosctr",
            "s7comm.param.func",
            "s7comm.param.userdata.funcgroup",
            "s7comm.param.userdata.subfunc",
            "s7comm.param.userdata.type",
        ],
        filter: None,
        decode_as: &[],
        // Jobs: the function byte. Userdata requests (type 4): 0x7GGSS.
        codes: |f| {
            let mut out = all(&f[1]);
            for ((g, s), t) in f[2].iter().zip(&f[3]).zip(&f[4]) {
                if let (Some(g), Some(s), Some(4)) = (num(g), num(s), num(t)) {
                    out.push(0x70000 | g << 8 | s);
                }
            }
            out
        },
    },
    Check {
        protocol: "dnp3",
        files: &[
            "dnp3/zeek-dnp3.pcap",
            "dnp3/dnp3_udp_select_operate.pcap",
            "dnp3/select_operate_and_responses.pcap",
            "dnp3/directoperate_and_response.pcap",
            "dnp3/cold_restart_and_response.pcap",
            "dnp3/unsolcited_response_and_confirm.pcap",
            "dnp3/file_read.pcap",
            "dnp3/immediate_freeze.pcap",
        ],
        fields: &["dnp3.al.func"],
        filter: None,
        decode_as: &[],
        codes: |f| all(&f[0]),
    },
    Check {
        protocol: "iec104",
        files: &[
            "iec104/090813_diverse.pcap",
            "iec104/JavaRMI_and_IEC_Misc.pcap",
        ],
        fields: &["iec60870_asdu.typeid", "iec60870_104.utype"],
        filter: None,
        decode_as: &[],
        // U-frames as 0x100 | control octet (tshark gives the function bit, control = bit << 2 | 3).
        codes: |f| {
            let mut out = all(&f[0]);
            out.extend(all(&f[1]).into_iter().map(|u| 0x100 | (u << 2) | 3));
            out
        },
    },
    Check {
        protocol: "mms",
        files: &[
            "iec61850/8d7c7db0-9804-012b-b2a6-0016cb8cea27.pcap",
            "iec61850/iec61850_get_name_list.pcap",
            "iec61850/iec61850_write.pcap",
            "iec61850/mms-initiateDownloadSequence.pcap",
            "iec61850/mms-stopRequest.pcap",
        ],
        // Confirmed requests of either side (ICCP peers ask each other): the service's tag.
        fields: &["mms.confirmedServiceRequest"],
        filter: None,
        decode_as: &[],
        codes: |f| all(&f[0]),
    },
    Check {
        protocol: "omron_fins",
        files: &["omron-fins/omron.pcap", "omron-fins/omron_test.pcap"],
        // Commands (ICF data type bit 0), whichever way they travel: MRC << 8 | SRC.
        fields: &["omron.command"],
        filter: Some("omron.icf.dtb == 0"),
        decode_as: &[],
        codes: |f| all(&f[0]),
    },
    Check {
        protocol: "c37_118",
        files: &["other-ics/C37.118_1PMU_UDP.pcap"],
        // The CMD of command frames (the PDC's).
        fields: &["synphasor.command"],
        filter: Some("synphasor.frtype == 4"),
        decode_as: &[],
        codes: |f| all(&f[0]),
    },
    Check {
        protocol: "enip",
        files: &[
            "enip/enip_test1.pcap",
            "enip/enip_cip_example.pcap",
            "enip/EthernetIP-CIP.pcap",
            "enip/cip_start_plc.pcap",
            "enip/cip_stop_plc.pcap",
            "enip/multiple_service_packet_cip.pcapng",
            "enip/set_attribute_single_service_cip.pcapng",
            "enip/EIP-RebootorRestart.pcap",
        ],
        fields: &["enip.command", "cip.sc", "cip.rr"],
        filter: None,
        decode_as: &[],
        // Encapsulation commands, and CIP services of requests (cip.rr == 0).
        codes: |f| {
            let mut out = all(&f[0]);
            for (sc, rr) in f[1].iter().zip(&f[2]) {
                if num(rr) == Some(0) {
                    out.extend(num(sc));
                }
            }
            out
        },
    },
    Check {
        protocol: "mqtt",
        files: &[
            "mqtt/mqtt31-sub-userpass.pcap",
            "mqtt/mqtt311-pub-userpass.pcap",
            "mqtt/mqtt5-pub-mosquittoprops.pcap",
            "mqtt/mqtt5_pub_jpeg.pcap",
            "mqtt/zeek-mqtt.pcap",
        ],
        fields: &["mqtt.msgtype"],
        // otwatch records the packet types clients send (the broker's PUBLISH to a subscriber
        // is delivery, not the client's operation).
        filter: Some("tcp.dstport == 1883"),
        decode_as: &[],
        codes: |f| all(&f[0]),
    },
    Check {
        protocol: "opcua",
        files: &[
            "opcua/open62541_browse_next.pcap",
            "opcua/open62541_client-server_encrypted.pcap",
            "opcua/open62541_client-server_mainloop.pcap",
            "opcua/open62541_client-server_mainloop-not-localhost-non-standard-port.pcap",
            "opcua/open62541_create_monitored_items.pcap",
            "opcua/open62541_discover_getendpoints_discover_urls.pcap",
            "opcua/python_opcua-client-server_minimal.pcap",
        ],
        fields: &["opcua.transport.type", "opcua.servicenodeid.numeric"],
        // Requests: bodies with a RequestHeader (only it has ReturnDiagnostics,
        // opcua.returndiag), and the OPN and CLO message types sent to the server, whose type
        // id otwatch takes from the message type because an encrypted channel hides it (tshark
        // then shows none). MSG on that channel: neither side reads a type id.
        filter: Some(
            "opcua.returndiag || ((tcp.dstport == 4840 || tcp.dstport == 48010) \
             && (opcua.transport.type == \"OPN\" || opcua.transport.type == \"CLO\"))",
        ),
        // The non-standard-port capture runs OPC UA on 48010, which tshark does not try.
        decode_as: &["tcp.port==48010,opcua"],
        codes: |f| {
            let mut out: Vec<u32> = f[0]
                .iter()
                .filter_map(|kind| match kind.as_str() {
                    "OPN" => Some(446),
                    "CLO" => Some(452),
                    _ => None,
                })
                .collect();
            out.extend(all(&f[1]));
            out
        },
    },
    Check {
        protocol: "bacnet",
        files: &[
            "bacnet/bacnet_example.pcap",
            "bacnet/bacnet_segmented_data.pcap",
            "bacnet/bacnet_test.pcap",
        ],
        fields: &[
            "bvlc.function",
            "bacapp.type",
            "bacapp.confirmed_service",
            "bacapp.unconfirmed_service",
        ],
        // Datagrams to a group MAC belong to no conversation (a Who-Is broadcast).
        filter: Some("eth.dst.ig == 0"),
        decode_as: &[],
        // Confirmed requests (type 0): the service choice; unconfirmed (type 1): 256 + choice;
        // BVLC table management (Write-BDT 1, Read-BDT 2, Register-FD 5, Read-FDT 6,
        // Delete-FDT-Entry 8): 0x8100 | function. Results, acks and errors carry no code.
        codes: |f| {
            let mut out: Vec<u32> = all(&f[0])
                .into_iter()
                .filter(|b| matches!(b, 1 | 2 | 5 | 6 | 8))
                .map(|b| 0x8100 | b)
                .collect();
            match all(&f[1]).first() {
                Some(0) => out.extend(all(&f[2])),
                Some(1) => out.extend(all(&f[3]).into_iter().map(|c| 256 + c)),
                _ => {}
            }
            out
        },
    },
    Check {
        protocol: "profinet_io",
        files: &[
            "profinet/profinet.pcap",
            "profinet/profinet_io_cm.pcap",
            "profinet/profinet_io_cm_connect.pcapng",
            "profinet/profinet_io_cm_control.pcapng",
            "mixed/profinet_io_cm_mixed_2.pcapng",
        ],
        fields: &["dcerpc.pkt_type", "dcerpc.opnum"],
        // Calls to the PNIO interfaces (device, controller, supervisor, parameter server).
        filter: Some(
            "dcerpc.dg_if_id == dea00001-6c97-11d1-8271-00a02442df7d \
             || dcerpc.dg_if_id == dea00002-6c97-11d1-8271-00a02442df7d \
             || dcerpc.dg_if_id == dea00003-6c97-11d1-8271-00a02442df7d \
             || dcerpc.dg_if_id == dea00004-6c97-11d1-8271-00a02442df7d",
        ),
        decode_as: &[],
        // Requests (packet type 0): the opnum.
        codes: |f| match all(&f[0]).first() {
            Some(0) => all(&f[1]),
            _ => Vec::new(),
        },
    },
    Check {
        protocol: "hart_ip",
        files: &["other-ics/hart_ip.pcap"],
        fields: &["hart_ip.pt.command"],
        // Requests (message type 0), not the ICMP error that quotes one.
        filter: Some("hart_ip.message_type == 0 && !icmp"),
        decode_as: &[],
        codes: |f| all(&f[0]),
    },
];

type Key = (IpAddr, IpAddr, u16);
/// (lower address, higher address, source port, destination port) → codes.
type PacketCodes = BTreeMap<(IpAddr, IpAddr, u16, u16), BTreeSet<u32>>;

fn key(a: IpAddr, b: IpAddr, port: u16) -> Key {
    if a <= b {
        (a, b, port)
    } else {
        (b, a, port)
    }
}

/// tshark's codes per (address pair, port), for every port the packet uses.
fn tshark_codes(file: &Path, check: &Check) -> Option<PacketCodes> {
    let mut args: Vec<String> = vec![
        "-r".into(),
        file.to_string_lossy().into_owned(),
        "-o".into(),
        "tcp.analyze_sequence_numbers:FALSE".into(),
        "-T".into(),
        "fields".into(),
        "-E".into(),
        "aggregator=,".into(),
    ];
    if let Some(f) = check.filter {
        args.push("-Y".into());
        args.push(f.into());
    }
    for d in check.decode_as {
        args.push("-d".into());
        args.push((*d).into());
    }
    for f in [
        "ip.src",
        "ip.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "ipv6.src",
        "ipv6.dst",
    ]
    .iter()
    .chain(check.fields)
    {
        args.push("-e".into());
        args.push((*f).into());
    }
    let out = Command::new("tshark").args(&args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map = PacketCodes::new();
    for line in text.lines() {
        let cols: Vec<Vec<String>> = line
            .split('\t')
            .map(|c| {
                c.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        let first = |i: usize| cols.get(i).and_then(|c| c.first()).cloned();
        let (Some(src), Some(dst)) = (
            first(0).or(first(6)).and_then(|s| s.parse::<IpAddr>().ok()),
            first(1).or(first(7)).and_then(|s| s.parse::<IpAddr>().ok()),
        ) else {
            continue;
        };
        let sport = first(2)
            .or(first(4))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let dport = first(3)
            .or(first(5))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let fields: Vec<Vec<String>> = cols.get(8..).map(<[_]>::to_vec).unwrap_or_default();
        if fields.len() < check.fields.len() {
            continue;
        }
        let codes = (check.codes)(&fields);
        if codes.is_empty() {
            continue;
        }
        let (a, b) = if src <= dst { (src, dst) } else { (dst, src) };
        map.entry((a, b, sport, dport)).or_default().extend(codes);
    }
    Some(map)
}

#[test]
fn function_codes_per_connection_match_tshark() {
    let Some(dir) = corpus_root() else {
        return;
    };
    if tshark::missing() {
        return;
    }
    let mut failures = Vec::new();
    let mut compared = 0;
    for check in CHECKS {
        for rel in check.files {
            let file = dir.join(rel);
            let report = analyze(&AnalyzeOptions {
                inputs: vec![file.clone()],
                state: None,
                progress: false,
                ..Default::default()
            })
            .unwrap()
            .report;
            let theirs = tshark_codes(&file, check).expect("run tshark");
            let mut ours_total: BTreeMap<Key, BTreeSet<u32>> = BTreeMap::new();
            for c in report
                .connections
                .iter()
                .filter(|c| c.protocol == check.protocol)
            {
                let (cl, sv): (IpAddr, IpAddr) =
                    (c.client.parse().unwrap(), c.server.parse().unwrap());
                let k = key(cl, sv, c.port as u16);
                ours_total.entry(k).or_default().extend(
                    c.function_codes
                        .iter()
                        .filter_map(|f| f.parse::<u32>().ok()),
                );
            }
            // Compared per address pair: a pair may hold flows in both directions (a device that
            // connects out from port 502), and the report aggregates by server port.
            let mut by_pair: BTreeMap<(IpAddr, IpAddr), BTreeSet<u32>> = BTreeMap::new();
            for (k, codes) in &ours_total {
                by_pair
                    .entry((k.0, k.1))
                    .or_default()
                    .extend(codes.iter().copied());
            }
            let ports: BTreeSet<u16> = ours_total.keys().map(|k| k.2).collect();
            for ((a, b), ours) in &by_pair {
                let k = (*a, *b, 0u16);
                let mut expected = BTreeSet::new();
                for ((x, y, sp, dp), codes) in &theirs {
                    if (*x, *y) == (*a, *b) && (ports.contains(sp) || ports.contains(dp)) {
                        expected.extend(codes.iter().copied());
                    }
                }
                compared += 1;
                if *ours != expected {
                    failures.push(format!(
                        "{rel} {} {}<->{}: ours {ours:x?} tshark {expected:x?}",
                        check.protocol, k.0, k.1
                    ));
                }
            }
            if ours_total.is_empty() {
                failures.push(format!("{rel}: no {} connection found", check.protocol));
            }
        }
    }
    eprintln!("compared {compared} connections with tshark");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// PROFINET DCP runs on Ethernet without IP: no connection holds its codes. Each source MAC's
/// role must match tshark: Identify, Get and Set requests (pn_dcp.service_id 5, 3, 4 with
/// pn_dcp.service_type 0) make a client; responses and Hello make a server.
#[test]
fn profinet_dcp_roles_per_mac_match_tshark() {
    let Some(dir) = corpus_root() else {
        return;
    };
    if tshark::missing() {
        return;
    }
    let files = [
        "profinet/PROFINET-RT.pcap",
        "profinet/profinet-wireshark-bug.pcap",
        "mixed/profinet_io_cm_mixed_2.pcapng",
    ];
    let mut failures = Vec::new();
    for rel in files {
        let file = dir.join(rel);
        let out = Command::new("tshark")
            .args([
                "-r",
                &file.to_string_lossy(),
                "-Y",
                "pn_dcp && eth.src.ig == 0",
            ])
            .args(["-T", "fields", "-E", "aggregator=,"])
            .args([
                "-e",
                "eth.src",
                "-e",
                "pn_dcp.service_id",
                "-e",
                "pn_dcp.service_type",
            ])
            .output()
            .expect("run tshark");
        let mut theirs: BTreeSet<(String, &str)> = BTreeSet::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            let (Some(mac), Some(id), Some(ty)) = (
                cols.first(),
                cols.get(1).and_then(|s| num(s)),
                cols.get(2).and_then(|s| num(s)),
            ) else {
                continue;
            };
            let role = if ty == 0 && matches!(id, 3..=5) {
                "client"
            } else {
                "server"
            };
            theirs.insert((mac.to_string(), role));
        }
        let report = analyze(&AnalyzeOptions {
            inputs: vec![file.clone()],
            state: None,
            progress: false,
            ..Default::default()
        })
        .unwrap()
        .report;
        let mut ours: BTreeSet<(String, &str)> = BTreeSet::new();
        for a in &report.assets {
            for p in a.protocols.iter().filter(|p| p.name == "profinet_dcp") {
                let role = if p.role == "client" {
                    "client"
                } else {
                    "server"
                };
                for m in &a.macs {
                    ours.insert((m.clone(), role));
                }
            }
        }
        if theirs.is_empty() {
            failures.push(format!("{rel}: tshark found no DCP frame"));
        }
        if ours != theirs {
            failures.push(format!("{rel}: ours {ours:?} tshark {theirs:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// GOOSE runs on Ethernet without IP: each publisher is its source MAC. Every MAC tshark sees
/// publishing (goose.gocbRef) must be an asset speaking `goose` as server, named after the
/// logical device of its gocbRef, and no other asset may speak it.
#[test]
fn goose_publishers_per_mac_match_tshark() {
    let Some(dir) = corpus_root() else {
        return;
    };
    if tshark::missing() {
        return;
    }
    let mut failures = Vec::new();
    for rel in ["iec61850/GOOSE.pcap", "iec61850/Sample_File_GOOSE.pcap"] {
        let file = dir.join(rel);
        let out = Command::new("tshark")
            .args(["-r", &file.to_string_lossy(), "-Y", "goose"])
            .args(["-T", "fields", "-e", "eth.src", "-e", "goose.gocbRef"])
            .output()
            .expect("run tshark");
        let theirs: BTreeSet<(String, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (mac, gocb) = l.split_once('\t')?;
                Some((mac.to_owned(), gocb.split_once('/')?.0.to_owned()))
            })
            .collect();
        let report = analyze(&AnalyzeOptions {
            inputs: vec![file.clone()],
            state: None,
            progress: false,
            ..Default::default()
        })
        .unwrap()
        .report;
        let ours: BTreeSet<(String, String)> = report
            .assets
            .iter()
            .filter(|a| {
                a.protocols
                    .iter()
                    .any(|p| p.name == "goose" && p.role == "server")
            })
            .flat_map(|a| a.macs.iter().map(|m| (m.clone(), a.hostname.clone())))
            .collect();
        if theirs.is_empty() {
            failures.push(format!("{rel}: tshark found no GOOSE frame"));
        }
        if ours != theirs {
            failures.push(format!("{rel}: ours {ours:?} tshark {theirs:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
