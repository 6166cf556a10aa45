//! AF_XDP live capture: an XDP program redirects each frame of a receive queue into an AF_XDP
//! socket whose UMEM we map, so frames reach the decoder without an skb or a copy to user
//! space (in zero-copy mode, not even the kernel copies them).
//!
//! Pieces (Documentation/networking/af_xdp.rst; layouts from include/uapi/linux/if_xdp.h and
//! include/uapi/linux/bpf.h):
//! - [`XdpProgram`] (bpf.rs): the XSKMAP, the redirect program and the BPF link, one per
//!   interface. Frames of queues without a socket pass on to the kernel stack untouched.
//! - [`XdpSocket`] (socket.rs): one per receive queue; a [`PacketSource`] and [`LiveSource`].
//! - ring.rs: the UMEM and the fill and RX rings. All `unsafe` of AF_XDP lives in this module.
//!
//! The sensor never transmits: there is no TX ring, and the completion ring exists only
//! because the kernel requires one for every UMEM.
//!
//! ```no_run
//! use otwatch_sensor::capture::{af_xdp, PacketSource};
//! let cfg = af_xdp::XdpConfig { interface: "eth1".into(), ..Default::default() };
//! let (_program, mut sockets) = af_xdp::open_interface(&cfg)?;
//! for sock in &mut sockets {
//!     if let Some(batch) = sock.next_batch()? {
//!         for frame in batch.iter() { let _ = frame.data; }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bpf;
mod ring;
mod socket;

pub use bpf::{AttachedMode, XdpProgram};
pub use socket::XdpSocket;

use super::live::{rx_queues, LiveError, AF_XDP_CAPS};
#[cfg(doc)]
use super::{live::LiveSource, PacketSource};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// How to attach the XDP program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpAttach {
    /// Native (driver) mode when the driver has it, else generic.
    #[default]
    Auto,
    Native,
    Generic,
}

/// Whether the sockets share frames with the driver (zero-copy) or get copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroCopy {
    /// Zero-copy when the driver supports it (native mode only), else copy.
    #[default]
    Auto,
    /// Zero-copy or an error.
    On,
    Off,
}

/// Settings of an AF_XDP capture on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpConfig {
    pub interface: String,
    /// Receive queue for [`XdpSocket::open`]; [`open_interface`] opens every queue.
    pub queue: u32,
    /// Written to [`super::FrameMeta::interface`] of every frame.
    pub source_index: u32,
    /// UMEM frames per socket.
    pub frames: u32,
    /// Bytes per UMEM frame: a power of two from 2048 to the page size (4096). The kernel keeps
    /// 256 bytes of headroom in each, so 2048 holds frames up to 1792 bytes; use 4096 for
    /// jumbo-ish MTUs up to 3840.
    pub frame_size: u32,
    /// Entries in the RX ring (a power of two).
    pub ring_size: u32,
    /// Frames per batch at most.
    pub batch: usize,
    /// How long `next_batch` waits for a frame before returning an empty batch.
    pub poll_timeout: Duration,
    pub attach: XdpAttach,
    pub zero_copy: ZeroCopy,
}

impl Default for XdpConfig {
    fn default() -> XdpConfig {
        XdpConfig {
            interface: String::new(),
            queue: 0,
            source_index: 0,
            frames: 4096,
            frame_size: 2048,
            ring_size: 2048,
            batch: 64,
            poll_timeout: Duration::from_millis(100),
            attach: XdpAttach::Auto,
            zero_copy: ZeroCopy::Auto,
        }
    }
}

impl XdpConfig {
    /// Rejects sizes the kernel would refuse with a bare EINVAL.
    pub fn check(&self) -> Result<(), LiveError> {
        let bad = |detail: String| {
            Err(LiveError::Os {
                op: format!("AF_XDP settings for {}", self.interface),
                source: io::Error::new(io::ErrorKind::InvalidInput, detail),
            })
        };
        if !(2048..=4096).contains(&self.frame_size) || !self.frame_size.is_power_of_two() {
            return bad(format!(
                "frame size {} must be 2048 or 4096",
                self.frame_size
            ));
        }
        if !self.ring_size.is_power_of_two() || !(64..=(1 << 20)).contains(&self.ring_size) {
            return bad(format!(
                "ring size {} must be a power of two from 64 to 1048576",
                self.ring_size
            ));
        }
        // UMEM is pinned memory; 1 GiB per queue is plenty.
        let max_frames = (1u32 << 30) / self.frame_size;
        if self.frames < self.ring_size || self.frames > max_frames {
            return bad(format!(
                "{} frames: need at least the ring size ({}) and at most {max_frames} (1 GiB of UMEM)",
                self.frames, self.ring_size
            ));
        }
        if self.batch == 0 || self.batch > self.ring_size as usize {
            return bad(format!(
                "batch {} must be from 1 to the ring size ({})",
                self.batch, self.ring_size
            ));
        }
        Ok(())
    }
}

