//! The alert catalog: every built-in kind with its severity, MITRE ATT&CK for ICS techniques
//! and what it means. `docs/DETECTION.md` is this table for humans; a test keeps them equal.

use otwatch_common::observation::Operation;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Text that is usually a compile-time constant (kind, protocol, evidence field names) but
/// may come from a file (rule names) or the store.
pub type Text = Cow<'static, str>;

/// How serious an alert is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A built-in alert kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    PlcProgramDownload,
    PlcProgramUpload,
    PlcProgramDelete,
    FirmwareUpdate,
    PlcStop,
    PlcStart,
    DeviceRestart,
    PlcConfigChange,
    CleartextCredentials,
    BruteForce,
    RemoteAccessSession,
    ScanDetected,
    Flood,
    ArpSpoofing,
    IpConflict,
    InternetConnection,
    ProtocolViolation,
    IocMatch,
    NewAsset,
    NewConversation,
    UnauthorizedWrite,
    NewOperation,
    UnknownProtocolInOtZone,
}

/// What the catalog says about a kind.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub kind: Kind,
    pub name: &'static str,
    pub severity: Severity,
    pub mitre: &'static [&'static str],
    /// Raised only once a policy exists.
    pub needs_policy: bool,
    pub meaning: &'static str,
}

macro_rules! catalog {
    ($( $kind:ident $name:literal $sev:ident [$($m:literal),*] $policy:literal $meaning:literal; )*) => {
        /// Every built-in kind.
        pub const CATALOG: &[Entry] = &[
            $( Entry {
                kind: Kind::$kind,
                name: $name,
                severity: Severity::$sev,
                mitre: &[$($m),*],
                needs_policy: $policy,
                meaning: $meaning,
            }, )*
        ];
    };
}

catalog! {
    PlcProgramDownload "plc_program_download" High ["T0843"] false
        "A program, block or configuration file was written to a controller.";
    PlcProgramUpload "plc_program_upload" Medium ["T0845"] false
        "A program or block was read out of a controller (reconnaissance or theft of logic).";
    PlcProgramDelete "plc_program_delete" High ["T0809", "T0889"] false
        "A program block or file was deleted on a controller.";
    FirmwareUpdate "firmware_update" High ["T0839", "T0857"] false
        "Firmware was sent to a device or a firmware update was started.";
    PlcStop "plc_stop" Critical ["T0858", "T0881"] false
        "A controller was told to stop executing its program.";
    PlcStart "plc_start" High ["T0858"] false
        "A controller was told to start (or restart) its program.";
    DeviceRestart "device_restart" High ["T0816"] false
        "A device was told to restart, reset or reinitialise.";
    PlcConfigChange "plc_config_change" Medium ["T0836"] false
        "A write that changes how a device runs or is reached: network settings, clock, security settings, station name, factory reset, communication control.";
    CleartextCredentials "cleartext_credentials" Medium ["T0859"] false
        "A user name and secret crossed the network unencrypted (the secret is never recorded).";
    BruteForce "brute_force" High ["T0859"] false
        "Many failed logins (or many short login sessions) from one client to one server.";
    RemoteAccessSession "remote_access_session" Medium ["T0886"] false
        "An interactive remote access session (SSH, RDP, VNC, Telnet) to or from a level 0-2 asset.";
    ScanDetected "scan_detected" High ["T0846", "T0840"] false
        "One source probed many hosts or many ports in a short time (host sweep, port scan, ARP sweep, ICS discovery).";
    Flood "flood" High ["T0814"] false
        "Many unanswered attempts at one host in a short time (SYN or UDP flood, often from spoofed sources), or a flood of new flows or addresses that filled the sensor's tables (evictions counted in stats.limits).";
    ArpSpoofing "arp_spoofing" Critical ["T0830"] false
        "A MAC address claimed an IP address another MAC holds, while also claiming its own, or sent a storm of gratuitous ARPs.";
    IpConflict "ip_conflict" Medium [] false
        "Two devices use the same IP address.";
    InternetConnection "internet_connection" High ["T0883"] false
        "An asset at Purdue level 0-3 exchanged traffic with a global (internet) address.";
    ProtocolViolation "protocol_violation" Medium [] false
        "A message broke its protocol's rules (the dissector's reason is the evidence): fuzzing, exploitation or a broken device.";
    IocMatch "ioc_match" High [] false
        "An address or name matched an indicator of compromise.";
    NewAsset "new_asset" Medium ["T0864"] true
        "A device the policy does not know appeared.";
    NewConversation "new_conversation" Low [] true
        "Two assets talked with a protocol or port the policy does not list for them.";
    UnauthorizedWrite "unauthorized_write" High ["T0855", "T0848"] true
        "A write or control operation from a client that never wrote to that server while the policy was learned.";
    NewOperation "new_operation" Medium ["T0855"] true
        "A function code or operation never seen on that pair while the policy was learned.";
    UnknownProtocolInOtZone "unknown_protocol_in_ot_zone" Medium ["T0869"] true
        "A level 0-2 asset used a protocol the policy never saw in the control zone (or one otwatch does not recognise).";
}

