//! The violation budget every dissector reports malformed input through.
//!
//! A broken device, a fuzzer or a desynchronised stream can break a protocol's rules in every
//! message. Each dissector instance (one a flow, or one a flow direction where a protocol says
//! so) therefore owns one [`Violations`] and reports through [`Violations::record`]: the first
//! [`Violations::CAP`] become `ProtocolViolation` observations, the rest are dropped. The
//! reason is a protocol's error type ([`std::fmt::Display`]) and is only formatted when it is
//! kept, so a flood costs no allocation.

use super::violation;
use otwatch_common::observation::Observation;
use std::fmt::Display;

/// How many violations one dissector instance reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Violations {
    reported: u8,
}

impl Violations {
    /// The most violations one dissector instance reports. Four is enough to show that a flow
    /// is broken and how (the alert book folds repeats and the inventory counts per protocol),
    /// and few enough that a flood of malformed messages costs nothing after the first.
    pub const CAP: u8 = 4;

    /// Reports `reason` as a `ProtocolViolation` of `protocol` unless the budget is spent;
    /// `true` when it was reported.
    pub fn record(
        &mut self,
        protocol: &'static str,
        reason: impl Display,
        out: &mut Vec<Observation>,
    ) -> bool {
        if self.reported >= Self::CAP {
            return false;
        }
        self.reported += 1;
        out.push(violation(protocol, reason));
        true
    }

    /// Whether anything was reported yet.
    pub fn any(&self) -> bool {
        self.reported > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_up_to_the_cap() {
        let mut v = Violations::default();
        let mut out = Vec::new();
        for i in 0..10 {
            assert_eq!(v.record("x", i, &mut out), i < usize::from(Violations::CAP));
        }
        assert_eq!(out.len(), usize::from(Violations::CAP));
        assert!(v.any());
    }
}
