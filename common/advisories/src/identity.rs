//! Vendor-aware identities: how a device's vendor and model, and an advisory's product, are
//! turned into the keys they are matched on.
//!
//! - Vendor names are reduced to one key (`Siemens AG` = `Siemens`, `Allen-Bradley` =
//!   `Rockwell Automation`, `Schneider Electric Software, LLC` = `Schneider`). The vendor is a
//!   gate: it must agree, but it never matches on its own.
//! - Model and order numbers are compared compacted: upper case, letters and digits only, so
//!   `6ES7 315-2EH14-0AB0` = `6ES7315-2EH14-0AB0` and `140 CPU 311 10` = `140CPU31110`.
//! - Rockwell catalogue numbers carry the hardware series after a slash: `1756-ENBT/A` is
//!   the `1756-ENBT`, series A; an advisory row "… 1756-EN2T Series A/B/C" names the series.
//! - Product families: an advisory row for a whole family ("SIMATIC S7-300 CPU family (incl.
//!   related ET200 CPUs and SIPLUS variants)", "Modicon M340") matches the devices whose
//!   order number belongs to it by the vendor's numbering (6ES7 31x = S7-300 CPU, BMXP34 =
//!   M340 CPU). The table is short and explicit on purpose.

use std::collections::BTreeSet;

/// A product family that advisories name as a whole. Kept to families whose members can be
/// recognised from the order number a device reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    SimaticS7_300,
    SimaticS7_400,
    SimaticS7_1200,
    SimaticS7_1500,
    ModiconM340,
    ModiconM580,
    ModiconQuantum,
    ModiconPremium,
    ControlLogix5570,
    ControlLogix5580,
}

impl Family {
    /// The family's usual name, for explanations.
    pub fn name(self) -> &'static str {
        match self {
            Family::SimaticS7_300 => "SIMATIC S7-300",
            Family::SimaticS7_400 => "SIMATIC S7-400",
            Family::SimaticS7_1200 => "SIMATIC S7-1200",
            Family::SimaticS7_1500 => "SIMATIC S7-1500",
            Family::ModiconM340 => "Modicon M340",
            Family::ModiconM580 => "Modicon M580",
            Family::ModiconQuantum => "Modicon Quantum",
            Family::ModiconPremium => "Modicon Premium",
            Family::ControlLogix5570 => "ControlLogix 5570",
            Family::ControlLogix5580 => "ControlLogix 5580",
        }
    }
}

/// How advisory product names spell each family (compacted), per vendor key.
const FAMILY_NAMES: &[(&str, &str, Family)] = &[
    ("siemens", "S7300", Family::SimaticS7_300),
    ("siemens", "S7400", Family::SimaticS7_400),
    ("siemens", "S71200", Family::SimaticS7_1200),
    ("siemens", "S71500", Family::SimaticS7_1500),
    ("schneider", "M340", Family::ModiconM340),
    ("schneider", "M580", Family::ModiconM580),
    ("schneider", "QUANTUM", Family::ModiconQuantum),
    ("schneider", "PREMIUM", Family::ModiconPremium),
    ("rockwell", "CONTROLLOGIX5570", Family::ControlLogix5570),
    ("rockwell", "CONTROLLOGIX5580", Family::ControlLogix5580),
];

/// Words that may surround a family name in a row that still means the whole family.
const FAMILY_FILLER: &[&str] = &[
    "SIMATIC",
    "MODICON",
    "LEGACY",
    "ROCKWELL",
    "AUTOMATION",
    "CPU",
    "CPUS",
    "FAMILY",
    "PLC",
    "PLCS",
    "CONTROLLER",
    "CONTROLLERS",
    "PROCESSOR",
    "PROCESSORS",
    "WITH",
    "FIRMWARE",
    "INCL",
    "INCLUDING",
    "RELATED",
    "AND",
    "SIPLUS",
    "VARIANTS",
    "ET200",
    "ET",
    "200",
    "PART",
    "NUMBERS",
    "NUMBER",
    "ALL",
    "VERSIONS",
    "SERIES",
];

