//! CSAF 2.0 (OASIS Common Security Advisory Framework, csaf-v2.0-os) documents, the format
//! of CISA's ICS advisories and of vendor PSIRTs (Siemens ProductCERT, Schneider, …).
//!
//! Only what matching needs is read: `document.tracking` (3.2.1.12), the product tree
//! (3.2.2: branches of any depth, full product names, relationships, product groups), and
//! per vulnerability (3.2.3) the CVE, title, product status, remediations and scores.
//! Unknown fields are ignored, so profiles other than `csaf_security_advisory` also load.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{Format, ParseError};
use crate::model::{
    Advisory, Cvss, Product, ProductStatus, Remediation, RemediationCategory, Score, SourceFormat,
    Vulnerability,
};
use crate::range::VersionRange;

/// Reads one CSAF 2.0 document.
pub fn parse_csaf(bytes: &[u8]) -> Result<Advisory, ParseError> {
    let raw: RawCsaf = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
        format: Format::Csaf,
        source,
    })?;
    let missing = |field| ParseError::Missing {
        format: Format::Csaf,
        field,
    };
    let document = raw.document.ok_or(missing("document"))?;
    if let Some(version) = document.csaf_version.as_deref() {
        if version != "2.0" {
            return Err(ParseError::Invalid {
                format: Format::Csaf,
                field: "document.csaf_version",
                value: version.to_string(),
                expected: "only CSAF 2.0 is read",
            });
        }
    }
    let tracking = document.tracking.ok_or(missing("document.tracking"))?;
    let id = non_empty(tracking.id).ok_or(missing("document.tracking.id"))?;
    let title = non_empty(document.title).ok_or(missing("document.title"))?;
    let current_release_date = non_empty(tracking.current_release_date)
        .ok_or(missing("document.tracking.current_release_date"))?;
    let revision = non_empty(tracking.version).ok_or(missing("document.tracking.version"))?;

    let mut warnings = Vec::new();
    let mut products = Vec::new();
    let tree = raw.product_tree.unwrap_or_default();
    let mut path = Path::default();
    flatten(&tree.branches, &mut path, &mut products);
    for product in &tree.full_product_names {
        if let Some(row) = product_row(product, &Path::default()) {
            products.push(row);
        }
    }
    let mut index: HashMap<String, usize> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.product_id.clone(), i))
        .collect();
    add_relationships(
        &tree.relationships,
        &mut products,
        &mut index,
        &mut warnings,
    );
    let groups: HashMap<&str, &[String]> = tree
        .product_groups
        .iter()
        .filter_map(|g| Some((g.group_id.as_deref()?, g.product_ids.as_slice())))
        .collect();

    let mut resolve = |ids: &[String], groups_ids: &[String], context: &str| -> Vec<usize> {
        let mut out = Vec::new();
        let group_members = groups_ids
            .iter()
            .flat_map(|g| groups.get(g.as_str()).copied().unwrap_or_default());
        for id in ids.iter().chain(group_members) {
            match index.get(id) {
                Some(&i) => out.push(i),
                None => warnings.push(format!(
                    "{context} names product {id:?}, which the product tree does not define"
                )),
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    };

    let mut vulnerabilities = Vec::with_capacity(raw.vulnerabilities.len());
    for (n, vuln) in raw.vulnerabilities.into_iter().enumerate() {
        let mut statuses = Vec::new();
        for (key, ids) in &vuln.product_status {
            let Some(status) = ProductStatus::from_csaf(key) else {
                continue;
            };
            let context = format!("vulnerabilities[{n}].product_status.{key}");
            statuses.extend(resolve(ids, &[], &context).into_iter().map(|i| (i, status)));
        }
        let remediations = vuln
            .remediations
            .iter()
            .map(|r| Remediation {
                category: RemediationCategory::from_csaf(r.category.as_deref().unwrap_or_default()),
                details: r.details.clone().unwrap_or_default(),
                url: r.url.clone(),
                products: resolve(
                    &r.product_ids,
                    &r.group_ids,
                    &format!("vulnerabilities[{n}].remediations"),
                ),
            })
            .collect();
        let scores = vuln
            .scores
            .iter()
            .map(|s| Score {
                products: resolve(&s.products, &[], &format!("vulnerabilities[{n}].scores")),
                cvss_v3: s.cvss_v3.as_ref().and_then(RawCvss::to_cvss),
                cvss_v4: s.cvss_v4.as_ref().and_then(RawCvss::to_cvss),
            })
            .collect();
        let title = non_empty(vuln.title)
            .or_else(|| vuln.cwe.and_then(|c| non_empty(c.name)))
            .unwrap_or_default();
        vulnerabilities.push(Vulnerability {
            cve: non_empty(vuln.cve),
            title,
            statuses,
            remediations,
            scores,
        });
    }
    Ok(Advisory {
        id,
        title,
        revision,
        current_release_date,
        format: SourceFormat::Csaf,
        products,
        vulnerabilities,
        warnings,
    })
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// The branch names above a product: vendor, family, name and version.
#[derive(Default, Clone)]
struct Path {
    vendor: String,
    family: String,
    name: String,
    version: Option<String>,
}

/// Walks the branches depth first. serde_json refuses nesting deeper than 128 levels, so
/// the recursion is bounded by the parser.
fn flatten(branches: &[RawBranch], path: &mut Path, out: &mut Vec<Product>) {
    for branch in branches {
        let saved = path.clone();
        let name = branch.name.clone().unwrap_or_default();
        match branch.category.as_deref().unwrap_or_default() {
            "vendor" => path.vendor = name,
            "product_family" => path.family = name,
            "product_name" => path.name = name,
            "product_version" | "product_version_range" => path.version = Some(name),
            _ => {}
        }
        if let Some(product) = &branch.product {
            if let Some(row) = product_row(product, path) {
                out.push(row);
            }
        }
        flatten(&branch.branches, path, out);
        *path = saved;
    }
}

fn product_row(product: &RawProduct, path: &Path) -> Option<Product> {
    let product_id = non_empty(product.product_id.clone())?;
    let full_name = product.name.clone().unwrap_or_default().trim().to_string();
    let helper = product
        .product_identification_helper
        .clone()
        .unwrap_or_default();
    let name = match path.name.trim() {
        "" => full_name.clone(),
        name => name.to_string(),
    };
    Some(Product {
        product_id,
        vendor: path.vendor.trim().to_string(),
        family: path.family.trim().to_string(),
        name,
        full_name,
        // A product without a version branch is the product as such: every version.
        versions: path
            .version
            .as_deref()
            .map_or(VersionRange::All, VersionRange::parse),
        model_numbers: helper.model_numbers,
        skus: helper.skus,
        cpe: helper.cpe,
    })
}

/// A relationship (3.2.2.5) defines a new product, such as "firmware V2.1 installed on
/// device X". It takes the component's vendor and versions and the platform's name and
/// model numbers, which is what a device on the wire reports.
fn add_relationships(
    relationships: &[RawRelationship],
    products: &mut Vec<Product>,
    index: &mut HashMap<String, usize>,
    warnings: &mut Vec<String>,
) {
    for (n, rel) in relationships.iter().enumerate() {
        let Some(full) = &rel.full_product_name else {
            continue;
        };
        let Some(id) = non_empty(full.product_id.clone()) else {
            continue;
        };
        let reference = rel
            .product_reference
            .as_deref()
            .and_then(|r| index.get(r))
            .copied();
        let platform = rel
            .relates_to_product_reference
            .as_deref()
            .and_then(|r| index.get(r))
            .copied();
        let (Some(component), Some(platform)) = (reference, platform) else {
            warnings.push(format!(
                "product_tree.relationships[{n}] refers to a product the tree does not define"
            ));
            continue;
        };
        let (component, platform) = (&products[component], &products[platform]);
        let mut model_numbers = platform.model_numbers.clone();
        model_numbers.extend(component.model_numbers.iter().cloned());
        let row = Product {
            product_id: id.clone(),
            vendor: if platform.vendor.is_empty() {
                component.vendor.clone()
            } else {
                platform.vendor.clone()
            },
            family: platform.family.clone(),
            name: platform.name.clone(),
            full_name: full.name.clone().unwrap_or_default(),
            versions: component.versions.clone(),
            model_numbers,
            skus: platform.skus.clone(),
            cpe: component.cpe.clone(),
        };
        index.insert(id, products.len());
        products.push(row);
    }
}

#[derive(Deserialize)]
struct RawCsaf {
    document: Option<RawDocument>,
    product_tree: Option<RawTree>,
    #[serde(default)]
    vulnerabilities: Vec<RawVulnerability>,
}

#[derive(Deserialize)]
struct RawDocument {
    csaf_version: Option<String>,
    title: Option<String>,
    tracking: Option<RawTracking>,
}

#[derive(Deserialize)]
struct RawTracking {
    id: Option<String>,
    version: Option<String>,
    current_release_date: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawTree {
    #[serde(default)]
    branches: Vec<RawBranch>,
    #[serde(default)]
    full_product_names: Vec<RawProduct>,
    #[serde(default)]
    relationships: Vec<RawRelationship>,
    #[serde(default)]
    product_groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
struct RawBranch {
    category: Option<String>,
    name: Option<String>,
    product: Option<RawProduct>,
    #[serde(default)]
    branches: Vec<RawBranch>,
}

#[derive(Deserialize)]
struct RawProduct {
    name: Option<String>,
    product_id: Option<String>,
    product_identification_helper: Option<RawHelper>,
}

#[derive(Deserialize, Default, Clone)]
struct RawHelper {
    cpe: Option<String>,
    #[serde(default)]
    model_numbers: Vec<String>,
    #[serde(default)]
    skus: Vec<String>,
}

#[derive(Deserialize)]
struct RawRelationship {
    full_product_name: Option<RawProduct>,
    product_reference: Option<String>,
    relates_to_product_reference: Option<String>,
}

#[derive(Deserialize)]
struct RawGroup {
    group_id: Option<String>,
    #[serde(default)]
    product_ids: Vec<String>,
}

#[derive(Deserialize)]
struct RawVulnerability {
    cve: Option<String>,
    title: Option<String>,
    cwe: Option<RawCwe>,
    #[serde(default)]
    product_status: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    remediations: Vec<RawRemediation>,
    #[serde(default)]
    scores: Vec<RawScore>,
}

#[derive(Deserialize)]
struct RawCwe {
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawRemediation {
    category: Option<String>,
    details: Option<String>,
    url: Option<String>,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

#[derive(Deserialize)]
struct RawScore {
    #[serde(default)]
    products: Vec<String>,
    cvss_v3: Option<RawCvss>,
    cvss_v4: Option<RawCvss>,
}

/// The CVSS JSON schema's field names (shared by CSAF and CVE records).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawCvss {
    version: Option<String>,
    base_score: Option<f64>,
    vector_string: Option<String>,
    base_severity: Option<String>,
}

impl RawCvss {
    pub(crate) fn to_cvss(&self) -> Option<Cvss> {
        Cvss::new(
            self.version.as_deref().unwrap_or_default(),
            self.base_score,
            self.vector_string.as_deref(),
            self.base_severity.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
      "document": {"csaf_version": "2.0", "title": "Example PLC",
        "tracking": {"id": "EX-1", "version": "2", "current_release_date": "2024-01-01T00:00:00Z"}},
      "product_tree": {"branches": [{"category": "vendor", "name": "Siemens", "branches": [
        {"category": "product_family", "name": "SIMATIC", "branches": [
          {"category": "product_name", "name": "SIMATIC S7-300 CPU 315-2 PN/DP", "branches": [
            {"category": "product_version_range", "name": "vers:intdot/<3.2.17",
             "product": {"name": "S7-315 < 3.2.17", "product_id": "P1",
               "product_identification_helper": {"model_numbers": ["6ES7315-2EH14-0AB0"]}}}]}]}]}],
        "product_groups": [{"group_id": "G1", "product_ids": ["P1"]}]},
      "vulnerabilities": [{"cve": "CVE-0000-0001", "title": "DoS",
        "product_status": {"known_affected": ["P1"], "fixed": ["NOPE"]},
        "remediations": [{"category": "vendor_fix", "details": "Update to V3.2.17", "group_ids": ["G1"]}],
        "scores": [{"products": ["P1"], "cvss_v3": {"version": "3.1", "baseScore": 7.5,
          "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "baseSeverity": "HIGH"}}]}]
    }"#;

    #[test]
    fn reads_a_nested_tree_with_family_and_groups() {
        let a = parse_csaf(MINIMAL.as_bytes()).unwrap();
        assert_eq!(a.id, "EX-1");
        assert_eq!(a.products.len(), 1);
        let p = &a.products[0];
        assert_eq!(
            (p.vendor.as_str(), p.family.as_str()),
            ("Siemens", "SIMATIC")
        );
        assert_eq!(p.model_numbers, ["6ES7315-2EH14-0AB0"]);
        let v = &a.vulnerabilities[0];
        assert_eq!(v.statuses, [(0, ProductStatus::KnownAffected)]);
        assert_eq!(v.remediations[0].products, [0]);
        assert_eq!(v.scores[0].cvss_v3.as_ref().unwrap().base_score, 7.5);
        // The dangling "NOPE" is a warning, not a failure.
        assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
    }

    #[test]
    fn malformed_documents_name_what_is_wrong() {
        let cases: [(&str, &str); 5] = [
            ("{", "CSAF 2.0 document"),
            ("[]", "CSAF 2.0 document"),
            (r#"{"vulnerabilities": []}"#, "`document`"),
            (
                r#"{"document": {"title": "x", "tracking": {"version": "1", "current_release_date": "2024"}}}"#,
                "`document.tracking.id`",
            ),
            (
                r#"{"document": {"csaf_version": "1.2", "title": "x"}}"#,
                "document.csaf_version",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_csaf(text.as_bytes()).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let wrong_type = r#"{"document": {"title": "x", "tracking": {"id": 5}}}"#;
        assert!(matches!(
            parse_csaf(wrong_type.as_bytes()),
            Err(ParseError::Json { .. })
        ));
    }
}
