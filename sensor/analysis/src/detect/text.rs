//! Files a person writes (policies, rules, indicator lists): read them, and point at the line
//! of every error.

use otwatch_common::observation::Operation;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use toml::Spanned;

/// An error in a file, at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: String,
    /// 1-based; 0 when the error is about the whole file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for Located {}

/// The text of a file and its name, for errors.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub file: String,
    pub text: String,
}

impl SourceText {
    pub fn read(path: &Path) -> Result<SourceText, Located> {
        let file = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Ok(SourceText { file, text }),
                Err(e) => {
                    let off = e.utf8_error().valid_up_to();
                    let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    let s = SourceText { file, text };
                    Err(s.at(off, "the file is not UTF-8 text".into()))
                }
            },
            Err(e) => Err(Located {
                file,
                line: 0,
                message: format!("cannot read it: {e}"),
            }),
        }
    }

    pub fn new(file: &str, text: &str) -> SourceText {
        SourceText {
            file: file.to_string(),
            text: text.to_string(),
        }
    }

    /// The 1-based line of byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text
            .as_bytes()
            .get(..end)
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
            + 1
    }

    /// An error at byte `offset`.
    pub fn at(&self, offset: usize, message: String) -> Located {
        Located {
            file: self.file.clone(),
            line: self.line_of(offset),
            message,
        }
    }

    /// An error at a 1-based line.
    pub fn at_line(&self, line: usize, message: String) -> Located {
        Located {
            file: self.file.clone(),
            line,
            message,
        }
    }

    /// Parses the text as TOML into `T`.
    pub fn toml<T: serde::de::DeserializeOwned>(&self) -> Result<T, Located> {
        toml::from_str(&self.text).map_err(|e| {
            let line = e.span().map_or(0, |s| self.line_of(s.start));
            Located {
                file: self.file.clone(),
                line,
                message: e.message().trim().to_string(),
            }
        })
    }

    /// A spanned value as an IP address.
    pub fn ip(&self, v: &Spanned<String>) -> Result<IpAddr, Located> {
        v.get_ref().parse().map_err(|_| {
            self.at(
                v.span().start,
                format!("{:?} is not an IP address", v.get_ref()),
            )
        })
    }

    /// A spanned value as an operation name; the error lists the names there are.
    pub fn operation(&self, v: &Spanned<String>) -> Result<Operation, Located> {
        Operation::parse(v.get_ref()).ok_or_else(|| {
            let names: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
            self.at(
                v.span().start,
                format!(
                    "unknown operation {:?}; use one of {}",
                    v.get_ref(),
                    names.join(", ")
                ),
            )
        })
    }
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if c.is_control() => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// An IPv4/IPv6 network in CIDR form (`10.0.0.0/8`, `fd00::/8`), or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let bits = u32::from(self.prefix.min(32));
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & mask == u32::from(*a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let bits = u32::from(self.prefix.min(128));
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(n) & mask == u128::from(*a) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an address or a network like 10.0.0.0/8");
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Net { addr, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_nets() {
        let s = SourceText::new("f.toml", "a = 1\nb = [\n  \"x\"\n");
        assert_eq!(s.line_of(0), 1);
        assert_eq!(s.line_of(8), 2);
        assert_eq!(s.line_of(14), 3);
        let e = s.toml::<toml::Table>().unwrap_err();
        assert_eq!(e.file, "f.toml");
        assert!(e.line >= 2, "{e}");
        let n: Net = "10.20.0.0/16".parse().unwrap();
        assert!(n.contains(&"10.20.3.4".parse().unwrap()));
        assert!(!n.contains(&"10.21.3.4".parse().unwrap()));
        assert!("10.0.0.1"
            .parse::<Net>()
            .unwrap()
            .contains(&"10.0.0.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Net>().is_err());
        assert_eq!(quote("a\"b\\\u{1b}"), "\"a\\\"b\\\\\\u001B\"");
    }
}
