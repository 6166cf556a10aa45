//! Security advisories for otwatch: read them, keep them, match devices against them.
//!
//! No file or network I/O: callers hand in bytes and device identities, so the sensor's
//! offline `analyze --advisories` and the manager's `advisories import` give the same
//! answers for the same inputs.
//!
//! A tour:
//! - [`csaf`]: CSAF 2.0 documents (CISA ICS advisories, vendor PSIRTs) → [`Advisory`].
//! - [`cve5`]: CVE JSON 5 records → the same [`Advisory`] model.
//! - [`kev`]: the CISA Known Exploited Vulnerabilities catalog → a set of CVE ids.
//! - [`version`] and [`range`]: vendor version strings (`V3.2.6`, `4.003`, `FW 20.11`,
//!   `V3.X.17`) and the ranges advisories write (`vers:all/<V3.2.17`, `All versions < V3.2.17`).
//! - [`identity`]: vendor aliases, compacted order numbers, Rockwell series, product families.
//! - [`Catalog`]: advisories by id (a newer revision replaces an older one), indexed by vendor
//!   and model keys; [`Catalog::match_device`] gives a device's [`VulnerabilityMatch`]es.
//!
//! ```
//! use otwatch_advisories::{parse_document, Catalog, Device, Document};
//!
//! let csaf = br#"{"document": {"csaf_version": "2.0", "title": "Siemens PROFINET Devices",
//!   "tracking": {"id": "ICSA-19-283-02", "version": "12", "current_release_date": "2021-10-14T00:00:00Z"}},
//!   "product_tree": {"branches": [{"category": "vendor", "name": "Siemens", "branches": [
//!     {"category": "product_name", "name": "SIMATIC S7-300 CPU 315-2 PN/DP (6ES7315-2EH14-0AB0)", "branches": [
//!       {"category": "product_version_range", "name": "vers:all/<V3.2.17",
//!        "product": {"name": "SIMATIC S7-300 CPU 315-2 PN/DP", "product_id": "CSAFPID-0051"}}]}]}]},
//!   "vulnerabilities": [{"cve": "CVE-2019-10936", "product_status": {"known_affected": ["CSAFPID-0051"]}}]}"#;
//! let mut catalog = Catalog::new();
//! match parse_document(csaf)? {
//!     Document::Advisory(advisory) => { catalog.add(advisory); }
//!     Document::Kev(kev) => catalog.add_kev(&kev),
//! }
//! let device = Device { vendor: "Siemens AG", model: "6ES7 315-2EH14-0AB0", firmware: "V3.2.6", ..Device::default() };
//! let found = catalog.match_device(&device);
//! assert_eq!(found[0].cve.as_deref(), Some("CVE-2019-10936"));
//! assert_eq!(found[0].fixed_in.as_deref(), Some("V3.2.17"));
//! # Ok::<(), otwatch_advisories::ParseError>(())
//! ```
#![forbid(unsafe_code)]

mod catalog;
pub mod csaf;
pub mod cve5;
mod error;
pub mod identity;
pub mod kev;
mod matching;
mod model;
pub mod range;
pub mod version;

pub use catalog::{AddOutcome, Catalog};
pub use csaf::parse_csaf;
pub use cve5::parse_cve_record;
pub use error::{Format, ParseError};
pub use kev::{parse_kev, KevCatalog};
pub use matching::{says_end_of_life, Device, MatchBasis, MatchStatus, VulnerabilityMatch};
pub use model::{
    Advisory, Cvss, Product, ProductStatus, Remediation, RemediationCategory, Score, Severity,
    SourceFormat, Vulnerability,
};
pub use range::VersionRange;
pub use version::Version;

/// A document of any format this crate reads.
#[derive(Debug)]
pub enum Document {
    Advisory(Advisory),
    Kev(KevCatalog),
}

/// The format of a JSON document, told by the keys only its format has. CSAF is the
/// default, so an unknown document is reported with CSAF's errors.
pub fn detect_format(bytes: &[u8]) -> Format {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if has(b"\"cveMetadata\"") {
        Format::CveRecord
    } else if has(b"\"cveID\"") || has(b"\"catalogVersion\"") {
        Format::Kev
    } else {
        Format::Csaf
    }
}

/// Reads a CSAF document, a CVE record or a KEV catalog, whichever `bytes` is.
pub fn parse_document(bytes: &[u8]) -> Result<Document, ParseError> {
    Ok(match detect_format(bytes) {
        Format::Csaf => Document::Advisory(parse_csaf(bytes)?),
        Format::CveRecord => Document::Advisory(parse_cve_record(bytes)?),
        Format::Kev => Document::Kev(parse_kev(bytes)?),
    })
}
