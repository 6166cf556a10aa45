//! The fleet's merged assets, kept up to date as batches are applied, so listing never waits
//! for a merge.
//!
//! Per site, [`SiteView`] holds every sensor's assets (the "parts"), indexes them by MAC and IP,
//! and keeps the merged [`FleetAsset`]s of [`crate::fleet::merge_assets`]. Parts only ever join
//! through a shared MAC or IP, so the merge of a site is the union of the merges of its connected
//! components (parts linked through shared addresses). When parts change, only the components
//! they touch, before and after the change, are merged again: the result is exactly what a merge
//! of the whole site would give, at the cost of the few parts involved.
//!
//! A site's view is built from the store on first use (the manager builds every site's at start).
//! After each applied batch the view replays the batch's asset deltas; if it finds that it missed
//! a batch of that sensor (two streams of one sensor raced), it reloads that sensor's assets from
//! the store instead. Replays are idempotent (an upsert sets a part, a removal clears it), so a
//! batch that the view saw both in the store and as a replay does no harm.
//!
//! Readers share immutable snapshots (the merged assets in id order) taken with one reference
//! count. Writers combine: a batch's replay is queued, and whoever holds the site's lock applies
//! everything queued and marks the snapshot stale. The first reader after a change takes a new
//! snapshot, waiting at most for the replay being applied; ingest never copies the view. The
//! merged assets are kept protobuf-encoded ([`Stored`]: readers decode only what they serve) in
//! chunks of at most 512 that snapshots share (`view/chunks.rs`): a snapshot copies one pointer
//! per chunk and derives the filter columns of the chunks changed since the last one, so it
//! costs what changed, not the site's size. A replay returns once its batch is in the view: when
//! a sensor gets its ack, listing shows what it sent.

use crate::fleet::{merge_assets, merge_group};
use crate::store::{FleetStore, Removed, StoreError, StoredKind};
use chunks::Assets;
pub use chunks::{Query, SiteAssets, Stored};
use otwatch_proto::v1::{delta::Change as DeltaChange, Asset, Delta, FleetAsset};
use prost::Message;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A sensor's asset: (sensor id, the sensor's asset id).
type PartKey = (String, String);

/// A sensor's asset as the view keeps it: protobuf-encoded, about a fifth of the decoded
/// `Asset`'s memory (its struct and one allocation per string and list). Parts are read only to
/// merge them again, so few are decoded at a time.
struct Part(Box<[u8]>);

impl Part {
    fn of(a: &Asset) -> Part {
        Part(a.encode_to_vec().into_boxed_slice())
    }

    /// The asset (decoding what [`Part::of`] encoded cannot fail; were it to, the part would
    /// read as an empty asset rather than stop the view).
    fn asset(&self) -> Asset {
        Asset::decode(&*self.0).unwrap_or_default()
    }
}

/// One site's parts, their address indexes and the merged assets.
#[derive(Default)]
pub struct SiteView {
    built: bool,
    /// Per sensor: the highest delta sequence number reflected here.
    seqs: FxHashMap<String, u64>,
    parts: BTreeMap<PartKey, Part>,
    /// The parts holding each address (usually one: a small vector, no duplicates).
    by_mac: FxHashMap<String, Vec<PartKey>>,
    by_ip: FxHashMap<String, Vec<PartKey>>,
    /// The fleet id of the merged asset each part belongs to.
    group_of: FxHashMap<PartKey, String>,
    merged: Assets,
    /// Addresses that parts held before [`SiteView::set_part`] changed them, until the next
    /// regroup: the parts still holding them were in the changed parts' component.
    touched_macs: Vec<String>,
    touched_ips: Vec<String>,
}

fn unindex(index: &mut FxHashMap<String, Vec<PartKey>>, addr: &str, key: &PartKey) {
    if let Some(set) = index.get_mut(addr) {
        set.retain(|k| k != key);
        if set.is_empty() {
            index.remove(addr);
        }
    }
}

