//! Running tshark and reading its `-T fields` output, for the tests that compare otwatch's
//! decoding with tshark's, message by message.

use super::skip;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Whether tshark is missing; if so, says the test skips (a failure in CI, which installs it).
pub fn missing() -> bool {
    if Command::new("tshark").arg("-v").output().is_err() {
        skip::skip(
            "tshark is not installed (apt-get install tshark)",
            skip::Need::InCi,
        );
        return true;
    }
    false
}

/// tshark's `-T fields` output for the frames of `file` that match `filter`: a line a frame,
/// the values of `fields` in order, separated by tabs. `options` go before the fields (such as
/// `["-E", "aggregator=|"]`, which separates the occurrences of a field).
pub fn fields(file: &Path, filter: &str, options: &[&str], fields: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-Y", filter, "-T", "fields"])
        .args(options);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Bytes from tshark's hex (`tcp.payload`, `udp.payload`).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// tshark's number text (decimal, or `0x` hex) as a number.
pub fn num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A value as compared: a number in decimal, anything else as it is.
pub fn norm(v: &str) -> String {
    num(v).map_or_else(|| v.to_owned(), |n| n.to_string())
}

/// One frame's fields: name → its values, in order.
pub type Fields = BTreeMap<&'static str, Vec<String>>;

/// Adds a value of a field, normalised with [`norm`].
pub fn push(f: &mut Fields, name: &'static str, v: impl ToString) {
    f.entry(name).or_default().push(norm(&v.to_string()));
}

/// tshark's `fields` of every frame of `file` matching `filter`, by frame number; each value
/// (field name, tshark's text) made comparable by `value`. Fields without a value are absent.
pub fn by_frame(
    file: &Path,
    filter: &str,
    fields: &[&'static str],
    value: impl Fn(&str, &str) -> String,
) -> BTreeMap<u64, Fields> {
    let names: Vec<&str> = ["frame.number"].iter().chain(fields).copied().collect();
    let text = self::fields(file, filter, &["-E", "aggregator=\u{1}"], &names);
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let mut cols = line.split('\t');
        let Some(n) = cols.next().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let mut f = Fields::new();
        for (name, col) in fields.iter().zip(cols) {
            for v in col.split('\u{1}').filter(|s| !s.is_empty()) {
                f.entry(name).or_default().push(value(name, v));
            }
        }
        map.insert(n, f);
    }
    map
}

/// The TCP payloads of one stream direction joined in frame order, with where each frame's
/// payload ends in them.
#[derive(Default)]
pub struct Joined {
    pub bytes: Vec<u8>,
    ends: Vec<(usize, u32)>,
}

impl Joined {
    pub fn push(&mut self, frame: u32, payload: &[u8]) {
        self.bytes.extend_from_slice(payload);
        self.ends.push((self.bytes.len(), frame));
    }

    /// The frame holding the byte before `end` (a message ending there belongs to it, as
    /// tshark shows reassembled PDUs).
    pub fn frame_of(&self, end: usize) -> Option<u32> {
        self.ends.iter().find(|(e, _)| *e >= end).map(|x| x.1)
    }
}

/// The payloads of each stream direction (`key`) joined in frame order.
pub fn join<'a, K: Ord>(
    segments: impl IntoIterator<Item = (K, u32, &'a [u8])>,
) -> BTreeMap<K, Joined> {
    let mut streams: BTreeMap<K, Joined> = BTreeMap::new();
    for (key, frame, payload) in segments {
        streams.entry(key).or_default().push(frame, payload);
    }
    streams
}

/// Every frame of `ethertype` in `file` agrees with tshark's `fields` of the frames matching
/// `filter` (made comparable by `value`, see [`by_frame`]), and tshark shows no other frame;
/// returns how many were compared.
pub fn agree(
    file: &Path,
    ethertype: u16,
    filter: &str,
    fields: &[&'static str],
    ours: impl Fn(&[u8]) -> Fields,
    value: impl Fn(&str, &str) -> String,
) -> usize {
    let theirs = by_frame(file, filter, fields, value);
    let mut compared = 0;
    super::link_frames(file, ethertype, |n, _, payload| {
        let t = theirs
            .get(&n)
            .unwrap_or_else(|| panic!("tshark skipped frame {n}"));
        assert_eq!(&ours(payload), t, "{} frame {n}", file.display());
        compared += 1;
    });
    assert_eq!(compared, theirs.len(), "{}", file.display());
    compared
}
