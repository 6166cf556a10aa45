//! Which versions of a product an advisory covers.
//!
//! CSAF puts this in the name of a `product_version` or `product_version_range` branch. In
//! principle that is a `vers:` string (`vers:intdot/>=2.0|<3.2.17`); CISA writes
//! `vers:all/<V3.2.17` (not valid `vers`, but unambiguous) and, as often, free text:
//! `All versions < V3.2.17`, `< V3.X.17`, `>= V2.0 < V2.9`, `>= 9.0 | <= 9.4`, `4.003`,
//! `FW 20.11`, `V2.0 and later`. Each comparator becomes a [`Constraint`]; constraints that
//! do not form plain intervals (`<v36.011_v35.013_v34.014`: one bound per release line) or
//! versions that do not parse make the range [`VersionRange::Unreadable`], so a device in
//! it is reported as possibly affected rather than dropped or stated as certain.
//!
//! All `vers` schemes are compared with the vendor semantics of [`Version`]: industrial
//! firmware rarely follows the scheme it is labelled with.

use std::cmp::Ordering;
use std::fmt;

use crate::version::Version;

/// A comparison operator of a range constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One comparator and its version, e.g. `< V3.2.17`.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub op: Op,
    pub version: Version,
}

/// The versions of a product that an advisory statement covers.
#[derive(Debug, Clone)]
pub enum VersionRange {
    /// Every version: `vers:all/*`, `All versions`, or no version given at all.
    All,
    /// Constraints read with certainty; see [`VersionRange::contains`] for their meaning.
    Constraints(Vec<Constraint>),
    /// The text could not be read; `reason` says why.
    Unreadable { text: String, reason: String },
}

impl VersionRange {
    /// Reads the name of a version branch (or a CVE record's version entry rendered as text).
    pub fn parse(text: &str) -> VersionRange {
        let trimmed = text.trim();
        let unreadable = |reason: String| VersionRange::Unreadable {
            text: trimmed.to_string(),
            reason,
        };
        let body = match trimmed.strip_prefix("vers:") {
            // `vers:<scheme>/<constraints>`; the scheme is not used (module docs).
            Some(vers) => match vers.split_once('/') {
                Some((_scheme, constraints)) => constraints.trim(),
                None => return unreadable("`vers:` without a `/`".to_string()),
            },
            None => strip_all_versions(trimmed),
        };
        if body.is_empty() || body == "*" {
            return VersionRange::All;
        }
        let body = rewrite_words(body);
        let segments = match split_constraints(&body) {
            Ok(segments) => segments,
            Err(reason) => return unreadable(reason),
        };
        let mut constraints = Vec::with_capacity(segments.len());
        for (op, version_text) in segments {
            match Version::parse(version_text) {
                Ok(version) => constraints.push(Constraint { op, version }),
                Err(error) => return unreadable(error.to_string()),
            }
        }
        match check_intervals(&mut constraints) {
            Ok(()) => VersionRange::Constraints(constraints),
            Err(reason) => unreadable(reason),
        }
    }

    /// True when `version` lies in the range. Equalities are alternatives (`9.0.1 | 9.0.2`),
    /// `!=` excludes, and the ordering constraints, sorted, form intervals as in the `vers`
    /// specification: a leading upper bound starts at minus infinity, then each lower bound
    /// is closed by the next upper bound, and a trailing lower bound runs to infinity.
    /// An [`VersionRange::Unreadable`] range contains nothing; callers check for it first.
    pub fn contains(&self, version: &Version) -> bool {
        let constraints = match self {
            VersionRange::All => return true,
            VersionRange::Unreadable { .. } => return false,
            VersionRange::Constraints(constraints) => constraints,
        };
        let mut ordered = false;
        for constraint in constraints {
            let ord = version.compare(&constraint.version);
            match constraint.op {
                Op::Eq if ord == Ordering::Equal => return true,
                Op::Ne if ord == Ordering::Equal => return false,
                Op::Eq | Op::Ne => {}
                _ => ordered = true,
            }
        }
        if !ordered {
            // Only equalities: none matched. Only exclusions: everything else is in.
            return constraints.iter().all(|c| c.op == Op::Ne);
        }
        let mut lower_ok: Option<bool> = None;
        for constraint in constraints
            .iter()
            .filter(|c| !matches!(c.op, Op::Eq | Op::Ne))
        {
            let ord = version.compare(&constraint.version);
            match constraint.op {
                Op::Gt | Op::Ge => {
                    lower_ok = Some(
                        ord == Ordering::Greater
                            || (constraint.op == Op::Ge && ord == Ordering::Equal),
                    );
                }
                _ => {
                    let upper_ok = ord == Ordering::Less
                        || (constraint.op == Op::Le && ord == Ordering::Equal);
                    if lower_ok.unwrap_or(true) && upper_ok {
                        return true;
                    }
                    lower_ok = None;
                }
            }
        }
        lower_ok == Some(true)
    }

