//! Sensor configuration: a TOML file (`--config`), overridden by `OTWATCH_*` environment
//! variables (`OTWATCH_CAPTURE__MODE=af_packet`, `OTWATCH_STATE__DIR=/var/lib/otwatch`), then
//! by command-line flags. Every field has a default, so an empty file is a valid config.

use crate::capture::live::CaptureMode;
use crate::decode::defrag::DefragLimits;
use crate::flow::reassembly::StreamLimits;
use crate::flow::FlowConfig;
use crate::inventory::{InventoryLimits, InventoryRetention};
use crate::pipeline::Limits;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorConfig {
    pub capture: CaptureConfig,
    pub state: StateConfig,
    pub metrics: MetricsConfig,
    pub uplink: UplinkSection,
    pub detect: DetectSection,
    pub flow: FlowSection,
    pub inventory: InventorySection,
}

/// `[flow]`: the flow table, stream reassembly and IP defragmentation caps and timeouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowSection {
    pub max_flows: usize,
    pub max_new_flows_per_source: u32,
    pub tcp_timeout_secs: u64,
    pub tcp_closed_timeout_secs: u64,
    pub tcp_half_open_timeout_secs: u64,
    pub udp_timeout_secs: u64,
    pub other_timeout_secs: u64,
    pub reassembly_mib: usize,
    pub stream_kib: usize,
    pub stream_segments: usize,
    pub probe_packets: u8,
    pub probe_bytes: usize,
    pub fragments_pending: usize,
    pub fragments_mib: usize,
    pub fragment_timeout_secs: u64,
}

impl Default for FlowSection {
    fn default() -> Self {
        let f = FlowConfig::default();
        let d = DefragLimits::default();
        const S: u64 = 1_000_000_000;
        FlowSection {
            max_flows: f.max_flows,
            max_new_flows_per_source: f.max_new_flows_per_source,
            tcp_timeout_secs: f.tcp_timeout_ns / S,
            tcp_closed_timeout_secs: f.tcp_closed_timeout_ns / S,
            tcp_half_open_timeout_secs: f.tcp_half_open_timeout_ns / S,
            udp_timeout_secs: f.udp_timeout_ns / S,
            other_timeout_secs: f.other_timeout_ns / S,
            reassembly_mib: f.max_buffered_bytes >> 20,
            stream_kib: f.stream.max_bytes >> 10,
            stream_segments: f.stream.max_segments,
            probe_packets: f.max_probe_packets,
            probe_bytes: f.max_probe_bytes,
            fragments_pending: d.max_pending,
            fragments_mib: d.max_bytes >> 20,
            fragment_timeout_secs: d.timeout_ns / S,
        }
    }
}

/// `[inventory]`: how many addresses and connections the sensor keeps (see
/// [`crate::inventory::limits`] for what is evicted first).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventorySection {
    pub max_hosts: usize,
    pub max_macs: usize,
    pub max_connections: usize,
    /// Addresses and connections not seen for this many days (packet time) are forgotten; 0:
    /// never (see [`crate::inventory::expire`]).
    pub retain_unseen_days: u64,
    /// Alerts whose last occurrence is this many days old are forgotten; 0: never.
    pub retain_alerts_days: u64,
}

impl Default for InventorySection {
    fn default() -> Self {
        let l = InventoryLimits::default();
        let r = InventoryRetention::default();
        let days = |ns: Option<u64>| ns.map_or(0, |n| n / (86_400 * 1_000_000_000));
        InventorySection {
            max_hosts: l.max_hosts,
            max_macs: l.max_macs,
            max_connections: l.max_conns,
            retain_unseen_days: days(r.unseen_ns),
            retain_alerts_days: days(r.alerts_ns),
        }
    }
}

/// Checks `value` of `key` lies in `lo..=hi`.
fn in_range<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if value < lo || value > hi {
        return Err(ConfigError(format!(
            "{key} = {value} is out of range: use {lo} to {hi}"
        )));
    }
    Ok(value)
}

