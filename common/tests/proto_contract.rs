#![allow(clippy::unwrap_used)]
//! The JSON model must use exactly the field names of `proto/otwatch/v1/inventory.proto`.

use otwatch_common::model::*;
use std::collections::{BTreeMap, BTreeSet};

fn proto_messages() -> BTreeMap<String, BTreeSet<String>> {
    let text = include_str!("../../proto/otwatch/v1/inventory.proto");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("message ") {
            current = rest.split_whitespace().next().map(str::to_string);
            continue;
        }
        if line == "}" {
            current = None;
            continue;
        }
        let Some(msg) = &current else { continue };
        if line.starts_with("//") || !line.contains('=') {
            continue;
        }
        // `[repeated|optional] type name = N;` or `map<K, V> name = N;`
        let before_eq = line.split('=').next().unwrap_or_default().trim();
        if let Some(name) = before_eq.split_whitespace().last() {
            out.entry(msg.clone()).or_default().insert(name.to_string());
        }
    }
    out
}

fn json_keys<T: serde::Serialize>(v: &T) -> BTreeSet<String> {
    match serde_json::to_value(v).unwrap() {
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn model_fields_are_the_proto_fields() {
    let proto = proto_messages();
    // Fields left out of the JSON when empty are filled in, so that their names are checked.
    let asset = Asset {
        purdue_level: Some(1),
        vlans: vec![10],
        ..Asset::default()
    };
    let checks: Vec<(&str, BTreeSet<String>)> = vec![
        ("InventoryReport", json_keys(&InventoryReport::default())),
        ("CaptureStats", json_keys(&CaptureStats::default())),
        ("CaptureSource", json_keys(&CaptureSource::default())),
        ("Asset", json_keys(&asset)),
        ("ProtocolUse", json_keys(&ProtocolUse::default())),
        ("Evidence", json_keys(&Evidence::default())),
        (
            "Connection",
            json_keys(&Connection {
                vlan: 10,
                ..Connection::default()
            }),
        ),
        ("CleartextLogin", json_keys(&CleartextLogin::default())),
        (
            "AccessedRanges",
            json_keys(&AccessedRanges {
                unit: Some(1),
                ..AccessedRanges::default()
            }),
        ),
        ("Alert", json_keys(&Alert::default())),
    ];
    for (msg, keys) in checks {
        let want = proto
            .get(msg)
            .unwrap_or_else(|| panic!("proto has no message {msg}"));
        assert_eq!(&keys, want, "{msg}: model and proto disagree");
    }
}
