//! The Ansible roles of `deploy/ansible`, run for real with `ansible-playbook` against hosts on
//! this machine: one manager and three sensors at two sites, each an `ansible_connection=local`
//! host with its own install, settings, state and run directories, port and process name. The
//! services are `supervised` (start-stop-daemon): the CI container has no systemd as PID 1, so
//! the systemd units are rendered and checked with `systemd-analyze verify` but not run here
//! (deploy/ansible/README.md).
//! The sensors replay bundled captures (`otwatch_sensor_capture_mode: pcap`) and stay connected.
//!
//! Checked: the play ends with the sensors enrolled through tokens made on the manager and their
//! inventories on the manager (`otwatch sensors`, `sites`), each sensor reporting the version of
//! the binary installed; a second run changes nothing (`changed=0` on every host); an upgrade
//! of the manager to a release that fails its health check is rolled back (the previous binary
//! serves again); a good upgrade of a sensor restarts it on the new release; `ansible-lint`
//! finds nothing. Needs root (the roles chown and switch accounts), ansible-core and
//! ansible-lint (`.ci/run` installs them); otherwise the test says why and skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::fleet::{data, CLI, MANAGER};
use common::skip::{have, is_root, skip, Need};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn ansible_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/ansible")
}

/// Why this machine cannot run the playbook, if it cannot.
fn missing() -> Option<String> {
    if !is_root() {
        return Some("the Ansible deployment test needs root (the roles chown state directories and start services as an account); run it as root".into());
    }
    for tool in ["ansible-playbook", "ansible-lint", "start-stop-daemon"] {
        if !have(tool) {
            return Some(format!(
                "{tool} is not installed (pip install -r tests/deploy/requirements.txt; start-stop-daemon is in Debian's dpkg)"
            ));
        }
    }
    None
}

/// The processes the playbook started (their pid files), stopped when the test ends.
struct Hosts(tempfile::TempDir);

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in ["mgr", "s1", "s2", "s3"] {
            let run = self.0.path().join(host).join("run");
            for pid in std::fs::read_dir(&run).into_iter().flatten().flatten() {
                if pid.path().extension().is_some_and(|e| e == "pid") {
                    let _ = Command::new("start-stop-daemon")
                        .args([
                            "--stop",
                            "--quiet",
                            "--retry",
                            "TERM/10/KILL/5",
                            "--pidfile",
                        ])
                        .arg(pid.path())
                        .status();
                }
            }
        }
    }
}

/// One manager (plant-a, plant-b) and three sensors at two sites, all on this machine.
fn inventory(root: &Path, port: u16, sensor_bin: &Path) -> Value {
    let dir = |host: &str, what: &str| root.join(host).join(what).display().to_string();
    let sensor = |host: &str, pcap: &str| {
        json!({
            "otwatch_sensor_bin_dir": dir(host, "bin"),
            "otwatch_sensor_config_dir": dir(host, "etc"),
            "otwatch_sensor_state_dir": dir(host, "state"),
            "otwatch_sensor_run_dir": dir(host, "run"),
            "otwatch_sensor_service": format!("otwatch-sensor-{host}"),
            "otwatch_sensor_capture_mode": "pcap",
            "otwatch_sensor_pcap_files": [data(pcap)],
        })
    };
    json!({"all": {
        "vars": {
            "ansible_connection": "local",
            "ansible_become": false,
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "otwatch_manager_binary_path": MANAGER,
            "otwatch_sensor_binary_path": sensor_bin.display().to_string(),
            "otwatch_manager_service_manager": "supervised",
            "otwatch_sensor_service_manager": "supervised",
            // Root's own account: the test makes no system accounts on the machine.
            "otwatch_manager_create_user": false,
            "otwatch_manager_user": "root",
            "otwatch_manager_group": "root",
            "otwatch_sensor_create_user": false,
            "otwatch_sensor_user": "root",
            "otwatch_sensor_group": "root",
        },
        "children": {
            "otwatch_managers": {"hosts": {"mgr": {
                "otwatch_manager_bin_dir": dir("mgr", "bin"),
                "otwatch_manager_state_dir": dir("mgr", "state"),
                "otwatch_manager_run_dir": dir("mgr", "run"),
                "otwatch_manager_service": "otwatch-manager-test",
                "otwatch_manager_listen": format!("127.0.0.1:{port}"),
                "otwatch_manager_sans": ["localhost"],
                "otwatch_manager_url": format!("https://localhost:{port}"),
                "otwatch_manager_operators": [
                    {"name": "admin", "role": "admin", "cred_dir": dir("mgr", "admin")}
                ],
            }}},
            "otwatch_sensors": {"children": {
                "site_plant_a": {
                    "vars": {"otwatch_sensor_site": "plant-a"},
                    "hosts": {
                        "s1": sensor("s1", "suricata-modbus.pcap"),
                        "s2": sensor("s2", "modicon_test.pcap"),
                    },
                },
                "site_plant_b": {
                    "vars": {"otwatch_sensor_site": "plant-b"},
                    "hosts": {"s3": sensor("s3", "s7comm_reading_plc_status.pcap")},
                },
            }},
        },
    }})
}

