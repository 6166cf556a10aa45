//! Matching one device against the catalog.
//!
//! A product row is a candidate when the vendor agrees and the device's model or order
//! number equals one of the row's model tokens, fits one of its part-number patterns, or
//! belongs to the family the row names. Then, for each vulnerability that lists the row:
//! - `all versions` → affected, whatever the firmware;
//! - firmware unknown, unreadable, or a range that could not be read → possibly affected,
//!   with the reason;
//! - firmware inside the range → affected; outside → nothing.
//!
//! A row listed as fixed or not affected whose range certainly contains the firmware
//! clears the same vulnerability (or, if another row says affected, leaves it possibly
//! affected with the conflict as the reason).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::{Catalog, Entry, RowRef};
use crate::identity::{compact, device_family, is_family_name, split_series, vendor_key};
use crate::model::{Cvss, Product, ProductStatus, RemediationCategory};
use crate::range::VersionRange;
use crate::version::Version;

/// The identity of a device as the sensor reports it. Empty strings mean unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Device<'a> {
    /// `Siemens`, `Rockwell Automation/Allen-Bradley`, `Schneider Electric`, …
    pub vendor: &'a str,
    /// Product name or order number: `6ES7 315-2EH14-0AB0`, `1756-ENBT/A`, `S7-1500`.
    pub model: &'a str,
    /// An order number reported separately from the model, if any.
    pub order_number: &'a str,
    /// Firmware: `V3.2.6`, `4.03`, `20.11`.
    pub firmware: &'a str,
}

/// Whether the device is affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MatchStatus {
    Affected,
    /// The device may be affected; `reason` says what is uncertain.
    PossiblyAffected {
        reason: String,
    },
}

/// What the device's identity was matched on, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchBasis {
    /// The model or order number equals one the advisory names.
    Model,
    /// The order number fits a part-number pattern (`BMXP34*`).
    PartNumberPattern,
    /// The device belongs to a product family the advisory names as a whole.
    Family,
}

/// One vulnerability that applies to a device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnerabilityMatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    /// The advisory id (`ICSA-19-283-02`).
    pub advisory: String,
    pub title: String,
    /// CVSS v3.x base score, vector and severity as the advisory gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<Cvss>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_v4: Option<Cvss>,
    #[serde(flatten)]
    pub status: MatchStatus,
    /// The first version outside the affected range, when the range has one upper bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    /// The advisory's own remediation for this product, shortened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation_category: Option<RemediationCategory>,
    /// Listed in a loaded CISA KEV catalog.
    pub kev: bool,
    /// The advisory calls the product end of life ([`says_end_of_life`] of a remediation for
    /// this row) and gives it no fixed version.
    pub end_of_life: bool,
    /// The advisory's product row that matched, to explain the match.
    pub product: String,
    pub matched_on: MatchBasis,
}

/// Longest remediation text kept, in characters.
const REMEDIATION_CHARS: usize = 240;

/// How advisories say that a product is no longer supported, lower case. Taken from the
/// remediations of the CISA OT feed ("This product is end-of-life and is no longer
/// supported.", "Eaton declared these products EoL", "discontinued as of October 1, 2019",
/// "currently being phased out", "became obsolete in 2008", "has reached its end-of-support
/// period"). "Legacy product" is not among them: vendors use it for old but supported lines.
const END_OF_LIFE: &[&str] = &[
    "end-of-life",
    "end of life",
    "end-of-support",
    "end of support",
    "discontinued",
    "no longer supported",
    "no longer maintained",
    "phased out",
    "obsolete",
];

/// Words of product names that name no product line ("Quantum communication modules": only
/// "quantum" tells which products a sentence is about).
const GENERIC_WORDS: &[&str] = &[
    "communication",
    "controller",
    "controllers",
    "device",
    "devices",
    "ethernet",
    "firmware",
    "hardware",
    "integrated",
    "module",
    "modules",
    "processor",
    "processors",
    "product",
    "products",
    "series",
    "software",
    "system",
    "systems",
    "version",
    "versions",
    "with",
];

