//! Forwarding to a real rsyslog, started by the test in its own directory on free loopback
//! ports: CEF over TLS (RFC 5425, the receiver's certificate issued by the manager's CA and
//! checked against it), CEF over TLS with the manager's client certificate to a receiver that
//! requires one, LEEF 2.0 over TCP, and JSON over UDP. The lines rsyslog writes parse back to
//! the same alerts, field by field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::skip::{skip, Need};
use common::Fixture;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::{delta, Alert, AlertActionRequest, AlertEvidence, Delta};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// rsyslogd, killed and reaped on drop.
struct Rsyslog(Child);

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rsyslogd() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Starts rsyslogd with a TLS listener (gtls, the manager's server certificate) writing to
/// `cef.log`, a TLS listener that requires a client certificate from the same CA writing to
/// `mtls.log`, a plain TCP listener writing to `leef.log` and a UDP one writing to
/// `json.log`, each message's raw text a line. `ports`: TLS, mutual TLS, TCP, UDP.
fn start_rsyslog(bin: &Path, dir: &Path, certs: &Path, ports: [u16; 4]) -> Rsyslog {
    let [tls_port, mtls_port, tcp_port, udp_port] = ports;
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let p = |n: &str| certs.join(n).display().to_string();
    let conf = format!(
        r#"
global(
  workDirectory="{work}"
  defaultNetstreamDriverCAFile="{ca}"
  defaultNetstreamDriverCertFile="{cert}"
  defaultNetstreamDriverKeyFile="{key}"
  parser.escapeControlCharactersOnReceive="off"
  maxMessageSize="64k"
)
module(load="imtcp")
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="cef") {{ action(type="omfile" file="{dir}/cef.log" template="raw") }}
ruleset(name="mtls") {{ action(type="omfile" file="{dir}/mtls.log" template="raw") }}
ruleset(name="leef") {{ action(type="omfile" file="{dir}/leef.log" template="raw") }}
ruleset(name="json") {{ action(type="omfile" file="{dir}/json.log" template="raw") }}
input(type="imtcp" port="{tls_port}" address="127.0.0.1" ruleset="cef"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" port="{mtls_port}" address="127.0.0.1" ruleset="mtls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
input(type="imtcp" port="{tcp_port}" address="127.0.0.1" ruleset="leef")
input(type="imudp" port="{udp_port}" address="127.0.0.1" ruleset="json")
"#,
        work = work.display(),
        ca = p("ca.pem"),
        cert = p("server.pem"),
        key = p("server.key"),
        dir = dir.display(),
    );
    let conf_path = dir.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let check = Command::new(bin)
        .args(["-N1", "-f"])
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "rsyslog refuses its config: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(bin)
        .args(["-n", "-f"])
        .arg(&conf_path)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("rsyslogd.err")).unwrap())
        .spawn()
        .unwrap();
    let r = Rsyslog(child);
    for port in [tls_port, mtls_port, tcp_port] {
        let up = (0..100).any(|_| {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() || {
                std::thread::sleep(Duration::from_millis(50));
                false
            }
        });
        assert!(
            up,
            "rsyslogd does not listen on {port}: {}",
            std::fs::read_to_string(dir.join("rsyslogd.err")).unwrap_or_default()
        );
    }
    r
}

/// Alerts with every field set, and text that needs escaping in CEF and cleaning in LEEF.
fn alerts() -> Vec<Alert> {
    (1..=4)
        .map(|i| Alert {
            id: format!("al{i}"),
            kind: [
                "plc_stop",
                "cleartext_credentials",
                "arp_spoofing",
                "rule:pipe|eq=back\\slash",
            ][i - 1]
                .into(),
            severity: ["critical", "high", "medium", "low"][i - 1].into(),
            title: format!("alert {i} | with a pipe and a \\ backslash"),
            description: format!("line one = {i}\nline two\twith a tab"),
            mitre: vec!["T0816".into(), format!("T08{i}0")],
            src: format!("10.1.0.{i}"),
            dst: if i % 2 == 0 {
                format!("02:00:00:00:00:0{i}")
            } else {
                format!("10.2.0.{i}")
            },
            asset: format!("ip:10.1.0.{i}"),
            protocol: "s7comm".into(),
            first_seen: format!("2026-12-0{i}T10:00:00Z"),
            last_seen: format!("2026-12-0{i}T10:05:00Z"),
            count: 3 * i as u64,
            evidence: vec![AlertEvidence {
                field: "function".into(),
                value: "0x29".into(),
            }],
        })
        .collect()
}

fn unescape_cef(s: &str) -> String {
    let mut o = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => o.push('\n'),
                Some('r') => o.push('\r'),
                Some(c) => o.push(c),
                None => o.push('\\'),
            }
        } else {
            o.push(c);
        }
    }
    o
}

