//! The CISA Known Exploited Vulnerabilities catalog (`known_exploited_vulnerabilities.json`):
//! only the set of CVE ids is kept, to flag matches as exploited in the wild.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::error::{Format, ParseError};

/// The CVE ids of a KEV catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KevCatalog {
    /// `catalogVersion`, e.g. `2024.10.24`; empty when absent.
    pub version: String,
    pub cves: BTreeSet<String>,
}

/// Reads a KEV catalog.
pub fn parse_kev(bytes: &[u8]) -> Result<KevCatalog, ParseError> {
    let raw: RawKev = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
        format: Format::Kev,
        source,
    })?;
    let entries = raw.vulnerabilities.ok_or(ParseError::Missing {
        format: Format::Kev,
        field: "vulnerabilities",
    })?;
    let cves = entries
        .into_iter()
        .filter_map(|e| e.cve_id)
        .map(|id| id.trim().to_ascii_uppercase())
        .filter(|id| id.starts_with("CVE-"))
        .collect();
    Ok(KevCatalog {
        version: raw.catalog_version.unwrap_or_default(),
        cves,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKev {
    catalog_version: Option<String>,
    vulnerabilities: Option<Vec<RawEntry>>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "cveID")]
    cve_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cve_ids() {
        let text = r#"{"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2024.10.24",
          "count": 2, "vulnerabilities": [{"cveID": "CVE-2021-22681", "vendorProject": "Rockwell Automation"},
          {"cveID": "cve-2019-10936"}]}"#;
        let kev = parse_kev(text.as_bytes()).unwrap();
        assert_eq!(kev.version, "2024.10.24");
        assert!(kev.cves.contains("CVE-2021-22681") && kev.cves.contains("CVE-2019-10936"));
        assert!(parse_kev(b"{}").is_err());
    }
}
