//! Prometheus text exposition of the sensor's counters, served on a local port and/or written
//! to a file (node_exporter's textfile collector). Rendering is pure; the server is a tiny
//! blocking HTTP/1.0 responder that answers `GET /metrics` and nothing else.

use otwatch_common::model::CaptureStats;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything the metrics show, as of one moment.
#[derive(Debug, Clone, Default)]
pub struct MetricsView {
    /// Capture statistics of this run (sources included).
    pub stats: CaptureStats,
    pub workers: usize,
    pub assets: usize,
    pub connections: usize,
    pub commits: u64,
    pub commit_errors: u64,
    /// Unix seconds of the last successful commit (0 before the first).
    pub last_commit: u64,
    /// The link to the manager, when the sensor is enrolled.
    pub uplink: Option<UplinkMetrics>,
}

/// Outbox and link counters (see `crate::uplink`).
#[derive(Debug, Clone, Default)]
pub struct UplinkMetrics {
    pub connected: bool,
    /// Deltas queued and not acknowledged.
    pub backlog: u64,
    /// Upserts waiting for room in a full outbox now.
    pub deferred: u64,
    /// Upserts deferred because the outbox was full, ever.
    pub deferred_total: u64,
    pub last_seq: u64,
    pub acked_seq: u64,
    /// Sessions that reached the manager (this run).
    pub sessions: u64,
    /// Deltas sent (this run; resends included).
    pub deltas_sent: u64,
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn val(&mut self, name: &str, labels: &[(&str, &str)], v: u64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, l)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", esc(l));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {v}");
    }
}

/// Renders the Prometheus text format (version 0.0.4).
pub fn render(m: &MetricsView) -> String {
    let mut o = Out(String::with_capacity(4096));
    type Get = fn(&otwatch_common::model::CaptureSource) -> u64;
    let per_source: [(&str, &str, Get); 7] = [
        (
            "otwatch_capture_packets_total",
            "Frames read from the socket.",
            |s| s.packets,
        ),
        (
            "otwatch_capture_bytes_total",
            "Wire bytes of the frames read.",
            |s| s.bytes,
        ),
        (
            "otwatch_capture_kernel_drops_total",
            "Frames the kernel dropped before the sensor read them (AF_PACKET tp_drops, AF_XDP rx_dropped).",
            |s| s.kernel_drops,
        ),
        (
            "otwatch_capture_freezes_total",
            "AF_PACKET queue freezes (tp_freeze_q_cnt).",
            |s| s.freezes,
        ),
        (
            "otwatch_xdp_rx_ring_full_total",
            "AF_XDP frames dropped because the RX ring was full.",
            |s| s.rx_ring_full,
        ),
        (
            "otwatch_xdp_fill_ring_empty_total",
            "AF_XDP times the fill ring was empty.",
            |s| s.fill_ring_empty,
        ),
        (
            "otwatch_xdp_invalid_descs_total",
            "AF_XDP invalid descriptors.",
            |s| s.invalid_descs,
        ),
    ];
    for (name, help, get) in per_source {
        o.head(name, "counter", help);
        for s in &m.stats.sources {
            let q = s.queue.to_string();
            o.val(name, &[("interface", &s.interface), ("queue", &q)], get(s));
        }
    }
    o.head(
        "otwatch_capture_mode_info",
        "gauge",
        "Capture backend and mode of each socket.",
    );
    for s in &m.stats.sources {
        let q = s.queue.to_string();
        o.val(
            "otwatch_capture_mode_info",
            &[
                ("interface", &s.interface),
                ("queue", &q),
                ("mode", &s.mode),
            ],
            1,
        );
    }
    o.head(
        "otwatch_decode_errors_total",
        "counter",
        "Frames or headers that could not be decoded, by kind.",
    );
    for (k, v) in &m.stats.decode_errors_by_kind {
        o.val("otwatch_decode_errors_total", &[("kind", k)], *v);
    }
    o.head(
        "otwatch_limits_total",
        "counter",
        "Caps hit: flows evicted, stream bytes dropped, fragments dropped, ...",
    );
    for (k, v) in &m.stats.limits {
        o.val("otwatch_limits_total", &[("limit", k)], *v);
    }
    o.head(
        "otwatch_protocol_violations_total",
        "counter",
        "Messages that broke their protocol's rules, per dissector.",
    );
    for (k, v) in &m.stats.protocol_violations {
        o.val("otwatch_protocol_violations_total", &[("protocol", k)], *v);
    }
    for (name, kind, help, v) in [
        (
            "otwatch_packets_total",
            "counter",
            "Frames analysed.",
            m.stats.packets,
        ),
        (
            "otwatch_flows_total",
            "counter",
            "Transport flows seen.",
            m.stats.flows,
        ),
        (
            "otwatch_workers",
            "gauge",
            "Worker threads.",
            m.workers as u64,
        ),
        (
            "otwatch_assets",
            "gauge",
            "Assets in the inventory.",
            m.assets as u64,
        ),
        (
            "otwatch_connections",
            "gauge",
            "Connections in the inventory.",
            m.connections as u64,
        ),
        (
            "otwatch_store_commits_total",
            "counter",
            "Inventory commits to the state store.",
            m.commits,
        ),
        (
            "otwatch_store_commit_errors_total",
            "counter",
            "Failed commits to the state store.",
            m.commit_errors,
        ),
        (
            "otwatch_store_last_commit_timestamp_seconds",
            "gauge",
            "Unix time of the last successful commit.",
            m.last_commit,
        ),
    ] {
        o.head(name, kind, help);
        o.val(name, &[], v);
    }
    if let Some(u) = &m.uplink {
        for (name, kind, help, v) in [
            (
                "otwatch_uplink_connected",
                "gauge",
                "1 while a session with the manager is up.",
                u64::from(u.connected),
            ),
            (
                "otwatch_uplink_outbox_backlog",
                "gauge",
                "Deltas in the outbox not yet acknowledged by the manager.",
                u.backlog,
            ),
            (
                "otwatch_uplink_outbox_deferred",
                "gauge",
                "Asset/connection updates waiting for room in the full outbox.",
                u.deferred,
            ),
            (
                "otwatch_uplink_outbox_deferred_total",
                "counter",
                "Updates deferred because the outbox was full (sent later, never lost).",
                u.deferred_total,
            ),
            (
                "otwatch_uplink_last_seq",
                "gauge",
                "Sequence number of the newest delta queued.",
                u.last_seq,
            ),
            (
                "otwatch_uplink_acked_seq",
                "gauge",
                "Highest sequence number the manager acknowledged.",
                u.acked_seq,
            ),
            (
                "otwatch_uplink_sessions_total",
                "counter",
                "Sessions that reached the manager.",
                u.sessions,
            ),
            (
                "otwatch_uplink_deltas_sent_total",
                "counter",
                "Deltas sent to the manager, resends included.",
                u.deltas_sent,
            ),
        ] {
            o.head(name, kind, help);
            o.val(name, &[], v);
        }
    }
    o.0
}

