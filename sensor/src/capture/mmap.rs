//! Owned memory mappings: the rings that capture sockets share with the kernel, and AF_XDP's
//! UMEM.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;

/// An owned memory mapping, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mmap {
    /// Anonymous private memory for the UMEM.
    pub(crate) fn anonymous(len: usize) -> io::Result<Mmap> {
        // SAFETY: a fresh anonymous mapping chosen by the kernel (addr NULL): it aliases
        // nothing in this process.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        Mmap::from_result(p, len)
    }

    /// A ring of socket `fd` at page offset `pgoff` (AF_PACKET: 0; AF_XDP: XDP_PGOFF_RX_RING,
    /// XDP_UMEM_PGOFF_*).
    pub(crate) fn ring(fd: &OwnedFd, len: usize, pgoff: u64) -> io::Result<Mmap> {
        let off =
            libc::off_t::try_from(pgoff).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a shared mapping of the kernel's ring for a socket we own, at an address the
        // kernel chooses; the kernel checks `len` against the ring it allocated.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                off,
            )
        };
        Mmap::from_result(p, len)
    }

    fn from_result(p: *mut libc::c_void, len: usize) -> io::Result<Mmap> {
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(p.cast::<u8>())
            .map(|ptr| Mmap { ptr, len })
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))
    }

    /// The start of the mapping. Memory the kernel shares (rings, UMEM) is accessed through
    /// raw pointers, atomics, or slices of exactly the bytes the kernel has handed over, never
    /// through a reference to the whole mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped once, here; every
        // borrow of the memory belongs to the owner that is being dropped (`XdpSocket` drops
        // its frame slices before the UMEM, `RawRing` its pointers with the ring; an AF_PACKET
        // socket's lent block borrows the socket).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

// SAFETY: the mapping is plain memory owned by this value; moving it to another thread moves
// the only handle to it.
unsafe impl Send for Mmap {}
