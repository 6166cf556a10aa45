//! One AF_XDP socket on one receive queue, set up in the order af_xdp.rst describes: UMEM
//! registration, ring sizes, ring mmaps, fill ring prefill, bind, then the XSKMAP entry.

use super::super::live::{LiveCounters, LiveError, LiveSource, AF_XDP_CAPS};
use super::super::{Batch, CaptureError, Frame, LinkType, PacketSource, Progress};
use super::bpf::{AttachedMode, XdpProgram};
use super::ring::{FillRing, Mmap, RingLayout, RxRing};
use super::{getsockopt, memlock_limited, setsockopt, XdpConfig, ZeroCopy};
use otwatch_common::Timestamp;
use std::io;
use std::ops::Range;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{SystemTime, UNIX_EPOCH};

/// An AF_XDP socket receiving one queue of one interface.
///
/// Frames of a batch stay in the UMEM until the next call to `next_batch`, which hands them
/// back to the kernel through the fill ring.
#[derive(Debug)]
pub struct XdpSocket {
    // Declaration order is drop order: drop the last batch's slices, unmap the rings, close the
    // socket (which also removes it from the XSKMAP), then unmap the UMEM (the kernel holds its
    // own page references until the socket is gone, so the order is not needed for safety,
    // only tidy).
    /// The frames of the last batch, each a slice of the one UMEM chunk the RX ring handed
    /// over. `'static` stands for "until the chunk goes back to the kernel": see `next_batch`.
    frames: Vec<Frame<'static>>,
    rx: RxRing,
    fill: FillRing,
    fd: OwnedFd,
    umem: Mmap,
    /// Bytes per UMEM chunk (a power of two).
    frame_size: u64,
    /// UMEM addresses of the chunks handed out in the last batch.
    held: Vec<u64>,
    batch: usize,
    poll_timeout_ms: libc::c_int,
    interface: String,
    queue: u32,
    source_index: u32,
    mode: AttachedMode,
    zero_copy: bool,
    packets: u64,
    bytes: u64,
    invalid: u64,
}

