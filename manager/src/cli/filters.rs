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

/// A value of one of the lists of `otwatch_common::vocab`, matched as
/// [`vocab::Vocabulary::find`] says (the Manager API matches its filters the same way).
#[derive(Clone, Copy, Debug)]
pub struct OneOf(vocab::Vocabulary);

/// `--type`: `Asset.device_type`.
pub const DEVICE_TYPE: OneOf = OneOf(vocab::DEVICE_TYPE);
/// `--protocol`: a protocol the sensor recognises.
pub const PROTOCOL: OneOf = OneOf(vocab::PROTOCOL);
/// `--severity`: an alert severity.
pub const SEVERITY: OneOf = OneOf(vocab::SEVERITY);
/// `alerts --status`: what operators did with an alert, or `open` (not resolved).
pub const ALERT_STATUS: OneOf = OneOf(vocab::ALERT_STATUS);
/// `--kind`: a built-in alert kind or an analyst rule's `rule:<name>`.
pub const ALERT_KIND: OneOf = OneOf(vocab::ALERT_KIND);

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
    /// The value of the list that `given` names, in the list's spelling.
    pub fn find(&self, given: &str) -> Option<String> {
        self.0.find(given)
    }

    /// Values close to `given`, for "a similar value exists".
    fn similar(&self, given: &str) -> Vec<String> {
        let wanted = given.trim().to_ascii_lowercase().replace('-', "_");
        if wanted.is_empty() {
            return Vec::new();
        }
        // A value the given text begins is as near as can be; otherwise up to two edits. Only
        // the nearest are suggested: "plcc" is plc, not also pdc.
        let near: Vec<(usize, &str)> = self
            .0
            .values
            .iter()
            .map(|v| {
                let d = if v.starts_with(&wanted) {
                    0
                } else {
                    edits(v, &wanted)
                };
                (d, *v)
            })
            .filter(|(d, _)| *d <= 2)
            .collect();
        let best = near.iter().map(|(d, _)| *d).min();
        near.into_iter()
            .filter(|(d, _)| Some(*d) == best)
            .map(|(_, v)| v.to_string())
            .collect()
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
        let valid = self.0.names().map(str::to_string).collect();
        let mut e = invalid(cmd, arg, &given, valid);
        let similar = self.similar(&given);
        if !similar.is_empty() {
            e.insert(ContextKind::SuggestedValue, ContextValue::Strings(similar));
        }
        if self.0.rules {
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
        Some(Box::new(self.0.names().map(PossibleValue::new)))
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
    fn filters_find_what_the_vocabulary_finds() {
        assert_eq!(DEVICE_TYPE.find("PLC").as_deref(), Some("plc"));
        assert_eq!(
            ALERT_KIND.find("Rule:Modbus-Write").as_deref(),
            Some("rule:Modbus-Write")
        );
        assert_eq!(SEVERITY.find("urgent"), None);
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
