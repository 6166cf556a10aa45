//! The identity facts a flow's dissector has already reported, so that a device answering the
//! same Identify, ReadDeviceInfo or controller data read a thousand times is reported once, and
//! a repeat allocates nothing.

use super::text::fingerprint;
use otwatch_common::observation::{Field, Observation, Source, Subject};

/// At most `MAX` distinct facts per flow; later ones are dropped (a flow that names its peer
/// more ways than that is not telling the truth).
#[derive(Debug, Default)]
pub struct Facts<const MAX: usize> {
    seen: Vec<u64>,
}

impl<const MAX: usize> Facts<MAX> {
    /// Pushes `field` = `make()` about `subject` unless this flow already reported the same raw
    /// value for it (or `make` gives nothing); `true` when something was pushed.
    pub fn emit(
        &mut self,
        out: &mut Vec<Observation>,
        subject: Subject,
        field: Field,
        raw: &[u8],
        source: Source,
        make: impl FnOnce() -> Option<String>,
    ) -> bool {
        let Some(key) = self.fresh(subject, field, raw) else {
            return false;
        };
        let Some(value) = make() else {
            return false;
        };
        self.push(key, out, subject, field, value, source)
    }

    /// Pushes `field` = `value` (already made) about `subject` unless this flow already reported
    /// it; `true` when pushed.
    pub fn emit_value(
        &mut self,
        out: &mut Vec<Observation>,
        subject: Subject,
        field: Field,
        value: String,
        source: Source,
    ) -> bool {
        let Some(key) = self.fresh(subject, field, value.as_bytes()) else {
            return false;
        };
        self.push(key, out, subject, field, value, source)
    }

    /// Remembers `key` and pushes the fact; `true`.
    fn push(
        &mut self,
        key: u64,
        out: &mut Vec<Observation>,
        subject: Subject,
        field: Field,
        value: String,
        source: Source,
    ) -> bool {
        self.seen.push(key);
        out.push(Observation::Identity {
            subject,
            field,
            value,
            source,
        });
        true
    }

    /// The key of a fact not reported yet, while there is room for it.
    fn fresh(&self, subject: Subject, field: Field, raw: &[u8]) -> Option<u64> {
        let key = fingerprint(raw) ^ ((field as u64) << 56) ^ u64::from(subject == Subject::Server);
        (!self.seen.contains(&key) && self.seen.len() < MAX).then_some(key)
    }
}
