//! Small shared helpers for dissectors: turning wire text into safe display strings, a
//! bounded base64 decoder and line/header splitting for the HTTP-style text protocols (HTTP,
//! SSDP, RTSP, SIP). The byte reader is [`super::reader::Cursor`].
//!
//! Everything here is allocation-free except the text cleaners ([`clean_text`],
//! [`wire_text`], [`utf16le_text`]), which make the one owned `String` an observation needs.

/// Default cap, in characters, for text taken from the wire.
pub const MAX_TEXT_CHARS: usize = 256;

/// Turns wire bytes into display text: invalid UTF-8 becomes U+FFFD, every control character
/// (C0, DEL, C1) becomes a space, surrounding whitespace is trimmed and the result is capped at
/// `max_chars` characters. `None` when nothing printable is left.
pub fn clean_text(raw: &[u8], max_chars: usize) -> Option<String> {
    clean_chars(String::from_utf8_lossy(raw.trim_ascii()).chars(), max_chars)
}

/// [`clean_text`] for text already decoded into characters (UTF-16 or UTF-32 strings): every
/// control character becomes a space, at most `max_chars` characters are kept, surrounding
/// whitespace is trimmed. `None` when nothing printable is left.
pub fn clean_chars(chars: impl Iterator<Item = char>, max_chars: usize) -> Option<String> {
    let mut out = String::with_capacity(chars.size_hint().0.min(max_chars));
    for c in chars.take(max_chars) {
        out.push(if c.is_control() { ' ' } else { c });
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    let lead = out.len() - out.trim_start().len();
    out.drain(..lead);
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// [`clean_text`] with the default cap of [`MAX_TEXT_CHARS`].
pub fn clean(raw: &[u8]) -> Option<String> {
    clean_text(raw, MAX_TEXT_CHARS)
}

/// Wire text as one display line: invalid UTF-8 becomes U+FFFD, every run of whitespace and
/// control characters becomes a single space, surrounding ones are dropped, and the result is
/// capped at [`MAX_TEXT_CHARS`] characters; empty when nothing printable is left. For banners,
/// prompts and names that may span lines (FTP, Telnet, SSH, VNC, SMB), where [`clean`] would keep
/// every line break as a space.
pub fn wire_text(raw: &[u8]) -> String {
    fold_chars(String::from_utf8_lossy(raw).chars())
}

/// UTF-16LE text up to the first NUL unit (or the end), as [`wire_text`]: unpaired
/// surrogates become U+FFFD, an odd last byte is ignored. For RDP client names, SMB strings
/// and NTLM names.
pub fn utf16le_text(raw: &[u8]) -> String {
    let units = raw
        .chunks_exact(2)
        .map(|c| match c {
            [lo, hi] => u16::from_le_bytes([*lo, *hi]),
            _ => 0,
        })
        .take_while(|&u| u != 0);
    fold_chars(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)))
}

/// The folding of [`wire_text`]: whitespace and control runs to one space, trimmed, capped.
fn fold_chars(chars: impl Iterator<Item = char>) -> String {
    let mut out = String::new();
    let mut kept = 0usize;
    let mut pending_space = false;
    for c in chars {
        if c.is_whitespace() || c.is_control() {
            pending_space = kept > 0;
            continue;
        }
        if kept + usize::from(pending_space) >= MAX_TEXT_CHARS {
            break;
        }
        if pending_space {
            out.push(' ');
            kept += 1;
            pending_space = false;
        }
        out.push(c);
        kept += 1;
    }
    out
}