    /// The first version outside the range, when the range is one interval with an
    /// exclusive upper bound (`< V3.2.17` → `V3.2.17`): the release that fixes it.
    pub fn fixed_in(&self) -> Option<&Version> {
        let VersionRange::Constraints(constraints) = self else {
            return None;
        };
        let mut uppers = constraints
            .iter()
            .filter(|c| matches!(c.op, Op::Lt | Op::Le));
        match (uppers.next(), uppers.next()) {
            (Some(only), None) if only.op == Op::Lt => Some(&only.version),
            _ => None,
        }
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionRange::All => f.write_str("all versions"),
            VersionRange::Unreadable { text, .. } => f.write_str(text),
            VersionRange::Constraints(constraints) => {
                for (i, c) in constraints.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    let op = match c.op {
                        Op::Eq => "",
                        Op::Ne => "!=",
                        Op::Lt => "<",
                        Op::Le => "<=",
                        Op::Gt => ">",
                        Op::Ge => ">=",
                    };
                    write!(f, "{op}{}", c.version)?;
                }
                Ok(())
            }
        }
    }
}

/// Drops the "All versions" / "All BIOS versions" lead-in of CISA's free text.
fn strip_all_versions(text: &str) -> &str {
    let lower = text.to_ascii_lowercase();
    for lead in ["all bios versions", "all versions", "all"] {
        if lower.starts_with(lead) {
            let rest = &text[lead.len()..];
            // Only a whole word: "allocation" is not "all".
            if rest.is_empty() || rest.starts_with([' ', '<', '>', '=']) {
                return rest.trim();
            }
        }
    }
    text
}

/// Turns the word forms into operators: `V2.0 and later` → `>=V2.0`, `prior to 3.1` → `<3.1`.
fn rewrite_words(text: &str) -> String {
    // `>= V2.0 and < V2.5` (ICSA-18-282-05): "and" between two constraints is the interval.
    let words: Vec<&str> = text.split_whitespace().collect();
    let kept: Vec<&str> = words
        .iter()
        .enumerate()
        .filter(|(i, w)| {
            !(w.eq_ignore_ascii_case("and")
                && words
                    .get(i + 1)
                    .is_some_and(|next| next.starts_with(['<', '>', '='])))
        })
        .map(|(_, w)| *w)
        .collect();
    let text = kept.join(" ");
    let text = text.as_str();
    let lower = text.to_ascii_lowercase();
    for suffix in [
        " and later",
        " and newer",
        " or later",
        " and above",
        " and higher",
    ] {
        if lower.ends_with(suffix) {
            return format!(">={}", &text[..text.len() - suffix.len()]);
        }
    }
    for prefix in ["prior to ", "before ", "earlier than "] {
        if lower.starts_with(prefix) {
            return format!("<{}", &text[prefix.len()..]);
        }
    }
    for prefix in ["up to and including ", "up to ", "through "] {
        if lower.starts_with(prefix) {
            return format!("<={}", &text[prefix.len()..]);
        }
    }
    text.to_string()
}

/// Splits `>= V2.0 < V2.9`, `>=9.0|<=9.4` or `9.0.1 | 9.0.2` into (operator, version text).
fn split_constraints(text: &str) -> Result<Vec<(Op, &str)>, String> {
    let mut out = Vec::new();
    for piece in text.split('|') {
        let mut rest = piece.trim();
        if rest.is_empty() {
            return Err("empty constraint between `|`".to_string());
        }
        while !rest.is_empty() {
            let (op, after) = leading_op(rest);
            // The version runs to the next operator, so `>= V2.0 < V2.9` is two constraints.
            let end = after.find(['<', '>', '=', '!']).unwrap_or(after.len());
            let version = after[..end].trim();
            if version.is_empty() {
                return Err(format!("operator without a version in `{piece}`"));
            }
            out.push((op, version));
            rest = after[end..].trim_start();
        }
    }
    Ok(out)
}

fn leading_op(text: &str) -> (Op, &str) {
    for (token, op) in [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("=", Op::Eq),
    ] {
        if let Some(rest) = text.strip_prefix(token) {
            return (op, rest);
        }
    }
    (Op::Eq, text)
}