fn index_add(index: &mut FxHashMap<String, Vec<PartKey>>, addr: &str, key: &PartKey) {
    let set = index.entry(addr.to_string()).or_default();
    if !set.contains(key) {
        set.push(key.clone());
    }
}

impl SiteView {
    /// The merged assets in id order.
    pub fn assets(&self) -> impl Iterator<Item = &Stored> {
        self.merged.iter()
    }

    /// Adds a merged asset and points its parts at it.
    fn insert_merged(&mut self, fa: FleetAsset) {
        for p in &fa.seen_by {
            self.group_of.insert(
                (p.sensor_id.clone(), p.sensor_asset_id.clone()),
                fa.id.clone(),
            );
        }
        self.merged.insert(Stored::of(&fa));
    }

    /// Sets (`Some`) or clears (`None`) one part and its index entries; the caller regroups.
    fn set_part(&mut self, key: PartKey, asset: Option<Asset>) {
        if let (Some(new), Some(old)) = (&asset, self.parts.get_mut(&key)) {
            let was = old.asset();
            if new.macs == was.macs && new.ips == was.ips {
                // Same addresses (a device's counters or details moved on): no index change.
                *old = Part::of(new);
                return;
            }
        }
        if let Some(old) = self.parts.remove(&key).map(|p| p.asset()) {
            for m in &old.macs {
                unindex(&mut self.by_mac, m, &key);
            }
            for ip in &old.ips {
                unindex(&mut self.by_ip, ip, &key);
            }
            self.touched_macs.extend(old.macs);
            self.touched_ips.extend(old.ips);
        }
        if let Some(a) = asset {
            for m in &a.macs {
                index_add(&mut self.by_mac, m, &key);
            }
            for ip in &a.ips {
                index_add(&mut self.by_ip, ip, &key);
            }
            self.parts.insert(key, Part::of(&a));
        }
    }

    /// Merges again the components of `seeds` (parts just set or cleared), before and after the
    /// change: every part linked to them through shared addresses now, every part holding an
    /// address they held before (a component can split, and a conflict between two MACs behind
    /// one IP can go away), and every part that shared a merged asset with them.
    fn regroup(&mut self, site: &str, seeds: BTreeSet<PartKey>) {
        let (macs, ips) = (
            std::mem::take(&mut self.touched_macs),
            std::mem::take(&mut self.touched_ips),
        );
        if seeds.is_empty() {
            return;
        }
        let seeds = if macs.is_empty() && ips.is_empty() {
            self.regroup_alone(site, seeds)
        } else {
            seeds
        };
        let mut todo: Vec<PartKey> = Vec::new();
        for linked in macs
            .iter()
            .filter_map(|m| self.by_mac.get(m))
            .chain(ips.iter().filter_map(|ip| self.by_ip.get(ip)))
        {
            todo.extend(linked.iter().cloned());
        }
        let mut stale: BTreeSet<String> = BTreeSet::new();
        for key in &seeds {
            if let Some(fid) = self.group_of.get(key) {
                if let Some(fa) = self.merged.get(fid).map(Stored::decode) {
                    todo.extend(
                        fa.seen_by
                            .iter()
                            .map(|p| (p.sensor_id.clone(), p.sensor_asset_id.clone())),
                    );
                }
                stale.insert(fid.clone());
            }
            todo.push(key.clone());
        }
        // Walk the address graph from there.
        let mut component: BTreeSet<PartKey> = BTreeSet::new();
        while let Some(key) = todo.pop() {
            if !component.insert(key.clone()) {
                continue;
            }
            let Some(a) = self.parts.get(&key).map(Part::asset) else {
                continue; // cleared
            };
            for linked in a
                .macs
                .iter()
                .filter_map(|m| self.by_mac.get(m))
                .chain(a.ips.iter().filter_map(|ip| self.by_ip.get(ip)))
            {
                todo.extend(linked.iter().filter(|k| !component.contains(*k)).cloned());
            }
        }
        for key in &component {
            if let Some(fid) = self.group_of.remove(key) {
                stale.insert(fid);
            }
        }
        for fid in &stale {
            self.merged.remove(fid);
        }
        let input: Vec<(String, Asset)> = component
            .iter()
            .filter_map(|k| self.parts.get(k).map(|a| (k.0.clone(), a.asset())))
            .collect();
        for fa in merge_assets(site, input) {
            self.insert_merged(fa);
        }
    }

