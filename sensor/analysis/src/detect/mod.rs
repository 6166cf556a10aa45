//! Detection: alerts from the same observations the inventory folds in.
//!
//! A tour:
//! - [`catalog`]: every built-in alert kind with its severity and MITRE ATT&CK for ICS ids.
//! - [`alerts`]: the alert book (repeats fold into one alert, rate limits, cap, stable ids).
//! - [`Detector`]: runs beside the inventory in the sans-IO pipeline. It sees each
//!   observation, flow summary and ARP packet and raises, without any baseline, operations on
//!   controllers (`plc_stop`, `plc_program_download`, …), cleartext credentials, brute force,
//!   scans ([`scan`]), ARP spoofing and IP conflicts ([`arp`]), protocol violations and
//!   indicator matches ([`ioc`]); with a [`policy`], deviations from it; and analyst
//!   [`rules`].
//! - [`derive`]: alerts that need the finished inventory (Purdue levels): remote access to
//!   the control zone, internet connections, new assets, unknown protocols in the OT zone.
//!
//! Time is packet time and every table is bounded, so the same capture gives the same alerts
//! and a flood cannot exhaust memory.

pub mod alerts;
pub mod arp;
pub mod catalog;
pub mod derive;
pub mod flood;
pub mod ioc;
pub mod policy;
pub mod rules;
pub mod scan;
pub mod text;

use crate::decode::{ArpRepr, Lan};
use crate::flow::FlowSummary;
use crate::hash::Map;
use crate::inventory::facts::HostKey;
use crate::protocols::source;
use crate::protocols::{FlowCtx, Transport};
use alerts::{About, Addr, AlertBook, AlertKey, BookLimits, Describe, Severity, Text};
use catalog::Kind;
use otwatch_common::observation::{Access, Field, Observation, Operation};
use otwatch_common::{Mac, Timestamp};
use serde::Deserialize;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// Detection settings (`[detect]` in sensor.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectSettings {
    /// Detection on (the default) or off (inventory only).
    pub enabled: bool,
    /// Repeats of an alert within this many seconds of its last occurrence count up that
    /// alert; later ones begin a new alert.
    pub window_secs: u64,
    /// New alerts per kind per minute (packet time); more are counted as rate limited.
    pub max_new_per_kind_per_minute: u32,
    /// Alerts kept by the sensor; beyond, the least severe and quietest are evicted.
    pub max_alerts: usize,
    /// Scans: distinct hosts, or ports of one host, probed without answer within the window.
    pub scan_hosts: usize,
    pub scan_ports: usize,
    /// Distinct industrial servers asked to identify themselves within the window.
    pub scan_ics_hosts: usize,
    pub scan_window_secs: u64,
    /// Brute force: refused logins from one client to one server within the window.
    pub brute_force_failures: u32,
    /// Brute force on encrypted logins (SSH, RDP): short sessions within the window.
    pub brute_force_sessions: u32,
    pub brute_force_window_secs: u64,
    /// Gratuitous ARPs from one MAC within 10 s that make a storm.
    pub arp_storm: u32,
    /// Distinct IPs one MAC asks for within 10 s that make an ARP sweep.
    pub arp_sweep: usize,
    /// Floods: unanswered attempts at one host within the window.
    pub flood_attempts: u32,
    pub flood_window_secs: u64,
}

impl Default for DetectSettings {
    fn default() -> Self {
        DetectSettings {
            enabled: true,
            window_secs: 3600,
            max_new_per_kind_per_minute: 200,
            max_alerts: 50_000,
            scan_hosts: 25,
            scan_ports: 25,
            scan_ics_hosts: 3,
            scan_window_secs: 60,
            brute_force_failures: 10,
            brute_force_sessions: 5,
            brute_force_window_secs: 300,
            arp_storm: 50,
            arp_sweep: 64,
            flood_attempts: 2000,
            flood_window_secs: 10,
        }
    }
}

impl DetectSettings {
    /// Checks the values; the error says which setting and why.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("window_secs", self.window_secs as usize),
            (
                "max_new_per_kind_per_minute",
                self.max_new_per_kind_per_minute as usize,
            ),
            ("max_alerts", self.max_alerts),
            ("scan_hosts", self.scan_hosts),
            ("scan_ports", self.scan_ports),
            ("scan_ics_hosts", self.scan_ics_hosts),
            ("scan_window_secs", self.scan_window_secs as usize),
            ("brute_force_failures", self.brute_force_failures as usize),
            ("brute_force_sessions", self.brute_force_sessions as usize),
            (
                "brute_force_window_secs",
                self.brute_force_window_secs as usize,
            ),
            ("arp_storm", self.arp_storm as usize),
            ("arp_sweep", self.arp_sweep),
            ("flood_attempts", self.flood_attempts as usize),
            ("flood_window_secs", self.flood_window_secs as usize),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("detect.{name} must be at least 1"));
            }
        }
        Ok(())
    }

    pub fn book_limits(&self) -> BookLimits {
        BookLimits {
            window_ns: self.window_secs.saturating_mul(1_000_000_000),
            per_kind_per_minute: self.max_new_per_kind_per_minute,
            max_alerts: self.max_alerts,
        }
    }

    fn flood_limits(&self) -> flood::FloodLimits {
        flood::FloodLimits {
            attempts: self.flood_attempts,
            window_ns: self.flood_window_secs.saturating_mul(1_000_000_000),
            ..flood::FloodLimits::default()
        }
    }

    fn scan_limits(&self) -> scan::ScanLimits {
        scan::ScanLimits {
            hosts: self.scan_hosts,
            ports: self.scan_ports,
            ics_hosts: self.scan_ics_hosts,
            window_ns: self.scan_window_secs.saturating_mul(1_000_000_000),
            ..scan::ScanLimits::default()
        }
    }

    fn arp_limits(&self) -> arp::ArpLimits {
        arp::ArpLimits {
            storm: self.arp_storm,
            sweep: self.arp_sweep,
            ..arp::ArpLimits::default()
        }
    }
}

