//! What a free-text system description says about a device: SNMP sysDescr, the LLDP system
//! description and the CDP software version carry the same kinds of banner.

/// Facts a free-text system description states outright.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DescriptionFacts {
    pub os: Option<String>,
    pub firmware: Option<String>,
}

/// Reads OS and firmware out of a sysDescr-style text (SNMP sysDescr, LLDP system description,
/// CDP software version), only where the text says so unambiguously:
/// - Cisco software banners ("Cisco IOS Software, ... Version 12.2(25)SEE2, ...");
/// - net-snmp on Linux, whose sysDescr is `uname -snrvm` ("Linux host 4.4.0-31-generic ...");
/// - the Windows agent ("... Software: Windows Version 6.1 (Build 7601 ...)");
/// - an explicit firmware label ("FW: V4.02", "Firmware: 2.1", "Firmware Version 1.3").
///
/// Anything else yields nothing: a version number alone does not say what it versions.
pub fn description_facts(text: &str) -> DescriptionFacts {
    if let Some(cisco) = cisco_software(text) {
        return DescriptionFacts {
            os: Some(cisco.os.to_owned()),
            firmware: cisco.version.map(str::to_owned),
        };
    }
    let mut facts = DescriptionFacts::default();
    let mut words = text.split_whitespace();
    if words.next() == Some("Linux") {
        let release = words.nth(1).filter(|r| {
            r.len() <= 64 && r.starts_with(|c: char| c.is_ascii_digit()) && r.contains('.')
        });
        facts.os = Some(match release {
            Some(r) => format!("Linux {r}"),
            None => "Linux".to_owned(),
        });
    } else if let Some(pos) = text.find("Software: Windows Version ") {
        let rest = text
            .get(pos + "Software: Windows Version ".len()..)
            .unwrap_or("");
        let version = version_token(rest);
        let build = rest
            .find("(Build ")
            .and_then(|b| rest.get(b + "(Build ".len()..))
            .and_then(|b| {
                let digits = b.split(|c: char| !c.is_ascii_digit()).next()?;
                (!digits.is_empty()).then_some(digits)
            });
        facts.os = Some(match (version, build) {
            (Some(v), Some(b)) => format!("Windows NT {v} build {b}"),
            (Some(v), None) => format!("Windows NT {v}"),
            _ => "Windows".to_owned(),
        });
    }
    facts.firmware = labelled_firmware(text);
    facts
}

/// OS family and version in a Cisco software banner (CDP software version, or the sysDescr
/// that the same devices send over SNMP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CiscoSoftware<'a> {
    pub os: &'static str,
    pub version: Option<&'a str>,
}

/// Recognises the banners Cisco's operating systems put in CDP TLV 0x0005 and sysDescr:
/// "Cisco IOS Software, C2960 Software (...), Version 12.2(50)SE4, RELEASE SOFTWARE (fc1)",
/// "Cisco Internetwork Operating System Software IOS (tm) ... Version 11.2(12)P, ...",
/// IOS-XE, IOS XR, NX-OS and ASA banners. Returns `None` for anything else.
pub fn cisco_software(text: &str) -> Option<CiscoSoftware<'_>> {
    let lower = text.to_ascii_lowercase();
    if !(lower.starts_with("cisco") || lower.contains("ios (tm)")) {
        return None;
    }
    let has = |s: &str| lower.contains(s);
    let os = if has("nx-os") {
        "Cisco NX-OS"
    } else if has("ios xr") || has("ios-xr") {
        "Cisco IOS XR"
    } else if has("ios-xe") || has("ios xe") || has("iosxe") {
        "Cisco IOS XE"
    } else if has("cisco ios software") || has("internetwork operating system") || has("ios (tm)") {
        "Cisco IOS"
    } else if has("adaptive security appliance") {
        "Cisco ASA"
    } else {
        return None;
    };
    // Lower-casing ASCII keeps byte offsets, so `at` indexes `text` too.
    let version = lower.find("version ").and_then(|at| {
        let rest = text.get(at + "version ".len()..)?;
        let token = rest
            .split(|c: char| c == ',' || c == '[' || c.is_whitespace())
            .next()?;
        (token.starts_with(|c: char| c.is_ascii_digit()) && token.len() <= 32).then_some(token)
    });
    Some(CiscoSoftware { os, version })
}

/// The value after an explicit firmware label ("FW: V4.02", "Firmware Version 1.3").
fn labelled_firmware(text: &str) -> Option<String> {
    // ASCII lower-casing keeps byte offsets, so positions in `lower` are positions in `text`.
    let lower = text.to_ascii_lowercase();
    for label in ["firmware version", "firmware", "fw"] {
        let mut from = 0;
        while let Some(found) = lower.get(from..).and_then(|s| s.find(label)) {
            let start = from + found;
            let end = start + label.len();
            from = end;
            let starts_word = lower
                .get(..start)
                .and_then(|s| s.chars().next_back())
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            // A label is followed by ':' or a space; "fw" inside a word or model is not one.
            let after = text.get(end..).unwrap_or("");
            if !starts_word || !after.starts_with([' ', ':']) {
                continue;
            }
            if let Some(v) = version_token(after.trim_start_matches([' ', ':'])) {
                return Some(v.to_owned());
            }
        }
    }
    None
}

/// A version-like token at the start of `s`: up to a comma, semicolon or whitespace, at most
/// 32 characters, containing a digit.
fn version_token(s: &str) -> Option<&str> {
    let token = s
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .next()?;
    let token = token.trim_end_matches(['.', ')']);
    (!token.is_empty() && token.len() <= 32 && token.chars().any(|c| c.is_ascii_digit()))
        .then_some(token)
}