    /// The common case, cheaply: a seed that shares no address with another part and was merged
    /// with nothing before is merged alone. No address changed hands (the caller checked), so
    /// no other part's grouping can depend on it. Returns the seeds left for the general path.
    fn regroup_alone(&mut self, site: &str, seeds: BTreeSet<PartKey>) -> BTreeSet<PartKey> {
        let mut rest = BTreeSet::new();
        for key in seeds {
            let Some(part) = self.parts.get(&key).map(Part::asset) else {
                rest.insert(key);
                continue;
            };
            let only =
                |set: Option<&Vec<PartKey>>| set.is_some_and(|s| s == std::slice::from_ref(&key));
            let shares = !part.macs.iter().all(|m| only(self.by_mac.get(m)))
                || !part.ips.iter().all(|ip| only(self.by_ip.get(ip)));
            let old = self.group_of.get(&key);
            let was_alone = old
                .and_then(|fid| self.merged.get(fid))
                .is_none_or(|fa| fa.parts() == 1);
            if shares || !was_alone {
                rest.insert(key);
                continue;
            }
            let fa = merge_group(site, vec![(key.0.clone(), part)]);
            if let Some(old) = old.filter(|fid| **fid != fa.id).cloned() {
                self.merged.remove(&old);
            }
            self.insert_merged(fa);
        }
        rest
    }

    /// Replaces every part of `sensor` with `assets`.
    fn load_sensor(&mut self, site: &str, sensor: &str, assets: Vec<Asset>) {
        let mut seeds: BTreeSet<PartKey> = self
            .parts
            .range((sensor.to_string(), String::new())..)
            .take_while(|(k, _)| k.0 == sensor)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &seeds {
            self.set_part(k.clone(), None);
        }
        for a in assets {
            let key = (sensor.to_string(), a.id.clone());
            self.set_part(key.clone(), Some(a));
            seeds.insert(key);
        }
        self.regroup(site, seeds);
    }

    /// Builds the view of `site` from the store.
    fn build(&mut self, store: &dyn FleetStore, site: &str) -> Result<(), StoreError> {
        *self = SiteView::default();
        // Sequence numbers first: assets read afterwards are at least that recent, and replaying
        // a batch the assets already reflect is harmless.
        let mut input = Vec::new();
        for s in store.sensors()?.into_iter().filter(|s| s.site == site) {
            for a in store.assets_of(&s.id)? {
                self.set_part((s.id.clone(), a.id.clone()), Some(a.clone()));
                input.push((s.id.clone(), a));
            }
            self.seqs.insert(s.id, s.applied_seq);
        }
        self.touched_macs.clear();
        self.touched_ips.clear();
        for fa in merge_assets(site, input) {
            self.insert_merged(fa);
        }
        self.built = true;
        Ok(())
    }

    /// Replays what one applied batch did to its sensor's assets.
    fn apply(&mut self, store: &dyn FleetStore, site: &str, a: Replay) -> Result<(), StoreError> {
        let Replay {
            sensor,
            previous_seq,
            applied_seq,
            deltas,
        } = a;
        let sensor = sensor.as_str();
        let seen = self.seqs.get(sensor).copied().unwrap_or(0);
        if applied_seq <= seen {
            return Ok(()); // already reflected (read from the store after that batch)
        }
        if seen < previous_seq {
            // A batch of this sensor was applied to the store but not here: reload.
            let assets = store.assets_of(sensor)?;
            self.load_sensor(site, sensor, assets);
            self.seqs.insert(sensor.to_string(), applied_seq);
            return Ok(());
        }
        let mut seeds = BTreeSet::new();
        for d in deltas
            .into_iter()
            .filter(|d| d.seq > seen.max(previous_seq) && d.seq <= applied_seq)
        {
            match d.change {
                Some(DeltaChange::Asset(a)) => {
                    let key = (sensor.to_string(), a.id.clone());
                    self.set_part(key.clone(), Some(a));
                    seeds.insert(key);
                }
                Some(DeltaChange::AssetRemoved(id)) => {
                    let key = (sensor.to_string(), id);
                    self.set_part(key.clone(), None);
                    seeds.insert(key);
                }
                _ => {}
            }
        }
        self.regroup(site, seeds);
        self.seqs.insert(sensor.to_string(), applied_seq);
        Ok(())
    }
}

