use super::*;
use crate::score::Exposure;

#[test]
fn asset_risk_is_the_documented_formula() {
    // One affected CVE of CVSS 7.5 on an internet-facing PLC: 10 x 7.5 x 1.0 x 1.0.
    let v = |cvss, possible, kev| Finding::vulnerability(cvss, possible, kev);
    assert_eq!(
        asset_risk(
            &[v(7.5, false, false)],
            Exposure::External,
            Role::Controller
        ),
        75.0
    );
    // The same CVE only possibly affecting it: severity 3.75 -> 37.5.
    assert_eq!(
        asset_risk(&[v(7.5, true, false)], Exposure::External, Role::Controller),
        37.5
    );
    // Known exploited: 7.5 + 1 = 8.5; an HMI (0.9) reached from enterprise (0.8):
    // 10 x 8.5 x 0.8 x 0.9 = 61.2.
    assert_eq!(
        asset_risk(
            &[v(7.5, false, true)],
            Exposure::Enterprise,
            Role::Supervisory
        ),
        61.2
    );
    // Three findings of 7 or more add 0.1 each after the first: 9.8 + 0.2 = 10.0 (capped),
    // internal controller: 10 x 10 x 0.6 x 1.0 = 60.
    let many = [
        v(9.8, false, false),
        v(8.1, false, false),
        Finding::of(FindingKind::RemoteAccessIntoControl),
        Finding::of(FindingKind::CleartextCredentials),
    ];
    assert_eq!(
        asset_risk(&many, Exposure::Internal, Role::Controller),
        60.0
    );
    // Cleartext credentials on an IT host inside: 10 x 6 x 0.6 x 0.5 = 18.
    assert_eq!(
        asset_risk(
            &[Finding::of(FindingKind::CleartextCredentials)],
            Exposure::Internal,
            Role::It
        ),
        18.0
    );
    assert_eq!(asset_risk(&[], Exposure::External, Role::Controller), 0.0);
    // A CVSS outside 0-10 is clamped; KEV never goes past 10.
    assert_eq!(
        asset_risk(
            &[v(12.0, false, true)],
            Exposure::External,
            Role::Controller
        ),
        100.0
    );
}

#[test]
fn site_score_and_bands() {
    assert_eq!(site_score([]).score, 100);
    let one = site_score([80.0]);
    assert_eq!((one.score, one.band), (60, Band::Fair));
    let two = site_score([80.0, 80.0]);
    assert_eq!((two.score, two.band), (36, Band::Critical));
    // 100 x 0.9 x 0.95 = 85.5 -> 86 (rounded half away from zero).
    let s = site_score([20.0, 10.0, 0.0]);
    assert_eq!((s.score, s.band), (86, Band::Good));
    assert_eq!(site_score([100.0]).score, 50);
    assert_eq!(Band::of(59), Band::Poor);
    // The fleet: the mean of its sites, (60 + 36 + 86) / 3 = 60.67 -> 61, fair.
    let f = fleet_score([60, 36, 86]);
    assert_eq!((f.score, f.band), (61, Band::Fair));
    assert_eq!(fleet_score([]).score, 100);
    assert_eq!(Band::of(39).as_str(), "critical");
}

fn graph(roles: &[Role], edges: &[(usize, usize)]) -> Graph {
    let mut g = Graph::new(roles.to_vec());
    for &(a, b) in edges {
        g.connect(a, b);
    }
    g
}

use Role::{Controller as C, OtOther as O, Supervisory as S};

#[test]
fn a_gateway_between_the_hmi_and_the_plcs_is_a_single_point_of_failure() {
    // HMI 0 - gateway 1 - PLCs 2, 3; the HMI also talks to a historian 4.
    let g = graph(&[S, O, C, C, S], &[(0, 1), (1, 2), (1, 3), (0, 4)]);
    let spof = single_points_of_failure(&g);
    assert_eq!(
        spof,
        [
            SinglePointOfFailure {
                node: 0,
                cut_controllers: vec![2, 3],
                cut_from: vec![4],
            },
            SinglePointOfFailure {
                node: 1,
                cut_controllers: vec![2, 3],
                cut_from: vec![0, 4],
            },
        ]
    );
}

