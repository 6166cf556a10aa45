//! The sites' approved inventories: the assets an operator has said belong (`otwatch assets
//! approve`). Once a site has one, each of its assets outside it is a shadow device: something
//! on the plant network nobody approved (a contractor's laptop, a new gateway, a rogue access
//! point).
//!
//! A site without an approved inventory has no shadow devices: calling every asset of a site
//! nobody reviewed yet "shadow" would tell the operator nothing. Approval is by fleet asset id
//! (`<site>/<id>`); an asset whose id changes (an IP-keyed asset whose MAC becomes known) is
//! new to the inventory and shows as shadow until approved again.
//!
//! The store holds the approvals ([`crate::store::FleetStore::set_approved`]); this is the copy
//! in memory that listing and the risk assessment read, changed in the same call that writes
//! the store.

use otwatch_proto::v1::FleetAsset;
use rustc_hash::{FxHashMap, FxHashSet};

/// Approved fleet asset ids, and how many each site has.
#[derive(Debug, Default, Clone)]
pub struct Approvals {
    ids: FxHashSet<String>,
    per_site: FxHashMap<String, u64>,
}

/// The site of a fleet asset id.
fn site_of(id: &str) -> &str {
    id.split_once('/').map_or("", |(site, _)| site)
}

impl Approvals {
    /// The approvals of these ids.
    pub fn from_ids(ids: impl IntoIterator<Item = String>) -> Approvals {
        let mut a = Approvals::default();
        for id in ids {
            a.approve(id);
        }
        a
    }

    /// Adds `id`; whether it was new.
    pub fn approve(&mut self, id: String) -> bool {
        let site = site_of(&id).to_string();
        if !self.ids.insert(id) {
            return false;
        }
        *self.per_site.entry(site).or_default() += 1;
        true
    }

    /// Takes `id` out; whether it was there.
    pub fn revoke(&mut self, id: &str) -> bool {
        if !self.ids.remove(id) {
            return false;
        }
        let site = site_of(id);
        if let Some(n) = self.per_site.get_mut(site) {
            *n -= 1;
            if *n == 0 {
                self.per_site.remove(site);
            }
        }
        true
    }

    /// Approved assets over the fleet.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn is_approved(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Approved assets of `site`; a site with none has no approved inventory.
    pub fn count(&self, site: &str) -> u64 {
        self.per_site.get(site).copied().unwrap_or(0)
    }

    /// Whether `asset` is a shadow device: outside the approved inventory its site has.
    pub fn is_shadow(&self, asset: &FleetAsset) -> bool {
        self.count(&asset.site) > 0 && !self.is_approved(&asset.id)
    }

    /// Whether the asset with fleet id `id` (`<site>/<asset id>`) is a shadow device.
    pub fn is_shadow_id(&self, id: &str) -> bool {
        self.count(site_of(id)) > 0 && !self.is_approved(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: &str) -> FleetAsset {
        FleetAsset {
            id: id.to_string(),
            site: site_of(id).to_string(),
            ..FleetAsset::default()
        }
    }

    #[test]
    fn a_site_without_an_approved_inventory_has_no_shadow_devices() {
        let mut a = Approvals::default();
        assert!(!a.is_shadow(&asset("plant-a/ip:10.0.0.1")));
        assert!(a.approve("plant-a/ip:10.0.0.1".into()));
        assert!(!a.approve("plant-a/ip:10.0.0.1".into()), "approved twice");
        assert!(!a.is_shadow(&asset("plant-a/ip:10.0.0.1")));
        assert!(a.is_shadow(&asset("plant-a/ip:10.0.0.2")));
        // Another site's inventory says nothing of this one.
        assert!(!a.is_shadow(&asset("plant-b/ip:10.0.0.2")));
        assert_eq!((a.count("plant-a"), a.count("plant-b")), (1, 0));
        assert!(a.revoke("plant-a/ip:10.0.0.1"));
        assert!(!a.revoke("plant-a/ip:10.0.0.1"));
        assert_eq!(a.count("plant-a"), 0);
        assert!(!a.is_shadow(&asset("plant-a/ip:10.0.0.2")));
    }
}