/// Sorts ordering constraints by version and checks they alternate lower/upper as intervals.
fn check_intervals(constraints: &mut [Constraint]) -> Result<(), String> {
    let ordering: Vec<&Constraint> = constraints
        .iter()
        .filter(|c| !matches!(c.op, Op::Eq | Op::Ne))
        .collect();
    if ordering.len() > 1 && ordering.iter().any(|c| c.version.has_wildcard()) {
        return Err("a wildcard bound inside a multi-part range cannot be ordered".to_string());
    }
    constraints.sort_by(|a, b| a.version.compare(&b.version));
    let mut previous_upper: Option<bool> = None;
    for c in constraints
        .iter()
        .filter(|c| !matches!(c.op, Op::Eq | Op::Ne))
    {
        let upper = matches!(c.op, Op::Lt | Op::Le);
        if previous_upper == Some(upper) {
            return Err(format!(
                "two {} bounds in a row (one bound per release line?)",
                if upper { "upper" } else { "lower" }
            ));
        }
        previous_upper = Some(upper);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(range: &str, version: &str) -> bool {
        let range = VersionRange::parse(range);
        assert!(
            !matches!(range, VersionRange::Unreadable { .. }),
            "{range:?} should be readable"
        );
        range.contains(&Version::parse(version).unwrap())
    }

    #[test]
    fn ranges_from_real_advisories() {
        // (range text as written in a CISA CSAF document, device version, covered?)
        let table = [
            ("vers:all/<V3.2.17", "V3.2.6", true), // ICSA-19-283-02, S7-300 CPU 315-2 PN/DP
            ("vers:all/<V3.2.17", "V3.2.17", false),
            ("vers:all/<V3.2.17", "V3.2.16", true),
            ("vers:intdot/<3.2.17", "V3.2.6", true), // the Siemens ProductCERT spelling
            ("vers:all/*", "V1.0", true),
            ("All versions < V3.X.16", "V3.2.6", true), // ICSA-19-043-04, S7-300 family
            ("All versions < V3.X.16", "V3.3.16", false),
            ("< V3.X.17", "V3.2.16", true),
            ("All versions", "9.9", true),
            ("<= 10.10", "4.03", true), // ICSA-18-310-02, 1756-EN2T Series D
            ("<= 11.002", "11.2", true), // ICSA-23-26x, 1756-EN2TR Series C
            ("<= 11.002", "11.3", false),
            ("< 3.01", "2.90", true),   // ICSA-19-183-01, Modicon M340
            ("< SV3.51", "3.20", true), // ICSA-23-201-01, Modicon M340 CPU
            (">= 9.0 | <= 9.4", "9.2", true),
            (">= 9.0 | <= 9.4", "9.5", false),
            (">= 9.0 | <= 9.4", "8.9", false),
            (">= V2.0 < V2.9", "V2.8.1", true),
            (">= V2.0 < V2.9", "V2.9", false),
            ("vers:all/>=V5.1.1", "V5.2", true),
            ("vers:all/>=V2.0<V2.9.7", "V2.9.6", true),
            ("9.0.1 | 9.0.2 | 9.0.3", "9.0.2", true),
            ("9.0.1 | 9.0.2 | 9.0.3", "9.0.4", false),
            ("FW 20.11", "20.11", true),
            ("4.003", "4.03", true),
            ("V2.0 and later", "V2.4", true),
            ("V2.0 and later", "V1.9", false),
            ("< V9 Update 9", "V9 Update 8", true),
            ("<V9_Update_9", "V9 Update 9", false),
            ("All versions < V16 SP1", "V16 Update 4", true),
            ("All versions >= V2.0 and < V2.5", "V2.4", true), // ICSA-18-282-05, S7-1500
            ("All versions >= V2.0 and < V2.5", "V1.8", false),
            ("all versions prior to v3.52", "3.51", true), // ICSA-17-054-03, Quantum
            ("MX-V4.0.2.33", "MX-V4.0.2.33", true),        // ICSA-24-235-03, Mobotix
        ];
        for (range, version, expected) in table {
            assert_eq!(contains(range, version), expected, "{version} in {range}");
        }
    }

    #[test]
    fn unreadable_ranges_say_why() {
        for text in [
            "<v36.011_v35.013_v34.014", // ICSA-24-2xx, one bound per release line
            "<=the_first_8_digits_of_serial_number_2310",
            "<April/9/2021",
            " <2.0.HW2.1.0",
            "vers:all",
        ] {
            match VersionRange::parse(text) {
                VersionRange::Unreadable { reason, .. } => assert!(!reason.is_empty()),
                other => panic!("{text:?} read as {other:?}"),
            }
        }
    }

    #[test]
    fn fixed_in_is_the_exclusive_upper_bound() {
        let range = VersionRange::parse("vers:all/<V3.2.17");
        assert_eq!(range.fixed_in().map(|v| v.as_str()), Some("V3.2.17"));
        assert!(VersionRange::parse("<= 10.10").fixed_in().is_none());
        assert!(VersionRange::parse("vers:all/*").fixed_in().is_none());
    }
}
