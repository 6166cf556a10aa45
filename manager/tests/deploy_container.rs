//! The container images of `deploy/container`, built with podman (`build.sh`, FROM scratch, from
//! this build's binaries) and run: each image holds only its binary, the C libraries it links,
//! the CA bundle and its account files; the manager runs as 65532, makes its PKI on a volume,
//! serves and answers `health`; a sensor container with every capability dropped but the four
//! capture ones, no new privileges and a read-only root enrols with a token made in the
//! manager's container, replays a capture, and its inventory is on the manager.
//!
//! Needs root, podman and runc (`.ci/run` installs them from Debian): crun, podman's default
//! runtime, refuses this CI machine's hybrid cgroups, and containers here may not raise their
//! file and process limits, so the runs use runc and lower limits. Otherwise the test says why
//! and skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::fleet::{data, free_port, CLI, MANAGER};
use common::skip::{have, is_root, skip, Need};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs in every container: runc, and limits within this machine's hard limits.
const RUN: [&str; 6] = [
    "--runtime",
    "runc",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1000:1000",
];

fn missing() -> Option<String> {
    if !is_root() {
        return Some("the container test needs root (podman with runc)".into());
    }
    ["podman", "runc"]
        .into_iter()
        .find(|t| !have(t))
        .map(|t| format!("{t} is not installed (apt-get install podman runc)"))
}

/// `podman ARGS`: stdout, or a panic with stderr.
fn podman(args: &[&str]) -> String {
    let o = Command::new("podman").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Containers and images made by the test, removed when it ends.
struct Made {
    containers: Vec<String>,
    images: Vec<String>,
}

impl Drop for Made {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = Command::new("podman")
                .args(["rm", "-f", "-t", "2", c])
                .output();
        }
        for i in &self.images {
            let _ = Command::new("podman").args(["rmi", "-f", i]).output();
        }
    }
}

/// The files of an image (created, exported, listed), without directories.
fn files_of(image: &str) -> BTreeSet<String> {
    let id = podman(&["create", image]).trim().to_string();
    let tar = Command::new("sh")
        .args(["-c", &format!("podman export {id} | tar -t")])
        .output()
        .unwrap();
    podman(&["rm", &id]);
    String::from_utf8_lossy(&tar.stdout)
        .lines()
        .filter(|l| !l.ends_with('/'))
        .map(|l| format!("/{}", l.trim_start_matches("./")))
        .collect()
}

