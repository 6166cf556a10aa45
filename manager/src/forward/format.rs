//! The payloads: CEF and LEEF 2.0 lines (docs/FORWARDING.md has the field mappings) and the
//! RFC 5424 syslog header around them.

use super::event::Event;
use otwatch_common::Timestamp;

/// The product otwatch names itself in CEF and LEEF headers.
const VENDOR: &str = "otwatch";
const PRODUCT: &str = "otwatch";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// CEF severity (0-10) of an alert severity.
pub fn cef_severity(s: &str) -> u8 {
    match s {
        "critical" => 10,
        "high" => 8,
        "medium" => 5,
        "low" => 3,
        _ => 1,
    }
}

/// RFC 5424 severity (6.2.1) of an alert severity.
pub fn syslog_severity(s: &str) -> u8 {
    match s {
        "critical" => 2,
        "high" => 3,
        "medium" => 4,
        "low" => 5,
        _ => 6,
    }
}

/// Milliseconds since the epoch of an RFC 3339 time, for CEF's rt/start/end.
fn epoch_ms(t: &str) -> Option<u64> {
    Timestamp::parse_rfc3339(t).map(|t| t.0 / 1_000_000)
}

/// CEF header field: `\` and `|` escaped; line breaks become spaces (a header is one line).
fn cef_header(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\r' | '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// CEF extension value: `\`, `=` escaped, line breaks as `\n` / `\r`.
fn cef_value(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '=' => o.push_str("\\="),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// (source key, destination key) for an address: IPs as src/dst, MACs as smac/dmac.
fn address_keys(a: &str, ip: (&'static str, &'static str)) -> &'static str {
    if is_ip(a) {
        ip.0
    } else {
        ip.1
    }
}

/// The CEF signature id and name of an event.
fn signature(e: &Event) -> (&str, &str) {
    if e.event == "alert" {
        (&e.kind, &e.title)
    } else {
        (&e.event, &e.title)
    }
}

/// The event as one CEF:0 line.
pub fn cef(e: &Event) -> String {
    let (sig, name) = signature(e);
    let mut out = format!(
        "CEF:0|{}|{}|{}|{}|{}|{}|",
        cef_header(VENDOR),
        cef_header(PRODUCT),
        cef_header(VERSION),
        cef_header(sig),
        cef_header(name),
        cef_severity(&e.severity)
    );
    let mut ext: Vec<(&str, String)> = vec![("externalId", e.id.clone()), ("cat", e.event.clone())];
    if let Some(ms) = epoch_ms(&e.time) {
        ext.push(("rt", ms.to_string()));
    }
    if !e.state.is_empty() {
        ext.push(("act", e.state.clone()));
    }
    if !e.state_by.is_empty() {
        ext.push(("suser", e.state_by.clone()));
    }
    if !e.state_comment.is_empty() {
        ext.push(("reason", e.state_comment.clone()));
    }
    if !e.src.is_empty() {
        ext.push((address_keys(&e.src, ("src", "smac")), e.src.clone()));
    }
    if !e.dst.is_empty() {
        ext.push((address_keys(&e.dst, ("dst", "dmac")), e.dst.clone()));
    }
    let mut push = |k: &'static str, v: &str| {
        if !v.is_empty() {
            ext.push((k, v.to_string()));
        }
    };
    push("app", &e.protocol);
    push("msg", &e.description);
    let labelled: [(&str, &str, &str, &str); 8] = [
        ("cs1", "cs1Label", "site", &e.site),
        ("cs2", "cs2Label", "sensor", &e.sensor),
        ("cs3", "cs3Label", "alertId", &e.alert_id),
        ("cs4", "cs4Label", "mitre", &e.mitre.join(",")),
        ("cs5", "cs5Label", "assetId", &e.asset_id),
        ("cs6", "cs6Label", "firmware", &e.firmware),
        (
            "flexString1",
            "flexString1Label",
            "previousFirmware",
            &e.previous_firmware,
        ),
        ("flexString2", "flexString2Label", "vendor", &e.vendor),
    ];
    for (k, lk, label, v) in labelled {
        if !v.is_empty() {
            ext.push((k, v.to_string()));
            ext.push((lk, label.to_string()));
        }
    }
    if !e.model.is_empty() {
        ext.push(("deviceModel", e.model.clone()));
    }
    if e.count > 0 {
        ext.push(("cnt", e.count.to_string()));
    }
    if let Some(ms) = epoch_ms(&e.first_seen) {
        ext.push(("start", ms.to_string()));
    }
    if let Some(ms) = epoch_ms(&e.last_seen) {
        ext.push(("end", ms.to_string()));
    }
    let ext: Vec<String> = ext
        .into_iter()
        .map(|(k, v)| format!("{k}={}", cef_value(&v)))
        .collect();
    out.push_str(&ext.join(" "));
    out
}

/// The LEEF 2.0 attribute delimiter: tab (written `x09` in the header).
pub const LEEF_DELIMITER: char = '\t';

/// A LEEF header field or attribute value: the header's `|`, the delimiter and line breaks
/// cannot be escaped in LEEF, so they become spaces.
fn leef_clean(s: &str, header: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\r' | '\n' => ' ',
            '|' if header => ' ',
            c => c,
        })
        .collect()
}

