//! Security advisories in the manager: `otwatch-manager advisories import` keeps the documents
//! as imported in the fleet store ([`FleetStore::put_advisory_documents`]); at start the
//! manager reads them into one [`Catalog`] ([`catalog_from`]), which ListAssets and GetAsset
//! match assets against and ListAdvisories lists.
//!
//! While a manager serves, its store is locked: the import goes through its API instead
//! ([`import_via`], ImportAdvisories), and the manager loads the advisories at once.
//!
//! Importing is idempotent: an advisory already stored in the same or a newer revision is left
//! as it is, a newer revision replaces the stored one, and nothing is written when nothing
//! changed. Files that cannot be read or parsed are reported and skipped; the rest imports.

use crate::pki::DataDir;
use crate::store::{FleetStore, StoreError};
use otwatch_advisories::{parse_document, AddOutcome, SourceFormat};
use otwatch_common::advisories::{
    add_document, read_paths, Catalog, Document, LoadError, LoadReport, Skipped,
};
use otwatch_proto::v1::manager_client::ManagerClient;
use otwatch_proto::v1::{AdvisoryDocument, AdvisorySummary, Asset, Vulnerability};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tonic::transport::Channel;

/// The store key of the KEV catalog (one is kept: the one imported last).
const KEV_KEY: &str = "kev";

