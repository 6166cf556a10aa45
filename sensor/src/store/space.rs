//! Disk space for the state store ([`otwatch_common::disk`]): the reserve is `store.reserve`
//! in the state directory.

use otwatch_common::disk::{self, Reserve};
use std::path::Path;

pub(crate) use otwatch_common::disk::available;

/// Whether a sled error is a full disk.
pub(crate) fn sled_full(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if disk::is_full(io))
}

fn reserve(dir: &Path) -> Reserve {
    Reserve::new(dir.join("store.reserve"))
}

/// Whether the disk has room for the store to take writes again (and its reserve).
pub(crate) fn has_room(dir: &Path) -> bool {
    reserve(dir).has_room(dir)
}

pub(crate) fn keep_reserve(dir: &Path) {
    reserve(dir).keep()
}

pub(crate) fn release_reserve(dir: &Path) -> bool {
    reserve(dir).release()
}

pub(crate) fn remove_partial_snapshots(dir: &Path) -> bool {
    disk::remove_partial_snapshots(dir, "state store")
}
