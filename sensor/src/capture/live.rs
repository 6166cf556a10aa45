//! What live sources (AF_PACKET and AF_XDP) share: the mode names, the errors that explain why a
//! backend cannot run, and the counters every live socket exports.

use super::PacketSource;
use otwatch_common::model::CaptureSource;
use std::fmt;
use std::io;
use std::path::Path;

/// Which live backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// AF_XDP when it can run here, else AF_PACKET (the reason is logged).
    #[default]
    Auto,
    AfXdp,
    AfPacket,
}

impl CaptureMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMode::Auto => "auto",
            CaptureMode::AfXdp => "af_xdp",
            CaptureMode::AfPacket => "af_packet",
        }
    }
}

impl std::str::FromStr for CaptureMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(CaptureMode::Auto),
            "af_xdp" | "xdp" => Ok(CaptureMode::AfXdp),
            "af_packet" | "packet" => Ok(CaptureMode::AfPacket),
            other => Err(format!(
                "unknown capture mode {other:?}; use auto, af_xdp or af_packet"
            )),
        }
    }
}

impl fmt::Display for CaptureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The capabilities each backend needs, named the way `setcap` and systemd spell them.
pub const AF_PACKET_CAPS: &str = "CAP_NET_RAW";
pub const AF_XDP_CAPS: &str = "CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (or CAP_SYS_ADMIN)";

/// Why a live source could not be opened. Each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    #[error("no network interface named {0:?}; list them with `ip link`")]
    NoInterface(String),
    #[error("{op} needs {caps}: run as root or grant them (e.g. `setcap cap_net_raw,cap_net_admin,cap_bpf+ep otwatch-sensor`, or AmbientCapabilities= in the systemd unit); `otwatch-sensor analyze` works on capture files without privileges")]
    Permission { op: String, caps: &'static str },
    #[error("{op}: the locked-memory limit is too low for the ring ({source}); raise it (`ulimit -l unlimited`, LimitMEMLOCK=infinity in the systemd unit) or make the ring smaller")]
    MemLock {
        op: String,
        #[source]
        source: io::Error,
    },
    #[error("{interface} queue {queue} is busy: another AF_XDP socket or XDP program owns it ({source}); stop the other program or use --capture af_packet")]
    Busy {
        interface: String,
        queue: u32,
        #[source]
        source: io::Error,
    },
    #[error("{interface}: {detail}")]
    Unsupported { interface: String, detail: String },
    #[error("{op}: {source}")]
    Os {
        op: String,
        #[source]
        source: io::Error,
    },
}

impl LiveError {
    /// Classifies an OS error from operation `op`: permission errors name `caps`.
    pub fn os(op: impl Into<String>, caps: &'static str, source: io::Error) -> LiveError {
        let op = op.into();
        match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => LiveError::Permission { op, caps },
            _ => LiveError::Os { op, source },
        }
    }

    /// True when the cause is missing privileges (no backend will do better).
    pub fn is_permission(&self) -> bool {
        matches!(self, LiveError::Permission { .. })
    }
}

/// Counters of one live socket since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Frames handed to the pipeline.
    pub packets: u64,
    /// Wire bytes of those frames.
    pub bytes: u64,
    /// Frames the kernel dropped because the ring was full (AF_PACKET `tp_drops`,
    /// AF_XDP `rx_dropped`).
    pub kernel_drops: u64,
    /// AF_PACKET: times the queue was frozen (`tp_freeze_q_cnt`).
    pub freezes: u64,
    /// AF_XDP: frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// AF_XDP: times the fill ring was empty when the driver needed a buffer.
    pub fill_ring_empty: u64,
    /// AF_XDP: invalid descriptors.
    pub invalid_descs: u64,
}

impl LiveCounters {
    /// Every frame the kernel lost before the sensor saw it.
    pub fn lost(&self) -> u64 {
        self.kernel_drops + self.rx_ring_full
    }

    /// The counters a capture source reports.
    pub fn of(s: &CaptureSource) -> LiveCounters {
        LiveCounters {
            packets: s.packets,
            bytes: s.bytes,
            kernel_drops: s.kernel_drops,
            freezes: s.freezes,
            rx_ring_full: s.rx_ring_full,
            fill_ring_empty: s.fill_ring_empty,
            invalid_descs: s.invalid_descs,
        }
    }

    /// The report of a source at `interface` and `queue` in `mode` with these counters.
    pub fn source(&self, interface: &str, queue: u32, mode: String) -> CaptureSource {
        CaptureSource {
            interface: interface.to_string(),
            queue,
            mode,
            packets: self.packets,
            bytes: self.bytes,
            kernel_drops: self.kernel_drops,
            freezes: self.freezes,
            rx_ring_full: self.rx_ring_full,
            fill_ring_empty: self.fill_ring_empty,
            invalid_descs: self.invalid_descs,
        }
    }

    pub fn add(&mut self, o: &LiveCounters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.kernel_drops += o.kernel_drops;
        self.freezes += o.freezes;
        self.rx_ring_full += o.rx_ring_full;
        self.fill_ring_empty += o.fill_ring_empty;
        self.invalid_descs += o.invalid_descs;
    }
}

/// A live socket: a [`PacketSource`] whose `next_batch` waits at most its poll timeout and then
/// returns an empty batch (so the caller can check for shutdown); it never returns `Ok(None)`.
pub trait LiveSource: PacketSource + Send {
    /// Counters since the socket was opened (reading them does not reset them).
    fn counters(&mut self) -> LiveCounters;
    /// Backend and mode in use, e.g. "af_packet tpacket_v3" or "af_xdp native zero-copy".
    fn describe(&self) -> String;
    /// Interface name and queue (queue 0 for AF_PACKET).
    fn location(&self) -> (&str, u32);
    /// The descriptor to poll for readability (a worker with several sockets polls them all).
    fn raw_fd(&self) -> std::os::fd::RawFd;
}

/// The kernel's index of interface `name`.
pub fn ifindex(name: &str) -> Result<u32, LiveError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(LiveError::NoInterface(name.to_string()));
    }
    let p = Path::new("/sys/class/net").join(name).join("ifindex");
    std::fs::read_to_string(&p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| LiveError::NoInterface(name.to_string()))
}

/// How many receive queues interface `name` has (at least 1).
pub fn rx_queues(name: &str) -> u32 {
    let dir = Path::new("/sys/class/net").join(name).join("queues");
    let n = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count()
        })
        .unwrap_or(0);
    (n as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_an_index_and_a_queue() {
        assert_eq!(ifindex("lo").unwrap(), 1);
        assert!(rx_queues("lo") >= 1);
        assert!(matches!(
            ifindex("no-such-if0"),
            Err(LiveError::NoInterface(_))
        ));
        assert!(matches!(ifindex("../x"), Err(LiveError::NoInterface(_))));
    }

    #[test]
    fn permission_errors_name_the_capabilities() {
        let e = LiveError::os(
            "socket(AF_PACKET)",
            AF_PACKET_CAPS,
            io::Error::from_raw_os_error(libc::EPERM),
        );
        assert!(e.is_permission());
        let msg = e.to_string();
        assert!(
            msg.contains("CAP_NET_RAW") && msg.contains("analyze"),
            "{msg}"
        );
    }

    #[test]
    fn modes_parse() {
        assert_eq!("af_xdp".parse::<CaptureMode>(), Ok(CaptureMode::AfXdp));
        assert!("pcap".parse::<CaptureMode>().is_err());
    }
}
