//! What a stream dissector's framer says about the bytes at the start of a TCP direction.
//!
//! Every stream dissector splits its direction's bytes into messages with one function,
//! `frame(data) -> Framing<ItsError>`, and its `parse` loop acts on the answer the same way:
//!
//! - [`Framing::Complete`]: hand `data[..len]` to the message parser and move on by `len`;
//! - [`Framing::Incomplete`]: return what was consumed and wait for more bytes;
//! - [`Framing::Resync`]: record `error` (if any) in the violation budget, move on by `skip`
//!   and look again; a broken header usually sets the direction's resync flag too.
//!
//! After a gap (or a broken header) the same type answers the resync scan, `boundary(data)`,
//! which asks a stricter question (does a message one can trust start here?): `Complete` is a
//! boundary at the start (resync mode ends and the message is framed from there; `len` is not
//! used), `Incomplete` waits, `Resync { skip, .. }` passes over junk up to the next candidate
//! (or over all of it). [`step`] keeps a direction's resync flag and asks the right one, so a
//! parse loop only ever sees a framer's answer.

use super::violations::Violations;
use otwatch_common::observation::Observation;
use std::fmt::Display;

/// Where the next message of a byte stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing<E> {
    /// A whole message of `len` bytes starts here. Dissectors that read only a prefix of
    /// long messages (OPC UA, MQTT) say so once the prefix is at hand and pass over the rest.
    Complete { len: usize },
    /// A message may start here but is at least `needed` bytes long (as far as is known
    /// yet): wait for more.
    Incomplete { needed: usize },
    /// No message starts here: pass over `skip` bytes (at least one, or all there is) and look
    /// again. `error` says why when the bytes claimed to start a message (a violation).
    Resync { skip: usize, error: Option<E> },
}

impl<E> Framing<E> {
    /// Junk: skip `skip` bytes, nothing to report.
    pub fn skip(skip: usize) -> Self {
        Framing::Resync { skip, error: None }
    }

    /// A broken header: skip `skip` bytes and report `error`.
    pub fn broken(skip: usize, error: E) -> Self {
        Framing::Resync {
            skip,
            error: Some(error),
        }
    }
}

/// What a parse loop does with a framer's answer, once a broken header's error is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Return what was consumed and wait for more bytes.
    Wait,
    /// Move on by this many bytes and look again.
    Skip(usize),
    /// Hand the message of this many bytes to the parser and move on by it.
    Message(usize),
}

impl<E: Display> Framing<E> {
    /// Records a broken header's error in `violations` (as `protocol`) and says what the parse
    /// loop does next.
    pub fn next(
        self,
        violations: &mut Violations,
        protocol: &'static str,
        out: &mut Vec<Observation>,
    ) -> Next {
        match self {
            Framing::Complete { len } => Next::Message(len),
            Framing::Incomplete { .. } => Next::Wait,
            Framing::Resync { skip, error } => {
                if let Some(e) = error {
                    violations.record(protocol, e, out);
                }
                Next::Skip(skip)
            }
        }
    }
}

/// One turn of a stream dissector's parse loop: asks `boundary` while the direction is
/// resynchronising (`*resync`), else `frame`, and keeps `*resync`: it ends at a boundary (whose
/// message is then framed at once) and starts at a broken header.
pub fn step<E>(
    resync: &mut bool,
    data: &[u8],
    frame: impl FnOnce(&[u8]) -> Framing<E>,
    boundary: impl FnOnce(&[u8]) -> Framing<E>,
) -> Framing<E> {
    if *resync {
        match boundary(data) {
            Framing::Complete { .. } => *resync = false,
            other => return other,
        }
    }
    let framing = frame(data);
    if let Framing::Resync { error: Some(_), .. } = framing {
        *resync = true;
    }
    framing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_keeps_the_resync_flag() {
        let frame = |d: &[u8]| match d.first() {
            Some(1) => Framing::Complete { len: 1 },
            Some(_) => Framing::broken(1, "bad"),
            None => Framing::Incomplete { needed: 1 },
        };
        let boundary = |d: &[u8]| match d.iter().position(|&b| b == 1) {
            Some(0) => Framing::Complete { len: 1 },
            Some(i) => Framing::skip(i),
            None => Framing::skip(d.len()),
        };
        let mut resync = false;
        assert_eq!(
            step(&mut resync, &[2, 1], frame, boundary),
            Framing::broken(1, "bad")
        );
        assert!(resync);
        assert_eq!(
            step(&mut resync, &[2, 1], frame, boundary),
            Framing::skip(1)
        );
        assert!(resync);
        assert_eq!(
            step(&mut resync, &[1], frame, boundary),
            Framing::Complete { len: 1 }
        );
        assert!(!resync);
    }
}