/// Whether an end-of-life remediation `text` covers row `row` of `products`. A text that names
/// product lines covers only those ("Modicon Premium and Modicon Quantum controllers have
/// reached their end of life", given for every row of an advisory that also lists the M340,
/// which is not end of life); a text that names none ("This product is end-of-life") covers
/// every row it is given for. A row is named by a word of its name that not every row shares
/// and that is not one of [`GENERIC_WORDS`].
fn end_of_life_covers(products: &[Product], text: &str, row: usize) -> bool {
    let words = |name: &str| -> Vec<String> {
        name.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.len() >= 4 && w.chars().any(|c| c.is_ascii_alphabetic()))
            .map(str::to_ascii_lowercase)
            .filter(|w| !GENERIC_WORDS.contains(&w.as_str()))
            .collect()
    };
    let names: Vec<Vec<String>> = products.iter().map(|p| words(&p.full_name)).collect();
    let in_text: BTreeSet<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .collect();
    let distinctive = |w: &String| names.iter().any(|n| !n.contains(w));
    let named = |n: &Vec<String>| n.iter().any(|w| distinctive(w) && in_text.contains(w));
    if !names.iter().any(named) {
        return true;
    }
    names.get(row).is_some_and(named)
}

/// Whether a remediation text says the product is end of life (the words of [`END_OF_LIFE`],
/// or "EoL" as a word).
pub fn says_end_of_life(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    END_OF_LIFE.iter().any(|p| lower.contains(p))
        || text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.eq_ignore_ascii_case("eol"))
}