/// Writes `text` to `path` atomically (a reader never sees half a file).
pub fn write_atomic(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Serves the latest rendering at `GET /metrics` on `addr` from a background thread.
/// Returns the bound address (useful with port 0).
pub fn serve(addr: &str, text: Arc<Mutex<String>>) -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                if let Err(e) = answer(conn, &text) {
                    tracing::debug!("metrics request: {e}");
                }
            }
        })?;
    Ok(local)
}

fn answer(mut conn: TcpStream, text: &Mutex<String>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut req = [0u8; 1024];
    let n = conn.read(&mut req)?;
    let line = String::from_utf8_lossy(&req[..n]);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = if line.starts_with("GET ") && (path == "/metrics" || path == "/") {
        let body = text.lock().map(|t| t.clone()).unwrap_or_default();
        ("200 OK", body)
    } else {
        ("404 Not Found", "only GET /metrics is served\n".to_string())
    };
    let head = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use otwatch_common::model::CaptureSource;

    fn view() -> MetricsView {
        let mut m = MetricsView::default();
        m.stats.sources.push(CaptureSource {
            interface: "eth1".into(),
            queue: 0,
            mode: "af_packet tpacket_v3".into(),
            packets: 10,
            kernel_drops: 2,
            ..Default::default()
        });
        m.stats.protocol_violations.insert("modbus".into(), 3);
        m.assets = 4;
        m
    }

    #[test]
    fn renders_labelled_counters() {
        let t = render(&view());
        assert!(t.contains("otwatch_capture_packets_total{interface=\"eth1\",queue=\"0\"} 10\n"));
        assert!(
            t.contains("otwatch_capture_kernel_drops_total{interface=\"eth1\",queue=\"0\"} 2\n")
        );
        assert!(t.contains("otwatch_protocol_violations_total{protocol=\"modbus\"} 3\n"));
        assert!(t.contains("# TYPE otwatch_assets gauge\notwatch_assets 4\n"));
        assert!(t.contains("mode=\"af_packet tpacket_v3\""));
        assert!(!t.contains("otwatch_uplink"));
    }

    #[test]
    fn renders_the_uplink_when_enrolled() {
        let mut m = view();
        m.uplink = Some(UplinkMetrics {
            connected: true,
            backlog: 7,
            deferred_total: 3,
            ..Default::default()
        });
        let t = render(&m);
        assert!(t.contains("otwatch_uplink_connected 1\n"));
        assert!(t.contains("otwatch_uplink_outbox_backlog 7\n"));
        assert!(t.contains(
            "# TYPE otwatch_uplink_outbox_deferred_total counter\notwatch_uplink_outbox_deferred_total 3\n"
        ));
    }

    #[test]
    fn serves_over_http() {
        let text = Arc::new(Mutex::new(render(&view())));
        let addr = serve("127.0.0.1:0", text).unwrap();
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert!(got.starts_with("HTTP/1.0 200 OK"), "{got}");
        assert!(got.contains("otwatch_assets 4"));
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"GET /secret HTTP/1.1\r\n\r\n").unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert!(got.starts_with("HTTP/1.0 404"), "{got}");
    }
}
