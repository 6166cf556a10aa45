//! Security advisories from files, and the vulnerabilities they give the report's assets: the
//! one loader the sensor (`analyze --advisories`) and the manager (`advisories import`, and its
//! catalog at start) share. Parsing and matching are `otwatch_advisories` (no I/O); this module
//! walks files and maps matches onto [`Asset::vulnerabilities`].
//!
//! A file that cannot be read or parsed is skipped with its path and reason in the
//! [`LoadReport`]; the rest loads. Files are read in sorted path order, and a newer revision of
//! an advisory replaces an older one whatever the order, so the same files give the same
//! catalog.

use crate::model::{Asset, Vulnerability};
use otwatch_advisories::{parse_document, AddOutcome, Device, MatchStatus, VulnerabilityMatch};
use std::fmt;
use std::path::{Path, PathBuf};

pub use otwatch_advisories::{Advisory, Catalog, Document};

/// Files larger than this are skipped: the whole CISA KEV catalog is about 1.5 MB and the
/// largest CSAF advisory a few MB.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A path given to load that cannot be used at all (nothing under it is loaded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("advisories {}: {source}; pass a CSAF/CVE JSON file or a directory of them", path.display())]
    Path {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What loading read, added and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Documents read and parsed (advisories and KEV catalogs).
    pub documents: usize,
    /// Advisory ids new to the catalog.
    pub added: usize,
    /// Advisories that replaced an older revision of the same id.
    pub replaced: usize,
    /// Advisories already loaded in the same revision, or in a newer one.
    pub unchanged: usize,
    /// KEV catalogs read.
    pub kev_catalogs: usize,
    /// Files that could not be read or parsed, in path order.
    pub skipped: Vec<Skipped>,
}

impl LoadReport {
    /// Counts what [`Catalog::add`] did.
    pub fn count(&mut self, outcome: &AddOutcome) {
        match outcome {
            AddOutcome::Added => self.added += 1,
            AddOutcome::Replaced { .. } => self.replaced += 1,
            AddOutcome::Unchanged | AddOutcome::Older { .. } => self.unchanged += 1,
        }
    }
}

impl fmt::Display for LoadReport {
    /// One line: `7 documents read (7 advisories added, 0 replaced, 0 unchanged, 0 KEV catalogs), 1 file skipped`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} documents read ({} advisories added, {} replaced, {} unchanged, {} KEV catalogs), {} {} skipped",
            self.documents,
            self.added,
            self.replaced,
            self.unchanged,
            self.kev_catalogs,
            self.skipped.len(),
            if self.skipped.len() == 1 { "file" } else { "files" },
        )
    }
}

/// One document read from a file: its bytes as they are, and what they parse to.
#[derive(Debug)]
pub struct ReadDocument {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub document: Document,
}