/// Everything detection is configured with: settings, the policy, rules and indicators.
#[derive(Debug, Clone, Default)]
pub struct DetectConfig {
    pub settings: DetectSettings,
    pub policy: Option<policy::Policy>,
    pub rules: rules::RuleSet,
    pub iocs: ioc::IocSet,
}

/// A detection configuration shared by the threads of a run and swapped whole (rules
/// reloaded on SIGHUP, a policy learned live). Threads look at the version once per batch.
#[derive(Debug)]
pub struct SharedConfig {
    cur: std::sync::RwLock<Arc<DetectConfig>>,
    version: std::sync::atomic::AtomicU64,
}

impl SharedConfig {
    pub fn new(cfg: Arc<DetectConfig>) -> SharedConfig {
        SharedConfig {
            cur: std::sync::RwLock::new(cfg),
            version: std::sync::atomic::AtomicU64::new(1),
        }
    }

    pub fn get(&self) -> Arc<DetectConfig> {
        match self.cur.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn set(&self, cfg: Arc<DetectConfig>) {
        match self.cur.write() {
            Ok(mut g) => *g = cfg,
            Err(p) => *p.into_inner() = cfg,
        }
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Brings `d` up to date; `seen` is the version it has.
    pub fn refresh(&self, d: &mut Detector, seen: &mut u64) {
        let v = self.version();
        if v != *seen {
            *seen = v;
            d.set_config(self.get());
        }
    }
}

/// Protocols whose clock synchronisation is routine when it comes from the usual master.
const ROUTINE_TIME_SYNC: &[&str] = &["dnp3", "iec104", "bacnet"];
/// Protocols with interactive logins that cannot be read (encrypted): brute force shows as
/// many short sessions.
const ENCRYPTED_LOGINS: &[&str] = &["ssh", "rdp"];
/// Servers tracked for the usual time master and for login failures.
const MAX_TRACKED: usize = 1 << 16;

/// `a` in `lan`.
fn ip_in(lan: Lan, a: IpAddr) -> Addr {
    Addr::Ip(HostKey::new(lan, a))
}

fn t(s: &'static str) -> Text {
    Cow::Borrowed(s)
}

/// Refused logins (or short encrypted sessions) of one client to one server in a window.
#[derive(Debug, Default)]
struct LoginCount {
    start: Timestamp,
    n: u32,
    users: Vec<String>,
}

/// What a built-in alert is about: its kind (and severity, the catalog's unless a finding
/// says otherwise), the pair of addresses, the protocol, a kind-specific discriminator that
/// keeps different findings on one pair apart, the packet time and which end the alert's
/// asset is.
#[derive(Debug, Clone, Copy)]
struct Hit {
    kind: Kind,
    severity: Severity,
    src: Addr,
    dst: Addr,
    protocol: &'static str,
    extra: u64,
    ts: Timestamp,
    about: About,
}

impl Hit {
    fn new(
        kind: Kind,
        src: Addr,
        dst: Addr,
        protocol: &'static str,
        ts: Timestamp,
        about: About,
    ) -> Hit {
        Hit {
            kind,
            severity: kind.severity(),
            src,
            dst,
            protocol,
            extra: 0,
            ts,
            about,
        }
    }

    fn severity(self, severity: Severity) -> Hit {
        Hit { severity, ..self }
    }

    fn extra(self, extra: u64) -> Hit {
        Hit { extra, ..self }
    }
}

/// The sans-IO detector. One per pipeline; alerts go into the inventory's alert book.
#[derive(Debug)]
pub struct Detector {
    cfg: Arc<DetectConfig>,
    lim: BookLimits,
    scan_lim: scan::ScanLimits,
    arp_lim: arp::ArpLimits,
    scans: scan::ScanWatch,
    flood_lim: flood::FloodLimits,
    floods: flood::FloodWatch,
    /// Packet time of the last "tables full" alert, and the evictions it had counted.
    overload: (Timestamp, u64),
    arp: arp::ArpWatch,
    /// Server → the client that first synchronised its clock.
    time_masters: Map<IpAddr, IpAddr>,
    logins: Map<(IpAddr, IpAddr, &'static str), LoginCount>,
    /// (rule index, src, dst) → (window start, events).
    rule_counts: Map<(usize, Addr, Addr), (Timestamp, u32)>,
    /// Industrial flows: bit 0 the client asked the server to identify itself, bit 1 it did
    /// anything else. A flow that only identified is a discovery probe.
    flow_ops: Map<(IpAddr, u16, IpAddr, u16), u8>,
    /// (client, server, server port, protocol name address) → the policy's conversation: one
    /// small lookup per observation instead of a search.
    conv_cache: Map<(IpAddr, IpAddr, u16, usize), Option<u32>>,
    /// Fingerprints of (flow, operation, function code) the policy was found to know: polling
    /// repeats the same few requests, so most observations end at one look here.
    known: Vec<u64>,
    findings: Vec<arp::Finding>,
    /// The capture segment and VLAN of the event being handled (a flow, an observation, an
    /// ARP packet): alerts name addresses in it.
    lan: Lan,
}

/// Slots of [`Detector::known`] (a power of two).
const KNOWN_SLOTS: usize = 4096;

fn fingerprint(
    ctx: &FlowCtx,
    protocol: &'static str,
    op: Option<Operation>,
    fc: Option<u32>,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    (
        ctx.client.ip,
        ctx.client.port,
        ctx.server.ip,
        ctx.server.port,
    )
        .hash(&mut h);
    (protocol.as_ptr() as usize, op.map(|o| o as u8), fc).hash(&mut h);
    h.finish() | 1
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new(Arc::new(DetectConfig::default()))
    }
}

/// Where an observation came from, as detection needs it.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Flow {
        ctx: &'a FlowCtx,
        /// The flow's capture segment and VLAN: the LAN of its addresses.
        lan: Lan,
        protocol: &'static str,
    },
    /// A link-layer frame (PROFINET DCP, LLDP) between two MACs.
    Frame {
        src: Mac,
        dst: Option<Mac>,
        ts: Timestamp,
        protocol: &'static str,
    },
}

