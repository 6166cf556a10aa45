//! The values the list filters of `otwatch` accept, checked when the command line is parsed.
//!
//! The manager compares a filter with what sensors reported, exactly. A value that no sensor
//! ever reports (`--type toaster`, `--type PLC`) would match nothing, and an empty table looks
//! like "no such devices", so a typo would pass for an answer. Each filter therefore takes a
//! value of its list in `otwatch_common::vocab`, in any case (and `-` for `_`), and hands the
//! manager the list's own spelling; anything else is a usage error that names the valid values.
//!
//! Values a newer sensor may report (a device type, protocol or kind added after this CLI was
//! built) are refused too: the CLI, sensor and manager are released together from one
//! workspace, so an unknown value is far more often a typo than news, and the new value still
//! shows in unfiltered listings and in `--format json` until the CLI is upgraded. The one open
//! set is analyst rules: their kinds are `rule:<name>` with any name, so that form is accepted.

use clap::builder::{PossibleValue, StyledStr, TypedValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use otwatch_common::vocab;
use std::ffi::OsStr;

/// A value of one of the lists of `otwatch_common::vocab`.
#[derive(Clone, Copy, Debug)]
pub struct OneOf {
    values: &'static [&'static str],
    /// Also `rule:<name>` (alert kinds).
    rules: bool,
}

/// `--type`: `Asset.device_type`.
pub const DEVICE_TYPE: OneOf = OneOf::new(vocab::DEVICE_TYPES);
/// `--protocol`: a protocol the sensor recognises.
pub const PROTOCOL: OneOf = OneOf::new(vocab::PROTOCOLS);
/// `--severity`: an alert severity.
pub const SEVERITY: OneOf = OneOf::new(vocab::SEVERITIES);
/// `--state`: what operators did with an alert.
pub const ALERT_STATE: OneOf = OneOf::new(vocab::ALERT_STATES);
/// `--kind`: a built-in alert kind or an analyst rule's `rule:<name>`.
pub const ALERT_KIND: OneOf = OneOf {
    values: vocab::ALERT_KINDS,
    rules: true,
};

/// `--level`: a Purdue level, 0 to `vocab::MAX_PURDUE_LEVEL`.
#[derive(Clone, Copy, Debug)]
pub struct PurdueLevel;

/// The levels as words (clap's help takes static text), one for each of 0 to the highest.
const LEVELS: [&str; 6] = ["0", "1", "2", "3", "4", "5"];
const _: () = assert!(LEVELS.len() == vocab::MAX_PURDUE_LEVEL as usize + 1);

impl TypedValueParser for PurdueLevel {
    type Value = u32;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<u32, clap::Error> {
        let level = value.to_str().and_then(|s| s.trim().parse::<u32>().ok());
        match level.filter(|l| *l <= vocab::MAX_PURDUE_LEVEL) {
            Some(l) => Ok(l),
            None => Err(invalid(
                cmd,
                arg,
                &value.to_string_lossy(),
                LEVELS.iter().map(|l| l.to_string()).collect(),
            )),
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(LEVELS.iter().copied().map(PossibleValue::new)))
    }
}

/// clap's usage error for a value that is not one of `valid`, which it lists.
fn invalid(
    cmd: &clap::Command,
    arg: Option<&clap::Arg>,
    given: &str,
    valid: Vec<String>,
) -> clap::Error {
    let mut e = clap::Error::new(ErrorKind::InvalidValue).with_cmd(cmd);
    let arg = arg.map_or_else(|| "...".to_string(), ToString::to_string);
    e.insert(ContextKind::InvalidArg, ContextValue::String(arg));
    e.insert(
        ContextKind::InvalidValue,
        ContextValue::String(given.to_string()),
    );
    e.insert(ContextKind::ValidValue, ContextValue::Strings(valid));
    e
}