/// Vendors known by more than one spelling: the words that name them (whole words, lower
/// case, anywhere in the name), the key they are matched on and the one name they are shown
/// with. "Rockwell Automation/Allen-Bradley" and "Allen-Bradley" are both Rockwell
/// Automation; "SIEMENS", "Siemens AG" and "Siemens Industrial Automation" are Siemens.
const KNOWN_VENDORS: &[(&[&str], &str, &str)] = &[
    (
        &["allen bradley", "rockwell"],
        "rockwell",
        "Rockwell Automation",
    ),
    (
        &["schneider", "telemecanique"],
        "schneider",
        "Schneider Electric",
    ),
    (&["siemens"], "siemens", "Siemens"),
    (
        &["general electric", "ge digital", "ge vernova"],
        "ge",
        "GE",
    ),
    (&["mitsubishi"], "mitsubishi", "Mitsubishi Electric"),
    (
        &["johnson controls"],
        "johnson controls",
        "Johnson Controls",
    ),
    (&["phoenix contact"], "phoenix contact", "Phoenix Contact"),
    (&["hitachi"], "hitachi", "Hitachi"),
    (&["abb"], "abb", "ABB"),
    // The runtime's maker, called 3S-Smart Software Solutions until 2018 (CODESYS V2 names it so).
    (&["codesys", "3s smart software"], "codesys", "CODESYS"),
    // Shown with one spelling; their key is their first word, as for any other vendor.
    (&["wago"], "wago", "WAGO"),
    (&["beckhoff"], "beckhoff", "Beckhoff Automation"),
    (&["hilscher"], "hilscher", "Hilscher"),
    (&["hirschmann"], "hirschmann", "Hirschmann"),
    (&["moxa"], "moxa", "Moxa"),
    (&["honeywell"], "honeywell", "Honeywell"),
    (&["emerson"], "emerson", "Emerson"),
    (&["yokogawa"], "yokogawa", "Yokogawa"),
    (&["omron"], "omron", "Omron"),
    (&["festo"], "festo", "Festo"),
    (&["turck"], "turck", "Turck"),
    (&["cisco"], "cisco", "Cisco"),
    (&["3com"], "3com", "3Com"),
    (&["vmware"], "vmware", "VMware"),
    (&["intel"], "intel", "Intel"),
    (&["d link"], "d", "D-Link"),
    (&["tp link"], "tp", "TP-Link"),
    (&["hewlett packard"], "hewlett", "Hewlett Packard"),
    (&["juniper"], "juniper", "Juniper Networks"),
    (&["fortinet"], "fortinet", "Fortinet"),
    (&["ubiquiti"], "ubiquiti", "Ubiquiti"),
    (&["huawei"], "huawei", "Huawei"),
    (&["samsung"], "samsung", "Samsung"),
    (&["microsoft"], "microsoft", "Microsoft"),
    (&["dell"], "dell", "Dell"),
];

/// Lower-case words of a name: letters and digits, everything else a separator.
fn words(name: &str) -> Vec<String> {
    name.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The known vendor a name spells, if any.
fn known_vendor(
    words: &[String],
) -> Option<&'static (&'static [&'static str], &'static str, &'static str)> {
    let joined = format!(" {} ", words.join(" "));
    KNOWN_VENDORS.iter().find(|(aliases, _, _)| {
        aliases
            .iter()
            .any(|alias| joined.contains(&format!(" {alias} ")))
    })
}

/// The key a vendor name is matched on.
pub fn vendor_key(name: &str) -> String {
    let words = words(name);
    if let Some((_, key, _)) = known_vendor(&words) {
        return key.to_string();
    }
    // Otherwise the first word: corporate suffixes ("Inc", "GmbH") come last, and two
    // spellings of one vendor nearly always share the first word.
    words.first().cloned().unwrap_or_default()
}

/// Legal-form words that end company names in registries ("Intel Corporate", "Apple, Inc.",
/// "Kieback & Peter GmbH & Co KG"): left out when a vendor is shown.
const LEGAL_FORMS: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "corporate",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "sa",
    "sas",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy",
    "ab",
    "as",
    "kk",
    "pty",
    "pte",
    "sarl",
    "ohg",
    "se",
];

/// `t` with every run of five or more capital letters (and nothing else between separators)
/// in title case: "TECHNOLOGIES" → "Technologies", "TP-LINK" stays.
fn title_case_shouted(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for run in t.split_inclusive(|c: char| !c.is_ascii_alphanumeric()) {
        let (word, sep) = match run.char_indices().last() {
            Some((i, c)) if !c.is_ascii_alphanumeric() => run.split_at(i),
            _ => (run, ""),
        };
        let shouted = word.len() >= 5 && word.chars().all(|c| c.is_ascii_uppercase());
        if shouted {
            out.push_str(&word[..1]);
            out.push_str(&word[1..].to_ascii_lowercase());
        } else {
            out.push_str(word);
        }
        out.push_str(sep);
    }
    out
}