/// Attaches the program to `cfg.interface` and opens one socket per receive queue, each in the
/// program's map. Keep the program alive as long as the sockets should receive; dropping it
/// first is harmless (the sockets then see nothing), and dropping the sockets first removes
/// them from the map. Frames of a queue whose socket is gone pass to the kernel stack.
pub fn open_interface(cfg: &XdpConfig) -> Result<(XdpProgram, Vec<XdpSocket>), LiveError> {
    cfg.check()?;
    available()?;
    let queues = rx_queues(&cfg.interface);
    let program = XdpProgram::attach(&cfg.interface, queues, cfg.attach)?;
    let mut sockets = Vec::with_capacity(queues as usize);
    for queue in 0..queues {
        let c = XdpConfig {
            queue,
            ..cfg.clone()
        };
        sockets.push(XdpSocket::open(&c, &program)?);
    }
    Ok((program, sockets))
}

/// Whether this kernel has AF_XDP sockets (CONFIG_XDP_SOCKETS) and we may create one.
pub fn available() -> Result<(), LiveError> {
    new_socket().map(drop)
}

/// The host's own unicast addresses on `interface` (IPv6 link-local left out: every interface
/// that is up has one). An XDP program redirects every frame of a queue to its socket, so on an
/// interface the host itself uses (management, SSH) AF_XDP would cut the host off; mirror ports
/// carry no address.
pub fn host_addresses(interface: &str) -> Vec<std::net::IpAddr> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if name.to_bytes() != interface.as_bytes() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family says which struct it is.
        let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
        let ip = match family {
            libc::AF_INET => {
                // SAFETY: family AF_INET means the sockaddr is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
            }
            libc::AF_INET6 => {
                // SAFETY: family AF_INET6 means the sockaddr is a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let a = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                if a.segments()[0] & 0xffc0 == 0xfe80 {
                    continue;
                }
                IpAddr::V6(a)
            }
            _ => continue,
        };
        out.push(ip);
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out.sort();
    out.dedup();
    out
}

/// `socket(AF_XDP, SOCK_RAW)` with the errors explained.
fn new_socket() -> Result<OwnedFd, LiveError> {
    // SAFETY: plain syscall with constant arguments; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EAFNOSUPPORT) => LiveError::Unsupported {
                interface: "kernel".into(),
                detail: "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS, Linux 4.18+); use --capture af_packet".into(),
            },
            _ => LiveError::os("socket(AF_XDP)", AF_XDP_CAPS, e),
        });
    }
    // SAFETY: `fd` is a new descriptor returned by socket() that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Plain integer structs the kernel may read or fill byte for byte.
///
/// # Safety
/// Implementors must be `#[repr(C)]` (or primitive) with every bit pattern valid.
unsafe trait Pod: Copy {}
// SAFETY: all are integers or `repr(C)` structs of integers (libc's if_xdp.h bindings).
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for libc::xdp_umem_reg {}
// SAFETY: as above.
unsafe impl Pod for libc::xdp_mmap_offsets {}
// SAFETY: as above.
unsafe impl Pod for libc::xdp_statistics {}
// SAFETY: as above.
unsafe impl Pod for libc::xdp_options {}

fn zeroed<T: Pod>() -> T {
    // SAFETY: `Pod` types are valid for the all-zero bit pattern.
    unsafe { std::mem::zeroed() }
}

fn setsockopt<T: Pod>(fd: &OwnedFd, opt: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` is a live `T` and we pass its exact size; the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            opt,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// getsockopt(SOL_XDP, `opt`); fails if the kernel returned less than a whole `T` (an older
/// layout), so no field is ever read uninitialised or misinterpreted.
fn getsockopt<T: Pod>(fd: &OwnedFd, opt: libc::c_int) -> io::Result<T> {
    let mut v = zeroed::<T>();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` is writable for `len` bytes and any bytes are a valid `T` (`Pod`).
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            opt,
            (&mut v as *mut T).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<T>() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "the kernel returned {len} bytes for SOL_XDP option {opt}, expected {} (kernel older than 5.9?)",
                std::mem::size_of::<T>()
            ),
        ));
    }
    Ok(v)
}

/// The effective capability set, from /proc/self/status (`CapEff`).
fn capabilities_effective() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = s.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

/// True when RLIMIT_MEMLOCK is finite.
fn memlock_finite() -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    r == 0 && lim.rlim_cur != libc::RLIM_INFINITY
}

/// True when RLIMIT_MEMLOCK applies to the UMEM: it is finite and we lack CAP_IPC_LOCK
/// (bit 14), which exempts a process (xdp_umem_account_pages in net/xdp/xdp_umem.c).
fn memlock_limited() -> bool {
    memlock_finite() && capabilities_effective().is_none_or(|c| c & (1 << 14) == 0)
}

#[cfg(test)]
mod tests;
