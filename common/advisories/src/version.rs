//! Firmware and software versions as industrial vendors write them.
//!
//! Advisories and devices spell the same release many ways: `V3.2.6`, `3.2.6`, `FW 20.11`,
//! `4.003` (Rockwell writes the minor revision with three digits, a device reports `4.03`),
//! `SV3.51` (Schneider), `v.32.011`, `V14 SP1 Update 4` (Siemens software), `< V3.X.17`
//! (Siemens: "any minor release, patch below 17"). Comparison is numeric per component, so
//! `V3.2.6` < `V3.2.16` and `4.003` = `4.03`; missing trailing components count as zero.
//!
//! Anything else (letters glued to numbers such as `2.0.0N`, dates, "the first digits of the
//! serial number") is refused with a reason, so the matcher can say "possibly affected"
//! instead of guessing.

use std::cmp::Ordering;
use std::fmt;

/// One dotted component: a number, or a wildcard (`X`, `x`, `*`) that stands for any value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Num(u64),
    Any,
}

/// A parsed version. Equality and order follow [`Version::compare`].
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<Part>,
    /// Siemens-style service pack (`SP2`); 0 when absent. Ranks above updates: `V14 Update 4`
    /// < `V14 SP1`.
    service_pack: u64,
    /// Update, hotfix, patch or build number (`Update 4`, `HF3`, `Patch 05`, `Build 7`,
    /// `3.0.1(2)`); 0 when absent.
    update: u64,
    text: String,
}

/// Why a version string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    #[error("empty version")]
    Empty,
    #[error("`{0}` does not start with a release number")]
    NoNumber(String),
    #[error("`{text}` has an unreadable part `{part}`")]
    Unreadable { text: String, part: String },
    #[error("`{0}` has a number too large to compare")]
    TooLarge(String),
}

/// Prefixes vendors put before the number. Longest first so `FIRMWARE` wins over `F…`.
/// `MX-V` is Mobotix camera firmware (ICSA-24-235-03 lists over a thousand such rows).
const PREFIXES: &[&str] = &[
    "FIRMWARE", "VERSION", "MX-V", "REV.", "REV", "FW", "SV", "V.", "V", "R",
];

/// Words that introduce the update number after the release (`V14 SP1 Update 4`).
const UPDATE_WORDS: &[&str] = &["UPDATE", "UPD", "HOTFIX", "HF", "PATCH", "BUILD", "P"];

impl Version {
    /// Reads a version. See the module documentation for the accepted forms.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(VersionError::Empty);
        }
        let upper = trimmed.to_ascii_uppercase().replace('_', " ");
        let mut rest = upper.as_str();
        for prefix in PREFIXES {
            if let Some(after) = rest.strip_prefix(prefix) {
                // `R` and `V` only count as a prefix when a number (or `.`) follows, so a
                // version never loses a leading letter that belongs to it.
                let after_trim = after.trim_start();
                if after_trim.starts_with(|c: char| c.is_ascii_digit()) {
                    rest = after_trim;
                    break;
                }
            }
        }
        let main_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'X' || c == '*'))
            .unwrap_or(rest.len());
        let (main, tail) = rest.split_at(main_len);
        let main = main.trim_end_matches('.');
        if !main.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(VersionError::NoNumber(trimmed.to_string()));
        }
        let mut parts = Vec::new();
        for piece in main.split('.') {
            parts.push(match piece {
                "X" | "*" => Part::Any,
                digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    Part::Num(parse_number(digits, trimmed)?)
                }
                other => {
                    return Err(VersionError::Unreadable {
                        text: trimmed.to_string(),
                        part: other.to_string(),
                    })
                }
            });
        }
        let (service_pack, update) = parse_tail(tail, trimmed)?;
        Ok(Version {
            parts,
            service_pack,
            update,
            text: trimmed.to_string(),
        })
    }

    /// The text the version was read from (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when a component is a wildcard (`V3.X.17`).
    pub fn has_wildcard(&self) -> bool {
        self.parts.contains(&Part::Any)
    }

    /// Compares component by component, numerically. A wildcard on either side equals
    /// whatever is opposite it: `V3.2.6` against the bound `V3.X.17` is compared as against
    /// `V3.2.17`. That is what Siemens means by `< V3.X.17` (every 3.x line below patch 17),
    /// and it keeps bounds without wildcards an ordinary total order.
    pub fn compare(&self, other: &Version) -> Ordering {
        let len = self.parts.len().max(other.parts.len());
        for i in 0..len {
            let a = self.parts.get(i).copied().unwrap_or(Part::Num(0));
            let b = other.parts.get(i).copied().unwrap_or(Part::Num(0));
            if let (Part::Num(x), Part::Num(y)) = (a, b) {
                if x != y {
                    return x.cmp(&y);
                }
            }
        }
        (self.service_pack, self.update).cmp(&(other.service_pack, other.update))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.compare(other) == Ordering::Equal
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_number(digits: &str, text: &str) -> Result<u64, VersionError> {
    digits
        .parse::<u64>()
        .map_err(|_| VersionError::TooLarge(text.to_string()))
}

/// Reads what follows the dotted release: `SP1`, `SP 1`, `Update 4`, `HF3`, `(2)`.
fn parse_tail(tail: &str, text: &str) -> Result<(u64, u64), VersionError> {
    let mut service_pack = 0;
    let mut update = 0;
    // `(2)` after a release (`3.0.1(2)`) is a build in parentheses.
    let spaced = tail.replace(['(', ')'], " ( ");
    let mut words = spaced.split_whitespace().peekable();
    let unreadable = |part: &str| VersionError::Unreadable {
        text: text.to_string(),
        part: part.to_string(),
    };
    while let Some(word) = words.next() {
        if word == "(" {
            let number = words.next().ok_or_else(|| unreadable("("))?;
            if !number.bytes().all(|b| b.is_ascii_digit()) || words.next() != Some("(") {
                return Err(unreadable(number));
            }
            update = parse_number(number, text)?;
            continue;
        }
        let (label, number) = split_label(word);
        let number = match number {
            "" => words
                .next_if(|next| next.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| unreadable(word))?,
            digits => digits,
        };
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unreadable(word));
        }
        if label == "SP" {
            service_pack = parse_number(number, text)?;
        } else if UPDATE_WORDS.contains(&label) {
            update = parse_number(number, text)?;
        } else {
            return Err(unreadable(word));
        }
    }
    Ok((service_pack, update))
}