/// The one name a vendor is shown with, whichever way a source spelled it: the known
/// vendors' names ("Siemens AG" and "SIEMENS" are "Siemens"); any other without its legal
/// form ("Hon Hai Precision Ind. Co.,Ltd." is "Hon Hai Precision Ind.") and with words
/// written all in capitals of five letters or more in title case ("HIRSCHMANN" would be
/// "Hirschmann", "NEC" stays). The raw spelling stays in the evidence.
pub fn vendor_name(raw: &str) -> String {
    let raw = raw.trim();
    if let Some((_, _, name)) = known_vendor(&words(raw)) {
        return name.to_string();
    }
    let mut tokens: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let legal = |t: &str| {
        let bare: String = t
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        // "Co.,Ltd." and "S.p.A." are one token once the punctuation is gone.
        bare.is_empty()
            || LEGAL_FORMS.contains(&bare.as_str())
            || bare == "coltd"
            || bare == "colimited"
    };
    while tokens.len() > 1 && tokens.last().is_some_and(|t| legal(t)) {
        tokens.pop();
    }
    tokens
        .iter()
        .map(|t| title_case_shouted(t))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Upper case, letters and digits only.
pub fn compact(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The hardware series of a Rockwell-style catalogue number: `1756-ENBT/A` → (`1756-ENBT`,
/// `A`). Only the `NNNN-XXXX/L` shape, so a model such as `PN/DP` keeps its slash.
pub fn split_series(model: &str) -> (&str, Option<char>) {
    let trimmed = model.trim();
    if let Some((base, series)) = trimmed.rsplit_once('/') {
        let mut letters = series.trim().chars();
        let digits_first = base.len() > 5
            && base.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && base.as_bytes()[4] == b'-';
        if let (Some(letter), None, true) = (letters.next(), letters.next(), digits_first) {
            if letter.is_ascii_alphabetic() {
                return (base.trim_end(), Some(letter.to_ascii_uppercase()));
            }
        }
    }
    (trimmed, None)
}

/// The family a device belongs to, from its vendor key and compacted model or order number.
pub fn device_family(vendor: &str, compact_model: &str) -> Option<Family> {
    match vendor {
        "siemens" => siemens_family(compact_model),
        "schneider" => {
            let m = compact_model;
            if m.starts_with("BMXP34") {
                Some(Family::ModiconM340)
            } else if m.starts_with("BMEP58") || m.starts_with("BMEH58") {
                Some(Family::ModiconM580)
            } else if m.starts_with("140CPU") {
                Some(Family::ModiconQuantum)
            } else if m.starts_with("TSXP57") {
                Some(Family::ModiconPremium)
            } else {
                named_family(vendor, m)
            }
        }
        "rockwell" => {
            // ControlLogix controllers: 1756-L7x = 5570, 1756-L8x = 5580.
            if compact_model.starts_with("1756L7") {
                Some(Family::ControlLogix5570)
            } else if compact_model.starts_with("1756L8") {
                Some(Family::ControlLogix5580)
            } else {
                named_family(vendor, compact_model)
            }
        }
        _ => None,
    }
}

/// Siemens order numbers (MLFB): `6ES7` (SIMATIC) or `6AG1`/`6AG2` (SIPLUS), then three
/// digits whose first two name the range: 31x S7-300 CPUs, 41x S7-400 CPUs, 21x S7-1200
/// CPUs, 51x S7-1500 CPUs (signal modules are 32x/42x/22x/52x and are not CPUs). The ET 200
/// CPUs IM151-8 (6ES7151-8) and IM154-8 (6ES7154-8) are S7-300 CPUs in an ET 200 housing:
/// Siemens lists them under "S7-300 CPU family (incl. related ET200 CPUs)". A device that
/// reports a station name such as `S7-300EC` or `S7-1500` (PROFINET DCP) gets the family too.
fn siemens_family(m: &str) -> Option<Family> {
    let digits = m
        .strip_prefix("6ES7")
        .or_else(|| m.strip_prefix("6AG1"))
        .or_else(|| m.strip_prefix("6AG2"));
    if let Some(d) = digits {
        let b = d.as_bytes();
        if b.len() >= 4 {
            return match (b[0], b[1], b[2], b[3]) {
                (b'3', b'1', _, _) => Some(Family::SimaticS7_300),
                (b'1', b'5', b'1' | b'4', b'8') => Some(Family::SimaticS7_300),
                (b'4', b'1', _, _) => Some(Family::SimaticS7_400),
                (b'2', b'1', _, _) => Some(Family::SimaticS7_1200),
                (b'5', b'1', _, _) => Some(Family::SimaticS7_1500),
                _ => None,
            };
        }
    }
    named_family("siemens", m)
}

/// A family named in a device's model text (`S7-300EC`, `S7-1500`, `Modicon M340`).
fn named_family(vendor: &str, compact_model: &str) -> Option<Family> {
    // Longest names first, so `S71500` is not read as `S7150…`.
    let mut best: Option<(usize, Family)> = None;
    for (v, name, family) in FAMILY_NAMES {
        if *v == vendor && compact_model.contains(name) {
            // `S7300` must not be a prefix of a longer number (`S73000`).
            let at = compact_model.find(name).unwrap_or(0) + name.len();
            let next_is_digit = compact_model[at..].starts_with(|c: char| c.is_ascii_digit());
            if !next_is_digit && best.is_none_or(|(len, _)| name.len() > len) {
                best = Some((name.len(), *family));
            }
        }
    }
    best.map(|(_, family)| family)
}

/// What an advisory product row can be matched on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductKeys {
    /// Compacted model and order numbers: the product identification helper's model
    /// numbers and SKUs, order numbers in parentheses, and model-like runs of one to three
    /// words of the product name (`1756-ENBT`, `MicroLogix 1400`, `BMX NOE 0100`).
    pub tokens: BTreeSet<String>,
    /// Part-number patterns (`BMXP34*`, `140CPU65xxxxx`) as compacted prefixes.
    pub prefixes: BTreeSet<String>,
    /// Set when the row names a whole family and nothing narrower.
    pub family: Option<Family>,
    /// Hardware series the row is limited to ("Series A/B/C"); empty means any.
    pub series: BTreeSet<char>,
}

impl ProductKeys {
    /// Reads the keys of one product row.
    pub fn of(vendor_key: &str, product_name: &str, model_numbers: &[String]) -> ProductKeys {
        let mut keys = ProductKeys::default();
        for number in model_numbers {
            keys.add_pattern_or_token(number);
        }
        let original: Vec<&str> = product_name
            .split(|c: char| {
                c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | ':' | '[' | ']')
            })
            .filter(|w| !w.is_empty())
            .collect();
        let upper: Vec<String> = original.iter().map(|w| w.to_ascii_uppercase()).collect();
        let words: Vec<&str> = upper.iter().map(String::as_str).collect();
        for (i, word) in original.iter().enumerate() {
            if word.contains('*') || is_lower_x_pattern(word) {
                keys.add_pattern_or_token(word);
                continue;
            }
            for n in 1..=3 {
                let Some(run) = words.get(i..i + n) else {
                    break;
                };
                let token = compact(&run.concat());
                if is_model_like(&token) && !is_family_name(&token) {
                    keys.tokens.insert(token);
                }
            }
        }
        keys.series = series_letters(&words);
        if let Some(family) = family_row(vendor_key, &words) {
            keys.family = Some(family);
        }
        keys
    }

    fn add_pattern_or_token(&mut self, text: &str) {
        let trimmed = text.trim();
        let star = trimmed.find('*');
        // `140CPU65xxxxx`: a run of lower-case x in an otherwise upper-case part number.
        let lower_x = trimmed
            .find("xx")
            .filter(|_| trimmed.chars().any(|c| c.is_ascii_uppercase()));
        match star.into_iter().chain(lower_x).min() {
            Some(at) => {
                let prefix = compact(&trimmed[..at]);
                if prefix.len() >= 4 {
                    self.prefixes.insert(prefix);
                }
            }
            None => {
                let token = compact(trimmed);
                if is_model_like(&token) {
                    self.tokens.insert(token);
                }
            }
        }
    }
}

/// `140CPU65xxxxx`: a part number with a run of lower-case x standing for any character.
fn is_lower_x_pattern(word: &str) -> bool {
    word.contains("xx")
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_uppercase())
}

