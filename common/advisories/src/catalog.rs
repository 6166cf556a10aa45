//! The catalog: every advisory loaded, one per id, indexed by vendor and by the keys of
//! each product row so that matching a device looks up a few hash keys instead of
//! scanning thousands of documents.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::identity::{compact, vendor_key, Family, ProductKeys};
use crate::kev::KevCatalog;
use crate::model::{Advisory, ProductStatus};
use crate::version::Version;

/// A product row of one loaded advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RowRef {
    pub slot: u32,
    pub product: u32,
}

/// One loaded advisory and what was derived from it once, at load time.
#[derive(Debug)]
pub(crate) struct Entry {
    pub advisory: Advisory,
    pub vendors: Vec<String>,
    pub keys: Vec<ProductKeys>,
    /// Per product row: (vulnerability index, status) for every statement about it.
    pub row_statuses: Vec<Vec<(u32, ProductStatus)>>,
    /// Per vulnerability, per remediation: its text compacted, to find the one that names
    /// a matched model without redoing the work for every device.
    pub remediation_keys: Vec<Vec<String>>,
}

/// The rows of one vendor, by key.
#[derive(Debug, Default)]
pub(crate) struct VendorIndex {
    pub tokens: HashMap<String, Vec<RowRef>>,
    /// Part-number patterns (`BMXP34*`); few per vendor, so scanned.
    pub prefixes: Vec<(String, RowRef)>,
    pub families: HashMap<Family, Vec<RowRef>>,
}

/// What [`Catalog::add`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new advisory id.
    Added,
    /// A newer revision replaced the loaded one.
    Replaced { previous_revision: String },
    /// The same revision was already loaded (importing twice changes nothing).
    Unchanged,
    /// The loaded revision is newer; the given one was ignored.
    Older { loaded_revision: String },
}

/// All loaded advisories and the KEV list. Built once, then shared read-only; matching
/// borrows it immutably.
#[derive(Debug, Default)]
pub struct Catalog {
    pub(crate) entries: Vec<Option<Entry>>,
    by_id: BTreeMap<String, usize>,
    pub(crate) vendors: HashMap<String, VendorIndex>,
    pub(crate) kev: BTreeSet<String>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Adds an advisory. An id already loaded is replaced only by a newer revision (later
    /// `current_release_date`, then higher revision number), so importing a feed twice, or
    /// an old copy after a new one, changes nothing.
    pub fn add(&mut self, advisory: Advisory) -> AddOutcome {
        let Some(&slot) = self.by_id.get(&advisory.id) else {
            let slot = self.entries.len();
            self.by_id.insert(advisory.id.clone(), slot);
            self.entries.push(None);
            self.install(slot, advisory);
            return AddOutcome::Added;
        };
        let Some(loaded) = self.entries.get(slot).and_then(Option::as_ref) else {
            self.install(slot, advisory);
            return AddOutcome::Added;
        };
        let previous_revision = loaded.advisory.revision.clone();
        match newer(&advisory, &loaded.advisory) {
            std::cmp::Ordering::Greater => {
                self.unindex(slot);
                self.install(slot, advisory);
                AddOutcome::Replaced { previous_revision }
            }
            std::cmp::Ordering::Equal => AddOutcome::Unchanged,
            std::cmp::Ordering::Less => AddOutcome::Older {
                loaded_revision: previous_revision,
            },
        }
    }

    /// Marks the CVEs of a KEV catalog as known exploited (in addition to earlier ones).
    pub fn add_kev(&mut self, kev: &KevCatalog) {
        self.kev.extend(kev.cves.iter().cloned());
    }

    /// True when the CVE is in a loaded KEV catalog.
    pub fn is_kev(&self, cve: &str) -> bool {
        self.kev.contains(cve)
    }

    /// The loaded advisories, ordered by id.
    pub fn advisories(&self) -> impl Iterator<Item = &Advisory> {
        self.by_id
            .values()
            .filter_map(|&slot| self.entries.get(slot)?.as_ref())
            .map(|entry| &entry.advisory)
    }

    /// The advisory loaded under an id.
    pub fn get(&self, id: &str) -> Option<&Advisory> {
        let slot = *self.by_id.get(id)?;
        Some(&self.entries.get(slot)?.as_ref()?.advisory)
    }

    /// Number of advisories loaded.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of product rows over all advisories (for figures).
    pub fn product_rows(&self) -> usize {
        self.entries
            .iter()
            .flatten()
            .map(|e| e.advisory.products.len())
            .sum()
    }

    fn install(&mut self, slot: usize, advisory: Advisory) {
        let vendors: Vec<String> = advisory
            .products
            .iter()
            .map(|p| vendor_key(&p.vendor))
            .collect();
        let keys: Vec<ProductKeys> = advisory
            .products
            .iter()
            .zip(&vendors)
            .map(|(p, v)| {
                let mut numbers = p.model_numbers.clone();
                numbers.extend(p.skus.iter().cloned());
                ProductKeys::of(v, &p.name, &numbers)
            })
            .collect();
        let mut row_statuses = vec![Vec::new(); advisory.products.len()];
        for (v, vuln) in advisory.vulnerabilities.iter().enumerate() {
            for &(product, status) in &vuln.statuses {
                if let Some(list) = row_statuses.get_mut(product) {
                    list.push((v as u32, status));
                }
            }
        }
        let remediation_keys = advisory
            .vulnerabilities
            .iter()
            .map(|v| v.remediations.iter().map(|r| compact(&r.details)).collect())
            .collect();
        for (product, (key, vendor)) in keys.iter().zip(&vendors).enumerate() {
            // Rows no statement refers to cannot produce a match; leave them out.
            if vendor.is_empty() || row_statuses[product].is_empty() {
                continue;
            }
            let row = RowRef {
                slot: slot as u32,
                product: product as u32,
            };
            let index = self.vendors.entry(vendor.clone()).or_default();
            for token in &key.tokens {
                index.tokens.entry(token.clone()).or_default().push(row);
            }
            for prefix in &key.prefixes {
                index.prefixes.push((prefix.clone(), row));
            }
            if let Some(family) = key.family {
                index.families.entry(family).or_default().push(row);
            }
        }
        if let Some(place) = self.entries.get_mut(slot) {
            *place = Some(Entry {
                advisory,
                vendors,
                keys,
                row_statuses,
                remediation_keys,
            });
        }
    }

    fn unindex(&mut self, slot: usize) {
        let Some(entry) = self.entries.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let slot = slot as u32;
        for (key, vendor) in entry.keys.iter().zip(&entry.vendors) {
            let Some(index) = self.vendors.get_mut(vendor) else {
                continue;
            };
            for token in &key.tokens {
                if let Some(rows) = index.tokens.get_mut(token) {
                    rows.retain(|r| r.slot != slot);
                }
            }
            index.prefixes.retain(|(_, r)| r.slot != slot);
            if let Some(rows) = key.family.and_then(|f| index.families.get_mut(&f)) {
                rows.retain(|r| r.slot != slot);
            }
        }
    }
}

/// Orders two revisions of one advisory: release date first (RFC 3339 text in UTC sorts as
/// time does), then the revision number read as a version.
fn newer(a: &Advisory, b: &Advisory) -> std::cmp::Ordering {
    a.current_release_date
        .cmp(&b.current_release_date)
        .then_with(
            || match (Version::parse(&a.revision), Version::parse(&b.revision)) {
                (Ok(x), Ok(y)) => x.compare(&y),
                _ => a.revision.cmp(&b.revision),
            },
        )
}
