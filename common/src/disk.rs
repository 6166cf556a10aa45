//! Disk space for the sled stores of the sensor and the manager: telling a full disk from
//! other I/O errors, how much is free, the reserve file that lets a store open on a full disk,
//! and the half-written sled snapshots a full disk (or a crash) leaves behind.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The reserve kept next to a store: deleted to make room for opening the store when the disk
/// is full at start (sled writes a snapshot when it opens), written again once space is back.
pub const RESERVE_BYTES: u64 = 1 << 20;
/// Free space needed (besides the reserve) before a store that ran out takes writes again.
pub const MIN_FREE_BYTES: u64 = 2 << 20;

/// Whether `e` says the disk (or the user's quota on it) is full.
pub fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Bytes an unprivileged process can still write on the file system holding `path` (0 when
/// it cannot be told).
pub fn available(path: &Path) -> u64 {
    rustix::fs::statvfs(path)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0)
}

/// A store's reserve file: [`RESERVE_BYTES`] of real bytes on the store's file system.
#[derive(Debug, Clone)]
pub struct Reserve {
    path: PathBuf,
}

impl Reserve {
    /// The reserve at `path` (a file beside the store; not `snap.*`, which sled takes).
    pub fn new(path: PathBuf) -> Reserve {
        Reserve { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the whole reserve is on disk.
    pub fn is_kept(&self) -> bool {
        self.path.metadata().is_ok_and(|m| m.len() >= RESERVE_BYTES)
    }

    /// Whether the file system holding `dir` has room to take writes again: the free minimum,
    /// plus the reserve when it must be written again.
    pub fn has_room(&self, dir: &Path) -> bool {
        let reserve = if self.is_kept() { 0 } else { RESERVE_BYTES };
        available(dir) >= MIN_FREE_BYTES + reserve
    }

    /// Writes the reserve if it is missing (real bytes: a sparse file reserves nothing). On a
    /// disk without room for it, leaves none.
    pub fn keep(&self) {
        if self.is_kept() {
            return;
        }
        let written = std::fs::File::create(&self.path).and_then(|mut f| {
            let zeros = vec![0u8; 64 << 10];
            for _ in 0..RESERVE_BYTES / zeros.len() as u64 {
                f.write_all(&zeros)?;
            }
            f.sync_all()
        });
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the store's disk reserve");
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Deletes the reserve; whether there was one.
    pub fn release(&self) -> bool {
        std::fs::remove_file(&self.path).is_ok()
    }
}

/// Deletes the snapshot files sled left half-written in `dir` (`snap.<lsn>.generating`: one is
/// renamed only once complete); whether there were any. sled 0.34 takes such a file for the
/// newest snapshot and refuses to open ("Read corrupted data"); it is left behind when writing
/// the snapshot fails, which happens when the store is opened on a full disk (sled writes a
/// snapshot at open) or the process dies meanwhile. Without it sled opens from the previous
/// snapshot and its log. `store` names the store in the log ("state store", "fleet store").
pub fn remove_partial_snapshots(dir: &Path, store: &str) -> bool {
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
                tracing::warn!(file = %e.path().display(), "removed a half-written snapshot of the {store} (left by a full disk or a crash)");
                removed = true;
            }
            Err(err) => {
                tracing::warn!(file = %e.path().display(), error = %err, "cannot remove a half-written snapshot of the {store}");
            }
        }
    }
    removed
}
