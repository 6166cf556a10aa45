#![allow(clippy::unwrap_used, clippy::expect_used)]
//! S7comm and S7comm-plus on whole real captures, with expected values checked against
//! tshark's dissection of the same files (the tshark field each value came from is noted).

mod common;

use common::{asset, data, report};
use otwatch_common::model::{Asset, Connection, InventoryReport};

fn connection<'a>(r: &'a InventoryReport, protocol: &str) -> &'a Connection {
    let mut cs = r.connections.iter().filter(|c| c.protocol == protocol);
    let c = cs
        .next()
        .unwrap_or_else(|| panic!("no {protocol} connection"));
    assert!(cs.next().is_none(), "one {protocol} connection");
    c
}

fn evidence(a: &Asset, field: &str, source: &str) -> Vec<String> {
    a.evidence
        .iter()
        .filter(|e| e.field == field && e.source == source)
        .map(|e| e.value.clone())
        .collect()
}

#[test]
fn s7comm_szl_identity_rack_slot_and_operations() {
    let r = report(&data("s7comm_reading_plc_status.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    let plc = asset(&r, "192.168.1.40");
    // s7comm.szl.xy11.0001.anz of index 1 (frame 59)
    assert_eq!(plc.model, "6ES7 151-8AB01-0AB0");
    // index 7: Ausbg 22019 = 'V' 3, Ausbe 518 = 2.6
    assert_eq!(plc.firmware, "V3.2.6");
    // s7comm.szl.001c.0005.serialn, s7comm.szl.001c.0001.name (reassembled in frame 72)
    assert_eq!(plc.serial, "S C-C6TW74882012");
    assert_eq!(plc.hostname, "IM151-8-CPU");
    assert_eq!(plc.vendor, "Siemens");
    assert_eq!(plc.device_type, "plc");
    // s7comm.szl.001c.0002.name
    assert_eq!(
        evidence(plc, "description", "s7 szl 0x001c"),
        ["IM151-8 PN/DP CPU"]
    );
    // cotp.dst-tsap-bytes 0102 of the CR (frame 8)
    assert_eq!(
        evidence(plc, "description", "s7 cotp tsap"),
        ["rack 0 slot 2"]
    );
    assert!(plc
        .protocols
        .iter()
        .any(|p| p.name == "s7comm" && p.role == "server"));

    let c = connection(&r, "s7comm");
    assert_eq!((c.client.as_str(), c.port), ("192.168.1.10", 102));
    // s7comm.param.func 0xf0; userdata CPU functions (4) read SZL (1) and message
    // service (2), time functions (7) read clock (1).
    assert_eq!(c.function_codes, ["240", "459777", "459778", "460545"]);
    assert_eq!(c.operations, ["diagnostics", "identify", "read"]);
}

#[test]
fn s7comm_plus_session_identity_and_operations() {
    let r = report(&data("S7-1511_db2_var1_HMI.pcap"));
    assert!(r.stats().protocol_violations.is_empty());
    // The CreateObject answer's ServerSessionVersion "1;6ES7 511-1AK00-0AB0;V1.0" (frame 7).
    let plc = asset(&r, "192.168.25.139");
    assert_eq!(plc.model, "6ES7 511-1AK00-0AB0");
    assert_eq!(plc.firmware, "V1.0");
    assert_eq!(plc.vendor, "Siemens");
    assert_eq!(plc.device_type, "plc");
    // The called TSAP is "SIMATIC-ROOT-HMI": no rack/slot.
    assert!(evidence(plc, "description", "s7 cotp tsap").is_empty());
    let c = connection(&r, "s7comm_plus");
    assert_eq!(c.client, "192.168.25.147");
    // CreateObject 0x04ca, DeleteObject 0x04d4, SetMultiVariables 0x0542,
    // GetMultiVariables 0x054c.
    assert_eq!(c.function_codes, ["1226", "1236", "1346", "1356"]);
    assert_eq!(c.operations, ["read", "write"]);
    assert!(r.connections.iter().all(|c| c.protocol != "s7comm"));
}

#[test]
fn read_and_write_var_items_become_data_block_ranges() {
    let r = report(&data("mb2.pcap"));
    // tshark on requests to 141.81.0.130 (s7comm.param.item.area 0x84, .db, .address.byte,
    // .length, .transp_size): DB14 bytes 0-13 and DB24 byte 0 and 6-9 read (BYTE), DB25 bit
    // 0.0 read and written.
    let c = r
        .connections
        .iter()
        .find(|c| c.server == "141.81.0.130" && c.protocol == "s7comm")
        .unwrap();
    let got: Vec<(Option<u32>, &str, &str, &str)> = c
        .accessed
        .iter()
        .map(|a| (a.unit, a.area.as_str(), a.op.as_str(), a.ranges.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (None, "db14", "read", "0-13"),
            (None, "db24", "read", "0,6-9"),
            (None, "db25", "read", "0"),
            (None, "db25", "write", "0"),
        ]
    );
}