impl SensorConfig {
    /// How long the inventory keeps what it no longer sees, checked (at most 100 years).
    pub fn retention(&self) -> Result<InventoryRetention, ConfigError> {
        const DAY_NS: u64 = 86_400 * 1_000_000_000;
        let days = |key: &str, v: u64| match v {
            0 => Ok(None),
            v => in_range(key, v, 1, 36_500).map(|d| Some(d * DAY_NS)),
        };
        let i = &self.inventory;
        Ok(InventoryRetention {
            unseen_ns: days("inventory.retain_unseen_days", i.retain_unseen_days)?,
            alerts_ns: days("inventory.retain_alerts_days", i.retain_alerts_days)?,
        })
    }

    /// The pipeline's caps and timeouts, checked.
    pub fn limits(&self) -> Result<Limits, ConfigError> {
        const S: u64 = 1_000_000_000;
        const DAY: u64 = 86_400;
        let f = &self.flow;
        let i = &self.inventory;
        let secs = |key: &str, v: u64| in_range(key, v, 1, 30 * DAY).map(|v| v * S);
        Ok(Limits {
            flow: FlowConfig {
                max_flows: in_range("flow.max_flows", f.max_flows, 1, 1 << 26)?,
                max_buffered_bytes: in_range("flow.reassembly_mib", f.reassembly_mib, 1, 1 << 16)?
                    << 20,
                stream: StreamLimits {
                    max_segments: in_range("flow.stream_segments", f.stream_segments, 1, 1 << 16)?,
                    max_bytes: in_range("flow.stream_kib", f.stream_kib, 1, 1 << 20)? << 10,
                },
                tcp_timeout_ns: secs("flow.tcp_timeout_secs", f.tcp_timeout_secs)?,
                tcp_closed_timeout_ns: secs(
                    "flow.tcp_closed_timeout_secs",
                    f.tcp_closed_timeout_secs,
                )?,
                tcp_half_open_timeout_ns: secs(
                    "flow.tcp_half_open_timeout_secs",
                    f.tcp_half_open_timeout_secs,
                )?,
                udp_timeout_ns: secs("flow.udp_timeout_secs", f.udp_timeout_secs)?,
                other_timeout_ns: secs("flow.other_timeout_secs", f.other_timeout_secs)?,
                max_probe_packets: in_range("flow.probe_packets", f.probe_packets, 1, 255)?,
                max_probe_bytes: in_range("flow.probe_bytes", f.probe_bytes, 64, 1 << 20)?,
                max_new_flows_per_source: f.max_new_flows_per_source,
            },
            defrag: DefragLimits {
                max_pending: in_range("flow.fragments_pending", f.fragments_pending, 1, 1 << 24)?,
                max_bytes: in_range("flow.fragments_mib", f.fragments_mib, 1, 1 << 16)? << 20,
                timeout_ns: in_range(
                    "flow.fragment_timeout_secs",
                    f.fragment_timeout_secs,
                    1,
                    600,
                )? * S,
            },
            inventory: InventoryLimits {
                max_hosts: in_range("inventory.max_hosts", i.max_hosts, 16, 1 << 26)?,
                max_macs: in_range("inventory.max_macs", i.max_macs, 16, 1 << 26)?,
                max_conns: in_range("inventory.max_connections", i.max_connections, 16, 1 << 28)?,
            },
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Interfaces to listen on (a mirror/SPAN port each).
    pub interfaces: Vec<String>,
    pub mode: CaptureMode,
    /// Worker threads per interface; 0 means cores − 1 (at least 1).
    pub workers: usize,
    pub af_packet: AfPacketSection,
    pub af_xdp: AfXdpSection,
    /// Capture segments: interface → segment number (1-4095). Interfaces that mirror separate
    /// networks which may reuse addresses (two cells on two mirror ports) go on segments of
    /// their own, so their hosts and flows are kept apart the way VLANs are. Interfaces not
    /// listed are the default segment: the right choice for a tap, which delivers each
    /// direction of one link on its own interface. Keys are live interface names, or, for
    /// capture files, pcapng interface numbers ("0", "1", ...).
    pub segments: BTreeMap<String, u16>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: Vec::new(),
            mode: CaptureMode::Auto,
            workers: 0,
            af_packet: AfPacketSection::default(),
            af_xdp: AfXdpSection::default(),
            segments: BTreeMap::new(),
        }
    }
}

impl CaptureConfig {
    /// The segment of each interface index, for [`Pipeline::set_segments`]: by position in
    /// `interfaces` for live capture, by pcapng interface number for capture `files`.
    ///
    /// [`Pipeline::set_segments`]: crate::pipeline::Pipeline::set_segments
    pub fn segment_map(&self, files: bool) -> Result<Vec<u16>, ConfigError> {
        let mut map = Vec::new();
        for (key, &seg) in &self.segments {
            in_range(&format!("capture.segments.{key}"), seg, 1, 4095)?;
            let index = if files {
                match key.parse::<usize>() {
                    Ok(i) if i < 4096 => i,
                    // Names of live interfaces: not for files.
                    _ => continue,
                }
            } else {
                match self.interfaces.iter().position(|i| i == key) {
                    Some(i) => i,
                    None if key.parse::<usize>().is_ok() => continue,
                    None => {
                        return Err(ConfigError(format!(
                            "capture.segments.{key}: {key} is not one of capture.interfaces ({}); list it there or remove it here",
                            self.interfaces.join(", ")
                        )))
                    }
                }
            };
            if map.len() <= index {
                map.resize(index + 1, 0);
            }
            map[index] = seg;
        }
        Ok(map)
    }