impl XdpSocket {
    /// Opens queue `cfg.queue` of `program`'s interface and adds it to the program's map.
    pub fn open(cfg: &XdpConfig, program: &XdpProgram) -> Result<XdpSocket, LiveError> {
        cfg.check()?;
        let interface = program.interface().to_string();
        let queue = cfg.queue;
        if queue >= program.queues() {
            return Err(LiveError::Unsupported {
                interface,
                detail: format!(
                    "queue {queue} does not exist (the interface has {} receive queues)",
                    program.queues()
                ),
            });
        }
        if cfg.zero_copy == ZeroCopy::On && program.mode() == AttachedMode::Generic {
            return Err(LiveError::Unsupported {
                interface,
                detail: "zero-copy needs the XDP program in native mode, but it is attached in generic mode; allow copy mode or use a driver with native XDP".into(),
            });
        }
        let os = |op: &str, e: io::Error| {
            LiveError::os(format!("{interface} queue {queue}: {op}"), AF_XDP_CAPS, e)
        };

        let fd = super::new_socket()?;
        let umem_len = cfg.frames as usize * cfg.frame_size as usize;
        let umem = Mmap::anonymous(umem_len).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOMEM | libc::EAGAIN) => LiveError::MemLock {
                op: format!("mapping {umem_len} bytes of UMEM for {interface} queue {queue}"),
                source: e,
            },
            _ => os("mmap of the UMEM", e),
        })?;

        // af_xdp.rst "XDP_UMEM_REG setsockopt"; struct xdp_umem_reg in if_xdp.h.
        let reg = libc::xdp_umem_reg {
            addr: umem.as_ptr() as u64,
            len: umem_len as u64,
            chunk_size: cfg.frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt(&fd, libc::XDP_UMEM_REG, &reg).map_err(|e| match e.raw_os_error() {
            // ENOBUFS: pages over RLIMIT_MEMLOCK (xdp_umem_account_pages); ENOMEM: pinning
            // failed, which a low limit also causes.
            Some(libc::ENOBUFS) => LiveError::MemLock {
                op: format!("registering {umem_len} bytes of UMEM for {interface} queue {queue} (XDP_UMEM_REG)"),
                source: e,
            },
            Some(libc::ENOMEM) if memlock_limited() => LiveError::MemLock {
                op: format!("registering {umem_len} bytes of UMEM for {interface} queue {queue} (XDP_UMEM_REG)"),
                source: e,
            },
            _ => os("XDP_UMEM_REG", e),
        })?;

        // Every frame fits in the fill ring at once, so giving frames back never fails.
        let fill_size = cfg.frames.next_power_of_two();
        // Required for every UMEM even though the sensor never transmits into it.
        let completion_size: u32 = 64;
        setsockopt(&fd, libc::XDP_UMEM_FILL_RING, &fill_size)
            .map_err(|e| os("XDP_UMEM_FILL_RING", e))?;
        setsockopt(&fd, libc::XDP_UMEM_COMPLETION_RING, &completion_size)
            .map_err(|e| os("XDP_UMEM_COMPLETION_RING", e))?;
        setsockopt(&fd, libc::XDP_RX_RING, &cfg.ring_size).map_err(|e| os("XDP_RX_RING", e))?;

        // af_xdp.rst "XDP_{RX|TX|UMEM_FILL|UMEM_COMPLETION}_RING setsockopts": offsets, then mmap.
        let off: libc::xdp_mmap_offsets =
            getsockopt(&fd, libc::XDP_MMAP_OFFSETS).map_err(|e| os("XDP_MMAP_OFFSETS", e))?;
        let fill_layout = RingLayout::from(off.fr);
        let rx_layout = RingLayout::from(off.rx);
        let fill_len = fill_layout.desc as usize + fill_size as usize * 8;
        let rx_len = rx_layout.desc as usize + cfg.ring_size as usize * size_of::<libc::xdp_desc>();
        let fill_map = Mmap::ring(&fd, fill_len, libc::XDP_UMEM_PGOFF_FILL_RING)
            .map_err(|e| os("mmap of the fill ring", e))?;
        let rx_map = Mmap::ring(&fd, rx_len, libc::XDP_PGOFF_RX_RING as u64)
            .map_err(|e| os("mmap of the RX ring", e))?;
        let bad_layout = |e: io::Error| LiveError::Os {
            op: format!("{interface} queue {queue}: ring layout"),
            source: e,
        };
        let mut fill = FillRing::new(fill_map, fill_layout, fill_size).map_err(bad_layout)?;
        let rx = RxRing::new(rx_map, rx_layout, cfg.ring_size).map_err(bad_layout)?;

        // Hand every frame to the kernel before bind, so a zero-copy driver starts with buffers.
        let addrs: Vec<u64> = (0..u64::from(cfg.frames))
            .map(|i| i * u64::from(cfg.frame_size))
            .collect();
        fill.give(&addrs);

        // af_xdp.rst "XDP_COPY and XDP_ZEROCOPY bind flags": with neither flag the kernel tries
        // zero-copy and falls back to copy; XDP_OPTIONS then says which it chose. Generic XDP
        // always copies, so ask for copy outright there.
        let mut flags = libc::XDP_USE_NEED_WAKEUP;
        match (cfg.zero_copy, program.mode()) {
            (ZeroCopy::On, _) => flags |= libc::XDP_ZEROCOPY,
            (ZeroCopy::Off, _) | (ZeroCopy::Auto, AttachedMode::Generic) => flags |= libc::XDP_COPY,
            (ZeroCopy::Auto, AttachedMode::Native) => {}
        }
        bind(&fd, program.ifindex(), queue, flags).map_err(|e| match e.raw_os_error() {
            Some(libc::EBUSY) => LiveError::Busy {
                interface: interface.clone(),
                queue,
                source: e,
            },
            Some(libc::EOPNOTSUPP | libc::EINVAL) if cfg.zero_copy == ZeroCopy::On => LiveError::Unsupported {
                interface: interface.clone(),
                detail: format!("the driver has no AF_XDP zero-copy support on queue {queue} ({e}); allow copy mode"),
            },
            Some(libc::EOPNOTSUPP | libc::EINVAL) => LiveError::Unsupported {
                interface: interface.clone(),
                detail: format!("cannot bind an AF_XDP socket to queue {queue} ({e}); use --capture af_packet"),
            },
            _ => os("bind", e),
        })?;
        let zero_copy = getsockopt::<libc::xdp_options>(&fd, libc::XDP_OPTIONS)
            .map(|o| o.flags & libc::XDP_OPTIONS_ZEROCOPY != 0)
            .unwrap_or(cfg.zero_copy == ZeroCopy::On);

        program.insert(queue, fd.as_raw_fd())?;
        Ok(XdpSocket {
            frames: Vec::with_capacity(cfg.batch),
            rx,
            fill,
            fd,
            umem,
            frame_size: u64::from(cfg.frame_size),
            held: Vec::with_capacity(cfg.batch),
            batch: cfg.batch,
            poll_timeout_ms: libc::c_int::try_from(cfg.poll_timeout.as_millis())
                .unwrap_or(libc::c_int::MAX),
            interface,
            queue,
            source_index: cfg.source_index,
            mode: program.mode(),
            zero_copy,
            packets: 0,
            bytes: 0,
            invalid: 0,
        })
    }

    /// Whether the driver shares frames with us (zero-copy) or copies them.
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    pub fn mode(&self) -> AttachedMode {
        self.mode
    }

    fn io_error(&self, e: io::Error) -> CaptureError {
        CaptureError::Io {
            path: format!("{} queue {} (AF_XDP)", self.interface, self.queue),
            source: e,
        }
    }

    /// Waits up to the poll timeout for the RX ring to fill; EINTR counts as a timeout.
    fn wait(&self) -> io::Result<()> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for a socket we own.
        let r = unsafe { libc::poll(&mut pfd, 1, self.poll_timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// af_xdp.rst "XDP_USE_NEED_WAKEUP bind flag": the driver waits for a syscall before it
    /// takes buffers from the fill ring again.
    fn wake(&self) -> io::Result<()> {
        // SAFETY: a zero-length, non-blocking receive on our socket; no buffer is touched.
        let r = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if !matches!(
                e.raw_os_error(),
                Some(libc::EAGAIN | libc::EINTR | libc::EBUSY | libc::ENOBUFS | libc::ENETDOWN)
            ) {
                return Err(e);
            }
        }
        Ok(())
    }
}