/// What a reader gets: one site's merged assets in id order, as of one moment.
pub type Snapshot = Arc<SiteAssets>;

/// A batch replay waiting for the site's lock.
/// A batch the store applied for `sensor`: the deltas with sequence numbers in
/// `(previous_seq, applied_seq]` are what it changed.
pub struct Replay {
    pub sensor: String,
    pub previous_seq: u64,
    pub applied_seq: u64,
    pub deltas: Vec<Delta>,
}

#[derive(Default)]
struct Site {
    view: Mutex<SiteView>,
    queue: Mutex<Vec<Replay>>,
    published: RwLock<Option<Snapshot>>,
    /// The view changed since `published` was taken (set under the view lock).
    stale: AtomicBool,
    /// How many batches of the site were applied (bumped after the store committed one, before
    /// the view takes it): whatever was read from the store for an older number may be older.
    generation: AtomicU64,
}

impl Site {
    fn publish(&self, v: &mut SiteView) -> Result<(), StoreError> {
        let snap: Snapshot = Arc::new(v.merged.publish());
        *self.published.write().map_err(|_| poisoned())? = Some(snap);
        Ok(())
    }
}

/// The merged assets of every site.
#[derive(Default)]
pub struct FleetView {
    sites: Mutex<HashMap<String, Arc<Site>>>,
    /// The last sequence number of each sensor this view applied (a batch of this manager's
    /// ingest): what a replica following a shared store need not load again.
    seen: Mutex<HashMap<String, u64>>,
}

fn poisoned() -> StoreError {
    StoreError::poisoned("fleet view")
}

impl FleetView {
    fn site(&self, site: &str) -> Result<Arc<Site>, StoreError> {
        let mut sites = self.sites.lock().map_err(|_| poisoned())?;
        Ok(sites.entry(site.to_string()).or_default().clone())
    }

    /// The merged assets of `site`, built from the store first if needed.
    pub fn snapshot(&self, store: &dyn FleetStore, site: &str) -> Result<Snapshot, StoreError> {
        let slot = self.site(site)?;
        if !slot.stale.load(Ordering::Acquire) {
            if let Some(s) = slot.published.read().map_err(|_| poisoned())?.as_ref() {
                return Ok(s.clone());
            }
        }
        // Changed since the last snapshot (or never taken): the first reader takes a new one,
        // waiting at most for the replay being applied. Ingest itself never copies the view.
        let mut v = slot.view.lock().map_err(|_| poisoned())?;
        if !v.built {
            v.build(store, site)?;
        }
        let never = slot.published.read().map_err(|_| poisoned())?.is_none();
        if slot.stale.swap(false, Ordering::AcqRel) || never {
            slot.publish(&mut v)?;
        }
        drop(v);
        let published = slot.published.read().map_err(|_| poisoned())?;
        Ok(published.clone().unwrap_or_default())
    }

    /// How many batches of `site` were applied since the manager started: data derived from
    /// the store for one number stays current until the number moves.
    pub fn generation(&self, site: &str) -> Result<u64, StoreError> {
        Ok(self.site(site)?.generation.load(Ordering::Acquire))
    }