#[test]
fn images_from_scratch_build_and_run_a_fleet() {
    let sensor_bin = require_sensor!();
    if let Some(why) = missing() {
        skip(&why, Need::InCi);
        return;
    }
    let tag = format!("test-{}", std::process::id());
    let bin_dir = Path::new(MANAGER).parent().unwrap();
    let o =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/container/build.sh"))
            .args(["--bin-dir", bin_dir.to_str().unwrap(), "--tag", &tag])
            .output()
            .unwrap();
    assert!(
        o.status.success(),
        "build.sh: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let images: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let mut made = Made {
        containers: Vec::new(),
        images: images.clone(),
    };
    let (manager_image, sensor_image) = (
        format!("localhost/otwatch-manager:{tag}"),
        format!("localhost/otwatch-sensor:{tag}"),
    );
    assert_eq!(images, [manager_image.clone(), sensor_image.clone()]);

    // Nothing but the binary, its libraries, the CA bundle and the account files.
    for (image, bin, extra) in [
        (&manager_image, "otwatch-manager", None),
        (
            &sensor_image,
            "otwatch-sensor",
            Some("/etc/otwatch/sensor.toml"),
        ),
    ] {
        let files = files_of(image);
        for f in &files {
            let expected = f == &format!("/usr/local/bin/{bin}")
                || f.starts_with("/lib")
                || f.starts_with("/usr/lib")
                || [
                    "/etc/passwd",
                    "/etc/group",
                    "/etc/ssl/certs/ca-certificates.crt",
                ]
                .contains(&f.as_str())
                || Some(f.as_str()) == extra;
            assert!(expected, "{image} holds {f}: {files:?}");
        }
        let version = podman(&[
            "run",
            "--rm",
            "--network",
            "none",
            RUN[0],
            RUN[1],
            RUN[2],
            RUN[3],
            RUN[4],
            RUN[5],
            image,
            "--version",
        ]);
        assert!(
            version.starts_with(&format!("{bin} {}", env!("CARGO_PKG_VERSION"))),
            "{version}"
        );
    }
    assert_eq!(
        podman(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.User}}",
            &manager_image
        ])
        .trim(),
        "65532:65532"
    );

    // The manager: PKI on a host directory (its account's), serving on the host network.
    let dir = tempfile::tempdir().unwrap();
    let state: PathBuf = dir.path().join("otwatch");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(65532), Some(65532)).unwrap();
    let mount = format!("{}:/var/lib/otwatch", state.display());
    let run = |extra: &[&str], image: &str, args: &[&str]| -> String {
        let mut all = vec!["run"];
        all.extend(RUN);
        all.extend(extra);
        all.push(image);
        all.extend(args);
        podman(&all)
    };
    run(
        &["--rm", "--network", "none", "-v", &mount],
        &manager_image,
        &[
            "init",
            "--keep-existing",
            "--state",
            "/var/lib/otwatch/manager",
        ],
    );
    let port = free_port();
    let name = format!("otwatch-manager-{tag}");
    made.containers.push(name.clone());
    run(
        &[
            "-d",
            "--name",
            &name,
            "--network",
            "host",
            "-v",
            &mount,
            "--cap-drop",
            "ALL",
            "--read-only",
            "--security-opt",
            "no-new-privileges",
        ],
        &manager_image,
        &[
            "serve",
            "--state",
            "/var/lib/otwatch/manager",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    let exec = |args: &[&str]| {
        let mut all = vec!["exec", name.as_str(), "/usr/local/bin/otwatch-manager"];
        all.extend(args);
        let o = Command::new("podman").args(&all).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
        )
    };
    // The Kubernetes probe's command, until the manager serves.
    let mut healthy = false;
    for _ in 0..40 {
        if exec(&["health", "--state", "/var/lib/otwatch/manager"]) == (true, "serving".into()) {
            healthy = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(healthy, "{}", podman(&["logs", &name]));
    let (ok, token) = exec(&[
        "token",
        "create",
        "--state",
        "/var/lib/otwatch/manager",
        "--site",
        "plant-a",
    ]);
    assert!(ok && token.starts_with("otwt1."));
    let (ok, _) = exec(&[
        "user",
        "create",
        "--state",
        "/var/lib/otwatch/manager",
        "--name",
        "admin",
        "--role",
        "admin",
        "--cred",
        "/var/lib/otwatch/admin",
    ]);
    assert!(ok);

    // A sensor with only the capture capabilities, read-only, enrolling and replaying.
    let sensor_state = dir.path().join("sensor");
    std::fs::create_dir(&sensor_state).unwrap();
    let sensor_mount = format!("{}:/var/lib/otwatch/sensor", sensor_state.display());
    let data_dir = Path::new(&data("dhcp.pcap"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let data_mount = format!("{data_dir}:/data:ro");
    let url = format!("https://localhost:{port}");
    let locked = [
        "--rm",
        "--network",
        "host",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_RAW,NET_ADMIN,BPF,IPC_LOCK",
        "--security-opt",
        "no-new-privileges",
        "--read-only",
        "-v",
        &sensor_mount,
        "-v",
        &data_mount,
    ];
    // As the Kubernetes init container does: the token from a mounted file named after the
    // node, and nothing done at the next start.
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    std::fs::write(tokens.join("node-1"), format!("{token}\n")).unwrap();
    let tokens_mount = format!("{}:/run/otwatch/enroll:ro", tokens.display());
    let mut enroll_opts = locked.to_vec();
    enroll_opts.extend(["-v", &tokens_mount]);
    let enroll = [
        "enroll",
        "--keep-existing",
        "--manager",
        &url,
        "--state",
        "/var/lib/otwatch/sensor",
        "--enroll-token-file",
        "/run/otwatch/enroll/node-1",
    ];
    let first = run(&enroll_opts, &sensor_image, &enroll);
    assert!(first.contains("enrolled as sensor"), "{first}");
    let second = run(&enroll_opts, &sensor_image, &enroll);
    assert!(second.contains("already enrolled"), "{second}");
    run(
        &locked,
        &sensor_image,
        &[
            "run",
            "--state",
            "/var/lib/otwatch/sensor",
            "--pcap",
            "/data/suricata-modbus.pcap",
        ],
    );
    let o = Command::new(CLI)
        .args(["--manager", &url, "--cred"])
        .arg(state.join("admin"))
        .args(["--format", "json", "sensors"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sensors: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &sensors[0];
    assert_eq!(s["site"], "plant-a", "{sensors}");
    assert!(s["assets"].as_u64().unwrap() > 0, "{sensors}");
    let version = String::from_utf8_lossy(
        &Command::new(&sensor_bin)
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .split_once(' ')
    .unwrap()
    .1
    .to_string();
    assert_eq!(s["version"], version.as_str(), "{sensors}");
}
