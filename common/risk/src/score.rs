//! Scores a person can check by hand.
//!
//! **Findings.** Each finding about an asset has a severity from 0 to 10 ([`Finding::severity`]):
//! a vulnerability its CVSS base score (halved while it is only *possibly* affecting the asset;
//! +1 when CISA lists it as known exploited), and the other findings the fixed values of
//! [`FindingKind::severity`].
//!
//! **Asset risk** (0-100) = `10 x S x E x C`, rounded to one decimal, where
//! - `S`, severity: the highest finding severity, plus 0.1 for each further finding of
//!   severity 7 or more (at most +1), capped at 10; no findings, no risk;
//! - `E`, exposure: 1.0 when the asset talks to the internet or is reached by remote access,
//!   0.8 when it talks to enterprise assets (Purdue 4-5), else 0.6;
//! - `C`, criticality of its role ([`Role::criticality`]): controllers 1.0, supervisory
//!   systems 0.9, other OT 0.7, IT 0.5.
//!
//! **Site security score** (0-100, higher is better) = `100 x product of (1 - risk_i / 200)` over
//! the site's assets, rounded to a whole number: one asset at risk 80 gives 60; two give 36.
//! Every risky asset lowers it, the riskiest most; an empty site scores 100.
//! Bands: 80-100 good, 60-79 fair, 40-59 poor, 0-39 critical.
//!
//! **Fleet security score** = the mean of its sites' scores, rounded: each plant counts once
//! (a product over every asset of a large fleet would always read critical).

/// What an asset is for, as far as risk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// PLCs, RTUs, IEDs, I/O modules, safety systems: they move the process.
    Controller,
    /// HMIs, SCADA servers, engineering workstations, historians, OPC servers.
    Supervisory,
    /// Other OT devices (building controllers, switches, routers, IoT, unknown in OT).
    #[default]
    OtOther,
    /// Office IT hosts.
    It,
}

impl Role {
    /// The role of a report's `device_type`.
    pub fn of_device_type(t: &str) -> Role {
        match t {
            "plc" | "rtu" | "ied" | "io_module" | "safety_controller" => Role::Controller,
            "hmi" | "scada_server" | "engineering_workstation" | "historian" | "opc_server" => {
                Role::Supervisory
            }
            "it_host" => Role::It,
            _ => Role::OtOther,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Controller => "controller",
            Role::Supervisory => "supervisory",
            Role::OtOther => "ot_other",
            Role::It => "it",
        }
    }

    /// `C` of the asset risk formula.
    pub fn criticality(self) -> f64 {
        match self {
            Role::Controller => 1.0,
            Role::Supervisory => 0.9,
            Role::OtOther => 0.7,
            Role::It => 0.5,
        }
    }
}

/// Kinds of finding, with their fixed severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// A vulnerability from an advisory; its severity comes from CVSS.
    Vulnerability,
    /// A login in cleartext was seen (user name, never the secret).
    CleartextCredentials,
    /// Remote access (RDP, VNC, SSH, Telnet) into Purdue level 0-2.
    RemoteAccessIntoControl,
    /// Traffic with an internet address.
    InternetConnection,
    /// An insecure protocol setting (OPC UA security mode None, ...).
    InsecureSetting,
    /// Writes or program changes from level 3 or above.
    WritesFromAbove,
    /// Firmware an advisory calls end of life.
    EndOfLife,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Vulnerability => "vulnerability",
            FindingKind::CleartextCredentials => "cleartext_credentials",
            FindingKind::RemoteAccessIntoControl => "remote_access_into_control",
            FindingKind::InternetConnection => "internet_connection",
            FindingKind::InsecureSetting => "insecure_setting",
            FindingKind::WritesFromAbove => "writes_from_above",
            FindingKind::EndOfLife => "end_of_life",
        }
    }

    /// The fixed severity of non-vulnerability findings (0-10).
    pub fn severity(self) -> f64 {
        match self {
            FindingKind::Vulnerability => 0.0,
            FindingKind::CleartextCredentials => 6.0,
            FindingKind::RemoteAccessIntoControl => 7.0,
            FindingKind::InternetConnection => 8.0,
            FindingKind::InsecureSetting => 5.0,
            FindingKind::WritesFromAbove => 5.0,
            FindingKind::EndOfLife => 5.0,
        }
    }
}

