//! CVE JSON 5 records (CVE Record Format 5.x, `CVE_RECORD`): what a CNA says is affected,
//! read into the same [`Advisory`] model as CSAF so one matcher serves both.
//!
//! Each `containers.cna.affected[i].versions[j]` becomes a product row; `version` with
//! `lessThan` / `lessThanOrEqual` becomes a range; `status` maps to CSAF's product status
//! (`affected` → known affected, `unaffected` → known not affected, `unknown` → under
//! investigation). An entry without versions takes its `defaultStatus` for every version.
//! Scores come from the CNA's metrics, else from an ADP container's (CISA's vulnrichment).

use serde::Deserialize;

use crate::csaf::RawCvss;
use crate::error::{Format, ParseError};
use crate::model::{
    Advisory, Product, ProductStatus, Remediation, RemediationCategory, Score, SourceFormat,
    Vulnerability,
};
use crate::range::VersionRange;

/// Reads one CVE JSON 5 record.
pub fn parse_cve_record(bytes: &[u8]) -> Result<Advisory, ParseError> {
    let raw: RawRecord = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
        format: Format::CveRecord,
        source,
    })?;
    let missing = |field| ParseError::Missing {
        format: Format::CveRecord,
        field,
    };
    let meta = raw.cve_metadata.ok_or(missing("cveMetadata"))?;
    let id = meta
        .cve_id
        .filter(|id| id.starts_with("CVE-"))
        .ok_or(missing("cveMetadata.cveId"))?;
    if let Some(state) = meta.state.as_deref() {
        if state != "PUBLISHED" {
            return Err(ParseError::Invalid {
                format: Format::CveRecord,
                field: "cveMetadata.state",
                value: state.to_string(),
                expected: "only PUBLISHED records describe a vulnerability; skip this one",
            });
        }
    }
    let containers = raw.containers.ok_or(missing("containers"))?;
    let cna = containers.cna.ok_or(missing("containers.cna"))?;
    let updated = meta
        .date_updated
        .or(meta.date_published)
        .unwrap_or_default();
    let english = |texts: &[RawText]| {
        texts
            .iter()
            .find(|t| t.lang.as_deref().is_some_and(|l| l.starts_with("en")))
            .or_else(|| texts.first())
            .and_then(|t| t.value.clone())
            .unwrap_or_default()
    };
    let title = cna
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| english(&cna.descriptions));

    let mut products = Vec::new();
    let mut statuses = Vec::new();
    for (i, affected) in cna.affected.iter().enumerate() {
        let vendor = affected.vendor.clone().unwrap_or_default();
        let name = affected.product.clone().unwrap_or_default();
        let mut push = |product_id: String, versions: VersionRange, status: ProductStatus| {
            statuses.push((products.len(), status));
            products.push(Product {
                product_id,
                vendor: vendor.clone(),
                family: String::new(),
                name: name.clone(),
                full_name: name.clone(),
                versions,
                model_numbers: Vec::new(),
                skus: Vec::new(),
                cpe: affected.cpes.first().cloned(),
            });
        };
        if affected.versions.is_empty() {
            if let Some(status) = affected.default_status.as_deref().and_then(status_of) {
                push(format!("affected[{i}]"), VersionRange::All, status);
            }
            continue;
        }
        for (j, version) in affected.versions.iter().enumerate() {
            let Some(status) = version.status.as_deref().and_then(status_of) else {
                continue;
            };
            push(
                format!("affected[{i}].versions[{j}]"),
                version.range(),
                status,
            );
        }
    }
    let metrics = if cna.metrics.is_empty() {
        containers
            .adp
            .iter()
            .flat_map(|a| a.metrics.iter())
            .collect::<Vec<_>>()
    } else {
        cna.metrics.iter().collect()
    };
    let cvss_v3 = metrics.iter().find_map(|m| {
        m.cvss_v3_1
            .as_ref()
            .or(m.cvss_v3_0.as_ref())
            .and_then(RawCvss::to_cvss)
    });
    let cvss_v4 = metrics
        .iter()
        .find_map(|m| m.cvss_v4_0.as_ref().and_then(RawCvss::to_cvss));
    let solution = english(&cna.solutions);
    let remediations = if solution.trim().is_empty() {
        Vec::new()
    } else {
        vec![Remediation {
            category: RemediationCategory::Other,
            details: solution,
            url: None,
            products: Vec::new(),
        }]
    };
    Ok(Advisory {
        id: id.clone(),
        title: title.clone(),
        revision: updated.clone(),
        current_release_date: updated,
        format: SourceFormat::CveRecord,
        products,
        vulnerabilities: vec![Vulnerability {
            cve: Some(id),
            title,
            statuses,
            remediations,
            scores: vec![Score {
                products: Vec::new(),
                cvss_v3,
                cvss_v4,
            }],
        }],
        warnings: Vec::new(),
    })
}

fn status_of(text: &str) -> Option<ProductStatus> {
    match text {
        "affected" => Some(ProductStatus::KnownAffected),
        "unaffected" => Some(ProductStatus::KnownNotAffected),
        "unknown" => Some(ProductStatus::UnderInvestigation),
        _ => None,
    }
}