/// `ansible-playbook site.yml` with `args`: (exit status success, stdout and stderr).
fn play(inventory: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new("ansible-playbook")
        .current_dir(ansible_dir())
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_CONFIG", ansible_dir().join("ansible.cfg"))
        .arg("-i")
        .arg(inventory)
        .arg("site.yml")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// The PLAY RECAP's counters of `host` (ok, changed, failed, rescued, ...).
fn recap(out: &str, host: &str) -> std::collections::BTreeMap<String, u32> {
    let line = out
        .rsplit("PLAY RECAP")
        .next()
        .unwrap()
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host))
        .unwrap_or_else(|| panic!("no recap line for {host}:\n{out}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `otwatch --format json ARGS` as the admin the role created.
fn cli(root: &Path, port: u16, args: &[&str]) -> Value {
    let o = Command::new(CLI)
        .args(["--manager", &format!("https://localhost:{port}"), "--cred"])
        .arg(root.join("mgr/admin"))
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "otwatch {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The sensors once all three are online and have sent what they replayed (up to 60 s).
fn settled_sensors(root: &Path, port: u16) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sensors = cli(root, port, &["sensors"]);
        let list = sensors.as_array().unwrap().clone();
        let done = list.len() == 3
            && list
                .iter()
                .all(|s| s["status"] == "online" && s["assets"].as_u64().unwrap_or(0) > 0);
        if done || Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn version_of(bin: &Path) -> String {
    let o = Command::new(bin).arg("--version").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
    // "otwatch-sensor 0.1.0 (commit date)": the manager keeps what follows the name.
    out.split_once(' ').unwrap().1.to_string()
}

#[test]
fn playbook_deploys_a_two_site_fleet_idempotently_with_rollback() {
    let sensor_bin = require_sensor!();
    if let Some(why) = missing() {
        skip(&why, Need::InCi);
        return;
    }
    let hosts = Hosts(tempfile::tempdir().unwrap());
    let root = hosts.0.path();
    let port = common::fleet::free_port();
    let inv = root.join("hosts.json");
    std::fs::write(
        &inv,
        serde_json::to_vec_pretty(&inventory(root, port, &sensor_bin)).unwrap(),
    )
    .unwrap();

    // First run: everything is installed, the PKI made, the sensors enrolled.
    let (ok, out) = play(&inv, &[]);
    assert!(ok, "first run failed:\n{out}");
    for host in ["mgr", "s1", "s2", "s3"] {
        let r = recap(&out, host);
        assert!(r["changed"] > 0 && r["failed"] == 0, "{host}: {r:?}\n{out}");
    }
    // No token reaches the output.
    assert!(
        !out.contains("otwt1."),
        "an enrolment token was logged:\n{out}"
    );

    let sensors = settled_sensors(root, port);
    assert_eq!(sensors.len(), 3, "{sensors:?}");
    let version = version_of(&sensor_bin);
    for s in &sensors {
        assert_eq!(s["status"], "online", "{s}");
        assert!(s["assets"].as_u64().unwrap() > 0, "no inventory: {s}");
        assert_eq!(s["version"], version.as_str(), "{s}");
    }
    let sites = cli(root, port, &["sites"]);
    let per_site: Vec<(String, u64, u64)> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["sensors"].as_u64().unwrap_or(0),
                s["assets"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(per_site.len(), 2, "{sites}");
    assert!(
        per_site
            .iter()
            .any(|(n, s, a)| n == "plant-a" && *s == 2 && *a > 0)
            && per_site
                .iter()
                .any(|(n, s, a)| n == "plant-b" && *s == 1 && *a > 0),
        "{sites}"
    );

    // What the Kubernetes init containers run at every start: nothing to do on the state the
    // play made.
    let again = |bin: &Path, args: &[&str]| {
        let o = Command::new(bin).args(args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let state = |host: &str| root.join(host).join("state").display().to_string();
    let out = again(
        &sensor_bin,
        &[
            "enroll",
            "--keep-existing",
            "--manager",
            "https://localhost:1",
            "--state",
            &state("s1"),
        ],
    );
    assert!(
        out.contains("already enrolled") && out.contains("plant-a"),
        "{out}"
    );
    let out = again(
        Path::new(MANAGER),
        &["init", "--keep-existing", "--state", &state("mgr")],
    );
    assert!(out.contains("nothing done"), "{out}");

    // Second run: nothing to do.
    let (ok, out) = play(&inv, &[]);
    assert!(ok, "second run failed:\n{out}");
    for host in ["mgr", "s1", "s2", "s3"] {
        let r = recap(&out, host);
        assert_eq!(r["changed"], 0, "{host} changed on the second run:\n{out}");
    }

    // An upgrade to a manager release that does not serve: rolled back, the host failed.
    let installed = root.join("mgr/bin/otwatch-manager");
    let before = sha256(&installed);
    let broken = root.join("broken-otwatch-manager");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho 'this release is broken' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (ok, out) = play(
        &inv,
        &[
            "-l",
            "mgr",
            "-e",
            &format!("otwatch_manager_binary_path={}", broken.display()),
        ],
    );
    assert!(!ok, "the broken release passed:\n{out}");
    let r = recap(&out, "mgr");
    assert!(r["failed"] == 1 && r["rescued"] == 1, "{r:?}\n{out}");
    assert!(out.contains("the previous binary runs again"), "{out}");
    assert_eq!(
        sha256(&installed),
        before,
        "the previous binary is not back"
    );
    let health = Command::new(&installed)
        .args(["health", "--state"])
        .arg(root.join("mgr/state"))
        .output()
        .unwrap();
    assert!(
        health.status.success(),
        "the manager does not serve after the rollback: {}",
        String::from_utf8_lossy(&health.stderr)
    );

    // A good sensor release (another build: here the same program with a byte appended) is
    // installed, and the sensor restarted on it.
    let release = root.join("otwatch-sensor-next");
    let mut bytes = std::fs::read(&sensor_bin).unwrap();
    bytes.push(0);
    std::fs::write(&release, bytes).unwrap();
    std::fs::set_permissions(
        &release,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (ok, out) = play(
        &inv,
        &[
            "-l",
            "s3",
            "-e",
            &format!("otwatch_sensor_binary_path={}", release.display()),
        ],
    );
    assert!(ok, "the sensor upgrade failed:\n{out}");
    assert!(recap(&out, "s3")["changed"] > 0, "{out}");
    assert_eq!(
        sha256(&root.join("s3/bin/otwatch-sensor")),
        sha256(&release)
    );
    let sensors = settled_sensors(root, port);
    assert!(
        sensors.iter().all(|s| s["status"] == "online"),
        "{sensors:?}"
    );
}

#[test]
fn ansible_lint_finds_nothing() {
    if let Some(why) = missing() {
        skip(&why, Need::InCi);
        return;
    }
    let o = Command::new("ansible-lint")
        .current_dir(ansible_dir())
        .env("NO_COLOR", "1")
        .args(["--offline", "--profile", "production"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ansible-lint:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The roles' systemd units, rendered from their templates as the roles render them and checked
/// by `systemd-analyze verify` (no unknown keys or bad values; the binaries exist): CI cannot
/// run them (systemd is not PID 1 there). The sensor's capabilities follow its capture mode; the
/// manager has none.
#[test]
fn systemd_units_render_and_verify() {
    let sensor_bin = require_sensor!();
    if let Some(why) = missing() {
        skip(&why, Need::InCi);
        return;
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            "systemd-analyze is not installed (apt-get install systemd)",
            Need::InCi,
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let roles = ansible_dir().join("roles");
    let bin_dir = sensor_bin.parent().unwrap().display().to_string();
    let modes = ["af_packet", "af_xdp", "auto", "pcap"];
    let mut tasks = vec![json!({
        "name": "Render the manager's unit",
        "ansible.builtin.template": {
            "src": roles.join("otwatch_service/templates/otwatch-manager.service.j2"),
            "dest": dir.path().join("otwatch-manager.service"),
            "mode": "0644",
        },
        "vars": {"otwatch_service_argv": [format!("{bin_dir}/otwatch-manager"), "serve", "--state", "/var/lib/otwatch/manager"]},
    })];
    for mode in modes {
        tasks.push(json!({
            "name": format!("Render the sensor's unit for {mode}"),
            "ansible.builtin.template": {
                "src": roles.join("otwatch_service/templates/otwatch-sensor.service.j2"),
                "dest": dir.path().join(format!("otwatch-sensor-{mode}.service")),
                "mode": "0644",
            },
            "vars": {
                "otwatch_sensor_capture_mode": mode,
                "otwatch_sensor_capabilities": format!("{{{{ otwatch_sensor_capabilities_by_mode['{mode}'] }}}}"),
                "otwatch_service_argv": [format!("{bin_dir}/otwatch-sensor"), "run", "--state", "/var/lib/otwatch/sensor"],
            },
        }));
    }
    let playbook = json!([{
        "name": "Render the units",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": false,
        "vars_files": [
            roles.join("otwatch_manager/defaults/main.yml"),
            roles.join("otwatch_sensor/defaults/main.yml"),
        ],
        "tasks": tasks,
    }]);
    let file = dir.path().join("render.json");
    std::fs::write(&file, serde_json::to_vec(&playbook).unwrap()).unwrap();
    let o = Command::new("ansible-playbook")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    let unit = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let key = |text: &str, k: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .collect()
    };
    let manager = unit("otwatch-manager.service");
    assert_eq!(key(&manager, "CapabilityBoundingSet"), [""]);
    assert_eq!(key(&manager, "AmbientCapabilities"), [""]);
    for mode in modes {
        let text = unit(&format!("otwatch-sensor-{mode}.service"));
        let expect = match mode {
            "af_packet" => "CAP_NET_RAW",
            "pcap" => "",
            _ => "CAP_NET_RAW CAP_NET_ADMIN CAP_BPF CAP_IPC_LOCK",
        };
        assert_eq!(key(&text, "CapabilityBoundingSet"), [expect], "{mode}");
        assert_eq!(key(&text, "AmbientCapabilities"), [expect], "{mode}");
    }
    for text in [&manager, &unit("otwatch-sensor-af_xdp.service")] {
        for k in [
            "NoNewPrivileges",
            "ProtectSystem",
            "ProtectHome",
            "PrivateTmp",
        ] {
            assert!(
                !key(text, k).is_empty() && key(text, k) != [""],
                "{k}:\n{text}"
            );
        }
    }

    let mut units: Vec<PathBuf> = vec![dir.path().join("otwatch-manager.service")];
    units.extend(
        modes
            .iter()
            .map(|m| dir.path().join(format!("otwatch-sensor-{m}.service"))),
    );
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.trim().is_empty(),
        "systemd-analyze verify:\n{err}"
    );
}
