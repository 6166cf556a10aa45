//! Disk space for the state store: telling a full disk from other I/O errors, how much is
//! free, the reserve file that lets the store open on a full disk, and the half-written sled
//! snapshots a full disk (or a crash) leaves behind.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The reserve kept next to the store: deleted to make room for opening the store when the
/// disk is full at start (sled writes a snapshot when it opens), written again once space is
/// back.
pub(crate) const RESERVE_BYTES: u64 = 1 << 20;
/// Free space needed (besides the reserve) before a store that ran out takes writes again.
pub(crate) const MIN_FREE_BYTES: u64 = 2 << 20;
/// The reserve's file name, in the state directory (not `snap.*`: sled takes those for its own).
const RESERVE_FILE: &str = "store.reserve";

/// Whether `e` says the disk (or the user's quota on it) is full.
pub(crate) fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Whether a sled error is a full disk.
pub(crate) fn sled_full(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if is_full(io))
}

/// Bytes an unprivileged process can still write on the file system holding `path` (0 when
/// it cannot be told).
pub(crate) fn available(path: &Path) -> u64 {
    rustix::fs::statvfs(path)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0)
}

fn reserve_path(dir: &Path) -> PathBuf {
    dir.join(RESERVE_FILE)
}

/// Whether the file system holding `dir` has room to take writes again: the free minimum, plus
/// the reserve when it must be written again.
pub(crate) fn has_room(dir: &Path) -> bool {
    let reserve = if reserve_path(dir)
        .metadata()
        .is_ok_and(|m| m.len() >= RESERVE_BYTES)
    {
        0
    } else {
        RESERVE_BYTES
    };
    available(dir) >= MIN_FREE_BYTES + reserve
}

/// Writes the reserve if it is missing (real bytes: a sparse file reserves nothing). On a
/// disk without room for it, leaves none.
pub(crate) fn keep_reserve(dir: &Path) {
    let path = reserve_path(dir);
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
        tracing::warn!(path = %path.display(), error = %e, "cannot write the state store's disk reserve");
        let _ = std::fs::remove_file(&path);
    }
}

/// Deletes the reserve; whether there was one.
pub(crate) fn release_reserve(dir: &Path) -> bool {
    std::fs::remove_file(reserve_path(dir)).is_ok()
}

/// Deletes the snapshot files sled left half-written (`snap.<lsn>.generating`: one is renamed
/// only once complete); whether there were any. sled 0.34 takes such a file for the newest
/// snapshot and refuses to open ("Read corrupted data"); it is left behind when writing the
/// snapshot fails, which happens when the store is opened on a full disk (sled writes a
/// snapshot at open) or the process dies meanwhile. Without it sled opens from the previous
/// snapshot and its log.
pub(crate) fn remove_partial_snapshots(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut removed = false;
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("snap.") && name.ends_with(".generating")) {
            continue;
        }
        match std::fs::remove_file(e.path()) {
            Ok(()) => {
                tracing::warn!(file = %e.path().display(), "removed a half-written snapshot of the state store (left by a full disk or a crash)");
                removed = true;
            }
            Err(err) => {
                tracing::warn!(file = %e.path().display(), error = %err, "cannot remove a half-written snapshot of the state store");
            }
        }
    }
    removed
}