    /// The worker count to use on this machine.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.saturating_sub(1).max(1)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AfPacketSection {
    /// Ring block size in KiB (power of two, at least 4).
    pub block_kib: u32,
    /// Blocks per socket.
    pub blocks: u32,
    /// A partly filled block is handed over after this many milliseconds.
    pub block_timeout_ms: u64,
}

impl Default for AfPacketSection {
    fn default() -> Self {
        AfPacketSection {
            block_kib: 1024,
            blocks: 64,
            block_timeout_ms: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AfXdpSection {
    /// UMEM frames per queue.
    pub frames: u32,
    /// Bytes per UMEM frame (2048 or 4096).
    pub frame_size: u32,
    /// RX and fill ring entries (power of two).
    pub ring_size: u32,
    /// "auto" (native, else generic), "native" or "generic".
    pub attach: String,
    /// "auto" (zero-copy, else copy), "on" or "off".
    pub zero_copy: String,
}

impl Default for AfXdpSection {
    fn default() -> Self {
        AfXdpSection {
            // 32 MiB of UMEM per queue: rings this deep ride out a worker descheduled for
            // tens of milliseconds at several hundred thousand frames/s (bench-live.sh).
            frames: 16384,
            frame_size: 2048,
            ring_size: 8192,
            attach: "auto".into(),
            zero_copy: "auto".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// The sled store (and the inventory snapshot `inventory.json` readers use while the
    /// sensor runs).
    pub dir: PathBuf,
    /// Seconds between commits of the inventory to the store; a SIGKILL loses at most this.
    pub commit_interval_secs: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: PathBuf::from("/var/lib/otwatch/sensor"),
            commit_interval_secs: 5,
        }
    }
}

impl StateConfig {
    pub fn commit_interval(&self) -> Duration {
        Duration::from_secs(self.commit_interval_secs.max(1))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve Prometheus text at http://ADDR/metrics (e.g. "127.0.0.1:9187"); off when empty.
    pub listen: Option<String>,
    /// Also write the metrics to this file (atomically) every second, for node_exporter's
    /// textfile collector.
    pub file: Option<PathBuf>,
}

/// The link to a manager (after `otwatch-sensor enroll`); see `crate::uplink`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UplinkSection {
    /// The manager's URL; unset: the one enrolment recorded in `<state>/uplink/link.json`.
    /// Without enrolment there is no uplink. Several replicas of one manager, comma-separated:
    /// a session that cannot connect or loses its manager goes on with the next.
    pub manager: Option<String>,
    /// Deltas the outbox holds at most. When full, asset/connection updates wait (they are
    /// sent later from the inventory, nothing is lost) and alerts are still queued.
    pub outbox_max: u64,
}

impl Default for UplinkSection {
    fn default() -> Self {
        UplinkSection {
            manager: None,
            outbox_max: 1_000_000,
        }
    }
}

/// Detection: the policy, analyst rules, indicators, and thresholds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectSection {
    /// A policy file (from `otwatch-sensor policy learn`) to protect with.
    pub policy: Option<PathBuf>,
    /// A directory of analyst rule files (`*.toml`), or one file; reloaded on SIGHUP.
    pub rules: Option<PathBuf>,
    /// Indicator-of-compromise files: STIX 2.1 bundles or CSV lists; reloaded on SIGHUP.
    pub ioc: Vec<PathBuf>,
    /// Learn the policy over this much capture time ("30m", "12h", "7d"), keep it in the
    /// store, then protect with it. A policy already learned in the store is used as is.
    pub learn_for: Option<String>,
    pub thresholds: crate::detect::DetectSettings,
}

impl DetectSection {
    /// Reads the policy, rules and indicator files and checks the thresholds. Errors name
    /// the file and line.
    pub fn build(&self) -> Result<crate::detect::DetectConfig, DetectLoadError> {
        use crate::detect::{ioc::IocSet, policy::Policy, rules::RuleSet, DetectConfig};
        self.thresholds.check().map_err(DetectLoadError)?;
        if self.policy.is_some() && self.learn_for.is_some() {
            return Err(DetectLoadError(
                "a policy file and learn_for exclude each other: learn first (policy learn, or run --learn-for), then protect with --policy".into(),
            ));
        }
        if let Some(l) = &self.learn_for {
            parse_duration(l).map_err(|e| DetectLoadError(format!("detect.learn_for: {e}")))?;
        }
        let policy = match &self.policy {
            Some(p) => Some(Policy::load(p).map_err(|e| DetectLoadError(format!("policy {e}")))?),
            None => None,
        };
        let rules = match &self.rules {
            Some(d) => RuleSet::load(d).map_err(|e| DetectLoadError(format!("rules {e}")))?,
            None => RuleSet::default(),
        };
        let mut iocs = IocSet::default();
        for f in &self.ioc {
            iocs.load(f)
                .map_err(|e| DetectLoadError(format!("indicators {e}")))?;
        }
        Ok(DetectConfig {
            settings: self.thresholds.clone(),
            policy,
            rules,
            iocs,
        })
    }
}

/// A duration such as "90s", "30m", "12h", "7d" (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 30m, 12h or 7d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    if n == 0 {
        return Err(format!("{s:?} must be longer than zero"));
    }
    Ok(Duration::from_secs(n.saturating_mul(mult)))
}

/// A detection file (policy, rules, indicators) or setting that cannot be used: the message
/// names the file and line.
#[derive(Debug, thiserror::Error)]
#[error("{0}; nothing was started")]
pub struct DetectLoadError(pub String);

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}; see deploy/sensor.toml for every setting and its default")]
pub struct ConfigError(pub String);