impl PacketSource for XdpSocket {
    fn next_batch(&mut self) -> Result<Option<Batch<'_>>, CaptureError> {
        // The caller is done with the previous batch (it borrowed `self`). Its slices go first,
        // then its chunks go back to the kernel, so no slice ever covers a chunk the kernel
        // may write. The fill ring holds every frame, so they always fit; `held` keeps any
        // that did not.
        self.frames.clear();
        let n = self.fill.give(&self.held);
        self.held.drain(..n);

        if self.rx.is_empty() {
            // poll() also wakes a driver waiting on the fill ring.
            self.wait().map_err(|e| self.io_error(e))?;
        } else if self.fill.needs_wakeup() {
            self.wake().map_err(|e| self.io_error(e))?;
        }

        let ts = now();
        let umem = self.umem.as_ptr();
        let (umem_len, frame_size) = (self.umem.len() as u64, self.frame_size);
        let (link, interface) = (LinkType::Ethernet, self.source_index);
        let (frames, held) = (&mut self.frames, &mut self.held);
        let (mut bytes, mut invalid) = (0u64, 0u64);
        self.rx.take(self.batch, |addr, len| {
            if addr < umem_len {
                held.push(addr & !(frame_size - 1));
            }
            let Some(range) = frame_range(addr, len, frame_size, umem_len) else {
                invalid += 1;
                return;
            };
            // SAFETY: `range` lies inside the UMEM mapping, which `self` owns and unmaps only
            // on drop, and inside the one chunk the RX ring just handed over (`frame_range`).
            // That chunk is ours until we put it back in the fill ring: the kernel (or, in
            // zero-copy mode, the driver) receives only into chunks it took from the fill
            // ring (af_xdp.rst, "UMEM Fill Ring" and "RX Ring"), and we give this one back at
            // the start of the next call, after clearing `self.frames`. Nothing in this process
            // writes the UMEM. So no byte of the slice changes while it exists, and the UMEM
            // around it, which the kernel may write meanwhile, is never borrowed.
            // The `'static` never escapes: the batch lends `self.frames` as `&'a [Frame<'a>]`,
            // `'a` the borrow of `self`, which ends before the next call (`&mut self`) or the
            // drop, and `frames` is dropped before the UMEM is unmapped (field order).
            let data: &'static [u8] =
                unsafe { std::slice::from_raw_parts(umem.add(range.start), range.len()) };
            bytes += u64::from(len);
            frames.push(Frame {
                ts,
                link,
                data,
                wire_len: len,
                interface,
                // No VLAN metadata on this path: a tag the NIC strips before XDP is lost
                // (docs/ARCHITECTURE.md).
                vlan: 0,
            });
        });
        self.packets += self.frames.len() as u64;
        self.bytes += bytes;
        self.invalid += invalid;
        Ok(Some(Batch::Frames(&self.frames)))
    }

    fn progress(&self) -> Progress {
        Progress {
            done: self.bytes,
            total: None,
        }
    }
}