impl Source<'_> {
    fn ts(&self) -> Timestamp {
        match self {
            Source::Flow { ctx, .. } => ctx.ts,
            Source::Frame { ts, .. } => *ts,
        }
    }

    fn protocol(&self) -> &'static str {
        match self {
            Source::Flow { protocol, .. } | Source::Frame { protocol, .. } => protocol,
        }
    }

    fn src(&self) -> Addr {
        match self {
            Source::Flow { ctx, lan, .. } => ip_in(*lan, ctx.client.ip),
            Source::Frame { src, .. } => Addr::Mac(*src),
        }
    }

    fn dst(&self) -> Addr {
        match self {
            Source::Flow { ctx, lan, .. } => ip_in(*lan, ctx.server.ip),
            Source::Frame { dst, .. } => {
                dst.filter(|m| m.is_unicast()).map_or(Addr::None, Addr::Mac)
            }
        }
    }

    fn flow(&self) -> Option<&FlowCtx> {
        match self {
            Source::Flow { ctx, .. } => Some(ctx),
            Source::Frame { .. } => None,
        }
    }

    /// The LAN of the addresses; frames name MACs only.
    fn lan(&self) -> Lan {
        match self {
            Source::Flow { lan, .. } => *lan,
            Source::Frame { .. } => Lan::NONE,
        }
    }
}

fn transport_number(t: Transport) -> u8 {
    match t {
        Transport::Tcp => 6,
        Transport::Udp => 17,
    }
}

impl Detector {
    pub fn new(cfg: Arc<DetectConfig>) -> Detector {
        let s = &cfg.settings;
        Detector {
            lim: s.book_limits(),
            scan_lim: s.scan_limits(),
            arp_lim: s.arp_limits(),
            flood_lim: s.flood_limits(),
            cfg,
            scans: scan::ScanWatch::default(),
            floods: flood::FloodWatch::default(),
            overload: (Timestamp::ZERO, 0),
            arp: arp::ArpWatch::default(),
            time_masters: Map::default(),
            logins: Map::default(),
            rule_counts: Map::default(),
            flow_ops: Map::default(),
            conv_cache: Map::default(),
            known: vec![0; KNOWN_SLOTS],
            findings: Vec::new(),
            lan: Lan::NONE,
        }
    }

    /// `a` in the LAN of the event being handled.
    fn at(&self, a: IpAddr) -> Addr {
        ip_in(self.lan, a)
    }

    /// A hit between client `c` and server `s` in the LAN of the event being handled, about
    /// the server.
    fn to_server(
        &self,
        kind: Kind,
        c: IpAddr,
        s: IpAddr,
        protocol: &'static str,
        ts: Timestamp,
    ) -> Hit {
        Hit::new(kind, self.at(c), self.at(s), protocol, ts, About::Dst)
    }

    /// Uses a new configuration (rules reloaded, a policy learned); counters carry on.
    pub fn set_config(&mut self, cfg: Arc<DetectConfig>) {
        let s = &cfg.settings;
        self.lim = s.book_limits();
        self.scan_lim = s.scan_limits();
        self.flood_lim = s.flood_limits();
        self.arp_lim = s.arp_limits();
        self.rule_counts.clear();
        self.conv_cache.clear();
        self.known.iter_mut().for_each(|k| *k = 0);
        self.cfg = cfg;
    }

    pub fn config(&self) -> &Arc<DetectConfig> {
        &self.cfg
    }

    pub fn limits(&self) -> &BookLimits {
        &self.lim
    }

    /// Raises one built-in alert and applies the policy's allowances.
    fn raise(
        &self,
        book: &mut AlertBook,
        hit: Hit,
        title: impl FnOnce() -> String,
        evidence: impl FnOnce() -> Vec<(Text, String)>,
    ) {
        let Hit {
            kind,
            severity,
            src,
            dst,
            protocol,
            extra,
            ts,
            about,
        } = hit;
        let mut key = AlertKey::new(kind, src, dst, protocol);
        key.extra = extra;
        let allowed = self
            .cfg
            .policy
            .as_ref()
            .is_some_and(|p| p.allows(kind.name(), src, dst));
        let made = book.raise(&self.lim, key.clone(), ts, severity, evidence, || {
            Describe {
                title: title(),
                description: kind.entry().meaning.to_string(),
                mitre: kind.mitre(),
                about,
                requires: None,
            }
        });
        if allowed && (made || book.get(&key).is_some_and(|a| a.severity > Severity::Low)) {
            book.cap_severity(&key, Severity::Low, ALLOWED_NOTE);
        }
    }

    /// One observation, before the inventory folds it in.
    pub fn observe(&mut self, book: &mut AlertBook, src: Source<'_>, obs: &Observation) {
        self.lan = src.lan();
        match obs {
            Observation::Operation {
                op,
                function_code,
                details,
            } => {
                self.operation(book, src, *op, *function_code, details);
                self.policy_operation(book, src, Some(*op), *function_code);
                self.rules(book, src, rules::On::Operation, Some(*op), *function_code);
            }
            Observation::FunctionCode(fc) => {
                self.policy_operation(book, src, None, Some(*fc));
                self.rules(book, src, rules::On::Operation, None, Some(*fc));
            }
            Observation::Access(a) if a.op.changes_device() => self.access_write(book, src, a),
            Observation::CleartextLogin { user, protocol } => {
                let user = user.clone();
                let proto = *protocol;
                let ts = src.ts();
                self.raise(
                    book,
                    Hit::new(
                        Kind::CleartextCredentials,
                        src.src(),
                        src.dst(),
                        proto,
                        ts,
                        About::Dst,
                    ),
                    || {
                        if user.is_empty() {
                            format!("Cleartext {proto} credentials")
                        } else {
                            format!("Cleartext {proto} login as {user:?}")
                        }
                    },
                    || {
                        vec![
                            (t("user"), user.clone()),
                            (t("protocol"), proto.to_string()),
                            (t("packet_time"), ts.rfc3339()),
                        ]
                    },
                );
                self.rules(book, src, rules::On::Login, None, None);
            }
            Observation::AuthFailure { user, protocol } => {
                self.auth_failure(book, src, user, protocol);
                self.rules(book, src, rules::On::Login, None, None);
            }
            Observation::Lookup { name, via } => self.name_indicator(book, src, name, via, None),
            Observation::Identity {
                field: Field::Hostname,
                value,
                source: source::DNS_ANSWER,
                subject: otwatch_common::observation::Subject::Ip(ip),
            } if !self.cfg.iocs.is_empty() => {
                let via = source::DNS_ANSWER.name;
                self.name_indicator(book, src, value, via, Some(*ip));
            }
            Observation::ProtocolViolation { protocol, reason } => {
                let (proto, reason) = (*protocol, reason.clone());
                let severity = Kind::ProtocolViolation.severity();
                let ts = src.ts();
                self.raise(
                    book,
                    Hit::new(
                        Kind::ProtocolViolation,
                        src.src(),
                        src.dst(),
                        proto,
                        ts,
                        About::Dst,
                    )
                    .severity(severity),
                    || format!("Malformed {proto} traffic"),
                    || {
                        vec![
                            (t("reason"), reason.clone()),
                            (t("packet_time"), ts.rfc3339()),
                        ]
                    },
                );
                self.rules(book, src, rules::On::Violation, None, None);
            }
            _ => {}
        }
    }