/// One finding about an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    /// For vulnerabilities: the CVSS base score (0-10).
    pub cvss: f64,
    /// For vulnerabilities: only possibly affecting the asset (firmware unknown, range unclear).
    pub possible: bool,
    /// For vulnerabilities: in CISA's known exploited list.
    pub kev: bool,
}

impl Finding {
    /// A finding of a fixed-severity kind.
    pub fn of(kind: FindingKind) -> Finding {
        Finding {
            kind,
            cvss: 0.0,
            possible: false,
            kev: false,
        }
    }

    /// A vulnerability finding.
    pub fn vulnerability(cvss: f64, possible: bool, kev: bool) -> Finding {
        Finding {
            kind: FindingKind::Vulnerability,
            cvss,
            possible,
            kev,
        }
    }

    /// This finding's severity (0-10).
    pub fn severity(&self) -> f64 {
        match self.kind {
            FindingKind::Vulnerability => {
                let base = self.cvss.clamp(0.0, 10.0);
                let s = if self.possible { base / 2.0 } else { base };
                (s + if self.kev { 1.0 } else { 0.0 }).min(10.0)
            }
            k => k.severity(),
        }
    }
}

/// Exposure of an asset (`E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Talks to the internet, or is reached by remote access.
    External,
    /// Talks to enterprise assets (Purdue 4-5).
    Enterprise,
    /// Only within the OT levels.
    Internal,
}

impl Exposure {
    pub fn as_str(self) -> &'static str {
        match self {
            Exposure::External => "external",
            Exposure::Enterprise => "enterprise",
            Exposure::Internal => "internal",
        }
    }

    pub fn factor(self) -> f64 {
        match self {
            Exposure::External => 1.0,
            Exposure::Enterprise => 0.8,
            Exposure::Internal => 0.6,
        }
    }
}

/// Rounds to one decimal.
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The asset risk (0-100) of the module formula.
pub fn asset_risk(findings: &[Finding], exposure: Exposure, role: Role) -> f64 {
    let mut sev: Vec<f64> = findings.iter().map(Finding::severity).collect();
    if sev.is_empty() {
        return 0.0;
    }
    sev.sort_by(|a, b| b.total_cmp(a));
    let more = sev.iter().skip(1).filter(|&&s| s >= 7.0).count() as f64;
    let s = (sev[0] + (0.1 * more).min(1.0)).min(10.0);
    tenth((10.0 * s * exposure.factor() * role.criticality()).min(100.0))
}

/// How a site's security score reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    Good,
    Fair,
    Poor,
    Critical,
}

impl Band {
    pub fn of(score: u32) -> Band {
        match score {
            80.. => Band::Good,
            60..=79 => Band::Fair,
            40..=59 => Band::Poor,
            _ => Band::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Good => "good",
            Band::Fair => "fair",
            Band::Poor => "poor",
            Band::Critical => "critical",
        }
    }
}

/// A site's (or the fleet's) security score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteScore {
    pub score: u32,
    pub band: Band,
}

/// The security score of a site whose assets have these risks.
pub fn site_score(risks: impl IntoIterator<Item = f64>) -> SiteScore {
    let kept: f64 = risks
        .into_iter()
        .map(|r| 1.0 - r.clamp(0.0, 100.0) / 200.0)
        .product();
    let score = (100.0 * kept).round() as u32;
    SiteScore {
        score,
        band: Band::of(score),
    }
}

/// A fleet's security score: the mean of its sites' scores, rounded (100 without sites).
pub fn fleet_score(site_scores: impl IntoIterator<Item = u32>) -> SiteScore {
    let (sum, n) = site_scores
        .into_iter()
        .fold((0u64, 0u64), |(s, n), x| (s + u64::from(x), n + 1));
    let score = if n == 0 {
        100
    } else {
        ((sum as f64) / (n as f64)).round() as u32
    };
    SiteScore {
        score,
        band: Band::of(score),
    }
}
