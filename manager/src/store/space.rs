//! Disk space for the fleet store ([`otwatch_common::disk`]): the reserve is the store's path
//! with `.reserve` appended.

use otwatch_common::disk::Reserve;
use std::path::Path;

pub(super) use otwatch_common::disk::{
    available, is_full, remove_partial_snapshots, MIN_FREE_BYTES,
};

/// The reserve file of the store at `store`.
pub(super) fn reserve(store: &Path) -> Reserve {
    let mut p = store.as_os_str().to_owned();
    p.push(".reserve");
    Reserve::new(p.into())
}