/// (header fields, extension) of a CEF line: `|` splits the header unless escaped; the
/// extension's keys are the words before an unescaped `=`.
fn parse_cef(line: &str) -> (Vec<String>, HashMap<String, String>) {
    let start = line.find("CEF:0|").expect("a CEF message");
    let body = &line[start..];
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = body.char_indices();
    let mut rest = "";
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some((_, n)) = chars.next() {
                    cur.push(n);
                }
            }
            '|' => {
                header.push(unescape_cef(&cur));
                cur.clear();
                if header.len() == 7 {
                    rest = &body[i + 1..];
                    break;
                }
            }
            c => cur.push(c),
        }
    }
    // Split the extension at " key=" where '=' is unescaped.
    let mut ext = HashMap::new();
    let bytes = rest.as_bytes();
    let mut keys = Vec::new(); // (key start, '=' index)
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == b'=' {
            let ks = rest[..i].rfind(' ').map_or(0, |s| s + 1);
            keys.push((ks, i));
        }
        i += 1;
    }
    for (n, (ks, eq)) in keys.iter().enumerate() {
        let end = keys
            .get(n + 1)
            .map_or(rest.len(), |(k, _)| k.saturating_sub(1));
        ext.insert(rest[*ks..*eq].to_string(), unescape_cef(&rest[eq + 1..end]));
    }
    (header, ext)
}

/// (header fields, attributes) of a LEEF 2.0 line with a tab delimiter.
fn parse_leef(line: &str) -> (Vec<String>, HashMap<String, String>) {
    let start = line.find("LEEF:2.0|").expect("a LEEF message");
    let parts: Vec<&str> = line[start..].splitn(7, '|').collect();
    assert_eq!(parts[5], "x09", "{line}");
    let attrs = parts[6]
        .split('\t')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    (parts.iter().map(|s| s.to_string()).collect(), attrs)
}

fn ms(t: &str) -> String {
    (otwatch_common::Timestamp::parse_rfc3339(t).unwrap().0 / 1_000_000).to_string()
}