impl RawVersion {
    /// `version` is the lower bound when a `lessThan`/`lessThanOrEqual` is given ("0" and "*"
    /// mean none), else the one affected version.
    fn range(&self) -> VersionRange {
        let version = self.version.as_deref().unwrap_or_default().trim();
        let open_start = matches!(version, "" | "0" | "*");
        let bound = match (&self.less_than, &self.less_than_or_equal) {
            (Some(lt), _) if lt.trim() == "*" => return lower_only(version, open_start),
            (Some(lt), _) => format!("<{lt}"),
            (None, Some(le)) if le.trim() == "*" => return lower_only(version, open_start),
            (None, Some(le)) => format!("<={le}"),
            (None, None) => return VersionRange::parse(version),
        };
        if open_start {
            VersionRange::parse(&bound)
        } else {
            VersionRange::parse(&format!(">={version}|{bound}"))
        }
    }
}

fn lower_only(version: &str, open_start: bool) -> VersionRange {
    if open_start {
        VersionRange::All
    } else {
        VersionRange::parse(&format!(">={version}"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecord {
    cve_metadata: Option<RawMeta>,
    containers: Option<RawContainers>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMeta {
    cve_id: Option<String>,
    state: Option<String>,
    date_updated: Option<String>,
    date_published: Option<String>,
}

#[derive(Deserialize)]
struct RawContainers {
    cna: Option<RawCna>,
    #[serde(default)]
    adp: Vec<RawAdp>,
}

#[derive(Deserialize)]
struct RawCna {
    title: Option<String>,
    #[serde(default)]
    descriptions: Vec<RawText>,
    #[serde(default)]
    affected: Vec<RawAffected>,
    #[serde(default)]
    metrics: Vec<RawMetric>,
    #[serde(default)]
    solutions: Vec<RawText>,
}

#[derive(Deserialize)]
struct RawAdp {
    #[serde(default)]
    metrics: Vec<RawMetric>,
}

#[derive(Deserialize)]
struct RawText {
    lang: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAffected {
    vendor: Option<String>,
    product: Option<String>,
    #[serde(default)]
    versions: Vec<RawVersion>,
    default_status: Option<String>,
    #[serde(default)]
    cpes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVersion {
    version: Option<String>,
    status: Option<String>,
    less_than: Option<String>,
    less_than_or_equal: Option<String>,
}

#[derive(Deserialize)]
struct RawMetric {
    #[serde(rename = "cvssV3_1")]
    cvss_v3_1: Option<RawCvss>,
    #[serde(rename = "cvssV3_0")]
    cvss_v3_0: Option<RawCvss>,
    #[serde(rename = "cvssV4_0")]
    cvss_v4_0: Option<RawCvss>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Version;

    // Shaped like Siemens' record for CVE-2019-10936 (cna affected/versions/metrics).
    const RECORD: &str = r#"{"dataType": "CVE_RECORD", "dataVersion": "5.1",
      "cveMetadata": {"cveId": "CVE-2019-10936", "state": "PUBLISHED", "dateUpdated": "2024-05-01T00:00:00Z"},
      "containers": {"cna": {
        "descriptions": [{"lang": "en", "value": "A vulnerability has been identified in SIMATIC S7-300 ..."}],
        "affected": [{"vendor": "Siemens", "product": "SIMATIC S7-300 CPU 315-2 PN/DP (6ES7315-2EH14-0AB0)",
           "defaultStatus": "unknown",
           "versions": [{"version": "0", "lessThan": "V3.2.17", "status": "affected", "versionType": "custom"}]},
          {"vendor": "Siemens", "product": "SIMATIC WinAC RTX 2010", "defaultStatus": "affected"}],
        "metrics": [{"cvssV3_1": {"version": "3.1", "baseScore": 7.5,
          "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "baseSeverity": "HIGH"}}]}}}"#;

    #[test]
    fn reads_affected_versions_and_metrics() {
        let a = parse_cve_record(RECORD.as_bytes()).unwrap();
        assert_eq!(a.id, "CVE-2019-10936");
        assert_eq!(a.products.len(), 2);
        assert!(a.products[0]
            .versions
            .contains(&Version::parse("V3.2.6").unwrap()));
        assert!(!a.products[0]
            .versions
            .contains(&Version::parse("V3.2.17").unwrap()));
        assert!(matches!(a.products[1].versions, VersionRange::All));
        let score = a.vulnerabilities[0].scores[0].cvss_v3.as_ref().unwrap();
        assert_eq!((score.version.as_str(), score.base_score), ("3.1", 7.5));
    }

    #[test]
    fn rejected_and_malformed_records_are_errors() {
        let rejected = r#"{"cveMetadata": {"cveId": "CVE-2020-0001", "state": "REJECTED"}, "containers": {"cna": {}}}"#;
        assert!(parse_cve_record(rejected.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("REJECTED"));
        let no_id = r#"{"cveMetadata": {}, "containers": {"cna": {}}}"#;
        assert!(parse_cve_record(no_id.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("cveMetadata.cveId"));
        assert!(parse_cve_record(b"not json").is_err());
    }
}