impl SensorConfig {
    /// Loads `file` (if given) and the `OTWATCH_*` environment over the defaults.
    pub fn load(file: Option<&Path>) -> Result<SensorConfig, ConfigError> {
        let mut b = config::Config::builder();
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError(format!("{} does not exist", f.display())));
            }
            b = b.add_source(config::File::from(f).format(config::FileFormat::Toml));
        }
        // Only OTWATCH_<SECTION>__<KEY> variables are settings; others (OTWATCH_LOG,
        // OTWATCH_ENROLL_TOKEN) belong to the command line.
        let vars: config::Map<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("OTWATCH_") && k.contains("__"))
            .collect();
        b = b.add_source(
            config::Environment::with_prefix("OTWATCH")
                .source(Some(vars))
                .prefix_separator("_")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("capture.interfaces")
                .try_parsing(true),
        );
        let cfg: SensorConfig = b
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError(e.to_string()))?;
        cfg.limits()?;
        cfg.retention()?;
        cfg.capture.segment_map(true)?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(&f, "").unwrap();
        let c = SensorConfig::load(Some(&f)).unwrap();
        assert_eq!(c.capture.mode, CaptureMode::Auto);
        assert_eq!(c.state.commit_interval_secs, 5);
        assert!(c.capture.worker_count() >= 1);
    }

    #[test]
    fn the_shipped_example_is_the_defaults() {
        let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/sensor.toml");
        let c = SensorConfig::load(Some(&f)).unwrap();
        let d = SensorConfig::default();
        assert_eq!(format!("{c:?}"), format!("{d:?}"));
    }

    #[test]
    fn a_file_sets_fields_and_typos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(
            &f,
            "[capture]\ninterfaces = [\"eth1\", \"eth2\"]\nmode = \"af_packet\"\nworkers = 3\n[capture.af_packet]\nblocks = 8\n[state]\ndir = \"/tmp/x\"\n",
        )
        .unwrap();
        let c = SensorConfig::load(Some(&f)).unwrap();
        assert_eq!(c.capture.interfaces, ["eth1", "eth2"]);
        assert_eq!(c.capture.mode, CaptureMode::AfPacket);
        assert_eq!(c.capture.worker_count(), 3);
        assert_eq!(c.capture.af_packet.blocks, 8);
        assert_eq!(c.capture.af_packet.block_kib, 1024);
        std::fs::write(&f, "[capture]\nintrefaces = [\"eth1\"]\n").unwrap();
        let e = SensorConfig::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("intrefaces"), "{e}");
        let e = SensorConfig::load(Some(&dir.path().join("none.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn capture_segments_map_interfaces_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        let load = |text: &str| {
            std::fs::write(&f, text).unwrap();
            SensorConfig::load(Some(&f))
        };
        let c = load("[capture]\ninterfaces = [\"eth1\", \"eth2\", \"eth3\"]\n[capture.segments]\neth3 = 7\neth1 = 2\n\"1\" = 5\n").unwrap();
        assert_eq!(c.capture.segment_map(false).unwrap(), [2, 0, 7]);
        assert_eq!(c.capture.segment_map(true).unwrap(), [0, 5]);
        let e = load("[capture.segments]\neth1 = 4096\n").unwrap_err();
        assert!(
            e.0.contains("capture.segments.eth1 = 4096 is out of range"),
            "{e}"
        );
        let c = load("[capture]\ninterfaces = [\"eth1\"]\n[capture.segments]\neht1 = 2\n").unwrap();
        let e = c.capture.segment_map(false).unwrap_err();
        assert!(
            e.0.contains("eht1 is not one of capture.interfaces (eth1)"),
            "{e}"
        );
    }

    #[test]
    fn caps_are_set_from_the_file_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(
            &f,
            "[flow]\nmax_flows = 1000\ntcp_half_open_timeout_secs = 5\n[inventory]\nmax_hosts = 500\n",
        )
        .unwrap();
        let l = SensorConfig::load(Some(&f)).unwrap().limits().unwrap();
        assert_eq!(l.flow.max_flows, 1000);
        assert_eq!(l.flow.tcp_half_open_timeout_ns, 5_000_000_000);
        assert_eq!(l.inventory.max_hosts, 500);
        assert_eq!(l.inventory.max_macs, InventoryLimits::default().max_macs);
        std::fs::write(&f, "[flow]\nmax_flows = 0\n").unwrap();
        let e = SensorConfig::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("flow.max_flows = 0 is out of range"), "{e}");
        std::fs::write(&f, "[inventory]\nmax_hots = 5\n").unwrap();
        let e = SensorConfig::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("max_hots"), "{e}");
    }

    #[test]
    fn retention_is_in_days_and_zero_keeps_forever() {
        const DAY_NS: u64 = 86_400 * 1_000_000_000;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(
            &f,
            "[inventory]\nretain_unseen_days = 7\nretain_alerts_days = 0\n",
        )
        .unwrap();
        let r = SensorConfig::load(Some(&f)).unwrap().retention().unwrap();
        assert_eq!(r.unseen_ns, Some(7 * DAY_NS));
        assert_eq!(r.alerts_ns, None);
        let d = SensorConfig::default().retention().unwrap();
        assert_eq!(d, InventoryRetention::default());
        std::fs::write(&f, "[inventory]\nretain_unseen_days = 40000\n").unwrap();
        let e = SensorConfig::load(Some(&f)).unwrap_err().to_string();
        assert!(
            e.contains("inventory.retain_unseen_days = 40000 is out of range"),
            "{e}"
        );
    }
}
