//! AF_PACKET capture with a TPACKET_V3 ring (Linux `Documentation/networking/packet_mmap.rst`).
//!
//! The kernel fills fixed-size blocks of a memory-mapped ring with frames and hands a whole
//! block to user space at once (when it is full, or when the block timeout retires it), so one
//! `poll` wakes the sensor for hundreds of frames. Each block is lent to the pipeline as one
//! [`Batch`] and given back to the kernel on the next call. Several sockets on one interface
//! join a fanout group hashed by flow (`PACKET_FANOUT_HASH`, symmetric in the kernel's flow
//! dissector, with `PACKET_FANOUT_FLAG_DEFRAG` so fragments follow their datagram): each
//! worker owns one socket and sees whole flows in both directions.
//!
//! All `unsafe` of this backend is in this file, each block with its `SAFETY` argument.

use super::live::{ifindex, LiveCounters, LiveError, LiveSource, AF_PACKET_CAPS};
use super::mmap::Mmap;
use super::{Batch, CaptureError, FrameMeta, LinkType, PacketSource, Progress};
use otwatch_common::Timestamp;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Ring geometry and fanout of one AF_PACKET socket.
#[derive(Debug, Clone)]
pub struct AfPacketConfig {
    pub interface: String,
    /// Index reported in each frame's [`FrameMeta::interface`].
    pub source_index: u32,
    /// Bytes per block: a multiple of the page size, a power of two.
    pub block_size: u32,
    /// Blocks in the ring; the ring holds `block_size * blocks` bytes of frames.
    pub blocks: u32,
    /// A block that is not full is handed over after this long (`tp_retire_blk_tov`).
    pub block_timeout: Duration,
    /// How long `next_batch` waits for a block before returning an empty batch.
    pub poll_timeout: Duration,
    /// Fanout group id (shared by the sockets of one interface) when more than one socket
    /// reads the interface.
    pub fanout: Option<u16>,
    /// Put the interface in promiscuous mode while the socket is open (a mirror port
    /// delivers frames addressed to other hosts).
    pub promiscuous: bool,
}

impl Default for AfPacketConfig {
    fn default() -> Self {
        AfPacketConfig {
            interface: String::new(),
            source_index: 0,
            block_size: 1 << 20,
            blocks: 64,
            block_timeout: Duration::from_millis(10),
            poll_timeout: Duration::from_millis(100),
            fanout: None,
            promiscuous: true,
        }
    }
}

// Layouts from include/uapi/linux/if_packet.h (read by offset, never by casting).
/// `struct tpacket_block_desc`: version, offset_to_priv, then `tpacket_hdr_v1` at 8.
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
/// `struct tpacket3_hdr` fields.
const PKT_NEXT: usize = 0;
const PKT_SEC: usize = 4;
const PKT_NSEC: usize = 8;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_STATUS: usize = 20;
const PKT_MAC: usize = 24;
/// `hv1.tp_vlan_tci`, valid when the status has `TP_STATUS_VLAN_VALID`.
const PKT_VLAN_TCI: usize = 32;
const PKT_HDR_MIN: usize = 40;
/// The driver took the frame's 802.1Q tag out (VLAN offload); `tp_vlan_tci` holds it.
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;

/// One AF_PACKET socket with a TPACKET_V3 receive ring.
pub struct AfPacketSocket {
    // Field order: the ring is unmapped before the socket closes.
    ring: Mmap,
    fd: OwnedFd,
    cfg: AfPacketConfig,
    block_size: usize,
    blocks: usize,
    /// Next block to read.
    current: usize,
    /// The block lent out by the last batch, returned on the next call.
    lent: Option<usize>,
    metas: Vec<FrameMeta>,
    counters: LiveCounters,
}

impl std::fmt::Debug for AfPacketSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfPacketSocket")
            .field("interface", &self.cfg.interface)
            .field("fanout", &self.cfg.fanout)
            .field("counters", &self.counters)
            .finish()
    }
}

fn last_os(op: &str) -> LiveError {
    LiveError::os(op, AF_PACKET_CAPS, io::Error::last_os_error())
}

