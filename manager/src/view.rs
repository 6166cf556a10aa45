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
//! A site's view is built from the store on first use. After each applied batch the view
//! replays the batch's asset deltas; if it finds that it missed a batch of that sensor (two
//! streams of one sensor raced), it reloads that sensor's assets from the store instead. Replays
//! are idempotent (an upsert sets a part, a removal clears it), so a batch that the view saw
//! both in the store and as a replay does no harm.

use crate::fleet::merge_assets;
use crate::store::{FleetStore, StoreError};
use otwatch_proto::v1::{delta::Change as DeltaChange, Asset, Delta, FleetAsset};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// A sensor's asset: (sensor id, the sensor's asset id).
type PartKey = (String, String);

/// One site's parts, their address indexes and the merged assets.
#[derive(Default)]
pub struct SiteView {
    built: bool,
    /// Per sensor: the highest delta sequence number reflected here.
    seqs: HashMap<String, u64>,
    parts: BTreeMap<PartKey, Asset>,
    by_mac: HashMap<String, BTreeSet<PartKey>>,
    by_ip: HashMap<String, BTreeSet<PartKey>>,
    /// The fleet id of the merged asset each part belongs to.
    group_of: HashMap<PartKey, String>,
    merged: BTreeMap<String, Arc<FleetAsset>>,
    /// Addresses that parts held before [`SiteView::set_part`] changed them, until the next
    /// regroup: the parts still holding them were in the changed parts' component.
    touched_macs: Vec<String>,
    touched_ips: Vec<String>,
}

fn unindex(index: &mut HashMap<String, BTreeSet<PartKey>>, addr: &str, key: &PartKey) {
    if let Some(set) = index.get_mut(addr) {
        set.remove(key);
        if set.is_empty() {
            index.remove(addr);
        }
    }
}

impl SiteView {
    /// The merged assets in id order.
    pub fn assets(&self) -> impl Iterator<Item = &Arc<FleetAsset>> {
        self.merged.values()
    }

    pub fn len(&self) -> usize {
        self.merged.len()
    }

    pub fn is_empty(&self) -> bool {
        self.merged.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<FleetAsset>> {
        self.merged.get(id)
    }

    /// Sets (`Some`) or clears (`None`) one part and its index entries; the caller regroups.
    fn set_part(&mut self, key: PartKey, asset: Option<Asset>) {
        if let Some(old) = self.parts.remove(&key) {
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
                self.by_mac
                    .entry(m.clone())
                    .or_default()
                    .insert(key.clone());
            }
            for ip in &a.ips {
                self.by_ip
                    .entry(ip.clone())
                    .or_default()
                    .insert(key.clone());
            }
            self.parts.insert(key, a);
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
                if let Some(fa) = self.merged.get(fid) {
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
            let Some(a) = self.parts.get(&key) else {
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
            .filter_map(|k| self.parts.get(k).map(|a| (k.0.clone(), a.clone())))
            .collect();
        for fa in merge_assets(site, input) {
            for p in &fa.seen_by {
                self.group_of.insert(
                    (p.sensor_id.clone(), p.sensor_asset_id.clone()),
                    fa.id.clone(),
                );
            }
            self.merged.insert(fa.id.clone(), Arc::new(fa));
        }
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
        for s in store.sensors()?.into_iter().filter(|s| s.site == site) {
            for a in store.assets_of(&s.id)? {
                self.set_part((s.id.clone(), a.id.clone()), Some(a));
            }
            self.seqs.insert(s.id, s.applied_seq);
        }
        let all: BTreeSet<PartKey> = self.parts.keys().cloned().collect();
        self.regroup(site, all);
        self.built = true;
        Ok(())
    }

    /// Replays what one applied batch did to `sensor`'s assets: the deltas with sequence numbers
    /// in `(previous_seq, applied_seq]`.
    fn apply(
        &mut self,
        store: &dyn FleetStore,
        site: &str,
        sensor: &str,
        previous_seq: u64,
        applied_seq: u64,
        deltas: &[Delta],
    ) -> Result<(), StoreError> {
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
            .iter()
            .filter(|d| d.seq > seen.max(previous_seq) && d.seq <= applied_seq)
        {
            match &d.change {
                Some(DeltaChange::Asset(a)) => {
                    let key = (sensor.to_string(), a.id.clone());
                    self.set_part(key.clone(), Some(a.clone()));
                    seeds.insert(key);
                }
                Some(DeltaChange::AssetRemoved(id)) => {
                    let key = (sensor.to_string(), id.clone());
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

/// The merged assets of every site.
#[derive(Default)]
pub struct FleetView {
    sites: Mutex<HashMap<String, Arc<RwLock<SiteView>>>>,
}

fn poisoned() -> StoreError {
    StoreError::Sled(
        "the fleet view lock is poisoned (a thread panicked); restart the manager".into(),
    )
}

impl FleetView {
    fn site(&self, site: &str) -> Result<Arc<RwLock<SiteView>>, StoreError> {
        let mut sites = self.sites.lock().map_err(|_| poisoned())?;
        Ok(sites.entry(site.to_string()).or_default().clone())
    }

    /// Runs `f` on the view of `site`, building it from the store first if needed. The view is
    /// read-locked while `f` runs: keep `f` short (collect what you need and return).
    pub fn read<T>(
        &self,
        store: &dyn FleetStore,
        site: &str,
        f: impl FnOnce(&SiteView) -> T,
    ) -> Result<T, StoreError> {
        let view = self.site(site)?;
        {
            let v = view.read().map_err(|_| poisoned())?;
            if v.built {
                return Ok(f(&v));
            }
        }
        let mut v = view.write().map_err(|_| poisoned())?;
        if !v.built {
            v.build(store, site)?;
        }
        Ok(f(&v))
    }

    /// Reflects a batch just applied to the store (see [`SiteView`]). A site whose view was not
    /// built yet is left alone: it is built from the store when first read.
    pub fn applied(
        &self,
        store: &dyn FleetStore,
        site: &str,
        sensor: &str,
        previous_seq: u64,
        applied_seq: u64,
        deltas: &[Delta],
    ) -> Result<(), StoreError> {
        let view = self.site(site)?;
        let mut v = view.write().map_err(|_| poisoned())?;
        if v.built {
            v.apply(store, site, sensor, previous_seq, applied_seq, deltas)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