impl Catalog {
    /// The vulnerabilities that apply to a device, ordered by CVE then advisory id.
    pub fn match_device(&self, device: &Device<'_>) -> Vec<VulnerabilityMatch> {
        let vendor = vendor_key(device.vendor);
        let Some(index) = self.vendors.get(&vendor) else {
            return Vec::new();
        };
        let mut rows: BTreeMap<RowRef, (MatchBasis, Option<char>)> = BTreeMap::new();
        let mut note = |row: RowRef, basis: MatchBasis, series: Option<char>| {
            let slot = rows.entry(row).or_insert((basis, series));
            if basis < slot.0 {
                *slot = (basis, series);
            }
        };
        for text in [device.model, device.order_number] {
            let (base, series) = split_series(text);
            let key = compact(base);
            if key.is_empty() {
                continue;
            }
            if !is_family_name(&key) {
                for &row in index.tokens.get(&key).into_iter().flatten() {
                    note(row, MatchBasis::Model, series);
                }
                for (prefix, row) in &index.prefixes {
                    if key.starts_with(prefix.as_str()) {
                        note(*row, MatchBasis::PartNumberPattern, series);
                    }
                }
            }
            if let Some(family) = device_family(&vendor, &key) {
                for &row in index.families.get(&family).into_iter().flatten() {
                    note(row, MatchBasis::Family, series);
                }
            }
        }
        if rows.is_empty() {
            return Vec::new();
        }
        let firmware = match device.firmware.trim() {
            "" => Firmware::Unknown,
            text => match Version::parse(text) {
                Ok(version) => Firmware::Known(version),
                Err(error) => Firmware::Unreadable(error.to_string()),
            },
        };

        // Per (advisory slot, vulnerability): the best verdict and whether a row clears it.
        let mut verdicts: BTreeMap<(u32, u32), Verdict> = BTreeMap::new();
        for (row, (basis, series)) in rows {
            let Some(entry) = self.entries.get(row.slot as usize).and_then(Option::as_ref) else {
                continue;
            };
            let product = row.product as usize;
            let (Some(keys), Some(p)) = (
                entry.keys.get(product),
                entry.advisory.products.get(product),
            ) else {
                continue;
            };
            let series_doubt = match (keys.series.is_empty(), series) {
                (true, _) => None,
                (false, Some(s)) if keys.series.contains(&s) => None,
                (false, Some(_)) => continue,
                (false, None) => Some(format!(
                    "the advisory names series {}; the device's series is unknown",
                    keys.series
                        .iter()
                        .map(char::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                )),
            };
            for &(vuln, status) in entry.row_statuses.get(product).into_iter().flatten() {
                let verdict = verdicts.entry((row.slot, vuln)).or_default();
                if status.is_not_affected() {
                    if firmware.certainly_in(&p.versions) {
                        verdict.cleared = true;
                    }
                    continue;
                }
                if !(status.is_affected() || status == ProductStatus::UnderInvestigation) {
                    continue;
                }
                let Some(mut status_now) = firmware.judge(&p.versions) else {
                    continue;
                };
                if status == ProductStatus::UnderInvestigation {
                    status_now = doubt(
                        status_now,
                        "the vendor lists it as under investigation".to_string(),
                    );
                }
                if let Some(reason) = &series_doubt {
                    status_now = doubt(status_now, reason.clone());
                }
                let candidate = Candidate {
                    status: status_now,
                    basis,
                    product: row.product,
                };
                if verdict
                    .best
                    .as_ref()
                    .is_none_or(|best| candidate.beats(best))
                {
                    verdict.best = Some(candidate);
                }
            }
        }

        let mut out = Vec::new();
        for ((slot, vuln), verdict) in verdicts {
            let Some(mut best) = verdict.best else {
                continue;
            };
            if verdict.cleared {
                match best.status {
                    MatchStatus::PossiblyAffected { .. } => continue,
                    MatchStatus::Affected => {
                        best.status = MatchStatus::PossiblyAffected {
                            reason: "the advisory lists this firmware both as affected and as fixed or not affected".to_string(),
                        }
                    }
                }
            }
            if let Some(entry) = self.entries.get(slot as usize).and_then(Option::as_ref) {
                if let Some(found) = self.describe(entry, vuln as usize, best) {
                    out.push(found);
                }
            }
        }
        out.sort_by(|a, b| (&a.cve, &a.advisory).cmp(&(&b.cve, &b.advisory)));
        out
    }

    fn describe(&self, entry: &Entry, vuln: usize, best: Candidate) -> Option<VulnerabilityMatch> {
        let advisory = &entry.advisory;
        let v = advisory.vulnerabilities.get(vuln)?;
        let product = best.product as usize;
        let row = advisory.products.get(product)?;
        let for_row = |products: &[usize]| products.is_empty() || products.contains(&product);
        let score = v.scores.iter().find(|s| for_row(&s.products));
        // The most direct category first (a vendor fix before a mitigation); within one,
        // the text that names this row's model (CISA often lists one remediation per
        // product line under the same product ids), then document order.
        let tokens = entry.keys.get(product).map(|k| &k.tokens);
        let texts = entry.remediation_keys.get(vuln);
        let names_row = |n: usize| {
            let text = texts.and_then(|t| t.get(n)).map_or("", String::as_str);
            tokens.is_some_and(|t| {
                t.iter()
                    .any(|token| token.len() >= 6 && text.contains(token.as_str()))
            })
        };
        let remediation = v
            .remediations
            .iter()
            .enumerate()
            .filter(|(_, r)| for_row(&r.products) && !r.details.trim().is_empty())
            .min_by_key(|(n, r)| (r.category, !names_row(*n)))
            .map(|(_, r)| r);
        let fixed_in = row.versions.fixed_in().map(|f| f.as_str().to_string());
        // A fixed version means the line is still maintained, whatever an advisory says of
        // older releases in the same remediation ("versions 4.0 and prior are no longer
        // supported; update to 6.5.0.2").
        let end_of_life = fixed_in.is_none()
            && v.remediations.iter().any(|r| {
                for_row(&r.products)
                    && says_end_of_life(&r.details)
                    && end_of_life_covers(&advisory.products, &r.details, product)
            });
        Some(VulnerabilityMatch {
            cve: v.cve.clone(),
            advisory: advisory.id.clone(),
            title: if v.title.is_empty() {
                advisory.title.clone()
            } else {
                v.title.clone()
            },
            cvss: score.and_then(|s| s.cvss_v3.clone()),
            cvss_v4: score.and_then(|s| s.cvss_v4.clone()),
            status: best.status,
            fixed_in,
            remediation: remediation.map(|r| shorten(&r.details, REMEDIATION_CHARS)),
            remediation_category: remediation.map(|r| r.category),
            kev: v.cve.as_deref().is_some_and(|c| self.is_kev(c)),
            end_of_life,
            product: row.full_name.clone(),
            matched_on: best.basis,
        })
    }
}

enum Firmware {
    Unknown,
    Unreadable(String),
    Known(Version),
}

impl Firmware {
    /// The status of a device with this firmware against a range; `None` when outside.
    fn judge(&self, range: &VersionRange) -> Option<MatchStatus> {
        let possibly = |reason: String| Some(MatchStatus::PossiblyAffected { reason });
        match (range, self) {
            (VersionRange::All, _) => Some(MatchStatus::Affected),
            (VersionRange::Unreadable { text, reason }, _) => possibly(format!(
                "the advisory's version range {text:?} could not be read ({reason})"
            )),
            (_, Firmware::Unknown) => {
                possibly(format!("firmware unknown; the advisory covers {range}"))
            }
            (_, Firmware::Unreadable(reason)) => possibly(format!(
                "the firmware could not be read ({reason}); the advisory covers {range}"
            )),
            (_, Firmware::Known(version)) if range.contains(version) => Some(MatchStatus::Affected),
            _ => None,
        }
    }