fn setsockopt<T>(fd: RawFd, level: i32, name: i32, value: &T, what: &str) -> Result<(), LiveError> {
    // SAFETY: `value` points to a live T of the given size for the duration of the call; the
    // kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_os(what))
    }
}

impl AfPacketSocket {
    /// Opens a socket on `cfg.interface`, maps its ring and (optionally) joins the fanout group.
    pub fn open(cfg: &AfPacketConfig) -> Result<AfPacketSocket, LiveError> {
        let index = ifindex(&cfg.interface)?;
        let page = 4096u32;
        if cfg.block_size < page || !cfg.block_size.is_power_of_two() || cfg.blocks == 0 {
            return Err(LiveError::Unsupported {
                interface: cfg.interface.clone(),
                detail: format!(
                    "AF_PACKET block size {} must be a power of two of at least 4096 bytes and the ring needs at least one block",
                    cfg.block_size
                ),
            });
        }
        // Protocol 0: receive nothing until bound to the interface (no frames of other
        // interfaces slip into the ring).
        // SAFETY: plain syscall with constant arguments; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(last_os("socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &version,
            "PACKET_VERSION TPACKET_V3",
        )?;
        let frame_size = 2048u32;
        let req = libc::tpacket_req3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.blocks,
            tp_frame_size: frame_size,
            tp_frame_nr: cfg.block_size / frame_size * cfg.blocks,
            tp_retire_blk_tov: cfg.block_timeout.as_millis().clamp(1, 10_000) as u32,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            &req,
            "PACKET_RX_RING",
        )
        .map_err(|e| match e {
            LiveError::Os { op, source } if source.raw_os_error() == Some(libc::ENOMEM) => {
                LiveError::MemLock { op, source }
            }
            e => e,
        })?;
        let len = cfg.block_size as usize * cfg.blocks as usize;
        let ring = Mmap::ring(&fd, len, 0)
            .map_err(|e| LiveError::os("mmap of the AF_PACKET ring", AF_PACKET_CAPS, e))?;
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = index as i32;
        // SAFETY: `sll` is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(last_os(&format!("bind AF_PACKET to {}", cfg.interface)));
        }
        if cfg.promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: index as i32,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
                "PACKET_ADD_MEMBERSHIP promiscuous",
            )?;
        }
        if let Some(group) = cfg.fanout {
            let arg: u32 =
                group as u32 | ((libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG) << 16);
            setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                &arg,
                "PACKET_FANOUT",
            )?;
        }
        let mut s = AfPacketSocket {
            ring,
            fd,
            cfg: cfg.clone(),
            block_size: cfg.block_size as usize,
            blocks: cfg.blocks as usize,
            current: 0,
            lent: None,
            metas: Vec::with_capacity(256),
            counters: LiveCounters::default(),
        };
        // Frames counted before the ring existed do not belong to this run.
        s.kernel_stats();
        Ok(s)
    }

    fn status(&self, block: usize) -> &AtomicU32 {
        // SAFETY: block < blocks (callers pass `current` or `lent`, both kept below it), so
        // the word lies inside the mapping, and block starts are page aligned, so it is
        // aligned for u32. The kernel loads and stores it whole (plain aligned accesses with
        // smp_wmb/smp_rmb around them). Our only store is in `release`, after the lent
        // block's slice is gone; a read of the word through that slice (only if a lying block
        // puts a frame over it) falls between our Acquire load and that store, while the
        // kernel only reads the word.
        unsafe {
            AtomicU32::from_ptr(
                self.ring
                    .as_ptr()
                    .add(block * self.block_size + BLOCK_STATUS)
                    .cast::<u32>(),
            )
        }
    }

    fn block_ready(&self, block: usize) -> bool {
        self.status(block).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// The bytes of the block lent out by the last batch (empty when none is).
    fn lent_block(&self) -> &[u8] {
        let Some(block) = self.lent else {
            return &[];
        };
        // SAFETY: `lent` holds only a block index below `blocks` (so the block lies inside the
        // mapping) whose status word we loaded with Acquire and found TP_STATUS_USER, and it
        // is cleared before `release` gives the block back. From the moment the kernel sets
        // TP_STATUS_USER (after its last write to the block, behind a write barrier in
        // prb_close_block) until we store TP_STATUS_KERNEL, the whole block is user space's:
        // the kernel writes only the block it is filling and freezes the queue rather than
        // enter a block still marked TP_STATUS_USER (prb_dispatch_next_block); meanwhile it
        // only reads that block's status word. This slice covers just that block, lives no
        // longer than `&self`, and the block goes back only through `&mut self` (the next
        // `next_batch`, or drop).
        unsafe {
            std::slice::from_raw_parts(
                self.ring.as_ptr().add(block * self.block_size),
                self.block_size,
            )
        }
    }

    fn release(&mut self) {
        if let Some(b) = self.lent.take() {
            self.status(b)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        }
    }

    fn wait(&self) -> io::Result<()> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        let ms = self.cfg.poll_timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Reads and accumulates the kernel's counters (reading resets them in the kernel).
    fn kernel_stats(&mut self) {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st` and `len` are valid for writes of the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            self.counters.kernel_drops += st.tp_drops as u64;
            self.counters.freezes += st.tp_freeze_q_cnt as u64;
        }
    }

    /// Parses the frames of a block into `metas`, skipping anything that lies outside the block;
    /// returns the number of frames and their wire bytes.
    fn parse_block(block: &[u8], source_index: u32, metas: &mut Vec<FrameMeta>) -> (u64, u64) {
        metas.clear();
        let rd = |off: usize| -> Option<u32> {
            block
                .get(off..off + 4)
                .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        let rd16 = |off: usize| -> Option<u16> {
            block
                .get(off..off + 2)
                .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        };
        let (Some(n), Some(first)) = (rd(BLOCK_NUM_PKTS), rd(BLOCK_FIRST_PKT)) else {
            return (0, 0);
        };
        let mut off = first as usize;
        let mut bytes = 0u64;
        for _ in 0..n {
            if off + PKT_HDR_MIN > block.len() {
                break;
            }
            let (Some(next), Some(sec), Some(nsec), Some(snap), Some(len), Some(mac)) = (
                rd(off + PKT_NEXT),
                rd(off + PKT_SEC),
                rd(off + PKT_NSEC),
                rd(off + PKT_SNAPLEN),
                rd(off + PKT_LEN),
                rd16(off + PKT_MAC),
            ) else {
                break;
            };
            // A tag the driver stripped (rx VLAN offload, the default on most NICs and on
            // veth) is reported beside the frame: without it a trunk's VLANs would merge.
            let vlan = match (rd(off + PKT_STATUS), rd(off + PKT_VLAN_TCI)) {
                (Some(status), Some(tci)) if status & TP_STATUS_VLAN_VALID != 0 => {
                    (tci & 0x0fff) as u16
                }
                _ => 0,
            };
            let start = off + mac as usize;
            if start + snap as usize <= block.len() {
                metas.push(FrameMeta {
                    ts: Timestamp::from_secs_nanos(sec as u64, nsec as u64),
                    link: LinkType::Ethernet,
                    offset: start as u32,
                    caplen: snap,
                    wire_len: len,
                    interface: source_index,
                    vlan,
                });
                bytes += len as u64;
            }
            if next == 0 {
                break;
            }
            off += next as usize;
        }
        (metas.len() as u64, bytes)
    }
}

impl PacketSource for AfPacketSocket {
    fn next_batch(&mut self) -> Result<Option<Batch<'_>>, CaptureError> {
        self.release();
        if !self.block_ready(self.current) {
            self.wait().map_err(|source| CaptureError::Io {
                path: self.cfg.interface.clone(),
                source,
            })?;
        }
        let b = self.current;
        if !self.block_ready(b) {
            return Ok(Some(Batch::Buffer {
                buf: &[],
                frames: &[],
            }));
        }
        self.current = (b + 1) % self.blocks;
        self.lent = Some(b);
        let mut metas = std::mem::take(&mut self.metas);
        let (n, bytes) = Self::parse_block(self.lent_block(), self.cfg.source_index, &mut metas);
        self.metas = metas;
        self.counters.packets += n;
        self.counters.bytes += bytes;
        Ok(Some(Batch::Buffer {
            buf: self.lent_block(),
            frames: &self.metas,
        }))
    }

    fn progress(&self) -> Progress {
        Progress {
            done: self.counters.bytes,
            total: None,
        }
    }
}

impl LiveSource for AfPacketSocket {
    fn counters(&mut self) -> LiveCounters {
        self.kernel_stats();
        self.counters
    }

    fn describe(&self) -> String {
        format!(
            "af_packet tpacket_v3 ({} x {} KiB blocks{})",
            self.blocks,
            self.block_size / 1024,
            if self.cfg.fanout.is_some() {
                ", fanout hash"
            } else {
                ""
            }
        )
    }

    fn location(&self) -> (&str, u32) {
        (&self.cfg.interface, 0)
    }

    fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Waits until one of `fds` is readable or `timeout` passes.
pub fn poll_any(fds: &[RawFd], timeout: Duration) -> io::Result<()> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        })
        .collect();
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd entries for the call.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_with(frames: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0u8; 8192];
        let first = 48usize;
        b[BLOCK_NUM_PKTS..BLOCK_NUM_PKTS + 4].copy_from_slice(&(frames.len() as u32).to_ne_bytes());
        b[BLOCK_FIRST_PKT..BLOCK_FIRST_PKT + 4].copy_from_slice(&(first as u32).to_ne_bytes());
        let mut off = first;
        for (i, f) in frames.iter().enumerate() {
            let mac = 64usize;
            let next = if i + 1 == frames.len() {
                0
            } else {
                (mac + f.len()).next_multiple_of(16)
            };
            let put = |b: &mut Vec<u8>, at: usize, v: u32| {
                b[off + at..off + at + 4].copy_from_slice(&v.to_ne_bytes())
            };
            put(&mut b, PKT_NEXT, next as u32);
            put(&mut b, PKT_SEC, 1_700_000_000);
            put(&mut b, PKT_NSEC, 5);
            put(&mut b, PKT_SNAPLEN, f.len() as u32);
            put(&mut b, PKT_LEN, f.len() as u32 + 4);
            b[off + PKT_MAC..off + PKT_MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            b[off + mac..off + mac + f.len()].copy_from_slice(f);
            off += next;
        }
        b
    }

    #[test]
    fn parses_the_frames_of_a_block() {
        let b = block_with(&[b"hello frame one", b"two"]);
        let mut metas = Vec::new();
        let (n, bytes) = AfPacketSocket::parse_block(&b, 3, &mut metas);
        assert_eq!((n, bytes), (2, 15 + 4 + 3 + 4));
        let batch = Batch::Buffer {
            buf: &b,
            frames: &metas,
        };
        let got: Vec<&[u8]> = batch.iter().map(|f| f.data).collect();
        assert_eq!(got, [&b"hello frame one"[..], b"two"]);
        assert_eq!(metas[0].interface, 3);
        assert_eq!(metas[0].ts, Timestamp::from_secs_nanos(1_700_000_000, 5));
    }

    #[test]
    fn a_lying_block_yields_only_the_frames_inside_it() {
        let mut b = block_with(&[b"abc"]);
        // Claim 1000 packets and a snap length past the end.
        b[BLOCK_NUM_PKTS..BLOCK_NUM_PKTS + 4].copy_from_slice(&1000u32.to_ne_bytes());
        let mut metas = Vec::new();
        AfPacketSocket::parse_block(&b, 0, &mut metas);
        assert_eq!(metas.len(), 1);
        b[48 + PKT_SNAPLEN..48 + PKT_SNAPLEN + 4].copy_from_slice(&100_000u32.to_ne_bytes());
        AfPacketSocket::parse_block(&b, 0, &mut metas);
        assert!(metas.is_empty());
        AfPacketSocket::parse_block(&[0u8; 10], 0, &mut metas);
        assert!(metas.is_empty());
    }

    #[test]
    fn bad_geometry_is_refused_with_a_reason() {
        let cfg = AfPacketConfig {
            interface: "lo".into(),
            block_size: 5000,
            ..Default::default()
        };
        let e = AfPacketSocket::open(&cfg).unwrap_err();
        assert!(e.to_string().contains("power of two"), "{e}");
    }
}