    /// Operations on controllers, raised without any baseline.
    fn operation(
        &mut self,
        book: &mut AlertBook,
        src: Source<'_>,
        op: Operation,
        fc: Option<u32>,
        details: &[(&'static str, String)],
    ) {
        let protocol = src.protocol();
        let detail = |k: &str| {
            details
                .iter()
                .find(|(f, _)| *f == k)
                .map(|(_, v)| v.as_str())
        };
        let kind = match op {
            Operation::TimeSync => {
                if let (Some(ctx), true) = (src.flow(), ROUTINE_TIME_SYNC.contains(&protocol)) {
                    if self.time_masters.len() >= MAX_TRACKED {
                        self.time_masters.clear();
                    }
                    let master = *self
                        .time_masters
                        .entry(ctx.server.ip)
                        .or_insert(ctx.client.ip);
                    if master == ctx.client.ip {
                        return;
                    }
                }
                Some(Kind::PlcConfigChange)
            }
            Operation::FileTransfer => match detail("file_op") {
                _ if !crate::inventory::classify::is_controller_protocol(protocol) => None,
                Some("write") => Some(Kind::PlcProgramDownload),
                Some("read") => Some(Kind::PlcProgramUpload),
                Some("delete") => Some(Kind::PlcProgramDelete),
                _ => None,
            },
            _ => Kind::of_operation(op),
        };
        let Some(kind) = kind else { return };
        let mut severity = kind.severity();
        if kind == Kind::PlcConfigChange {
            severity = match detail("setting") {
                Some("factory_reset" | "security" | "network") => Severity::High,
                Some("clock") => Severity::Low,
                _ => severity,
            };
            if op == Operation::TimeSync {
                // Another client than the usual master: someone else took over the clock.
                severity = if ROUTINE_TIME_SYNC.contains(&protocol) {
                    Severity::Medium
                } else {
                    severity.min(Severity::Medium)
                };
            }
        }
        let (s, d, ts) = (src.src(), src.dst(), src.ts());
        let details: Vec<(Text, String)> = details.iter().map(|(k, v)| (t(k), v.clone())).collect();
        let what = describe_op(
            op,
            details
                .iter()
                .find(|(k, _)| k == "setting")
                .map(|x| x.1.as_str()),
        );
        self.raise(
            book,
            Hit::new(kind, s, d, protocol, ts, About::Dst).severity(severity),
            || format!("{what} ({protocol}) on {d} from {s}"),
            || {
                let mut ev = vec![(t("operation"), op.as_str().to_string())];
                if let Some(fc) = fc {
                    ev.push((t("function_code"), fc.to_string()));
                }
                ev.extend(details);
                ev.push((t("packet_time"), ts.rfc3339()));
                ev
            },
        );
        // The policy saw this client do this to this server: known engineering work.
        if let (Some(p), Some(ctx)) = (&self.cfg.policy, src.flow()) {
            let known = p
                .conversation(
                    ctx.client.ip,
                    ctx.server.ip,
                    transport_number(ctx.transport),
                    ctx.server.port,
                    protocol,
                )
                .is_some_and(|(_, c)| c.has_op(op));
            if known {
                let key = AlertKey::new(kind, s, d, protocol);
                book.cap_severity(&key, Severity::Low, ALLOWED_NOTE);
            }
        }
    }

    /// With a policy: writes from clients that never wrote, and operations or function
    /// codes never seen on the pair.
    fn policy_operation(
        &mut self,
        book: &mut AlertBook,
        src: Source<'_>,
        op: Option<Operation>,
        fc: Option<u32>,
    ) {
        if self.cfg.policy.is_none() {
            return;
        }
        let Some(ctx) = src.flow() else { return };
        let fp = fingerprint(ctx, src.protocol(), op, fc);
        let slot = (fp as usize) & (KNOWN_SLOTS - 1);
        if self.known.get(slot) == Some(&fp) {
            return;
        }
        let cfg = self.cfg.clone();
        let Some(p) = cfg.policy.as_ref() else { return };
        let protocol = src.protocol();
        let (c, s) = (ctx.client.ip, ctx.server.ip);
        if self.conv_cache.len() >= MAX_TRACKED {
            self.conv_cache.clear();
        }
        let idx = *self
            .conv_cache
            .entry((c, s, ctx.server.port, protocol.as_ptr() as usize))
            .or_insert_with(|| {
                p.conversation(
                    c,
                    s,
                    transport_number(ctx.transport),
                    ctx.server.port,
                    protocol,
                )
                .and_then(|(i, _)| u32::try_from(i).ok())
            });
        let conv = idx.and_then(|i| p.conversations.get(i as usize));
        // The common case: what the policy saw.
        if let Some(cv) = conv {
            let op_known = op.is_none_or(|o| cv.has_op(o));
            let fc_known = fc.is_none_or(|f| cv.function_codes.is_empty() || cv.has_fc(f));
            if op_known && fc_known {
                if let Some(k) = self.known.get_mut(slot) {
                    *k = fp;
                }
                return;
            }
        }
        let ts = ctx.ts;
        if let Some(op) = op.filter(|o| o.changes_device()) {
            if !p.wrote(c, s) {
                self.raise(
                    book,
                    self.to_server(Kind::UnauthorizedWrite, c, s, protocol, ts),
                    || format!("{c} changed {s} ({protocol}) and never did while the policy was learned"),
                    || request_evidence(Some(op), fc, ts),
                );
                return;
            }
        }
        let Some(conv) = conv else { return };
        let new_op = op.filter(|o| !conv.has_op(*o));
        let new_fc = fc.filter(|f| !conv.has_fc(*f) && !conv.function_codes.is_empty());
        if new_op.is_none() && new_fc.is_none() {
            return;
        }
        let extra = match (new_op, new_fc) {
            (_, Some(f)) => u64::from(f) + 1,
            (Some(o), None) => 0x1_0000_0000 + o as u64,
            (None, None) => 0,
        };
        self.raise(
            book,
            self.to_server(Kind::NewOperation, c, s, protocol, ts)
                .extra(extra),
            || match (new_op, new_fc) {
                (_, Some(f)) => format!("New {protocol} function code {f} from {c} to {s}"),
                (Some(o), None) => {
                    format!("New {protocol} operation {} from {c} to {s}", o.as_str())
                }
                (None, None) => String::new(),
            },
            || request_evidence(op, fc, ts),
        );
    }

    /// A write or command to a data area: evidence for `unauthorized_write`.
    fn access_write(&mut self, book: &mut AlertBook, src: Source<'_>, a: &Access) {
        let Access {
            op,
            unit,
            area,
            block,
            start,
            count,
        } = *a;
        let (Some(p), Some(ctx)) = (self.cfg.policy.as_ref(), src.flow()) else {
            return;
        };
        let (c, s) = (ctx.client.ip, ctx.server.ip);
        if p.wrote(c, s) || count == 0 {
            return;
        }
        let protocol = src.protocol();
        let ts = ctx.ts;
        let range = {
            let end = start.saturating_add(count - 1);
            let area = match block {
                Some(b) => format!("{area}{b}"),
                None => area.to_string(),
            };
            let unit = unit.map(|u| format!("unit {u} ")).unwrap_or_default();
            if end == start {
                format!("{unit}{area} {start}")
            } else {
                format!("{unit}{area} {start}-{end}")
            }
        };
        self.raise(
            book,
            self.to_server(Kind::UnauthorizedWrite, c, s, protocol, ts),
            || format!("{c} changed {s} ({protocol}) and never did while the policy was learned"),
            || {
                vec![
                    (t("operation"), op.as_str().to_string()),
                    (t("written"), range.clone()),
                    (t("packet_time"), ts.rfc3339()),
                ]
            },
        );
    }

    fn auth_failure(
        &mut self,
        book: &mut AlertBook,
        src: Source<'_>,
        user: &str,
        protocol: &'static str,
    ) {
        let Some(ctx) = src.flow() else { return };
        let limit = self.cfg.settings.brute_force_failures;
        let window = self
            .cfg
            .settings
            .brute_force_window_secs
            .saturating_mul(1_000_000_000);
        let Some((n, users)) = self.count_login(ctx, protocol, user, window) else {
            return;
        };
        if n < limit {
            return;
        }
        let (c, s, ts) = (ctx.client.ip, ctx.server.ip, ctx.ts);
        self.raise(
            book,
            self.to_server(Kind::BruteForce, c, s, protocol, ts),
            || format!("{n} refused {protocol} logins from {c} to {s}"),
            || {
                let mut ev = vec![(t("failed_logins"), n.to_string())];
                ev.extend(users.into_iter().map(|u| (t("user"), u)));
                ev.push((t("packet_time"), ts.rfc3339()));
                ev
            },
        );
    }

    /// Counts one login event of (client, server, protocol); returns the count in the window
    /// and the users seen.
    fn count_login(
        &mut self,
        ctx: &FlowCtx,
        protocol: &'static str,
        user: &str,
        window: u64,
    ) -> Option<(u32, Vec<String>)> {
        if self.logins.len() >= MAX_TRACKED {
            let now = ctx.ts.0;
            self.logins
                .retain(|_, l| now.saturating_sub(l.start.0) <= window);
            if self.logins.len() >= MAX_TRACKED {
                self.logins.clear();
            }
        }
        let l = self
            .logins
            .entry((ctx.client.ip, ctx.server.ip, protocol))
            .or_default();
        if ctx.ts.0 > l.start.0.saturating_add(window) {
            *l = LoginCount {
                start: ctx.ts,
                ..LoginCount::default()
            };
        }
        l.n += 1;
        if !user.is_empty() && l.users.len() < 8 && !l.users.iter().any(|u| u == user) {
            l.users.push(user.to_string());
        }
        Some((l.n, l.users.clone()))
    }

    /// A name an indicator lists: asked for by the source (a DNS query, a TLS name, an HTTP
    /// host), or looked up, when `answer` is the address a DNS answer gave for it.
    fn name_indicator(
        &mut self,
        book: &mut AlertBook,
        src: Source<'_>,
        name: &str,
        via: &'static str,
        answer: Option<IpAddr>,
    ) {
        let Some(ind) = self.cfg.iocs.match_name(name) else {
            return;
        };
        let (iname, ivalue, name) = (ind.name.clone(), ind.value.clone(), name.to_string());
        let verb = if answer.is_some() {
            "looked up"
        } else {
            "asked for"
        };
        // Every sighting of one indicator by one host is one alert (DNS query, answer, TLS
        // name, HTTP host), whichever server it went through.
        self.raise(
            book,
            Hit::new(
                Kind::IocMatch,
                src.src(),
                Addr::None,
                "",
                src.ts(),
                About::Src,
            )
            .extra(alerts::extra_of(&ivalue)),
            || {
                format!(
                    "{} {verb} {name:?}, an indicator of compromise ({iname})",
                    src.src()
                )
            },
            || {
                let mut ev = vec![
                    (t("indicator"), iname.clone()),
                    (t("indicator_value"), ivalue.clone()),
                    (t("name"), name.clone()),
                ];
                ev.extend(answer.map(|a| (t("address"), a.to_string())));
                ev.push((t("seen_in"), via.to_string()));
                ev
            },
        );
    }

    /// Analyst rules on one event.
    fn rules(
        &mut self,
        book: &mut AlertBook,
        src: Source<'_>,
        on: rules::On,
        op: Option<Operation>,
        fc: Option<u32>,
    ) {
        if self.cfg.rules.is_empty() {
            return;
        }
        let flow = src.flow();
        let ev = rules::Event {
            on,
            protocol: src.protocol(),
            op,
            function_code: fc,
            port: flow.map_or(0, |c| c.server.port),
            src: flow.map(|c| c.client.ip),
            dst: flow.map(|c| c.server.ip),
            ts: src.ts(),
        };
        self.match_rules(book, &ev, src.src(), src.dst());
    }

    fn match_rules(&mut self, book: &mut AlertBook, ev: &rules::Event<'_>, s: Addr, d: Addr) {
        let cfg = self.cfg.clone();
        for (i, r) in cfg.rules.rules.iter().enumerate() {
            if !r.matches(ev) {
                continue;
            }
            let (ks, kd) = match r.threshold.as_ref().map(|t| t.by) {
                Some(rules::By::Src) => (s, Addr::None),
                Some(rules::By::Dst) => (Addr::None, d),
                _ => (s, d),
            };
            if let Some(th) = &r.threshold {
                if self.rule_counts.len() >= MAX_TRACKED {
                    self.rule_counts.clear();
                }
                let e = self.rule_counts.entry((i, ks, kd)).or_insert((ev.ts, 0));
                if ev.ts.0 > e.0 .0.saturating_add(th.window_ns) {
                    *e = (ev.ts, 0);
                }
                e.1 += 1;
                if e.1 < th.count {
                    continue;
                }
            }
            let key = AlertKey {
                kind: t(r.kind),
                src: ks,
                dst: kd,
                protocol: Cow::Owned(ev.protocol.to_string()),
                extra: 0,
            };
            let ts = ev.ts;
            let (op, fc) = (ev.op, ev.function_code);
            book.raise(
                &self.lim,
                key,
                ts,
                r.severity,
                || request_evidence(op, fc, ts),
                || Describe {
                    title: r.title.clone(),
                    description: r.description.clone(),
                    mitre: r.mitre.iter().map(|m| Cow::Owned(m.clone())).collect(),
                    about: About::Dst,
                    requires: r.assets.clone(),
                },
            );
        }
    }

    /// A flow summary: scans, brute force on encrypted logins, indicators on addresses,
    /// new conversations and connection rules.
    pub fn flow(&mut self, book: &mut AlertBook, s: &FlowSummary) {
        if !self.cfg.settings.enabled {
            return;
        }
        self.lan = s.lan;
        let (c, d) = (s.client.ip, s.server.ip);
        let ts = s.first;
        let unicast = !s.to_group && otwatch_common::addr::is_unicast_ip(&d);
        if s.ended && unicast {
            // A probe: a TCP flow never accepted, a datagram never answered, an echo request.
            let failed = match s.ip_proto {
                6 => !s.accepted && s.client_packets <= 3,
                17 => !s.answered && s.client_packets <= 2,
                _ => s.echo,
            };
            if failed {
                if let Some(f) = self.scans.probe(&self.scan_lim, c, d, s.server.port, ts) {
                    self.scan(book, c, f, ts, transport_name(s.ip_proto));
                }
                // An answered echo is a ping, not a failed attempt.
                if !(s.echo && s.answered) {
                    let port = s.server.port;
                    if let Some(f) = self.floods.attempt(&self.flood_lim, c, d, port, ts) {
                        self.flood(book, d, f, ts, transport_name(s.ip_proto));
                    }
                }
            }
            if let Some(proto) = s.protocol.filter(|p| ENCRYPTED_LOGINS.contains(p)) {
                self.session(book, s, proto);
            }
            let key = (c, s.client.port, d, s.server.port);
            if let (Some(1), Some(proto)) = (self.flow_ops.remove(&key), s.protocol) {
                if let Some(f) = self.scans.identify(&self.scan_lim, c, d, proto, ts) {
                    self.scan(book, c, f, ts, proto);
                }
            }
        }
        if s.new_flow && !self.cfg.iocs.is_empty() {
            for (ip, other) in [(d, c), (c, d)] {
                if let Some(ind) = self.cfg.iocs.match_ip(&ip) {
                    let (name, value) = (ind.name.clone(), ind.value.clone());
                    let proto = s.protocol.unwrap_or("");
                    self.raise(
                        book,
                        Hit::new(Kind::IocMatch, self.at(other), self.at(ip), proto, ts, About::Src).extra(alerts::extra_of(&value)),
                        || format!("{other} exchanged traffic with {ip}, an indicator of compromise ({name})"),
                        || {
                            vec![
                                (t("indicator"), name.clone()),
                                (t("indicator_value"), value.clone()),
                                (t("address"), ip.to_string()),
                                (t("port"), s.server.port.to_string()),
                            ]
                        },
                    );
                }
            }
        }
        let first_report = if s.ip_proto == 6 {
            s.first_answer && s.accepted
        } else {
            s.new_flow
        };
        if !first_report || !unicast {
            return;
        }
        if let Some(p) = &self.cfg.policy {
            let proto = s.protocol.unwrap_or("");
            if p.conversation(c, d, s.ip_proto, s.server.port, proto)
                .is_none()
            {
                let label = policy::zone_label(proto, s.ip_proto, s.server.port);
                self.raise(
                    book,
                    self.to_server(Kind::NewConversation, c, d, "", ts),
                    || format!("{c} talked to {d} in a way the policy does not list"),
                    || {
                        vec![
                            (t("conversation"), label.clone()),
                            (t("port"), s.server.port.to_string()),
                        ]
                    },
                );
            }
        }
        if !self.cfg.rules.is_empty() {
            let ev = rules::Event {
                on: rules::On::Connection,
                protocol: s.protocol.unwrap_or(""),
                op: None,
                function_code: None,
                port: s.server.port,
                src: Some(c),
                dst: Some(d),
                ts,
            };
            self.match_rules(book, &ev, self.at(c), self.at(d));
        }
    }

    /// A finished SSH/RDP session: many short ones from one client look like password guessing.
    fn session(&mut self, book: &mut AlertBook, s: &FlowSummary, proto: &'static str) {
        let short = s.last.0.saturating_sub(s.first.0) < 30_000_000_000 && s.client_packets < 60;
        if !short {
            return;
        }
        let ctx = FlowCtx::tcp(s.client, s.server, s.first);
        let window = self
            .cfg
            .settings
            .brute_force_window_secs
            .saturating_mul(1_000_000_000);
        let Some((n, _)) = self.count_login(&ctx, proto, "", window) else {
            return;
        };
        if n < self.cfg.settings.brute_force_sessions {
            return;
        }
        let (c, d, ts) = (s.client.ip, s.server.ip, s.first);
        self.raise(
            book,
            self.to_server(Kind::BruteForce, c, d, proto, ts)
                .severity(Severity::Medium),
            || format!("{n} short {proto} sessions from {c} to {d}: likely password guessing"),
            || {
                vec![
                    (t("short_sessions"), n.to_string()),
                    (t("packet_time"), ts.rfc3339()),
                ]
            },
        );
    }

    fn scan(
        &mut self,
        book: &mut AlertBook,
        src: IpAddr,
        f: scan::Finding,
        ts: Timestamp,
        proto: &'static str,
    ) {
        let (dst, title, ev): (Addr, String, Vec<(Text, String)>) = match f {
            scan::Finding::Sweep { hosts, ports } => (
                Addr::None,
                format!("{src} probed {hosts} hosts"),
                vec![
                    (t("scan"), "host sweep".into()),
                    (t("hosts"), hosts.to_string()),
                    (t("ports"), join(&ports)),
                ],
            ),
            scan::Finding::PortScan {
                host,
                ports,
                sample,
            } => (
                self.at(host),
                format!("{src} probed {ports} ports of {host}"),
                vec![
                    (t("scan"), "port scan".into()),
                    (t("ports_probed"), ports.to_string()),
                    (t("ports"), join(&sample)),
                ],
            ),
            scan::Finding::IcsDiscovery { hosts, protocols } => (
                Addr::None,
                format!("{src} asked {hosts} industrial devices to identify themselves"),
                vec![
                    (t("scan"), "ics discovery".into()),
                    (t("hosts"), hosts.to_string()),
                    (t("protocols"), protocols.join(",")),
                ],
            ),
        };
        self.raise(
            book,
            Hit::new(Kind::ScanDetected, self.at(src), dst, proto, ts, About::Src),
            || title,
            || {
                let mut ev = ev;
                ev.push((t("packet_time"), ts.rfc3339()));
                ev
            },
        );
    }

    fn flood(
        &mut self,
        book: &mut AlertBook,
        target: IpAddr,
        f: flood::Finding,
        ts: Timestamp,
        proto: &'static str,
    ) {
        let secs = self.flood_lim.window_ns / 1_000_000_000;
        let many = f.sources >= flood::MAX_SOURCES;
        let sources = if many {
            format!("{}+", f.sources)
        } else {
            f.sources.to_string()
        };
        // One source: it is the attacker. Many: spoofed or distributed, no single source.
        let src = if f.sources == 1 {
            self.at(f.a_source)
        } else {
            Addr::None
        };
        self.raise(
            book,
            Hit::new(Kind::Flood, src, self.at(target), proto, ts, About::Dst),
            || {
                format!(
                    "{target} got {} unanswered attempts within {secs} s from {sources} sources",
                    f.attempts
                )
            },
            || {
                vec![
                    (t("attempts"), f.attempts.to_string()),
                    (t("window_secs"), secs.to_string()),
                    (t("sources"), sources.clone()),
                    (t("ports"), join(&f.ports)),
                    (t("packet_time"), ts.rfc3339()),
                ]
            },
        );
    }

    /// The sensor's own tables overflowed (flows, addresses, connections evicted or refused):
    /// someone is flooding the network with new flows or spoofed addresses. Raised at most
    /// once a minute of packet time while the evictions go on; the repeats fold into one
    /// alert.
    pub fn overload(
        &mut self,
        book: &mut AlertBook,
        ts: Timestamp,
        counts: &[(&'static str, u64)],
    ) {
        if !self.cfg.settings.enabled {
            return;
        }
        let total: u64 = counts.iter().map(|c| c.1).sum();
        let (last_ts, last_total) = self.overload;
        if total <= last_total || ts.0 < last_ts.0.saturating_add(60_000_000_000) && last_total > 0
        {
            return;
        }
        self.overload = (ts, total);
        let what: Vec<String> = counts
            .iter()
            .filter(|c| c.1 > 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        self.raise(
            book,
            Hit::new(Kind::Flood, Addr::None, Addr::None, "", ts, About::Src).extra(1),
            || "A flood of new flows or addresses filled the sensor's tables".to_string(),
            || {
                let mut ev: Vec<(Text, String)> = counts
                    .iter()
                    .filter(|c| c.1 > 0)
                    .map(|(k, v)| (t(k), v.to_string()))
                    .collect();
                ev.push((t("summary"), what.join(", ")));
                ev.push((t("packet_time"), ts.rfc3339()));
                ev
            },
        );
    }

    /// Notes what an industrial flow's client did, for discovery sweeps.
    fn note_flow_op(&mut self, src: Source<'_>, identify: bool) {
        let Some(ctx) = src.flow() else { return };
        if !crate::inventory::classify::is_controller_protocol(src.protocol()) {
            return;
        }
        if self.flow_ops.len() >= MAX_TRACKED {
            self.flow_ops.clear();
        }
        *self
            .flow_ops
            .entry((
                ctx.client.ip,
                ctx.client.port,
                ctx.server.ip,
                ctx.server.port,
            ))
            .or_default() |= if identify { 1 } else { 2 };
    }

    /// One ARP packet, on `lan` (its capture segment and VLAN).
    pub fn arp(
        &mut self,
        book: &mut AlertBook,
        ts: Timestamp,
        a: &ArpRepr,
        eth_dst: Option<Mac>,
        lan: crate::decode::Lan,
    ) {
        if !self.cfg.settings.enabled {
            return;
        }
        self.lan = lan;
        let frame = arp::ArpFrame {
            ts,
            reply: a.op == ArpRepr::REPLY,
            sender_mac: a.sender_mac,
            sender_ip: a.sender_ip,
            target_ip: a.target_ip,
            eth_dst,
            lan,
        };
        let mut found = std::mem::take(&mut self.findings);
        self.arp.frame(&self.arp_lim, &frame, &mut found);
        for f in found.drain(..) {
            match f {
                arp::Finding::Spoofing {
                    ip,
                    owner,
                    claimer,
                    replies,
                    others,
                } => self.raise(
                    book,
                    Hit::new(
                        Kind::ArpSpoofing,
                        Addr::Mac(claimer),
                        self.at(IpAddr::V4(ip)),
                        "arp",
                        ts,
                        About::Src,
                    ),
                    || format!("{claimer} claims {ip}, which {owner} holds (ARP poisoning)"),
                    || {
                        let mut ev = vec![
                            (t("ip"), ip.to_string()),
                            (t("owner_mac"), owner.to_string()),
                            (t("claiming_mac"), claimer.to_string()),
                            (t("replies"), replies.to_string()),
                        ];
                        if !others.is_empty() {
                            ev.push((t("also_claims"), join(&others)));
                        }
                        ev.push((t("packet_time"), ts.rfc3339()));
                        ev
                    },
                ),
                arp::Finding::Conflict { ip, owner, claimer } => self.raise(
                    book,
                    Hit::new(
                        Kind::IpConflict,
                        Addr::Mac(claimer),
                        Addr::Mac(owner),
                        "arp",
                        ts,
                        About::Src,
                    )
                    .extra(alerts::extra_of(&ip.to_string())),
                    || format!("{ip} is used by {owner} and {claimer}"),
                    || {
                        vec![
                            (t("ip"), ip.to_string()),
                            (t("mac"), owner.to_string()),
                            (t("mac"), claimer.to_string()),
                            (t("packet_time"), ts.rfc3339()),
                        ]
                    },
                ),
                arp::Finding::Storm { mac, count } => self.raise(
                    book,
                    Hit::new(
                        Kind::ArpSpoofing,
                        Addr::Mac(mac),
                        Addr::None,
                        "arp",
                        ts,
                        About::Src,
                    )
                    .extra(1),
                    || format!("{mac} sent a storm of gratuitous ARPs"),
                    || {
                        vec![
                            (t("gratuitous_arps_in_10s"), count.to_string()),
                            (t("packet_time"), ts.rfc3339()),
                        ]
                    },
                ),
                arp::Finding::Sweep { mac, ip, targets } => {
                    let src = if ip.is_unspecified() {
                        Addr::Mac(mac)
                    } else {
                        self.at(IpAddr::V4(ip))
                    };
                    self.raise(
                        book,
                        Hit::new(Kind::ScanDetected, src, Addr::None, "arp", ts, About::Src),
                        || format!("{src} ({mac}) asked for {targets} addresses in seconds (ARP sweep)"),
                        || {
                            vec![
                                (t("scan"), "arp sweep".into()),
                                (t("hosts"), targets.to_string()),
                                (t("mac"), mac.to_string()),
                                (t("packet_time"), ts.rfc3339()),
                            ]
                        },
                    )
                }
            }
        }
        self.findings = found;
    }

    /// Called for every observation: detection, and what industrial flows did (a flow that
    /// only asks a controller to identify itself counts towards a discovery sweep).
    pub fn observe_all(&mut self, book: &mut AlertBook, src: Source<'_>, obs: &Observation) {
        if !self.cfg.settings.enabled {
            return;
        }
        match obs {
            Observation::Operation { op, .. } => self.note_flow_op(
                src,
                matches!(op, Operation::Identify | Operation::Diagnostics),
            ),
            Observation::Access(_) => self.note_flow_op(src, false),
            _ => {}
        }
        self.observe(book, src, obs);
    }
}

/// Said of an alert the policy allows.
pub const ALLOWED_NOTE: &str = "Allowed by the policy: this was seen while it was learned.";

/// Evidence of a request: its operation and function code, when known, and the packet time.
fn request_evidence(op: Option<Operation>, fc: Option<u32>, ts: Timestamp) -> Vec<(Text, String)> {
    let mut ev = Vec::new();
    if let Some(o) = op {
        ev.push((t("operation"), o.as_str().to_string()));
    }
    if let Some(f) = fc {
        ev.push((t("function_code"), f.to_string()));
    }
    ev.push((t("packet_time"), ts.rfc3339()));
    ev
}

fn describe_op(op: Operation, setting: Option<&str>) -> String {
    match op {
        Operation::ProgramDownload => "Program download".into(),
        Operation::ProgramUpload => "Program upload".into(),
        Operation::ProgramDelete => "Program delete".into(),
        Operation::FirmwareUpdate => "Firmware update".into(),
        Operation::CpuStop => "PLC stop".into(),
        Operation::CpuStart => "PLC start".into(),
        Operation::Restart => "Device restart".into(),
        Operation::TimeSync => "Clock set".into(),
        Operation::FileTransfer => "File transfer".into(),
        Operation::ConfigChange => match setting {
            Some(s) => format!("Configuration change ({s})"),
            None => "Configuration change".into(),
        },
        o => o.as_str().to_string(),
    }
}

fn transport_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        _ => "ip",
    }
}

fn join<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests;