/// Splits `SP1` into (`SP`, `1`) and `Update` into (`UPDATE`, ``).
fn split_label(word: &str) -> (&str, &str) {
    let at = word
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(word.len());
    word.split_at(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn forms_seen_in_real_advisories_and_devices() {
        // (left, right, expected order): strings copied from CISA CSAF documents and from
        // otwatch reports (S7 SZL firmware "V3.2.6", CIP revision "4.03").
        let table = [
            ("V3.2.6", "V3.2.17", Ordering::Less),
            ("V3.2.6", "V3.2.16", Ordering::Less),
            ("V3.2.16", "V3.2.6", Ordering::Greater),
            ("3.2.6", "V3.2.6", Ordering::Equal),
            ("4.03", "4.003", Ordering::Equal),
            ("4.07", "4.003", Ordering::Greater),
            ("FW 20.11", "20.11", Ordering::Equal),
            ("20.11", "20.9", Ordering::Greater),
            ("SV3.51", "3.51", Ordering::Equal),
            ("v.32.011", "32.11", Ordering::Equal),
            ("V3.2", "V3.2.0", Ordering::Equal),
            ("V2.9.7", "V3.0.3", Ordering::Less),
            ("V14 Update 4", "V14 SP1", Ordering::Less),
            ("V14 SP1 Update 4", "V14 SP1", Ordering::Greater),
            ("V4.1.1 Patch 05", "V4.1.1 Patch04", Ordering::Greater),
            ("V5.2 HF3", "V5.2", Ordering::Greater),
            ("3.0.1(2)", "3.0.1", Ordering::Greater),
            ("V2_Update_3", "V2 Update 3", Ordering::Equal),
            ("R2.4.1", "2.4.1", Ordering::Equal),
            ("Firmware 20.011", "20.11", Ordering::Equal),
        ];
        for (left, right, expected) in table {
            assert_eq!(v(left).compare(&v(right)), expected, "{left} vs {right}");
        }
    }

    #[test]
    fn wildcard_takes_the_other_sides_component() {
        // ICSA-19-043-04: "All versions < V3.X.16" for the S7-300 CPU family.
        let bound = v("V3.X.16");
        assert!(bound.has_wildcard());
        assert_eq!(v("V3.2.6").compare(&bound), Ordering::Less);
        assert_eq!(v("V3.3.15").compare(&bound), Ordering::Less);
        assert_eq!(v("V3.2.16").compare(&bound), Ordering::Equal);
        assert_eq!(v("V3.3.17").compare(&bound), Ordering::Greater);
        assert_eq!(v("1.2.x").compare(&v("1.2.9")), Ordering::Equal);
    }

    #[test]
    fn unreadable_forms_are_refused_with_a_reason() {
        for text in [
            "",
            "All versions",
            "April/2/2020",
            "2.0.0N",
            "R2A",
            "the_first_8_digits_of_serial_number_23",
            "3..2",
            "99999999999999999999999",
        ] {
            assert!(Version::parse(text).is_err(), "{text:?} should not parse");
        }
    }
}