impl Kind {
    pub fn entry(self) -> &'static Entry {
        // Every kind has exactly one catalog row (a test checks it).
        CATALOG
            .iter()
            .find(|e| e.kind == self)
            .unwrap_or(&CATALOG[0])
    }

    pub fn name(self) -> &'static str {
        self.entry().name
    }

    pub fn severity(self) -> Severity {
        self.entry().severity
    }

    pub fn mitre(self) -> Vec<Text> {
        self.entry()
            .mitre
            .iter()
            .map(|m| std::borrow::Cow::Borrowed(*m))
            .collect()
    }

    pub fn parse(s: &str) -> Option<Kind> {
        CATALOG.iter().find(|e| e.name == s).map(|e| e.kind)
    }

    /// The kind raised for a device-changing operation, without a policy. Reads, identify,
    /// diagnostics, plain writes and controls are not alerts by themselves (a policy turns
    /// unusual ones into `unauthorized_write`/`new_operation`); time sync and file transfer
    /// depend on context and are decided by the detector.
    pub fn of_operation(op: Operation) -> Option<Kind> {
        Some(match op {
            Operation::ProgramDownload => Kind::PlcProgramDownload,
            Operation::ProgramUpload => Kind::PlcProgramUpload,
            Operation::ProgramDelete => Kind::PlcProgramDelete,
            Operation::FirmwareUpdate => Kind::FirmwareUpdate,
            Operation::CpuStop => Kind::PlcStop,
            Operation::CpuStart => Kind::PlcStart,
            Operation::Restart => Kind::DeviceRestart,
            Operation::ConfigChange | Operation::TimeSync => Kind::PlcConfigChange,
            _ => return None,
        })
    }
}

/// The catalog as a markdown table (docs/DETECTION.md carries it).
pub fn markdown_table() -> String {
    let mut s = String::from(
        "| kind | severity | MITRE ATT&CK for ICS | needs a policy | meaning |\n|---|---|---|---|---|\n",
    );
    for e in CATALOG {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            e.name,
            e.severity.as_str(),
            e.mitre.join(", "),
            if e.needs_policy { "yes" } else { "no" },
            e.meaning
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_row_and_unique_name() {
        let mut names: Vec<&str> = CATALOG.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        for e in CATALOG {
            assert_eq!(e.kind.entry().name, e.name);
            assert_eq!(Kind::parse(e.name), Some(e.kind));
        }
        assert_eq!(CATALOG.len(), 23);
    }

    #[test]
    fn detection_doc_lists_the_catalog() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/DETECTION.md"
        ))
        .expect("docs/DETECTION.md exists");
        assert!(
            doc.contains(&markdown_table()),
            "docs/DETECTION.md must contain the catalog table as printed by \
             detect::catalog::markdown_table(); paste it in:\n{}",
            markdown_table()
        );
    }
}
