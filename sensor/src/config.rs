//! Sensor configuration: a TOML file (`--config`), overridden by `OTWATCH_*` environment
//! variables (`OTWATCH_CAPTURE__MODE=af_packet`, `OTWATCH_STATE__DIR=/var/lib/otwatch`), then
//! by command-line flags. Every field has a default, so an empty file is a valid config.

use crate::capture::live::CaptureMode;
use serde::Deserialize;
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
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: Vec::new(),
            mode: CaptureMode::Auto,
            workers: 0,
            af_packet: AfPacketSection::default(),
            af_xdp: AfXdpSection::default(),
        }
    }
}

impl CaptureConfig {
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
    /// Without enrolment there is no uplink.
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
        b.build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError(e.to_string()))
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
}