    /// Reflects a batch just applied to the store (see the module notes); once it returns, every
    /// snapshot taken shows the batch. A site whose view was not built yet is built from the
    /// store.
    pub fn applied(
        &self,
        store: &dyn FleetStore,
        site: &str,
        batch: Replay,
    ) -> Result<(), StoreError> {
        let slot = self.site(site)?;
        slot.generation.fetch_add(1, Ordering::AcqRel);
        self.committed(&batch.sensor, batch.applied_seq)?;
        slot.queue.lock().map_err(|_| poisoned())?.push(batch);
        // Whoever holds the lock applies what is queued, ours included if it came in time.
        let mut v = slot.view.lock().map_err(|_| poisoned())?;
        let queued = std::mem::take(&mut *slot.queue.lock().map_err(|_| poisoned())?);
        if queued.is_empty() {
            return Ok(()); // applied and published by the previous holder
        }
        if !v.built {
            // A new site (or one nobody read yet): the store has the batch already.
            v.build(store, site)?;
            slot.stale.store(true, Ordering::Release);
            return Ok(());
        }
        for r in queued {
            v.apply(store, site, r)?;
        }
        slot.stale.store(true, Ordering::Release);
        Ok(())
    }

    /// Notes that this manager committed `sensor`'s batches up to `seq` to the store, before
    /// the view has them: what [`FleetView::seen`] reports from then on. The follower
    /// ([`crate::follow`]) then never takes this manager's own batches, on their way from the
    /// store to the view, for another manager's (and rebuilds no site for them).
    pub fn committed(&self, sensor: &str, seq: u64) -> Result<(), StoreError> {
        let mut seen = self.seen.lock().map_err(|_| poisoned())?;
        match seen.get_mut(sensor) {
            Some(at) => *at = (*at).max(seq),
            None => {
                seen.insert(sensor.to_string(), seq);
            }
        }
        Ok(())
    }

    /// The last sequence number of `sensor` this view applied itself (0: none).
    pub fn seen(&self, sensor: &str) -> Result<u64, StoreError> {
        Ok(self
            .seen
            .lock()
            .map_err(|_| poisoned())?
            .get(sensor)
            .copied()
            .unwrap_or(0))
    }

    /// Forgets `site`'s merged assets because another manager changed them in a shared store
    /// ([`crate::follow`]): the next read builds the site again from the store; data derived
    /// from the store (connections, risk) is derived again.
    pub fn invalidate(&self, site: &str) -> Result<(), StoreError> {
        let slot = self.site(site)?;
        slot.generation.fetch_add(1, Ordering::AcqRel);
        let mut v = slot.view.lock().map_err(|_| poisoned())?;
        // Batches queued for the view are in the store already: the rebuild has them.
        slot.queue.lock().map_err(|_| poisoned())?.clear();
        *v = SiteView::default();
        slot.stale.store(true, Ordering::Release);
        Ok(())
    }

    /// Reflects records of `kind` that retention just removed from the store: removed assets
    /// leave their sites' views (merged again without them); any removal moves its site's
    /// generation on, so data derived from the store (merged connections, risk) is derived
    /// again.
    pub fn removed(
        &self,
        store: &dyn FleetStore,
        kind: StoredKind,
        removed: &[Removed],
    ) -> Result<(), StoreError> {
        let mut by_site: BTreeMap<&str, Vec<&Removed>> = BTreeMap::new();
        for r in removed.iter().filter(|r| !r.site.is_empty()) {
            by_site.entry(&r.site).or_default().push(r);
        }
        for (site, gone) in by_site {
            let slot = self.site(site)?;
            slot.generation.fetch_add(1, Ordering::AcqRel);
            if kind != StoredKind::Assets {
                continue;
            }
            let mut v = slot.view.lock().map_err(|_| poisoned())?;
            if !v.built {
                continue; // built from the store when first read: without them
            }
            // Batches queued before the removal go first.
            let queued = std::mem::take(&mut *slot.queue.lock().map_err(|_| poisoned())?);
            for r in queued {
                v.apply(store, site, r)?;
            }
            let mut seeds = BTreeSet::new();
            for r in gone {
                let key = (r.sensor.clone(), r.id.clone());
                v.set_part(key.clone(), None);
                seeds.insert(key);
            }
            v.regroup(site, seeds);
            slot.stale.store(true, Ordering::Release);
        }
        Ok(())
    }
}

mod chunks;

#[cfg(test)]
mod tests;