/// A token is model-like when it has a digit and is long enough not to be a mere number
/// such as a year or a port: at least four characters, and letters unless at least four
/// digits (`1601`).
fn is_model_like(token: &str) -> bool {
    token.len() >= 4 && token.chars().any(|c| c.is_ascii_digit())
}

/// A family name alone ("S7-1500") is matched as a family, never as a model token: a row
/// "SIMATIC S7-1500 CPU 1511-1 PN" must not match every device that only says "S7-1500".
pub fn is_family_name(token: &str) -> bool {
    FAMILY_NAMES.iter().any(|(_, name, _)| *name == token)
}

/// "Series A/B/C" or ", Series D" → {A, B, C} / {D}.
fn series_letters(words: &[&str]) -> BTreeSet<char> {
    let mut out = BTreeSet::new();
    let Some(at) = words.iter().position(|w| *w == "SERIES") else {
        return out;
    };
    for word in &words[at + 1..] {
        let letters: Vec<&str> = word.split('/').collect();
        if letters
            .iter()
            .all(|l| l.len() == 1 && l.chars().all(|c| c.is_ascii_alphabetic()))
        {
            out.extend(letters.iter().filter_map(|l| l.chars().next()));
        } else if *word != "AND" {
            break;
        }
    }
    out
}

/// The family of a row that names a family and nothing narrower: every word is either the
/// family name or filler ("SIMATIC S7-300 CPU family (incl. related ET200 CPUs and SIPLUS
/// variants)", "Modicon M340 CPU (part numbers BMXP34*)", "M340 CPUs with firmware").
fn family_row(vendor_key: &str, words: &[&str]) -> Option<Family> {
    let mut family = None;
    for word in words {
        let token = compact(word);
        if token.is_empty() || FAMILY_FILLER.contains(&token.as_str()) || word.contains('*') {
            continue;
        }
        let named = FAMILY_NAMES
            .iter()
            .find(|(v, name, _)| *v == vendor_key && token == *name);
        match named {
            Some((_, _, f)) if family.is_none() || family == Some(*f) => family = Some(*f),
            // "ControlLogix 5580" is two words: join them before giving up.
            _ => return family_two_words(vendor_key, words),
        }
    }
    family
}

