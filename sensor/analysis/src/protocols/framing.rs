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
//!
//! The parse loop itself is written once, here: a stream dissector implements [`Stream`]
//! (where the next message is, what to do with a broken header, with a message, with a gap)
//! and is a [`Dissector`] through it. The loop is generic, so each dissector gets its own
//! monomorphised copy: no boxing and no dynamic dispatch per message.

use super::{Direction, Dissector, FlowCtx};
use otwatch_common::observation::Observation;
use std::convert::Infallible;
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

    /// The same answer with a protocol's own error (a shared framer's error in its terms).
    pub fn map_err<F>(self, f: impl FnOnce(E) -> F) -> Framing<F> {
        match self {
            Framing::Complete { len } => Framing::Complete { len },
            Framing::Incomplete { needed } => Framing::Incomplete { needed },
            Framing::Resync { skip, error } => Framing::Resync {
                skip,
                error: error.map(f),
            },
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

/// One delivery of a flow's payload: which way it travelled, its bytes (a TCP direction's
/// unconsumed stream, or one datagram) and the flow.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub dir: Direction,
    pub data: &'a [u8],
    pub ctx: &'a FlowCtx,
}

/// A dissector of a framed byte stream (one TCP direction at a time, or a datagram holding
/// whole messages). Every such type is a [`Dissector`] whose `parse` is [`parse`].
pub trait Stream: Send {
    /// What a broken header is (its `Display` text is the violation's reason).
    type Error: Display;

    /// A first look at a delivery, with the flow at hand: `Some(consumed)` answers the
    /// delivery without framing it (a datagram read whole, a direction given up on), `None`
    /// frames it.
    fn on_delivery(
        &mut self,
        _delivery: Delivery<'_>,
        _out: &mut Vec<Observation>,
    ) -> Option<usize> {
        None
    }

    /// Where the next message of `dir` is, `data` being the rest of the delivery (never
    /// empty): usually [`step`] over the direction's resync flag.
    fn framing(&mut self, dir: Direction, data: &[u8]) -> Framing<Self::Error>;

    /// A broken header's error: recorded in the violation budget, or once per loss of sync.
    fn on_broken(&mut self, dir: Direction, error: Self::Error, out: &mut Vec<Observation>);

    /// One framed message (`Complete { len }`'s bytes): the bytes it used (its length unless
    /// the protocol decides it was no message, or reads what it needs from the rest of the
    /// delivery, framed whole: HTTP heads, VNC), or `None` to stop and wait for more. Using
    /// nothing is only right together with a change of state.
    fn on_message(
        &mut self,
        dir: Direction,
        message: &[u8],
        out: &mut Vec<Observation>,
    ) -> Option<usize>;

    /// Bytes were lost in `dir` ([`Dissector::gap`]): resynchronise.
    fn on_gap(&mut self, dir: Direction);
}

/// The parse loop of every stream dissector: frames `data` travelling `dir` message by message
/// and answers how many bytes were consumed (the rest waits for more).
pub fn parse<S: Stream>(
    stream: &mut S,
    dir: Direction,
    data: &[u8],
    out: &mut Vec<Observation>,
) -> usize {
    let mut pos = 0usize;
    loop {
        let rest = data.get(pos..).unwrap_or_default();
        if rest.is_empty() {
            return pos;
        }
        match stream.framing(dir, rest) {
            Framing::Complete { len } => {
                let message = rest.get(..len).unwrap_or_default();
                match stream.on_message(dir, message, out) {
                    Some(used) => pos += used,
                    None => return pos,
                }
            }
            Framing::Incomplete { .. } => return pos,
            Framing::Resync { skip, error } => {
                if let Some(e) = error {
                    stream.on_broken(dir, e, out);
                }
                if skip == 0 {
                    return pos;
                }
                pos += skip;
            }
        }
    }
}

impl<S: Stream> Dissector for S {
    fn parse(
        &mut self,
        dir: Direction,
        data: &[u8],
        ctx: &FlowCtx,
        out: &mut Vec<Observation>,
    ) -> usize {
        match self.on_delivery(Delivery { dir, data, ctx }, out) {
            Some(consumed) => consumed,
            None => parse(self, dir, data, out),
        }
    }

    fn gap(&mut self, dir: Direction) {
        self.on_gap(dir);
    }
}

/// A dissector that takes each delivery whole and consumes all of it: a datagram protocol
/// (one message a UDP payload) or a byte stream read byte by byte (Telnet). It is a [`Stream`]
/// that answers every delivery in [`Stream::on_delivery`], so nothing is ever framed.
pub trait Unframed: Send {
    /// Reads one whole delivery.
    fn deliver(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>);

    /// Bytes were lost in `dir` ([`Dissector::gap`]).
    fn lost(&mut self, _dir: Direction) {}
}

impl<U: Unframed> Stream for U {
    type Error = Infallible;

    fn on_delivery(&mut self, delivery: Delivery<'_>, out: &mut Vec<Observation>) -> Option<usize> {
        self.deliver(delivery, out);
        Some(delivery.data.len())
    }

    fn framing(&mut self, _dir: Direction, data: &[u8]) -> Framing<Infallible> {
        Framing::skip(data.len())
    }

    fn on_broken(&mut self, _dir: Direction, error: Infallible, _out: &mut Vec<Observation>) {
        match error {}
    }

    fn on_message(
        &mut self,
        _dir: Direction,
        message: &[u8],
        _out: &mut Vec<Observation>,
    ) -> Option<usize> {
        Some(message.len())
    }

    fn on_gap(&mut self, dir: Direction) {
        self.lost(dir);
    }
}

/// What is left unread of a message whose capped prefix was parsed (OPC UA chunks, MQTT
/// packets and SMB session messages longer than their prefix cap): passed over before the
/// next message is framed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Unread(usize);

impl Unread {
    /// The message went on for `n` more bytes than were read.
    pub fn set(&mut self, n: usize) {
        self.0 = n;
    }

    /// Forgets the rest (after a gap).
    pub fn clear(&mut self) {
        self.0 = 0;
    }

    /// While some of the message is left, passes over as much of it as `data` holds.
    pub fn pass<E>(&mut self, data: &[u8]) -> Option<Framing<E>> {
        if self.0 == 0 {
            return None;
        }
        let n = self.0.min(data.len());
        self.0 -= n;
        Some(Framing::skip(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages are a length byte and that many bytes; a zero length is a broken header.
    #[derive(Default)]
    struct Lengths {
        messages: Vec<Vec<u8>>,
        broken: usize,
    }

    impl Stream for Lengths {
        type Error = &'static str;

        fn framing(&mut self, _dir: Direction, data: &[u8]) -> Framing<&'static str> {
            match data.first().map(|&n| usize::from(n) + 1) {
                Some(1) => Framing::broken(1, "zero length"),
                Some(len) if data.len() >= len => Framing::Complete { len },
                Some(len) => Framing::Incomplete { needed: len },
                None => Framing::Incomplete { needed: 1 },
            }
        }

        fn on_broken(&mut self, _dir: Direction, _error: &str, _out: &mut Vec<Observation>) {
            self.broken += 1;
        }

        fn on_message(
            &mut self,
            dir: Direction,
            message: &[u8],
            out: &mut Vec<Observation>,
        ) -> Option<usize> {
            assert_eq!(dir, Direction::ToClient);
            assert!(out.is_empty());
            self.messages.push(message.to_vec());
            Some(message.len())
        }

        fn on_gap(&mut self, _dir: Direction) {}
    }

    #[test]
    fn parse_frames_messages_skips_broken_headers_and_waits() {
        let mut s = Lengths::default();
        let mut out = Vec::new();
        let data = [1, 7, 0, 2, 8, 9, 3, 1];
        assert_eq!(parse(&mut s, Direction::ToClient, &data, &mut out), 6);
        assert_eq!(s.messages, [vec![1, 7], vec![2, 8, 9]]);
        assert_eq!(s.broken, 1);
        assert!(out.is_empty());
    }

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