/// The files `path` names: itself when it is a file (whatever its name), else every `*.json`
/// below it (hidden directories left out, symbolic links to directories not followed), sorted.
/// Entries that cannot be listed are added to `skipped`.
pub fn files_under(path: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<PathBuf>, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Path {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            // The path itself was listable a moment ago only if it is not this one.
            Err(source) if dir == path => {
                return Err(LoadError::Path {
                    path: path.to_path_buf(),
                    source,
                })
            }
            Err(e) => {
                skipped.push(Skipped {
                    path: dir,
                    reason: format!("cannot list the directory: {e}"),
                });
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    skipped.push(Skipped {
                        path: dir.clone(),
                        reason: format!("cannot list the directory: {e}"),
                    });
                    continue;
                }
            };
            let p = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            match entry.file_type() {
                Ok(t) if t.is_dir() => {
                    if !hidden {
                        dirs.push(p);
                    }
                }
                Ok(_)
                    if p.extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
                {
                    files.push(p)
                }
                Ok(_) => {}
                Err(e) => skipped.push(Skipped {
                    path: p,
                    reason: format!("cannot read its type: {e}"),
                }),
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads and parses every file of `paths` (each a file or directory, [`files_under`]), in the
/// order given, each directory's files in sorted order, handing each document to `each`.
/// Unreadable and unparsable files go to `report.skipped`; only a path that cannot be used at
/// all is an error (checked for every path before any file is read).
pub fn read_paths(
    paths: &[PathBuf],
    report: &mut LoadReport,
    mut each: impl FnMut(ReadDocument),
) -> Result<(), LoadError> {
    let mut files = Vec::new();
    for path in paths {
        files.extend(files_under(path, &mut report.skipped)?);
    }
    for path in files {
        match read_file(&path) {
            Ok((bytes, document)) => {
                report.documents += 1;
                each(ReadDocument {
                    path,
                    bytes,
                    document,
                });
            }
            Err(reason) => report.skipped.push(Skipped { path, reason }),
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<(Vec<u8>, Document), String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "{len} bytes is more than the {MAX_FILE_BYTES} an advisory file may have"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let document = parse_document(&bytes).map_err(|e| e.to_string())?;
    Ok((bytes, document))
}

/// Adds a parsed document to the catalog, counting what it did.
pub fn add_document(catalog: &mut Catalog, document: Document, report: &mut LoadReport) {
    match document {
        Document::Advisory(advisory) => report.count(&catalog.add(advisory)),
        Document::Kev(kev) => {
            catalog.add_kev(&kev);
            report.kev_catalogs += 1;
        }
    }
}

/// Loads every advisory, CVE record and KEV catalog under `paths` into one catalog.
pub fn load_paths(paths: &[PathBuf]) -> Result<(Catalog, LoadReport), LoadError> {
    let mut catalog = Catalog::new();
    let mut report = LoadReport::default();
    let mut documents = Vec::new();
    read_paths(paths, &mut report, |d| documents.push(d.document))?;
    for document in documents {
        add_document(&mut catalog, document, &mut report);
    }
    Ok((catalog, report))
}

/// [`load_paths`] for one file or directory.
pub fn load_path(path: &Path) -> Result<(Catalog, LoadReport), LoadError> {
    load_paths(&[path.to_path_buf()])
}

/// The identity to match an asset on. The firmware is dropped (unknown) when the protocol
/// that reported it named another model than the asset's: it belongs to another identity
/// (two stacks answering on one address), and matching the model against it would state a
/// certainty there is none for.
pub fn device_of(asset: &Asset) -> Device<'_> {
    let said = |field: &str, value: &str, source: &str| {
        asset
            .evidence
            .iter()
            .any(|e| e.field == field && e.value == value && e.source == source)
    };
    let other_model = |source: &str| {
        asset
            .evidence
            .iter()
            .any(|e| e.field == "model" && e.source == source && e.value != asset.model)
    };
    let firmware_sources = asset
        .evidence
        .iter()
        .filter(|e| e.field == "firmware" && e.value == asset.firmware);
    let mut firmware = asset.firmware.as_str();
    for e in firmware_sources {
        if other_model(&e.source) && !said("model", &asset.model, &e.source) {
            firmware = "";
        }
    }
    Device {
        vendor: &asset.vendor,
        model: &asset.model,
        firmware,
        ..Device::default()
    }
}

/// The report's form of a match.
pub fn vulnerability(m: VulnerabilityMatch) -> Vulnerability {
    let score = m.cvss.or(m.cvss_v4);
    let (status, reason) = match m.status {
        MatchStatus::Affected => ("affected", String::new()),
        MatchStatus::PossiblyAffected { reason } => ("possibly_affected", reason),
    };
    Vulnerability {
        cve: m.cve.unwrap_or_default(),
        advisory: m.advisory,
        title: m.title,
        cvss: score.as_ref().map_or(0.0, |s| s.base_score),
        cvss_vector: score.as_ref().map(|s| s.vector.clone()).unwrap_or_default(),
        severity: score
            .as_ref()
            .map(|s| severity_name(s.severity).to_string())
            .unwrap_or_default(),
        status: status.to_string(),
        reason,
        fixed_in: m.fixed_in.unwrap_or_default(),
        remediation: m.remediation.unwrap_or_default(),
        kev: m.kev,
        product: m.product,
        end_of_life: m.end_of_life,
    }
}

fn severity_name(s: otwatch_advisories::Severity) -> &'static str {
    use otwatch_advisories::Severity;
    match s {
        Severity::None => "none",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// Sets the asset's vulnerabilities to what the catalog says of it (ordered by CVE, then
/// advisory), replacing any it had.
pub fn attach(catalog: &Catalog, asset: &mut Asset) {
    let device = device_of(asset);
    let dropped = device.firmware.is_empty() && !asset.firmware.is_empty();
    let found = catalog.match_device(&device);
    asset.vulnerabilities = found.into_iter().map(vulnerability).collect();
    if dropped {
        // Say why the firmware the asset shows was not used.
        let why = format!(
            "the asset's firmware {:?} was reported with another model, so it is not taken as this model's",
            asset.firmware
        );
        for v in &mut asset.vulnerabilities {
            if !v.reason.is_empty() {
                v.reason = format!("{why}; {}", v.reason);
            }
        }
    }
}

#[cfg(test)]
#[path = "advisories/tests.rs"]
mod tests;
