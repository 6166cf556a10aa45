//! What is forwarded: an [`Event`], one flat record per alert change or inventory change,
//! with a stable id a receiver dedupes on (delivery is at least once).

use otwatch_proto::v1::{Asset, FleetAlert};
use serde::{Deserialize, Serialize};

/// One forwarded event. Alert fields are empty for inventory events and the other way round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    /// Stable: the same change gives the same id, on every delivery and after a restart.
    pub id: String,
    /// alert, new_asset or firmware_changed.
    pub event: String,
    /// When the manager applied the change (RFC 3339, UTC).
    pub time: String,
    pub site: String,
    pub sensor: String,
    /// The fleet alert id (`<sensor>/<alert id>`).
    pub alert_id: String,
    /// The alert kind (docs/DETECTION.md).
    pub kind: String,
    pub severity: String,
    /// new, acknowledged or resolved.
    pub state: String,
    /// Who set the state (an operator), or empty.
    pub state_by: String,
    /// The comment given with the state, or empty.
    pub state_comment: String,
    pub title: String,
    pub description: String,
    pub src: String,
    pub dst: String,
    pub protocol: String,
    pub mitre: Vec<String>,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// The asset (`<sensor>/<asset id>`) the event is about.
    pub asset_id: String,
    pub asset_ip: String,
    pub asset_mac: String,
    pub vendor: String,
    pub model: String,
    pub firmware: String,
    /// For firmware_changed: the firmware before.
    pub previous_firmware: String,
}

/// A hex SHA-256 (first 128 bits) of `parts`, NUL-separated: the id of an event.
fn event_id(parts: &[&str]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p.as_bytes());
        ctx.update(&[0]);
    }
    ctx.finish().as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Event {
    /// An alert stored or changed: new from a sensor, reopened, or set by an operator. `change`
    /// tells the changes of one alert apart (the sensor's delta sequence number, or the
    /// operator's time of change).
    pub fn alert(fa: &FleetAlert, change: &str, time: &str) -> Event {
        let a = fa.alert.clone().unwrap_or_default();
        Event {
            id: event_id(&["alert", &fa.id, &fa.state, change]),
            event: "alert".into(),
            time: time.to_string(),
            site: fa.site.clone(),
            sensor: fa.sensor_id.clone(),
            alert_id: fa.id.clone(),
            kind: a.kind,
            severity: a.severity,
            state: fa.state.clone(),
            state_by: fa.updated_by.clone(),
            state_comment: fa
                .history
                .last()
                .filter(|n| n.state == fa.state && n.at == fa.updated_at && n.by == fa.updated_by)
                .map(|n| n.comment.clone())
                .unwrap_or_default(),
            title: a.title,
            description: a.description,
            src: a.src,
            dst: a.dst,
            protocol: a.protocol,
            mitre: a.mitre,
            count: a.count,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
            asset_id: if a.asset.is_empty() {
                String::new()
            } else {
                format!("{}/{}", fa.sensor_id, a.asset)
            },
            ..Event::default()
        }
    }

    /// An inventory change: `event` new_asset (`before` None) or firmware_changed. `seq`: the
    /// sensor's delta sequence number that carried it.
    pub fn asset(
        event: &str,
        (site, sensor): (&str, &str),
        a: &Asset,
        before: Option<&Asset>,
        seq: u64,
        time: &str,
    ) -> Event {
        let asset_id = format!("{sensor}/{}", a.id);
        Event {
            id: event_id(&[event, &asset_id, &seq.to_string()]),
            event: event.into(),
            time: time.to_string(),
            site: site.to_string(),
            sensor: sensor.to_string(),
            severity: "info".into(),
            title: match event {
                "new_asset" => format!("new asset {}", a.id),
                _ => format!("firmware of {} changed", a.id),
            },
            asset_id,
            asset_ip: a.ips.first().cloned().unwrap_or_default(),
            asset_mac: a.macs.first().cloned().unwrap_or_default(),
            vendor: a.vendor.clone(),
            model: a.model.clone(),
            firmware: a.firmware.clone(),
            previous_firmware: before.map(|b| b.firmware.clone()).unwrap_or_default(),
            first_seen: a.first_seen.clone(),
            last_seen: a.last_seen.clone(),
            ..Event::default()
        }
    }
}

/// Whether `rule` selects `e`.
pub fn matches(rule: &super::config::RuleConfig, e: &Event) -> bool {
    if !rule.events.contains(&e.event) {
        return false;
    }
    if !rule.sites.is_empty() && !rule.sites.contains(&e.site) {
        return false;
    }
    if e.event != "alert" {
        return true;
    }
    let kind_ok = rule.kinds.is_empty()
        || rule.kinds.iter().any(|k| match k.strip_suffix('*') {
            Some(prefix) => e.kind.starts_with(prefix),
            None => *k == e.kind,
        });
    kind_ok
        && super::config::severity_rank(&e.severity)
            >= super::config::severity_rank(&rule.min_severity)
}

impl Event {
    /// A test event for `dest` (`otwatch forwards test`), unique by `nanos`.
    pub fn test(dest: &str, time: &str, nanos: u128) -> Event {
        Event {
            id: event_id(&["test", dest, &nanos.to_string()]),
            event: "test".into(),
            time: time.to_string(),
            kind: "forwarding_test".into(),
            severity: "info".into(),
            title: format!("otwatch forwarding test to {dest}"),
            description: "Sent by `otwatch forwards test`; no action needed.".into(),
            ..Event::default()
        }
    }
}