fn lines(path: &Path, n: usize, what: &str) -> Vec<String> {
    for _ in 0..200 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let l: Vec<String> = text.lines().map(str::to_string).collect();
        if l.len() >= n {
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what}: fewer than {n} lines in {}:\n{}\n--- manager log ---\n{}",
        path.display(),
        std::fs::read_to_string(path).unwrap_or_default(),
        common::logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_receives_cef_over_tls_and_leef_over_tcp_that_parse_back_to_the_alerts() {
    let Some(bin) = rsyslogd() else {
        skip(
            "rsyslogd is not installed (Debian: rsyslog rsyslog-gnutls)",
            Need::InCi,
        );
        return;
    };
    let mut fx = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ports = [(); 4].map(|()| common::fleet::free_port());
    let [tls_port, mtls_port, tcp_port, udp_port] = ports;
    let rsyslog = start_rsyslog(&bin, dir.path(), &fx.data(), ports);
    // The manager's client certificate for the receiver that asks for one.
    let client = fx.operator_creds("forwarder", OperatorRole::Viewer);
    let fwd = dir.path().join("forwarding.toml");
    std::fs::write(
        &fwd,
        format!(
            r#"
[[destination]]
name = "siem-cef"
type = "syslog"
transport = "tls"
format = "cef"
address = "127.0.0.1:{tls_port}"
server_name = "localhost"
ca = "{ca}"
retry_min_ms = 100
retry_max_ms = 500

[[destination]]
name = "qradar-leef"
type = "syslog"
transport = "tcp"
format = "leef"
address = "127.0.0.1:{tcp_port}"
retry_min_ms = 100
retry_max_ms = 500

[[destination]]
name = "siem-mtls"
type = "syslog"
transport = "tls"
format = "cef"
address = "127.0.0.1:{mtls_port}"
server_name = "localhost"
ca = "{ca}"
client_cert = "{client_cert}"
client_key = "{client_key}"
retry_min_ms = 100
retry_max_ms = 500

[[destination]]
name = "collector-json"
type = "syslog"
transport = "udp"
format = "json"
address = "127.0.0.1:{udp_port}"

[[rule]]
name = "alerts-cef"
destination = "siem-cef"

[[rule]]
name = "critical-mtls"
destination = "siem-mtls"
min_severity = "critical"

[[rule]]
name = "alerts-json"
destination = "collector-json"

[[rule]]
name = "alerts-leef"
destination = "qradar-leef"
"#,
            ca = fx.data().join("ca.pem").display(),
            client_cert = client.join("cert.pem").display(),
            client_key = client.join("key.pem").display(),
        ),
    )
    .unwrap();
    fx.settings.forwarding = Some(fwd);
    fx.restart_same_port().await;

    let sent = alerts();
    let deltas: Vec<Delta> = sent
        .iter()
        .enumerate()
        .map(|(i, a)| Delta {
            seq: i as u64 + 1,
            at: "2026-12-07T10:00:00Z".into(),
            change: Some(delta::Change::Alert(a.clone())),
        })
        .collect();
    let mut c = common::sensor_at(&fx, "plant-s").await;
    let acks = common::sync(&mut c, vec![deltas]).await.unwrap();
    assert_eq!(acks, vec![4]);
    // An operator's acknowledgement is forwarded too.
    let mut op = fx.operator("ana", OperatorRole::Analyst).await;
    let listed = common::all_assets(&mut op, "plant-s").await;
    drop(listed);
    let alerts_now = op
        .list_alerts(otwatch_proto::v1::ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let first = alerts_now
        .iter()
        .find(|a| a.id.ends_with("/al1"))
        .unwrap()
        .clone();
    op.acknowledge_alert(AlertActionRequest {
        id: first.id.clone(),
        comment: "change ticket CR-7 = planned stop".into(),
    })
    .await
    .unwrap();
    let sensor_id = first.sensor_id.clone();

    let cef = lines(&dir.path().join("cef.log"), 5, "CEF over TLS");
    let leef = lines(&dir.path().join("leef.log"), 5, "LEEF over TCP");
    for (i, a) in sent.iter().enumerate() {
        let fleet_id = format!("{sensor_id}/{}", a.id);
        // CEF: find the line of this alert in state new.
        let (h, x) = cef
            .iter()
            .map(|l| parse_cef(l))
            .find(|(_, x)| {
                x.get("cs3") == Some(&fleet_id) && x.get("act").map(String::as_str) == Some("new")
            })
            .unwrap_or_else(|| panic!("no CEF line for {fleet_id}:\n{}", cef.join("\n")));
        assert_eq!(h[0], "CEF:0");
        assert_eq!((h[1].as_str(), h[2].as_str()), ("otwatch", "otwatch"));
        assert_eq!(h[4], a.kind, "signature id");
        assert_eq!(h[5], a.title, "name");
        assert_eq!(h[6], ["10", "8", "5", "3"][i], "severity");
        assert_eq!(x["cat"], "alert");
        assert_eq!(x["src"], a.src);
        let dst_key = if i % 2 == 1 { "dmac" } else { "dst" };
        assert_eq!(x[dst_key], a.dst);
        assert_eq!(x["msg"], a.description);
        assert_eq!(x["app"], a.protocol);
        assert_eq!(
            (x["cs1"].as_str(), x["cs1Label"].as_str()),
            ("plant-s", "site")
        );
        assert_eq!(
            (x["cs2"].as_str(), x["cs2Label"].as_str()),
            (sensor_id.as_str(), "sensor")
        );
        assert_eq!(x["cs3Label"], "alertId");
        assert_eq!(
            (x["cs4"].as_str(), x["cs4Label"].as_str()),
            (a.mitre.join(",").as_str(), "mitre")
        );
        assert_eq!(x["cs5"], format!("{sensor_id}/{}", a.asset));
        assert_eq!(x["cnt"], a.count.to_string());
        assert_eq!(x["start"], ms(&a.first_seen));
        assert_eq!(x["end"], ms(&a.last_seen));
        assert_eq!(x["externalId"].len(), 32);
        // The RFC 5424 header: PRI = facility 13 * 8 + severity, version 1, MSGID alert.
        let pri = 13 * 8 + [2, 3, 4, 5][i];
        assert!(
            cef.iter()
                .any(|l| l.starts_with(&format!("<{pri}>1 ")) && l.contains(&fleet_id)),
            "PRI {pri}"
        );

        // LEEF: same alert, every attribute.
        let (h, x) = leef
            .iter()
            .map(|l| parse_leef(l))
            .find(|(_, x)| {
                x.get("alertId") == Some(&fleet_id)
                    && x.get("state").map(String::as_str) == Some("new")
            })
            .unwrap_or_else(|| panic!("no LEEF line for {fleet_id}:\n{}", leef.join("\n")));
        assert_eq!(h[0], "LEEF:2.0");
        assert_eq!(h[4], a.kind.replace('|', " "), "event id");
        assert_eq!(x["kind"], a.kind);
        assert_eq!(x["severity"], a.severity);
        assert_eq!(x["sev"], ["10", "8", "5", "3"][i]);
        assert_eq!(x["title"], a.title);
        assert_eq!(x["description"], a.description.replace(['\n', '\t'], " "));
        assert_eq!(x["src"], a.src);
        assert_eq!(x[if i % 2 == 1 { "dstMAC" } else { "dst" }], a.dst);
        assert_eq!(x["proto"], a.protocol);
        assert_eq!(x["mitre"], a.mitre.join(","));
        assert_eq!(x["count"], a.count.to_string());
        assert_eq!(x["firstSeen"], a.first_seen);
        assert_eq!(x["lastSeen"], a.last_seen);
        assert_eq!(x["site"], "plant-s");
        assert_eq!(x["sensor"], sensor_id);
        assert_eq!(x["assetId"], format!("{sensor_id}/{}", a.asset));
        assert_eq!(x["devTimeFormat"], "yyyy-MM-dd'T'HH:mm:ssX");
    }
    // Mutual TLS: the critical alert only, through a receiver that checks our certificate.
    let mtls = lines(&dir.path().join("mtls.log"), 1, "CEF over mutual TLS");
    let (h, x) = parse_cef(&mtls[0]);
    assert_eq!(
        (h[4].as_str(), x["cs3"].as_str()),
        ("plc_stop", format!("{sensor_id}/al1").as_str())
    );
    // UDP with JSON: the events as forwarded to every destination.
    let json = lines(&dir.path().join("json.log"), 5, "JSON over UDP");
    for a in &sent {
        let e: serde_json::Value = json
            .iter()
            .filter_map(|l| serde_json::from_str(&l[l.find('{').unwrap()..]).ok())
            .find(|e: &serde_json::Value| {
                e["alert_id"] == format!("{sensor_id}/{}", a.id) && e["state"] == "new"
            })
            .unwrap_or_else(|| panic!("no JSON event for {}:\n{}", a.id, json.join("\n")));
        assert_eq!(e["kind"], a.kind);
        assert_eq!(e["severity"], a.severity);
        assert_eq!(e["title"], a.title);
        assert_eq!(e["description"], a.description);
        assert_eq!(e["src"], a.src);
        assert_eq!(e["dst"], a.dst);
        assert_eq!(e["mitre"], serde_json::json!(a.mitre));
        assert_eq!(e["count"], a.count);
    }
    // The acknowledgement: act / state acknowledged, by the analyst.
    let fleet_id = format!("{sensor_id}/al1");
    let (_, x) = cef
        .iter()
        .map(|l| parse_cef(l))
        .find(|(_, x)| x.get("act").map(String::as_str) == Some("acknowledged"))
        .expect("the acknowledgement in CEF");
    assert_eq!(x["cs3"], fleet_id);
    assert!(x["suser"].starts_with("ana"), "{}", x["suser"]);
    assert_eq!(x["reason"], "change ticket CR-7 = planned stop");
    let (_, x) = leef
        .iter()
        .map(|l| parse_leef(l))
        .find(|(_, x)| x.get("state").map(String::as_str) == Some("acknowledged"))
        .expect("the acknowledgement in LEEF");
    assert_eq!(x["alertId"], fleet_id);
    assert_eq!(x["stateComment"], "change ticket CR-7 = planned stop");
    // The receiver goes away (its connections closed) and comes back: the alerts sent
    // meanwhile arrive once it is back, none written into the dead connections.
    drop(rsyslog);
    let more: Vec<Delta> = (5..=6u64)
        .map(|seq| Delta {
            seq,
            at: "2026-12-07T11:00:00Z".into(),
            change: Some(delta::Change::Alert(Alert {
                id: format!("later{seq}"),
                kind: "plc_stop".into(),
                severity: "high".into(),
                title: format!("later {seq}"),
                ..Alert::default()
            })),
        })
        .collect();
    assert_eq!(common::sync(&mut c, vec![more]).await.unwrap(), vec![6]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let _rsyslog = start_rsyslog(&bin, dir.path(), &fx.data(), ports);
    let cef = lines(
        &dir.path().join("cef.log"),
        7,
        "CEF over TLS after the receiver came back",
    );
    let leef = lines(
        &dir.path().join("leef.log"),
        7,
        "LEEF over TCP after the receiver came back",
    );
    for seq in [5, 6] {
        let id = format!("{sensor_id}/later{seq}");
        assert_eq!(
            cef.iter()
                .filter(|l| l.contains(&format!("cs3={id} ")))
                .count(),
            1,
            "{id} in CEF:\n{}",
            cef.join("\n")
        );
        assert_eq!(
            leef.iter()
                .filter(|l| l.contains(&format!("alertId={id}\t")))
                .count(),
            1,
            "{id} in LEEF:\n{}",
            leef.join("\n")
        );
    }
    fx.stop().await;
}
