//! UMEM and the single-producer/single-consumer rings shared with the kernel
//! (Documentation/networking/af_xdp.rst, "Rings" and "UMEM").
//!
//! Each ring is a power-of-two array with a producer and a consumer index (free-running u32s)
//! in the same mapping. The side that produces writes entries, then stores the producer index
//! with Release; the side that consumes loads it with Acquire before reading entries, and gives
//! entries back by storing the consumer index with Release. The kernel does the same on its
//! side (smp_load_acquire/smp_store_release in net/xdp/xsk_queue.h).

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

pub(super) use crate::capture::mmap::Mmap;

/// Where producer, consumer, flags and descriptors sit in a ring mapping
/// (`struct xdp_ring_offset` from XDP_MMAP_OFFSETS).
#[derive(Debug, Clone, Copy)]
pub(super) struct RingLayout {
    pub producer: u64,
    pub consumer: u64,
    pub desc: u64,
    pub flags: u64,
}

impl From<libc::xdp_ring_offset> for RingLayout {
    fn from(o: libc::xdp_ring_offset) -> RingLayout {
        RingLayout {
            producer: o.producer,
            consumer: o.consumer,
            desc: o.desc,
            flags: o.flags,
        }
    }
}

/// The raw view of one ring: checked once at construction, so the accessors cannot go out of
/// bounds.
#[derive(Debug)]
struct RawRing {
    /// Owns the memory the pointers below point into.
    _map: Mmap,
    producer: NonNull<AtomicU32>,
    consumer: NonNull<AtomicU32>,
    flags: NonNull<AtomicU32>,
    desc: NonNull<u8>,
    mask: u32,
}

impl RawRing {
    fn new(map: Mmap, layout: RingLayout, entries: u32, entry_size: usize) -> io::Result<RawRing> {
        let len = map.len() as u64;
        let desc_end = layout
            .desc
            .checked_add(u64::from(entries) * entry_size as u64);
        let word_ok = |off: u64| off % 4 == 0 && off.checked_add(4).is_some_and(|e| e <= len);
        if !entries.is_power_of_two()
            || !word_ok(layout.producer)
            || !word_ok(layout.consumer)
            || !word_ok(layout.flags)
            || layout.desc % 8 != 0
            || desc_end.is_none_or(|e| e > len)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the kernel's ring offsets do not fit the ring mapping",
            ));
        }
        let at = |off: u64| -> NonNull<u8> {
            // SAFETY: `off` was checked above to lie inside the mapping.
            unsafe { NonNull::new_unchecked(map.as_ptr().add(off as usize)) }
        };
        Ok(RawRing {
            producer: at(layout.producer).cast(),
            consumer: at(layout.consumer).cast(),
            flags: at(layout.flags).cast(),
            desc: at(layout.desc),
            mask: entries - 1,
            _map: map,
        })
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: 4-byte aligned word inside our live mapping (checked in `new`); the kernel
        // only touches it atomically, so an `AtomicU32` view is sound.
        unsafe { self.producer.as_ref() }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { self.consumer.as_ref() }
    }

    fn flags(&self) -> &AtomicU32 {
        // SAFETY: aligned word inside our live mapping, as for `producer`. The kernel sets and
        // clears XDP_RING_NEED_WAKEUP with plain read-modify-writes of the aligned word, whose
        // stores do not tear; we only load it, and only as a hint (a stale value costs a
        // syscall or a poll).
        unsafe { self.flags.as_ref() }
    }

    fn size(&self) -> u32 {
        self.mask + 1
    }
}

/// The fill ring: we produce frame addresses for the kernel to receive into.
#[derive(Debug)]
pub(super) struct FillRing {
    raw: RawRing,
}

impl FillRing {
    pub(super) fn new(map: Mmap, layout: RingLayout, entries: u32) -> io::Result<FillRing> {
        RawRing::new(map, layout, entries, 8).map(|raw| FillRing { raw })
    }

    /// Hands frame addresses to the kernel; returns how many fitted.
    pub(super) fn give(&mut self, addrs: &[u64]) -> usize {
        let prod = self.raw.producer().load(Ordering::Relaxed); // only we write it
        let cons = self.raw.consumer().load(Ordering::Acquire);
        let free = self.raw.size().wrapping_sub(prod.wrapping_sub(cons)) as usize;
        let n = addrs.len().min(free);
        for (i, &addr) in addrs.iter().take(n).enumerate() {
            let slot = (prod.wrapping_add(i as u32) & self.raw.mask) as usize;
            // SAFETY: `slot <= mask`, so the u64 lies inside the descriptor array checked in
            // `RawRing::new`. The `free` slots from our producer index on are ours: the kernel
            // reads only slots from its consumer index up to our producer index, and the
            // Acquire load of the consumer above orders its last reads of them before our
            // write. They become the kernel's at the Release store of the producer below.
            unsafe {
                self.raw
                    .desc
                    .cast::<u64>()
                    .as_ptr()
                    .add(slot)
                    .write_volatile(addr)
            };
        }
        if n > 0 {
            self.raw
                .producer()
                .store(prod.wrapping_add(n as u32), Ordering::Release);
        }
        n
    }

    /// XDP_RING_NEED_WAKEUP: the driver sleeps until we make a syscall (af_xdp.rst,
    /// "XDP_USE_NEED_WAKEUP bind flag").
    pub(super) fn needs_wakeup(&self) -> bool {
        self.raw.flags().load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }
}

/// The RX ring: the kernel produces descriptors of received frames.
#[derive(Debug)]
pub(super) struct RxRing {
    raw: RawRing,
}

impl RxRing {
    pub(super) fn new(map: Mmap, layout: RingLayout, entries: u32) -> io::Result<RxRing> {
        RawRing::new(map, layout, entries, size_of::<libc::xdp_desc>()).map(|raw| RxRing { raw })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.raw.producer().load(Ordering::Acquire) == self.raw.consumer().load(Ordering::Relaxed)
    }

    /// Takes up to `max` descriptors, calling `f(addr, len)` for each, and releases the slots.
    pub(super) fn take(&mut self, max: usize, mut f: impl FnMut(u64, u32)) -> usize {
        let cons = self.raw.consumer().load(Ordering::Relaxed); // only we write it
        let prod = self.raw.producer().load(Ordering::Acquire);
        let n = (prod.wrapping_sub(cons) as usize)
            .min(max)
            .min(self.raw.size() as usize);
        for i in 0..n {
            let slot = (cons.wrapping_add(i as u32) & self.raw.mask) as usize;
            // SAFETY: `slot <= mask` keeps the descriptor inside the array checked in
            // `RawRing::new`; the Acquire load of the producer above orders the kernel's write
            // of this entry before our read, and the kernel does not reuse the slot before the
            // Release store of the consumer below. A copy is read, never a reference kept.
            let d = unsafe {
                self.raw
                    .desc
                    .cast::<libc::xdp_desc>()
                    .as_ptr()
                    .add(slot)
                    .read_volatile()
            };
            f(d.addr, d.len);
        }
        if n > 0 {
            self.raw
                .consumer()
                .store(cons.wrapping_add(n as u32), Ordering::Release);
        }
        n
    }
}

// SAFETY: the rings hold the only pointers into their own mappings; the kernel is the other
// party whichever thread we run on.
unsafe impl Send for FillRing {}
// SAFETY: as for `FillRing`.
unsafe impl Send for RxRing {}
