//! [`Tree`]: one keyed table inside a store's transaction, as the shared logic of applying a
//! batch ([`super::apply`]), retention ([`super::aging`]) and the forwarding queues
//! ([`crate::forward::queue`]) sees it. sled's transactional trees are one; the PostgreSQL
//! store's transaction overlay ([`super::pg_store`]) is the other.

use super::Abort;
use sled::transaction::TransactionalTree;

/// One keyed table (bytes to bytes) inside a transaction.
pub trait Tree {
    /// A value as the store hands it out.
    type Value: AsRef<[u8]>;
    fn get(&self, key: &[u8]) -> Result<Option<Self::Value>, Abort>;
    /// Writes `value` at `key`; returns what it held.
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Self::Value>, Abort>;
    /// Removes `key`; returns what it held.
    fn remove(&self, key: &[u8]) -> Result<Option<Self::Value>, Abort>;
    /// A new id, greater than every one handed out before (queue entries' order).
    fn generate_id(&self) -> Result<u64, Abort>;
}

impl Tree for TransactionalTree {
    type Value = sled::IVec;

    #[inline]
    fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, Abort> {
        Ok(TransactionalTree::get(self, key)?)
    }

    #[inline]
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<sled::IVec>, Abort> {
        Ok(TransactionalTree::insert(self, key, value)?)
    }

    #[inline]
    fn remove(&self, key: &[u8]) -> Result<Option<sled::IVec>, Abort> {
        Ok(TransactionalTree::remove(self, key)?)
    }

    #[inline]
    fn generate_id(&self) -> Result<u64, Abort> {
        Ok(TransactionalTree::generate_id(self)?)
    }
}