fn advisory_key(id: &str) -> String {
    format!("advisory/{id}")
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store is locked by a manager serving this data directory ([`import_via`] imports
    /// through it).
    #[error("a manager is serving {} (its store is locked)", .0.display())]
    Running(PathBuf),
    /// The manager refused or failed the import.
    #[error("the manager refused the import: {}", .0.message())]
    Api(#[from] tonic::Status),
}

/// The catalog of every advisory document in the store. A stored document that no longer
/// parses (written by another version) is logged and left out.
pub fn catalog_from(store: &dyn FleetStore) -> Result<Catalog, StoreError> {
    let mut catalog = Catalog::new();
    let mut report = LoadReport::default();
    store.advisory_documents(&mut |key, bytes| {
        match parse_document(bytes) {
            Ok(document) => add_document(&mut catalog, document, &mut report),
            Err(e) => {
                tracing::warn!(key, error = %e, "stored advisory document left out; import it again")
            }
        }
        Ok(())
    })?;
    Ok(catalog)
}

/// An import under way: the documents are added to a copy of the stored catalog as they come,
/// and only those that change it are written, in one durable write at the end.
pub struct Importer {
    catalog: Catalog,
    counts: LoadReport,
    /// By key, so that of two revisions in one import only the newer is written.
    changed: BTreeMap<String, Vec<u8>>,
}

impl Importer {
    /// Starts from what `store` holds.
    pub fn new(store: &dyn FleetStore) -> Result<Importer, StoreError> {
        Ok(Importer {
            catalog: catalog_from(store)?,
            counts: LoadReport::default(),
            changed: BTreeMap::new(),
        })
    }

    /// Adds one parsed document, `bytes` as it was read.
    pub fn add(&mut self, document: Document, bytes: Vec<u8>) {
        match document {
            Document::Advisory(advisory) => {
                let key = advisory_key(&advisory.id);
                let outcome = self.catalog.add(advisory);
                self.counts.count(&outcome);
                if matches!(outcome, AddOutcome::Added | AddOutcome::Replaced { .. }) {
                    self.changed.insert(key, bytes);
                }
            }
            Document::Kev(kev) => {
                add_document(&mut self.catalog, Document::Kev(kev), &mut self.counts);
                self.changed.insert(KEV_KEY.to_string(), bytes);
            }
        }
    }

    /// Writes what changed into `store`; `report` (documents read, files skipped) with the
    /// counts of what was added, replaced and left unchanged.
    pub fn finish(
        self,
        store: &dyn FleetStore,
        mut report: LoadReport,
    ) -> Result<LoadReport, StoreError> {
        report.added = self.counts.added;
        report.replaced = self.counts.replaced;
        report.unchanged = self.counts.unchanged;
        report.kev_catalogs = self.counts.kev_catalogs;
        let changed: Vec<(String, Vec<u8>)> = self.changed.into_iter().collect();
        store.put_advisory_documents(&changed)?;
        Ok(report)
    }
}

/// Imports every advisory file under `paths` into the store; what was read, added, replaced,
/// left unchanged and skipped.
pub fn import(store: &dyn FleetStore, paths: &[PathBuf]) -> Result<LoadReport, ImportError> {
    let mut importer = Importer::new(store)?;
    let mut report = LoadReport::default();
    read_paths(paths, &mut report, |read| {
        importer.add(read.document, read.bytes)
    })?;
    Ok(importer.finish(store, report)?)
}

/// [`import`] through a running manager (ImportAdvisories): the files under `paths` are read
/// and parsed here (what cannot be is skipped here, with its path), and the documents sent,
/// one per message. The manager matches assets against them at once.
pub async fn import_via(
    client: &mut ManagerClient<Channel>,
    paths: &[PathBuf],
) -> Result<(LoadReport, u64), ImportError> {
    let mut report = LoadReport::default();
    let mut documents = Vec::new();
    read_paths(paths, &mut report, |read| {
        documents.push(AdvisoryDocument {
            name: read.path.display().to_string(),
            content: read.bytes,
        })
    })?;
    let r = client
        .import_advisories(tokio_stream::iter(documents))
        .await?
        .into_inner();
    report.documents = r.documents as usize;
    report.added = r.added as usize;
    report.replaced = r.replaced as usize;
    report.unchanged = r.unchanged as usize;
    report.kev_catalogs = r.kev_catalogs as usize;
    report
        .skipped
        .extend(r.skipped.into_iter().map(|s| Skipped {
            path: s.name.into(),
            reason: s.reason,
        }));
    Ok((report, r.advisories))
}

/// [`import`] into the store of a stopped manager.
pub fn import_in(data: &Path, paths: &[PathBuf]) -> Result<LoadReport, ImportError> {
    let dir = DataDir(data.to_path_buf());
    let store = match crate::store::open_local(&dir) {
        Ok(s) => s,
        Err(StoreError::Open { .. }) if dir.serving().exists() => {
            return Err(ImportError::Running(data.to_path_buf()))
        }
        Err(e) => return Err(e.into()),
    };
    import(&store, paths)
}

/// An asset as served: a copy with the vulnerabilities the loaded advisories state for it.
pub fn served_asset(catalog: &Catalog, asset: &Asset) -> Asset {
    let mut out = asset.clone();
    if !catalog.is_empty() {
        otwatch_common::advisories::attach(catalog, &mut out);
    }
    out
}

/// [`served_asset`] for many assets at once (GetRisk serves a whole site): what the catalog says
/// of each distinct device identity is matched once, since a site has many devices of few
/// models. The vulnerabilities [`otwatch_common::advisories::attach`] gives an asset depend
/// only on its vendor, model and firmware, and the firmware it keeps after checking the
/// evidence ([`otwatch_common::advisories::device_of`]); that is the key.
pub struct ServedAssets<'c, 'a> {
    catalog: &'c Catalog,
    matched: FxHashMap<(&'a str, &'a str, &'a str, &'a str), Vec<Vulnerability>>,
}

impl<'c, 'a> ServedAssets<'c, 'a> {
    pub fn new(catalog: &'c Catalog) -> Self {
        ServedAssets {
            catalog,
            matched: FxHashMap::default(),
        }
    }

    /// A copy of `asset` with its vulnerabilities, as [`served_asset`] gives it.
    pub fn serve(&mut self, asset: &'a Asset) -> Asset {
        if self.catalog.is_empty() {
            return asset.clone();
        }
        let device = otwatch_common::advisories::device_of(asset);
        let key = (
            asset.vendor.as_str(),
            asset.model.as_str(),
            asset.firmware.as_str(),
            device.firmware,
        );
        let mut out = asset.clone();
        match self.matched.get(&key) {
            Some(v) => out.vulnerabilities.clone_from(v),
            None => {
                otwatch_common::advisories::attach(self.catalog, &mut out);
                self.matched.insert(key, out.vulnerabilities.clone());
            }
        }
        out
    }
}

/// What ListAdvisories says of each advisory (id order), keeping those whose id or title holds
/// `text` (case-insensitive; empty keeps all).
pub fn summaries(catalog: &Catalog, text: &str) -> Vec<AdvisorySummary> {
    let text = text.to_lowercase();
    catalog
        .advisories()
        .filter(|a| {
            text.is_empty()
                || a.id.to_lowercase().contains(&text)
                || a.title.to_lowercase().contains(&text)
        })
        .map(|a| {
            let mut cves: Vec<&str> = a
                .vulnerabilities
                .iter()
                .filter_map(|v| v.cve.as_deref())
                .collect();
            cves.sort_unstable();
            cves.dedup();
            AdvisorySummary {
                id: a.id.clone(),
                revision: a.revision.clone(),
                release_date: a.current_release_date.clone(),
                title: a.title.clone(),
                cves: cves.len() as u32,
                products: a.products.len() as u32,
                format: match a.format {
                    SourceFormat::Csaf => "csaf",
                    SourceFormat::CveRecord => "cve_record",
                }
                .to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
