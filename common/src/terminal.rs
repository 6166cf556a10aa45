//! Text tables for a terminal, shared by `otwatch-sensor` and `otwatch`.
//!
//! Everything in a cell may come from the monitored network (host names, vendors, user names,
//! alert text), so no cell reaches the terminal raw: [`terminal_safe`] escapes control
//! characters and bidi overrides. A table fits the terminal it is printed on: when its natural
//! width is more than [`terminal_width`] allows, the widest shrinkable columns are cut (with
//! `…`) until it fits or every column is at its floor; written to a file or a pipe, nothing is
//! cut beyond each column's own cap.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `s` as text that a terminal shows as it is: control characters (C0, DEL, C1), bidi
/// overrides and isolates (which reorder what follows them) and the backslash (so that an
/// escape cannot be forged) are written as Rust escapes, e.g. ESC as `\u{1b}`.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Characters a terminal acts on instead of showing: controls, and the bidi marks, embeddings,
/// overrides and isolates (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Pretty JSON of `v` (any serde value). serde_json escapes C0 controls; this escapes DEL, the C1 controls and the
/// bidi characters of [`needs_escape`] too (`\u007f`, ...), so the text a terminal shows is the
/// JSON and nothing else. The value read back is the same.
#[cfg(feature = "cli")]
pub fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, serde_json::Error> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, SafeJson::default());
    serde::Serialize::serialize(v, &mut ser)?;
    // Only valid UTF-8 was written: serde_json writes strings as they are, escapes as ASCII.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// serde_json's pretty formatter, escaping what [`needs_escape`] names inside strings.
#[cfg(feature = "cli")]
#[derive(Default)]
struct SafeJson(serde_json::ser::PrettyFormatter<'static>);

#[cfg(feature = "cli")]
impl serde_json::ser::Formatter for SafeJson {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_escape(c) {
                w.write_all(fragment.get(start..i).unwrap_or("").as_bytes())?;
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(fragment.get(start..).unwrap_or("").as_bytes())
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `s` cut to `n` characters, the last one `…` when something was cut.
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The width of the terminal standard output is, in columns: `COLUMNS` when set (a user's
/// choice wins), else the terminal's own size; `None` when standard output is not a terminal
/// (a file or a pipe: nothing is cut to fit).
pub fn terminal_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return Some(n);
    }
    terminal_columns()
}

#[cfg(all(unix, feature = "cli"))]
fn terminal_columns() -> Option<usize> {
    let out = std::io::stdout();
    if !rustix::termios::isatty(&out) {
        return None;
    }
    rustix::termios::tcgetwinsize(&out)
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|n| *n > 0)
}

#[cfg(not(all(unix, feature = "cli")))]
fn terminal_columns() -> Option<usize> {
    None
}

/// Spaces before every line.
const INDENT: usize = 2;
/// Spaces between columns.
const GAP: usize = 2;

/// A table: a header, rows of cells, and per column a cap (the most it ever shows) and a floor
/// (the least it is cut to when fitting a terminal).
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    cap: Vec<usize>,
    floor: Vec<usize>,
    indent: usize,
    hide_empty: bool,
}

impl Table {
    /// A table with these column titles; every column capped at 60 characters and shrinkable
    /// down to 6 (the title is cut too).
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            cap: vec![60; header.len()],
            floor: vec![6; header.len()],
            indent: INDENT,
            hide_empty: false,
        }
    }

    /// Columns without a value in any row are left out (a report where no asset has a host
    /// name shows no HOSTNAME column).
    pub fn hide_empty(mut self) -> Table {
        self.hide_empty = true;
        self
    }

    /// Column `i` is cut to fit a terminal down to `n` characters at the least.
    pub fn floor(mut self, i: usize, n: usize) -> Table {
        if let (Some(f), Some(c)) = (self.floor.get_mut(i), self.cap.get(i)) {
            *f = n.min(*c);
        }
        self
    }

    /// No indentation (a listing that is the whole output).
    pub fn flush_left(mut self) -> Table {
        self.indent = 0;
        self
    }

    /// Column `i` never wider than `n`.
    pub fn cap(mut self, i: usize, n: usize) -> Table {
        if let Some(c) = self.cap.get_mut(i) {
            *c = n.max(1);
        }
        self
    }

    /// Column `i` never cut to fit: addresses, counts, severities.
    pub fn keep(mut self, i: usize) -> Table {
        if let (Some(f), Some(c)) = (self.floor.get_mut(i), self.cap.get(i)) {
            *f = *c;
        }
        self
    }

    /// Adds a row; its cells are made [`terminal_safe`].
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| terminal_safe(c.as_ref()).into_owned())
                .collect(),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The column widths: each column's widest cell up to its cap, then, while the whole is
    /// wider than `width`, the widest column above its floor loses one character.
    fn widths(&self, width: Option<usize>) -> Vec<usize> {
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(x) = w.get_mut(i) {
                    *x = (*x).max(c.chars().count());
                }
            }
        }
        for (x, cap) in w.iter_mut().zip(&self.cap) {
            *x = (*x).min(*cap);
        }
        let Some(width) = width else { return w };
        let total =
            |w: &[usize]| self.indent + w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
        let mut over = total(&w).saturating_sub(width);
        while over > 0 {
            let widest = w
                .iter()
                .enumerate()
                .filter(|(i, x)| **x > self.floor.get(*i).copied().unwrap_or(0))
                .max_by_key(|(i, x)| (**x, std::cmp::Reverse(*i)))
                .map(|(i, _)| i);
            let Some(i) = widest else { break };
            w[i] -= 1;
            over -= 1;
        }
        w
    }

    /// The table as text, one line per row after the header, fitted to `width` columns when
    /// given (see [`terminal_width`]).
    pub fn render(&self, width: Option<usize>) -> String {
        if self.hide_empty {
            let shown: Vec<usize> = (0..self.header.len())
                .filter(|i| {
                    self.rows
                        .iter()
                        .any(|r| r.get(*i).is_some_and(|c| !c.is_empty()))
                })
                .collect();
            if shown.len() < self.header.len() {
                let pick = |v: &[String]| shown.iter().filter_map(|i| v.get(*i).cloned()).collect();
                let pick_n =
                    |v: &[usize]| shown.iter().filter_map(|i| v.get(*i).copied()).collect();
                let t = Table {
                    header: pick(&self.header),
                    rows: self.rows.iter().map(|r| pick(r)).collect(),
                    cap: pick_n(&self.cap),
                    floor: pick_n(&self.floor),
                    indent: self.indent,
                    hide_empty: false,
                };
                return t.render(width);
            }
        }
        let w = self.widths(width);
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut l = " ".repeat(self.indent);
            for (i, c) in cells.iter().enumerate() {
                let width = w.get(i).copied().unwrap_or(0);
                let c = cut(c, width);
                let pad = width.saturating_sub(c.chars().count());
                l.push_str(&c);
                if i + 1 < cells.len() {
                    l.push_str(&" ".repeat(pad + GAP));
                }
            }
            let _ = writeln!(out, "{}", l.trim_end());
        };
        line(&self.header);
        for r in &self.rows {
            line(r);
        }
        out
    }
}