fn family_two_words(vendor_key: &str, words: &[&str]) -> Option<Family> {
    let mut family = None;
    let mut i = 0;
    while i < words.len() {
        let one = compact(words[i]);
        if one.is_empty() || FAMILY_FILLER.contains(&one.as_str()) || words[i].contains('*') {
            i += 1;
            continue;
        }
        let two = words.get(i + 1).map(|w| format!("{one}{}", compact(w)));
        let hit = |t: &str| {
            FAMILY_NAMES
                .iter()
                .find(|(v, name, _)| *v == vendor_key && t == *name)
                .map(|(_, _, f)| *f)
        };
        if let Some(f) = two.as_deref().and_then(hit) {
            if family.is_some_and(|g| g != f) {
                return None;
            }
            family = Some(f);
            i += 2;
        } else {
            return None;
        }
    }
    family
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_aliases() {
        for (a, b) in [
            ("Siemens", "Siemens AG"),
            ("Rockwell Automation", "Allen-Bradley"),
            ("Rockwell Automation/Allen-Bradley", "Rockwell Automation"),
            ("Schneider Electric", "Schneider"),
            ("Schneider Electric Software, LLC", "Schneider Electric "),
            ("Johnson Controls, Inc.", "Johnson Controls Inc"),
        ] {
            assert_eq!(vendor_key(a), vendor_key(b), "{a} = {b}");
        }
        assert_ne!(vendor_key("Siemens"), vendor_key("Schneider Electric"));
        assert_eq!(vendor_key(""), "");
    }

    #[test]
    fn vendor_names_are_one_spelling() {
        for (raw, shown) in [
            ("Siemens AG", "Siemens"),
            ("SIEMENS", "Siemens"),
            ("Rockwell Automation/Allen-Bradley", "Rockwell Automation"),
            ("PHOENIX CONTACT Electronics GmbH", "Phoenix Contact"),
            ("Phoenix Contact GmbH & Co. KG", "Phoenix Contact"),
            ("WAGO Kontakttechnik GmbH & Co. KG", "WAGO"),
            ("Johnson Controls, Inc.", "Johnson Controls"),
            ("Intel Corporate", "Intel"),
            ("3COM", "3Com"),
            ("Apple, Inc.", "Apple"),
            ("Hon Hai Precision Ind. Co.,Ltd.", "Hon Hai Precision Ind."),
            ("Kieback & Peter GmbH & Co KG", "Kieback & Peter"),
            ("NEC Platforms, Ltd.", "NEC Platforms"),
            ("TP-LINK TECHNOLOGIES CO.,LTD.", "TP-Link"),
            ("D-Link Systems, INC.", "D-Link"),
            ("D-Link Corporation", "D-Link"),
            ("ASUSTek COMPUTER INC.", "ASUSTek Computer"),
            ("HIRSCHMANN AUTOMATION", "Hirschmann"),
            ("GRANDSTREAM NETWORKS, INC.", "Grandstream Networks"),
            ("Corporation", "Corporation"),
        ] {
            assert_eq!(vendor_name(raw), shown, "{raw}");
            // The shown name is matched like the raw one.
            assert_eq!(vendor_key(&vendor_name(raw)), vendor_key(raw), "{raw}");
        }
    }

    #[test]
    fn order_numbers_compact_the_same() {
        assert_eq!(
            compact("6ES7 315-2EH14-0AB0"),
            compact("6ES7315-2EH14-0AB0")
        );
        assert_eq!(compact("140 CPU 311 10"), "140CPU31110");
    }

    #[test]
    fn rockwell_series() {
        assert_eq!(split_series("1756-ENBT/A"), ("1756-ENBT", Some('A')));
        assert_eq!(split_series("1756-ENBT"), ("1756-ENBT", None));
        assert_eq!(split_series("CPU 315-2 PN/DP"), ("CPU 315-2 PN/DP", None));
    }

    #[test]
    fn families_from_order_numbers_and_names() {
        let f = |v, m: &str| device_family(v, &compact(m));
        assert_eq!(
            f("siemens", "6ES7 315-2EH14-0AB0"),
            Some(Family::SimaticS7_300)
        );
        assert_eq!(
            f("siemens", "6ES7 151-8AB01-0AB0"),
            Some(Family::SimaticS7_300)
        );
        assert_eq!(f("siemens", "6ES7 321-1BL00-0AA0"), None); // a DI module, not a CPU
        assert_eq!(
            f("siemens", "6ES7 414-3EM07-0AB0"),
            Some(Family::SimaticS7_400)
        );
        assert_eq!(
            f("siemens", "6ES7 511-1AK00-0AB0"),
            Some(Family::SimaticS7_1500)
        );
        assert_eq!(f("siemens", "S7-300EC"), Some(Family::SimaticS7_300));
        assert_eq!(f("siemens", "S7-1500"), Some(Family::SimaticS7_1500));
        assert_eq!(
            f("schneider", "140 CPU 311 10"),
            Some(Family::ModiconQuantum)
        );
        assert_eq!(f("schneider", "BMX P34 2020"), Some(Family::ModiconM340));
        assert_eq!(f("rockwell", "1756-ENBT"), None);
        assert_eq!(f("rockwell", "1756-L83E"), Some(Family::ControlLogix5580));
    }

    #[test]
    fn keys_of_real_product_rows() {
        let k = ProductKeys::of(
            "siemens",
            "SIMATIC S7-300 CPU 315-2 PN/DP (6ES7315-2EH14-0AB0)",
            &["6ES7315-2EH14-0AB0".to_string()],
        );
        assert!(k.tokens.contains("6ES73152EH140AB0"));
        assert_eq!(k.family, None);

        let k = ProductKeys::of(
            "siemens",
            "SIMATIC S7-300 CPU family (incl. related ET200 CPUs and SIPLUS variants)",
            &[],
        );
        assert_eq!(k.family, Some(Family::SimaticS7_300));
        let k = ProductKeys::of("siemens", "SIMATIC S7-1500 Software Controller", &[]);
        assert_eq!(k.family, None);

        let k = ProductKeys::of("schneider", "Modicon M340 CPU (part numbers BMXP34*)", &[]);
        assert_eq!(k.family, Some(Family::ModiconM340));
        assert!(k.prefixes.contains("BMXP34"));
        let k = ProductKeys::of(
            "schneider",
            "Quantum processors with integrated Ethernet COPRO 140CPU65xxxxx",
            &[],
        );
        assert!(k.prefixes.contains("140CPU65"));
        assert_eq!(k.family, None);

        let k = ProductKeys::of(
            "rockwell",
            "1756 ControlLogix EtherNet/IP Communications Modules 1756-EN2T Series A/B/C",
            &[],
        );
        assert!(k.tokens.contains("1756EN2T"));
        assert_eq!(k.series, BTreeSet::from(['A', 'B', 'C']));
        let k = ProductKeys::of("rockwell", "Rockwell Automation ControlLogix 5580", &[]);
        assert_eq!(k.family, Some(Family::ControlLogix5580));
    }
}