/// The OS of the first of `names` that `text` names as a whole word, case-sensitively: a
/// neighbouring ASCII letter, digit, `.` or `_` disqualifies a match, so a host name such as
/// `ftp.NetBSD.org` names nothing. Conservative, for greetings (FTP, Telnet) that state an
/// OS only in passing; see [`BANNER_OS_NAMES`].
pub fn banner_os(text: &[u8], names: &[(&[u8], &'static str)]) -> Option<&'static str> {
    let word_edge = |b: Option<&u8>| match b {
        None => true,
        Some(b) => !(b.is_ascii_alphanumeric() || *b == b'.' || *b == b'_'),
    };
    names.iter().find_map(|&(name, os)| {
        if name.is_empty() {
            return None;
        }
        text.windows(name.len()).enumerate().find_map(|(i, w)| {
            let before = i.checked_sub(1).and_then(|j| text.get(j));
            (w == name && word_edge(before) && word_edge(text.get(i + name.len()))).then_some(os)
        })
    })
}

/// Unix-like systems that FTP and Telnet greetings name, for [`banner_os`].
pub const BANNER_OS_NAMES: &[(&[u8], &str)] = &[
    (b"Ubuntu", "Ubuntu"),
    (b"Debian", "Debian"),
    (b"Raspbian", "Raspbian"),
    (b"CentOS", "CentOS"),
    (b"Red Hat", "Red Hat"),
    (b"Fedora", "Fedora"),
    (b"FreeBSD", "FreeBSD"),
    (b"OpenBSD", "OpenBSD"),
    (b"NetBSD", "NetBSD"),
];

/// True when `raw` is non-empty, at most `max` bytes, and only printable ASCII (space
/// through `~`). For values that are only worth reporting when they look deliberate
/// (model names, version strings), where [`clean_text`] would keep noise.
pub fn is_tidy_ascii(raw: &[u8], max: usize) -> bool {
    !raw.is_empty() && raw.len() <= max && raw.iter().all(|b| (0x20..0x7f).contains(b))
}

/// ASCII case-insensitive `starts_with`.
pub fn starts_with_ignore_case(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// ASCII case-insensitive `ends_with`.
pub fn ends_with_ignore_case(hay: &[u8], suffix: &[u8]) -> bool {
    hay.len()
        .checked_sub(suffix.len())
        .and_then(|start| hay.get(start..))
        .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
}

/// Position of the first occurrence of `needle` in `hay` (naive search; inputs here are
/// short header blocks). An empty needle is found at 0.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// ASCII case-insensitive [`find`].
pub fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// FNV-1a 64-bit hash of `bytes`: a cheap, deterministic fingerprint for "did I already
/// report this value on this flow?" checks, so a dissector can skip re-allocating an
/// observation for a header repeated on every request. Not for anything adversarial.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// True when `word` occurs in `hay` (ASCII case-insensitive) as a whole word: not preceded
/// by an ASCII letter or digit, not followed by an ASCII letter. ("Linux" matches in
/// "Linux/2.6" and "(X11; Linux x86_64)", not in "Linuxfoo"; "Win32" matches in "(Win32)".)
pub fn contains_word(hay: &[u8], word: &[u8]) -> bool {
    if word.is_empty() || hay.len() < word.len() {
        return false;
    }
    (0..=hay.len() - word.len()).any(|i| {
        let before_ok = i == 0 || hay.get(i - 1).is_some_and(|b| !b.is_ascii_alphanumeric());
        let after_ok = hay
            .get(i + word.len())
            .is_none_or(|b| !b.is_ascii_alphabetic());
        before_ok
            && after_ok
            && hay
                .get(i..i + word.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(word))
    })
}

/// Decodes standard base64 (RFC 4648 §4: `A–Z a–z 0–9 + /`, `=` padding, padding optional)
/// into `out`, returning the number of bytes written. `None` on a character outside the
/// alphabet, misplaced padding, an impossible length, or when `out` is too small; nothing is
/// allocated, so callers choose the cap by the size of `out`.
pub fn base64_decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    // Strip up to two trailing '=' (RFC 4648 §3.2); any other '=' is an error below.
    let mut data = input;
    for _ in 0..2 {
        if let Some(d) = data.strip_suffix(b"=") {
            data = d;
        }
    }
    if data.len() % 4 == 1 {
        return None;
    }
    let mut written = 0usize;
    let mut push = |b: u8| -> Option<()> {
        *out.get_mut(written)? = b;
        written += 1;
        Some(())
    };
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | sextet(c)?;
        }
        match chunk.len() {
            4 => {
                let [_, a, b, c] = acc.to_be_bytes();
                push(a)?;
                push(b)?;
                push(c)?;
            }
            3 => {
                let v = acc << 6;
                let [_, a, b, _] = v.to_be_bytes();
                push(a)?;
                push(b)?;
            }
            2 => {
                let v = acc << 12;
                let [_, a, _, _] = v.to_be_bytes();
                push(a)?;
            }
            _ => return None,
        }
    }
    Some(written)
}

/// A line without its line end: the LF, if any, and a CR before it (RFC 9112 §2.2 lets a
/// recipient accept a bare LF).
pub fn without_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits a text block into lines ending in LF; a CR before the LF is dropped (RFC 9112 §2.2
/// lets a recipient accept a bare LF). A final piece without LF is yielded as well.
pub fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = block.strip_suffix(b"\n").unwrap_or(block);
    // An empty block has no lines (split would yield one empty piece).
    let pieces = (!block.is_empty()).then(|| body.split(|&b| b == b'\n'));
    pieces.into_iter().flatten().map(without_eol)
}

/// Length of an HTTP-style message head, through the empty line that ends it (CRLF CRLF, or
/// bare LF LF per RFC 9112 §2.2). `None` when the block is not complete yet.
pub fn head_len(data: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = data.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + off;
        // The line after this LF is empty when it is just LF or CR LF.
        match data.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// One header field line split into name and value (RFC 9110 §5.5, RFC 9112 §5): the name
/// is everything before the first colon (returned untrimmed, so callers can flag whitespace
/// before the colon), the value is trimmed of surrounding whitespace. `None` without a colon.
pub fn header_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = line.split_at(colon);
    Some((name, value.get(1..).unwrap_or(&[]).trim_ascii()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn clean_replaces_controls_trims_and_caps() {
        assert_eq!(clean(b"  PLC-7\r\n").as_deref(), Some("PLC-7"));
        assert_eq!(clean(b"a\x00b\x1bc\x7fd").as_deref(), Some("a b c d"));
        assert_eq!(clean(b"\xffok").as_deref(), Some("\u{fffd}ok"));
        assert_eq!(clean(b" \x00\t ").as_deref(), None);
        assert_eq!(clean_text(b"abcdef", 3).as_deref(), Some("abc"));
        assert_eq!(clean_text("ééé".as_bytes(), 2).as_deref(), Some("éé"));
        assert_eq!(clean(&[b'x'; 1000]).map(|s| s.len()), Some(MAX_TEXT_CHARS));
    }

    #[test]
    fn base64_round_trips_rfc4648_vectors() {
        // RFC 4648 §10 test vectors.
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"Zg==", b"f"),
            (b"Zm8=", b"fo"),
            (b"Zm9v", b"foo"),
            (b"Zm9vYg==", b"foob"),
            (b"Zm9vYmE=", b"fooba"),
            (b"Zm9vYmFy", b"foobar"),
        ];
        let mut buf = [0u8; 16];
        for (enc, dec) in cases {
            let n = base64_decode(enc, &mut buf).unwrap();
            assert_eq!(&buf[..n], dec, "{enc:?}");
        }
        assert_eq!(base64_decode(b"Zm9vYg", &mut buf), Some(4));
        assert_eq!(base64_decode(b"Zm9v!", &mut buf), None);
        assert_eq!(base64_decode(b"Zm=v", &mut buf), None);
        assert_eq!(base64_decode(b"Z", &mut buf), None);
        assert_eq!(base64_decode(b"Zm9vYmFy", &mut [0u8; 5]), None);
    }

    #[test]
    fn head_and_lines() {
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"), Some(24));
        assert_eq!(head_len(b"GET / HTTP/1.1\nA: b\n\nbody"), Some(21));
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
        assert_eq!(head_len(b""), None);
        let v: Vec<&[u8]> = lines(b"a\r\nb\nc").collect();
        assert_eq!(v, [&b"a"[..], b"b", b"c"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(
            header_field(b"Server : x y \t"),
            Some((&b"Server "[..], &b"x y"[..]))
        );
        assert_eq!(header_field(b"no colon"), None);
        assert!(starts_with_ignore_case(b"Basic abc", b"basic "));
        assert!(ends_with_ignore_case(b"router Login:", b"login:"));
        assert!(!ends_with_ignore_case(b"gin:", b"login:"));
        assert_eq!(find_ignore_case(b"xx UPnP/1.0", b"upnp/"), Some(3));
        assert_eq!(find(b"abc", b"c"), Some(2));
        assert!(contains_word(b"Mozilla/5.0 (X11; Linux x86_64)", b"linux"));
        assert!(contains_word(b"Linux/2.6 UPnP/1.0", b"Linux"));
        assert!(contains_word(b"Apache (Win32)", b"Win32"));
        assert!(!contains_word(b"Linuxfoo", b"Linux"));
        assert!(!contains_word(b"xLinux", b"Linux"));
        assert_ne!(fingerprint(b"a"), fingerprint(b"b"));
    }
}