impl OneOf {
    const fn new(values: &'static [&'static str]) -> OneOf {
        OneOf {
            values,
            rules: false,
        }
    }

    /// The value of the list that `given` names, in the list's spelling.
    pub fn find(&self, given: &str) -> Option<String> {
        let given = given.trim();
        if self.rules {
            let n = vocab::RULE_KIND_PREFIX.len();
            if given
                .get(..n)
                .is_some_and(|p| p.eq_ignore_ascii_case(vocab::RULE_KIND_PREFIX))
            {
                // Rule names are the analyst's own: kept as written.
                let name = &given[n..];
                return (!name.is_empty()).then(|| format!("{}{name}", vocab::RULE_KIND_PREFIX));
            }
        }
        let wanted = given.to_ascii_lowercase().replace('-', "_");
        self.values
            .iter()
            .find(|v| **v == wanted)
            .map(|v| (*v).to_string())
    }

    /// Values close to `given`, for "a similar value exists".
    fn similar(&self, given: &str) -> Vec<String> {
        let wanted = given.trim().to_ascii_lowercase().replace('-', "_");
        if wanted.is_empty() {
            return Vec::new();
        }
        self.values
            .iter()
            .filter(|v| v.starts_with(&wanted) || edits(v, &wanted) <= 2)
            .map(|v| (*v).to_string())
            .collect()
    }

    fn names(&self) -> impl Iterator<Item = &'static str> {
        let rules = self.rules.then_some("rule:<name>");
        self.values.iter().copied().chain(rules)
    }
}

impl TypedValueParser for OneOf {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let given = value.to_string_lossy();
        if let Some(v) = value.to_str().and_then(|s| self.find(s)) {
            return Ok(v);
        }
        let valid = self.names().map(str::to_string).collect();
        let mut e = invalid(cmd, arg, &given, valid);
        let similar = self.similar(&given);
        if !similar.is_empty() {
            e.insert(ContextKind::SuggestedValue, ContextValue::Strings(similar));
        }
        if self.rules {
            e.insert(
                ContextKind::Suggested,
                ContextValue::StyledStrs(vec![StyledStr::from(
                    "analyst rules raise `rule:<name of the rule>`; docs/DETECTION.md lists the built-in kinds",
                )]),
            );
        }
        Err(e)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.names().map(PossibleValue::new)))
    }
}

/// The edit distance between `a` and `b` (insertions, deletions, substitutions).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_in_any_case_and_come_back_in_the_lists_spelling() {
        assert_eq!(DEVICE_TYPE.find("PLC").as_deref(), Some("plc"));
        assert_eq!(
            DEVICE_TYPE.find("Engineering-Workstation").as_deref(),
            Some("engineering_workstation")
        );
        assert_eq!(DEVICE_TYPE.find("toaster"), None);
        assert_eq!(SEVERITY.find("Critical").as_deref(), Some("critical"));
        assert_eq!(SEVERITY.find("urgent"), None);
        assert_eq!(
            ALERT_STATE.find("ACKNOWLEDGED").as_deref(),
            Some("acknowledged")
        );
        assert_eq!(PROTOCOL.find("S7COMM").as_deref(), Some("s7comm"));
        assert_eq!(ALERT_KIND.find("PLC_STOP").as_deref(), Some("plc_stop"));
        assert_eq!(
            ALERT_KIND.find("Rule:Modbus-Write").as_deref(),
            Some("rule:Modbus-Write")
        );
        assert_eq!(ALERT_KIND.find("rule:"), None);
        assert_eq!(SEVERITY.find("rule:x"), None);
    }

    #[test]
    fn near_misses_are_suggested() {
        assert_eq!(DEVICE_TYPE.similar("plcc"), ["plc"]);
        assert_eq!(
            DEVICE_TYPE.similar("engineering"),
            ["engineering_workstation"]
        );
        assert!(DEVICE_TYPE.similar("toaster").is_empty());
        assert_eq!(edits("kitten", "sitting"), 3);
        assert_eq!(edits("", "ab"), 2);
    }
}