/// The order of two addresses as text: IPv4 before IPv6, each by value; MAC addresses and
/// anything else after them, as text. `10.0.0.9` comes before `10.0.0.10`.
pub fn address_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |s: &str| match s.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => (0u8, u128::from(u32::from(v4)), String::new()),
        Ok(std::net::IpAddr::V6(v6)) => (1, u128::from(v6), String::new()),
        Err(_) => (2, 0, s.to_string()),
    };
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&["IP", "VENDOR", "PACKETS"]).keep(0).keep(2);
        t.row(["10.0.0.1", "Rockwell Automation", "1200"]);
        t.row(["10.0.0.20", "Phoenix Contact", "7"]);
        t
    }

    #[test]
    fn aligned_without_a_width() {
        let s = sample().render(None);
        assert_eq!(
            s,
            "  IP         VENDOR               PACKETS\n  10.0.0.1   Rockwell Automation  1200\n  10.0.0.20  Phoenix Contact      7\n"
        );
    }

    #[test]
    fn fits_a_narrow_terminal_by_cutting_text_columns() {
        let s = sample().render(Some(32));
        for l in s.lines() {
            assert!(l.chars().count() <= 32, "{l:?} is wider than 32");
        }
        assert!(s.contains("10.0.0.20"), "addresses are kept whole: {s}");
        assert!(
            s.contains("Rockwell") && s.contains('…'),
            "the vendor is cut: {s}"
        );
    }

    #[test]
    fn empty_columns_can_be_hidden() {
        let mut t = Table::new(&["IP", "HOSTNAME", "PACKETS"]).hide_empty();
        t.row(["10.0.0.1", "", "5"]);
        assert_eq!(t.render(None), "  IP        PACKETS\n  10.0.0.1  5\n");
    }

    #[test]
    fn too_narrow_stops_at_the_floors() {
        let s = sample().render(Some(5));
        assert!(s.contains("10.0.0.20") && s.contains("1200"), "{s}");
    }

    #[test]
    fn terminal_controls_and_bidi_overrides_are_shown_escaped() {
        assert_eq!(terminal_safe("plc-1"), "plc-1");
        assert_eq!(
            terminal_safe("a\u{1b}[2Jb\u{7f}\u{9b}\u{202e}\u{2066}\n\\"),
            "a\\u{1b}[2Jb\\u{7f}\\u{9b}\\u{202e}\\u{2066}\\u{a}\\\\"
        );
        assert_eq!(terminal_safe("Gerät"), "Gerät");
    }

    #[test]
    #[cfg(feature = "cli")]
    fn json_escapes_del_c1_and_bidi_and_reads_back_the_same() {
        let v = serde_json::json!({"hostname": "x\u{1b}]0;pwned\u{7}\u{7f}\u{85}\u{202e}é"});
        let text = json(&v).unwrap();
        assert!(
            text.chars().all(|c| c == '\n' || !needs_escape(c)),
            "{text:?}"
        );
        assert!(
            text.contains("\\u001b") && text.contains("\\u007f") && text.contains("\\u202e"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
        assert_eq!(text, json(&v).unwrap());
        // Pretty, like before.
        assert!(json(&serde_json::json!({"a": [1]}))
            .unwrap()
            .contains("\n  \"a\": [\n"));
    }

    #[test]
    fn cells_are_terminal_safe() {
        let mut t = Table::new(&["HOSTNAME"]);
        t.row(["plc\u{1b}[2J\u{202e}x"]);
        let s = t.render(None);
        assert!(!s.contains('\u{1b}') && !s.contains('\u{202e}'), "{s:?}");
        assert!(s.contains("plc\\u{1b}[2J\\u{202e}x"), "{s}");
    }

    #[test]
    fn addresses_sort_by_value() {
        let mut v = vec![
            "10.0.0.50",
            "fe80::1",
            "10.0.0.100",
            "00:11:22:33:44:55",
            "10.0.0.9",
        ];
        v.sort_by(|a, b| address_order(a, b));
        assert_eq!(
            v,
            [
                "10.0.0.9",
                "10.0.0.50",
                "10.0.0.100",
                "fe80::1",
                "00:11:22:33:44:55"
            ]
        );
    }
}