#[test]
fn redundant_paths_and_leaves_are_no_single_point_of_failure() {
    // Two gateways 1 and 2 between the HMI 0 and the PLC 3 (a ring): no articulation point.
    let ring = graph(&[S, O, O, C], &[(0, 1), (1, 3), (0, 2), (2, 3)]);
    assert!(single_points_of_failure(&ring).is_empty());
    // An HMI with two PLCs: the HMI is an articulation point, but removing the only
    // supervisor leaves no supervisor to be cut from.
    let star = graph(&[S, C, C], &[(0, 1), (0, 2)]);
    assert!(single_points_of_failure(&star).is_empty());
    // A switch-like node 1 in the middle of a chain that cuts only other OT devices.
    let chain = graph(&[S, O, O], &[(0, 1), (1, 2)]);
    assert!(single_points_of_failure(&chain).is_empty());
    // Parallel edges and self-loops change nothing.
    let mut g = graph(&[S, O, C], &[(0, 1), (1, 2), (1, 2), (2, 2)]);
    g.connect(7, 0);
    assert_eq!(single_points_of_failure(&g).len(), 1);
}

#[test]
fn the_root_of_the_search_and_separate_components() {
    // The DFS starts at node 0, the gateway: a root with three children is an articulation
    // point. A second component (5-6) has its own gateway-less pair.
    let g = graph(&[O, S, C, C, S, S, C], &[(0, 1), (0, 2), (0, 3), (5, 6)]);
    let spof = single_points_of_failure(&g);
    assert_eq!(
        spof,
        [SinglePointOfFailure {
            node: 0,
            cut_controllers: vec![2, 3],
            cut_from: vec![1],
        }]
    );
}

#[test]
fn a_long_chain_needs_no_deep_recursion() {
    // 200,000 nodes in a line: HMI at one end, PLC at the other; every inner node cuts them.
    let n = 200_000;
    let mut roles = vec![O; n];
    roles[0] = S;
    roles[n - 1] = C;
    let edges: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
    let spof = single_points_of_failure(&graph(&roles, &edges));
    assert_eq!(spof.len(), n - 2);
    assert!(spof
        .iter()
        .all(|s| s.cut_controllers == [n - 1] && s.cut_from == [0]));
}

#[test]
fn conversations_that_skip_purdue_levels() {
    let levels = [Some(4), Some(1), Some(3), None, Some(5), Some(0)];
    let edges = [(0, 1), (1, 0), (2, 1), (3, 1), (4, 5), (0, 2)];
    let skips = level_skips(&levels, &edges);
    let pairs: Vec<(usize, usize)> = skips.iter().map(|s| (s.a, s.b)).collect();
    assert_eq!(pairs, [(0, 1), (4, 5)]);
    assert_eq!((skips[1].a_level, skips[1].b_level), (5, 0));
}

/// The definition, computed the slow way: remove each node, find the parts of its component,
/// and report controllers in parts without a supervisor while other parts have some.
fn brute_force(roles: &[Role], edges: &[(usize, usize)]) -> Vec<SinglePointOfFailure> {
    let n = roles.len();
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges {
        if a != b {
            adj[a].push(b);
            adj[b].push(a);
        }
    }
    let reach = |from: usize, skip: usize| {
        let mut seen = vec![false; n];
        let mut stack = vec![from];
        seen[from] = true;
        while let Some(u) = stack.pop() {
            for &w in &adj[u] {
                if w != skip && !seen[w] {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        seen
    };
    let mut out = Vec::new();
    for v in 0..n {
        let comp = reach(v, usize::MAX);
        let mut part = vec![usize::MAX; n];
        let mut parts = 0;
        for u in 0..n {
            if u != v && comp[u] && part[u] == usize::MAX {
                let r = reach(u, v);
                for w in 0..n {
                    if r[w] {
                        part[w] = parts;
                    }
                }
                parts += 1;
            }
        }
        if parts < 2 {
            continue;
        }
        let of = |p: usize, role: Role| -> Vec<usize> {
            (0..n)
                .filter(|&u| part[u] == p && roles[u] == role)
                .collect()
        };
        let (mut cc, mut cf) = (Vec::new(), Vec::new());
        for p in 0..parts {
            let others: Vec<usize> = (0..n)
                .filter(|&u| part[u] != usize::MAX && part[u] != p && roles[u] == S)
                .collect();
            if !of(p, C).is_empty() && of(p, S).is_empty() && !others.is_empty() {
                cc.extend(of(p, C));
                cf.extend(others);
            }
        }
        if !cc.is_empty() {
            cc.sort_unstable();
            cf.sort_unstable();
            cf.dedup();
            out.push(SinglePointOfFailure {
                node: v,
                cut_controllers: cc,
                cut_from: cf,
            });
        }
    }
    out
}

#[test]
fn single_points_of_failure_match_the_definition_on_random_graphs() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m) as usize
    };
    for _ in 0..300 {
        let n = 2 + next(12);
        let roles: Vec<Role> = (0..n).map(|_| [C, S, O, Role::It][next(4)]).collect();
        let edges: Vec<(usize, usize)> = (0..next(2 * n as u64))
            .map(|_| (next(n as u64), next(n as u64)))
            .collect();
        assert_eq!(
            single_points_of_failure(&graph(&roles, &edges)),
            brute_force(&roles, &edges),
            "{roles:?} {edges:?}"
        );
    }
}