impl LiveSource for XdpSocket {
    fn counters(&mut self) -> LiveCounters {
        let mut c = LiveCounters {
            packets: self.packets,
            bytes: self.bytes,
            invalid_descs: self.invalid,
            ..Default::default()
        };
        // af_xdp.rst "XDP_STATISTICS getsockopt".
        if let Ok(s) = getsockopt::<libc::xdp_statistics>(&self.fd, libc::XDP_STATISTICS) {
            c.kernel_drops = s.rx_dropped;
            c.rx_ring_full = s.rx_ring_full;
            c.fill_ring_empty = s.rx_fill_ring_empty_descs;
            c.invalid_descs += s.rx_invalid_descs;
        }
        c
    }

    fn describe(&self) -> String {
        format!(
            "af_xdp {} {}",
            self.mode.as_str(),
            if self.zero_copy { "zero-copy" } else { "copy" }
        )
    }

    fn location(&self) -> (&str, u32) {
        (&self.interface, self.queue)
    }

    /// The AF_XDP socket: readable (POLLIN) when the RX ring has frames.
    fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn bind(fd: &OwnedFd, ifindex: u32, queue: u32, flags: u16) -> io::Result<()> {
    let sa = libc::sockaddr_xdp {
        sxdp_family: libc::AF_XDP as u16,
        sxdp_flags: flags,
        sxdp_ifindex: ifindex,
        sxdp_queue_id: queue,
        sxdp_shared_umem_fd: 0,
    };
    // SAFETY: `sa` is a valid sockaddr_xdp and we pass its exact size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_xdp).cast(),
            size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The UMEM bytes of a received frame, or `None` when the descriptor strays outside the chunk
/// its address falls in (the kernel never does that in aligned mode; a bad descriptor must not
/// make a slice over a neighbouring chunk the kernel may be writing). `frame_size` is a power
/// of two and `umem_len` a multiple of it.
pub(super) fn frame_range(
    addr: u64,
    len: u32,
    frame_size: u64,
    umem_len: u64,
) -> Option<Range<usize>> {
    if addr >= umem_len {
        return None;
    }
    // No overflow: `addr` is below `umem_len`, the size of a mapping.
    let chunk_end = (addr & !(frame_size - 1)) + frame_size;
    let end = addr + u64::from(len);
    (end <= chunk_end).then_some(addr as usize..end as usize)
}

/// One CLOCK_REALTIME read (what `SystemTime::now` does on Linux).
fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs(), u64::from(d.subsec_nanos()))
}