    fn certainly_in(&self, range: &VersionRange) -> bool {
        match (range, self) {
            (VersionRange::All, _) => true,
            (VersionRange::Constraints(_), Firmware::Known(version)) => range.contains(version),
            _ => false,
        }
    }
}

fn doubt(status: MatchStatus, reason: String) -> MatchStatus {
    match status {
        MatchStatus::Affected => MatchStatus::PossiblyAffected { reason },
        MatchStatus::PossiblyAffected { reason: earlier } => MatchStatus::PossiblyAffected {
            reason: format!("{earlier}; {reason}"),
        },
    }
}

#[derive(Default)]
struct Verdict {
    best: Option<Candidate>,
    cleared: bool,
}

struct Candidate {
    status: MatchStatus,
    basis: MatchBasis,
    product: u32,
}

impl Candidate {
    /// Affected beats possibly affected; then the stronger basis; then the earlier row, so
    /// the choice does not depend on lookup order.
    fn beats(&self, other: &Candidate) -> bool {
        let rank = |c: &Candidate| {
            (
                matches!(c.status, MatchStatus::PossiblyAffected { .. }),
                c.basis,
                c.product,
            )
        };
        rank(self) < rank(other)
    }
}

/// Collapses whitespace and cuts at a word boundary, marking the cut with an ellipsis.
fn shorten(text: &str, max_chars: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max_chars {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(max_chars).collect();
    // Keep the last word when the cut falls right after it.
    let next_is_space = collapsed.chars().nth(max_chars) == Some(' ');
    let at = if next_is_space {
        cut.len()
    } else {
        cut.rfind(' ').unwrap_or(cut.len())
    };
    format!("{}…", cut[..at].trim_end_matches([',', ';', ':', '.']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_at_words() {
        assert_eq!(shorten("Update  to\nV3.2.17", 100), "Update to V3.2.17");
        assert_eq!(
            shorten("Update to V3.2.17 or later version", 20),
            "Update to V3.2.17 or…"
        );
        assert_eq!(shorten("ünïcödé ünïcödé ünïcödé", 10), "ünïcödé…");
    }

    fn row(name: &str) -> Product {
        Product {
            product_id: String::new(),
            vendor: "Schneider Electric".to_string(),
            family: String::new(),
            name: name.to_string(),
            full_name: name.to_string(),
            versions: VersionRange::All,
            model_numbers: Vec::new(),
            skus: Vec::new(),
            cpe: None,
        }
    }

    #[test]
    fn an_end_of_life_text_covers_the_rows_it_names_or_all_when_it_names_none() {
        let rows = [
            row("Modicon M340 CPUs BMX P34x: all versions"),
            row("Modicon Quantum processors 140CPU65xxxxx: all versions"),
        ];
        let named = "Modicon Quantum controllers have reached their end of life.";
        assert!(!end_of_life_covers(&rows, named, 0));
        assert!(end_of_life_covers(&rows, named, 1));
        // "Modicon" is in every row: it names none of them.
        let generic = "These Modicon products are end-of-life and no longer supported.";
        assert!(end_of_life_covers(&rows, generic, 0));
        assert!(end_of_life_covers(&rows, generic, 1));
        // ICSA-19-281-01 (SMA Sunny WebBox), its one row.
        let sma = [row("Sunny WebBox Firmware: <= 1.6")];
        assert!(end_of_life_covers(
            &sma,
            "This product is end-of-life and is no longer supported.",
            0
        ));
    }
}