mod report {
    use crate::assess;
    use otwatch_common::model::{
        Asset, CleartextLogin, Connection, Evidence, InventoryReport, Vulnerability,
    };

    fn asset(id: &str, ip: &str, device_type: &str, level: u32) -> Asset {
        Asset {
            id: id.into(),
            ips: vec![ip.into()],
            device_type: device_type.into(),
            purdue_level: Some(level),
            ..Default::default()
        }
    }

    fn conn(client: &str, server: &str, protocol: &str) -> Connection {
        Connection {
            client: client.into(),
            server: server.into(),
            transport: "tcp".into(),
            protocol: protocol.into(),
            ..Default::default()
        }
    }

    fn vuln(cve: &str, cvss: f64, status: &str, fixed_in: &str) -> Vulnerability {
        Vulnerability {
            cve: cve.into(),
            advisory: "ICSA-19-283-02".into(),
            cvss,
            status: status.into(),
            fixed_in: fixed_in.into(),
            ..Default::default()
        }
    }

    /// A small cell, computed by hand with docs/RISK.md's formulas:
    /// - PLC 10.0.0.5 (controller, C = 1.0): CVEs of 7.5 and 5.3 affected (fixed in V3.2.17)
    ///   and 9.8 possibly affected (4.9); the HMI logs in by telnet, which is remote access
    ///   into level 1 (7.0, and E = 1.0, external) and a login in cleartext (6.0).
    ///   S = 7.5 + 0.1 (one more finding of 7 or more) = 7.6, risk 10 x 7.6 x 1.0 x 1.0 = 76.
    ///   Updating to V3.2.17 leaves 7.0, 6.0, 4.9: risk 70, so it takes away 6.0.
    /// - HMI 10.0.0.9 (supervisory, 0.9) talks to 8.8.8.8: internet connection (8.0), E = 1.0:
    ///   10 x 8 x 1.0 x 0.9 = 72.
    /// - Site: 100 x (1 - 76/200) x (1 - 72/200) = 100 x 0.62 x 0.64 = 39.68 -> 40, poor.
    /// - The historian (level 4) reads the PLC directly: a level skip. The HMI talks to the
    ///   PLC directly: nothing stands between them, no single point of failure.
    #[test]
    fn a_small_cell_by_hand() {
        let mut plc = asset("mac:plc", "10.0.0.5", "plc", 1);
        plc.vulnerabilities = vec![
            vuln("CVE-2019-10936", 7.5, "affected", "V3.2.17"),
            // `< V3.X.16`: the update to V3.2.17 reaches it too.
            vuln("CVE-2018-16561", 5.3, "affected", "V3.X.16"),
            vuln("CVE-2020-15791", 9.8, "possibly_affected", ""),
        ];
        let hmi = asset("mac:hmi", "10.0.0.9", "hmi", 2);
        let hist = asset("mac:hist", "10.0.4.2", "historian", 4);
        let mut telnet = conn("10.0.0.9", "10.0.0.5", "telnet");
        telnet.cleartext_logins = vec![CleartextLogin {
            user: "operator".into(),
            protocol: "telnet".into(),
            first_seen: String::new(),
        }];
        let report = InventoryReport {
            assets: vec![hist, hmi, plc],
            connections: vec![
                telnet,
                conn("10.0.0.9", "8.8.8.8", "tls"),
                conn("10.0.4.2", "10.0.0.5", "s7comm"),
            ],
            ..Default::default()
        };
        let r = assess("plant-1", &report);
        assert_eq!((r.security_score, r.band.as_str()), (40, "poor"));
        let risks: Vec<(&str, f64, &str)> = r
            .assets
            .iter()
            .map(|a| (a.asset.as_str(), a.risk, a.exposure.as_str()))
            .collect();
        assert_eq!(
            risks,
            [("mac:plc", 76.0, "external"), ("mac:hmi", 72.0, "external")]
        );
        let plc = &r.assets[0];
        let kinds: Vec<(&str, f64)> = plc
            .findings
            .iter()
            .map(|f| (f.kind.as_str(), f.severity))
            .collect();
        assert_eq!(
            kinds,
            [
                ("vulnerability", 7.5),
                ("remote_access_into_control", 7.0),
                ("cleartext_credentials", 6.0),
                ("vulnerability", 5.3),
                ("vulnerability", 4.9)
            ]
        );
        assert!(plc.findings[2].detail.contains("user \"operator\""));
        let fix = &r.remediations[0];
        assert_eq!(fix.action, "update to V3.2.17");
        assert_eq!(fix.cves, ["CVE-2018-16561", "CVE-2019-10936"]);
        assert_eq!((fix.max_cvss, fix.risk_reduced), (7.5, 6.0));
        // The possibly affecting one names no fixed version: its advisory's mitigations, which
        // take away nothing while the 7.5 stays (S is 7.6 either way).
        let rest = &r.remediations[1];
        assert_eq!(rest.action, "apply the mitigations in ICSA-19-283-02");
        assert_eq!(
            (rest.cves.as_slice(), rest.risk_reduced),
            (&["CVE-2020-15791".to_string()][..], 0.0)
        );
        assert_eq!(r.internet.len(), 1);
        assert_eq!(r.internet[0].remote, ["8.8.8.8"]);
        assert!(r.single_points_of_failure.is_empty());
        assert_eq!(r.level_skips.len(), 1);
        assert_eq!(
            (
                r.level_skips[0].enterprise.as_str(),
                r.level_skips[0].field.as_str()
            ),
            ("mac:hist", "mac:plc")
        );
    }

