//! The advisory model both formats are read into: a flat list of product rows (the leaves
//! of a CSAF product tree, or the `affected` entries of a CVE record) and, per
//! vulnerability, the status of each row, its remediations and scores.

use serde::Serialize;

use crate::range::VersionRange;

/// Where an advisory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    Csaf,
    CveRecord,
}

/// One advisory: a CSAF document or a CVE record.
#[derive(Debug, Clone)]
pub struct Advisory {
    /// `document.tracking.id` (`ICSA-19-283-02`) or the CVE id of a CVE record.
    pub id: String,
    pub title: String,
    /// `document.tracking.version` (`12`), or the CVE record's `dateUpdated`.
    pub revision: String,
    /// `document.tracking.current_release_date` (RFC 3339), or the CVE record's `dateUpdated`.
    pub current_release_date: String,
    pub format: SourceFormat,
    pub products: Vec<Product>,
    pub vulnerabilities: Vec<Vulnerability>,
    /// Things that were skipped while reading (a status naming an unknown product id).
    pub warnings: Vec<String>,
}

/// One product row: a vendor's product in the versions one statement covers.
#[derive(Debug, Clone)]
pub struct Product {
    /// The CSAF `product_id` (`CSAFPID-0051`), or `affected[i].versions[j]` of a CVE record.
    pub product_id: String,
    pub vendor: String,
    /// The `product_family` branch, when the tree has one.
    pub family: String,
    /// The `product_name` branch (`SIMATIC S7-300 CPU 315-2 PN/DP (6ES7315-2EH14-0AB0)`).
    pub name: String,
    /// The full product name (`product.name`), which CISA often writes as name plus range.
    pub full_name: String,
    pub versions: VersionRange,
    /// `product_identification_helper.model_numbers` (Siemens order numbers).
    pub model_numbers: Vec<String>,
    pub skus: Vec<String>,
    pub cpe: Option<String>,
}

/// What an advisory says about one product row for one vulnerability (CSAF 3.2.3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    FirstAffected,
    KnownAffected,
    LastAffected,
    UnderInvestigation,
    Recommended,
    FirstFixed,
    Fixed,
    KnownNotAffected,
}

impl ProductStatus {
    /// Reads a `product_status` key; `None` for keys CSAF 2.0 does not define.
    pub fn from_csaf(key: &str) -> Option<ProductStatus> {
        Some(match key {
            "first_affected" => ProductStatus::FirstAffected,
            "known_affected" => ProductStatus::KnownAffected,
            "last_affected" => ProductStatus::LastAffected,
            "under_investigation" => ProductStatus::UnderInvestigation,
            "recommended" => ProductStatus::Recommended,
            "first_fixed" => ProductStatus::FirstFixed,
            "fixed" => ProductStatus::Fixed,
            "known_not_affected" => ProductStatus::KnownNotAffected,
            _ => return None,
        })
    }

    pub fn is_affected(self) -> bool {
        matches!(
            self,
            ProductStatus::FirstAffected
                | ProductStatus::KnownAffected
                | ProductStatus::LastAffected
        )
    }

    pub fn is_not_affected(self) -> bool {
        matches!(
            self,
            ProductStatus::FirstFixed | ProductStatus::Fixed | ProductStatus::KnownNotAffected
        )
    }
}

/// One vulnerability of an advisory.
#[derive(Debug, Clone)]
pub struct Vulnerability {
    pub cve: Option<String>,
    /// The vulnerability's title, else its CWE name; may be empty.
    pub title: String,
    /// (index into [`Advisory::products`], status), in document order.
    pub statuses: Vec<(usize, ProductStatus)>,
    pub remediations: Vec<Remediation>,
    pub scores: Vec<Score>,
}

/// CSAF remediation categories (3.2.3.12.1), in the order a remediation is preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemediationCategory {
    VendorFix,
    Workaround,
    Mitigation,
    NoFixPlanned,
    NoneAvailable,
    Other,
}

impl RemediationCategory {
    pub fn from_csaf(text: &str) -> RemediationCategory {
        match text {
            "vendor_fix" => RemediationCategory::VendorFix,
            "workaround" => RemediationCategory::Workaround,
            "mitigation" => RemediationCategory::Mitigation,
            "no_fix_planned" => RemediationCategory::NoFixPlanned,
            "none_available" => RemediationCategory::NoneAvailable,
            _ => RemediationCategory::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Remediation {
    pub category: RemediationCategory,
    pub details: String,
    pub url: Option<String>,
    /// Indexes into [`Advisory::products`] (product groups expanded); empty = all rows.
    pub products: Vec<usize>,
}

/// CVSS qualitative severity (CVSS v3.1 specification, section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The band of a base score, used when a document gives the score without a severity.
    pub fn from_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::None,
        }
    }

    fn parse(text: &str) -> Option<Severity> {
        Some(match text.to_ascii_uppercase().as_str() {
            "NONE" => Severity::None,
            "LOW" => Severity::Low,
            "MEDIUM" => Severity::Medium,
            "HIGH" => Severity::High,
            "CRITICAL" => Severity::Critical,
            _ => return None,
        })
    }
}

/// One CVSS score as the document gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cvss {
    /// `3.0`, `3.1` or `4.0`.
    pub version: String,
    pub base_score: f64,
    pub vector: String,
    pub severity: Severity,
}

impl Cvss {
    /// Builds a score from its parts; `None` without a base score in 0–10.
    pub fn new(
        version: &str,
        score: Option<f64>,
        vector: Option<&str>,
        severity: Option<&str>,
    ) -> Option<Cvss> {
        let base_score = score.filter(|s| (0.0..=10.0).contains(s))?;
        let vector = vector.unwrap_or_default().to_string();
        // The vector names its version ("CVSS:3.1/…"); trust it over a missing field.
        let version = match version {
            "" => vector
                .strip_prefix("CVSS:")
                .and_then(|v| v.split('/').next())
                .unwrap_or_default()
                .to_string(),
            v => v.to_string(),
        };
        let severity = severity
            .and_then(Severity::parse)
            .unwrap_or_else(|| Severity::from_score(base_score));
        Some(Cvss {
            version,
            base_score,
            vector,
            severity,
        })
    }
}

/// The scores of a vulnerability for some product rows.
#[derive(Debug, Clone)]
pub struct Score {
    /// Indexes into [`Advisory::products`]; empty = all rows.
    pub products: Vec<usize>,
    pub cvss_v3: Option<Cvss>,
    pub cvss_v4: Option<Cvss>,
}