/// The event as one LEEF:2.0 line, attributes separated by tabs.
pub fn leef(e: &Event) -> String {
    let (sig, _) = signature(e);
    let mut attrs: Vec<(&str, String)> = vec![
        ("eventId", e.id.clone()),
        ("cat", e.event.clone()),
        ("sev", cef_severity(&e.severity).to_string()),
        ("severity", e.severity.clone()),
        ("devTime", e.time.clone()),
        ("devTimeFormat", "yyyy-MM-dd'T'HH:mm:ssX".into()),
    ];
    if !e.src.is_empty() {
        attrs.push((address_keys(&e.src, ("src", "srcMAC")), e.src.clone()));
    }
    if !e.dst.is_empty() {
        attrs.push((address_keys(&e.dst, ("dst", "dstMAC")), e.dst.clone()));
    }
    let more: [(&str, String); 19] = [
        ("site", e.site.clone()),
        ("sensor", e.sensor.clone()),
        ("alertId", e.alert_id.clone()),
        ("kind", e.kind.clone()),
        ("state", e.state.clone()),
        ("usrName", e.state_by.clone()),
        ("stateComment", e.state_comment.clone()),
        ("title", e.title.clone()),
        ("description", e.description.clone()),
        ("proto", e.protocol.clone()),
        ("mitre", e.mitre.join(",")),
        (
            "count",
            if e.count > 0 {
                e.count.to_string()
            } else {
                String::new()
            },
        ),
        ("firstSeen", e.first_seen.clone()),
        ("lastSeen", e.last_seen.clone()),
        ("assetId", e.asset_id.clone()),
        ("vendor", e.vendor.clone()),
        ("model", e.model.clone()),
        ("firmware", e.firmware.clone()),
        ("previousFirmware", e.previous_firmware.clone()),
    ];
    attrs.extend(more.into_iter().filter(|(_, v)| !v.is_empty()));
    let body: Vec<String> = attrs
        .into_iter()
        .map(|(k, v)| format!("{k}={}", leef_clean(&v, false)))
        .collect();
    format!(
        "LEEF:2.0|{}|{}|{}|{}|x09|{}",
        leef_clean(VENDOR, true),
        leef_clean(PRODUCT, true),
        leef_clean(VERSION, true),
        leef_clean(sig, true),
        body.join(&LEEF_DELIMITER.to_string())
    )
}

/// An RFC 5424 message (6.) around `msg`: PRI from `facility` and the event's severity,
/// VERSION 1, the event's time, `host`, APP-NAME otwatch, no PROCID, MSGID the event type,
/// no structured data.
pub fn syslog5424(e: &Event, facility: u8, host: &str, msg: &str) -> String {
    let pri = u16::from(facility) * 8 + u16::from(syslog_severity(&e.severity));
    let field = |s: &str, max: usize| -> String {
        // PRINTUSASCII, 1 to max characters (6.2).
        let v: String = s
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(max)
            .collect();
        if v.is_empty() {
            "-".into()
        } else {
            v
        }
    };
    let time = if Timestamp::parse_rfc3339(&e.time).is_some() {
        e.time.clone()
    } else {
        "-".into()
    };
    format!(
        "<{pri}>1 {time} {} otwatch - {} - {msg}",
        field(host, 255),
        field(&e.event, 32)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Event {
        Event {
            id: "ab".into(),
            event: "alert".into(),
            time: "2026-12-07T10:00:00Z".into(),
            kind: "plc_stop".into(),
            severity: "high".into(),
            title: "a|b\\c".into(),
            description: "x=1\nnext".into(),
            src: "10.0.0.1".into(),
            dst: "00:11:22:33:44:55".into(),
            mitre: vec!["T0881".into(), "T0816".into()],
            count: 3,
            ..Event::default()
        }
    }

    #[test]
    fn cef_escapes_header_and_extension() {
        let l = cef(&ev());
        assert!(l.starts_with("CEF:0|otwatch|otwatch|"), "{l}");
        assert!(l.contains("|plc_stop|a\\|b\\\\c|8|"), "{l}");
        assert!(l.contains("msg=x\\=1\\nnext"), "{l}");
        assert!(l.contains(" src=10.0.0.1 dmac=00:11:22:33:44:55"), "{l}");
        assert!(l.contains("cs4=T0881,T0816 cs4Label=mitre"), "{l}");
        assert!(l.contains("rt=1796637600000"), "{l}");
    }

    #[test]
    fn leef_uses_tab_and_no_line_breaks() {
        let l = leef(&ev());
        assert!(l.starts_with("LEEF:2.0|otwatch|otwatch|"), "{l}");
        assert!(l.contains("|plc_stop|x09|eventId=ab\t"), "{l}");
        assert!(l.contains("\tdescription=x=1 next\t"), "{l}");
        assert!(!l.contains('\n'));
    }

    #[test]
    fn syslog_header_has_pri_and_msgid() {
        let m = syslog5424(&ev(), 13, "mgr host", "CEF:0|x");
        assert_eq!(
            m,
            "<107>1 2026-12-07T10:00:00Z mgrhost otwatch - alert - CEF:0|x"
        );
    }
}
