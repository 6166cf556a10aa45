//! Disk space for the store: telling a full disk from other I/O errors, how much is free, and a
//! reserve file that gives the store room to open on a full disk.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The reserve kept next to the store: deleted to make room for opening the store when the
/// disk is full at start, written again once space is back.
pub(super) const RESERVE_BYTES: u64 = 1 << 20;
/// Free space needed (besides the reserve) before a store that ran out takes writes again.
pub(super) const MIN_FREE_BYTES: u64 = 2 << 20;

/// Whether `e` says the disk (or the user's quota on it) is full.
pub(super) fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Bytes an unprivileged process can still write on the file system holding `path` (0 when
/// it cannot be told).
pub(super) fn available(path: &Path) -> u64 {
    rustix::fs::statvfs(path)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0)
}

/// The reserve file of the store at `store`.
pub(super) fn reserve_path(store: &Path) -> PathBuf {
    let mut p = store.as_os_str().to_owned();
    p.push(".reserve");
    PathBuf::from(p)
}

/// Writes the reserve if it is missing (real bytes: a sparse file reserves nothing). On a
/// disk without room for it, leaves none.
pub(super) fn keep_reserve(store: &Path) {
    let path = reserve_path(store);
    if path.metadata().is_ok_and(|m| m.len() >= RESERVE_BYTES) {
        return;
    }
    let written = std::fs::File::create(&path).and_then(|mut f| {
        let zeros = vec![0u8; 64 << 10];
        for _ in 0..RESERVE_BYTES / zeros.len() as u64 {
            f.write_all(&zeros)?;
        }
        f.sync_all()
    });
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the store's disk reserve");
        let _ = std::fs::remove_file(&path);
    }
}

/// Deletes the reserve; whether there was one.
pub(super) fn release_reserve(store: &Path) -> bool {
    std::fs::remove_file(reserve_path(store)).is_ok()
}