    /// An OPC UA server whose channel ran with security mode and policy None (5.0 each), and
    /// a Quantum whose advisory calls it end of life (5.0) beside its CVE of 7.5, which has
    /// no fixed version: only its mitigations.
    /// - OPC UA server (level 2, an opc_server: supervisory, 0.9; internal, 0.6):
    ///   S = 5.0 (no finding of 7 or more), risk 10 x 5 x 0.6 x 0.9 = 27.
    /// - Quantum (controller, 1.0; internal): S = 7.5, risk 10 x 7.5 x 0.6 = 45.
    #[test]
    fn insecure_settings_and_end_of_life() {
        let mut ua = asset("mac:ua", "10.0.0.20", "opc_server", 2);
        for value in ["opcua security mode None", "opcua security policy None"] {
            ua.evidence.push(Evidence {
                field: "description".into(),
                value: value.into(),
                source: "opcua open secure channel".into(),
                first_seen: String::new(),
            });
        }
        let mut quantum = asset("mac:quantum", "10.0.0.30", "plc", 1);
        let mut v = vuln("CVE-2020-7562", 7.5, "affected", "");
        v.advisory = "ICSA-21-005-01".into();
        v.end_of_life = true;
        quantum.vulnerabilities = vec![v];
        let report = InventoryReport {
            assets: vec![quantum, ua],
            ..Default::default()
        };
        let r = assess("plant-1", &report);
        // (asset, risk, its findings' kind and detail)
        type Found<'a> = (&'a str, f64, Vec<(&'a str, &'a str)>);
        let found: Vec<Found> = r
            .assets
            .iter()
            .map(|a| {
                (
                    a.asset.as_str(),
                    a.risk,
                    a.findings
                        .iter()
                        .map(|f| (f.kind.as_str(), f.detail.as_str()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    "mac:quantum",
                    45.0,
                    vec![
                        ("vulnerability", "CVE-2020-7562 (ICSA-21-005-01, CVSS 7.5)"),
                        (
                            "end_of_life",
                            "end of life: no fix will come (per ICSA-21-005-01); replace it with a supported product"
                        )
                    ]
                ),
                (
                    "mac:ua",
                    27.0,
                    vec![
                        (
                            "insecure_setting",
                            "OPC UA channel with security mode None: messages neither signed nor encrypted"
                        ),
                        (
                            "insecure_setting",
                            "OPC UA channel with security policy None: no certificates, no signatures"
                        )
                    ]
                )
            ]
        );
    }
}
