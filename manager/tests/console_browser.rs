//! The web console in a real browser: `otwatch-manager demo` (three sensors at two sites
//! replaying the bundled captures) serves it, and `manager/console/tests/browser.mjs` drives
//! Debian's chromium through playwright-core: sign-in refused and accepted, every asset of the
//! demo in its Purdue row on the map, filters, an asset's page, an alert acknowledged by an
//! analyst and refused to a viewer, sign-out, keyboard navigation, no console errors. The
//! screenshots land in `target/console-screenshots` (CI keeps them as artefacts).
//!
//! Needs node (20 or later), chromium and `npm ci` in manager/console (`.ci/run` does all three);
//! otherwise it says so and skips, and fails in CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::fleet::{CLI, MANAGER};
use common::skip::{skip, Need};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Whether node runs and is 20 or later (playwright-core needs it).
fn node_ok() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let v = String::from_utf8_lossy(&o.stdout).to_string();
            v.trim()
                .trim_start_matches('v')
                .split('.')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .is_some_and(|major| major >= 20)
}

/// A network namespace with only its loopback, where the demo and the browser run as root:
/// chromium aborts its requests (ERR_NETWORK_CHANGED) whenever an interface comes or goes, and
/// other tests add and remove veth pairs all the time; inside, nothing changes. Removed when
/// dropped. Without root, the test runs in the machine's own namespace.
struct Netns(Option<String>);

impl Netns {
    fn new() -> Netns {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !root {
            return Netns(None);
        }
        let name = format!("otwc{}", std::process::id());
        let ok = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(ok(&["netns", "add", &name]), "ip netns add {name}");
        let ns = Netns(Some(name.clone()));
        assert!(
            ok(&["-n", &name, "link", "set", "lo", "up"]),
            "lo up in {name}"
        );
        ns
    }

    /// `program` to run inside the namespace.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.0 {
            Some(name) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", name]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(name) = &self.0 {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// The demo, stopped (SIGTERM, then waited for) when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// What the demo printed: the manager's URL, the admin's credentials, the console token.
struct Started {
    url: String,
    cred: String,
    token: String,
}

fn start_demo(ns: &Netns, sensor: &Path, state: &Path) -> (Demo, Started) {
    let captures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let mut child = ns
        .command(MANAGER)
        .args(["demo", "--captures"])
        .arg(&captures)
        .arg("--sensor-bin")
        .arg(sensor)
        .arg("--state")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = Demo(child);
    let (mut url, mut cred, mut token) = (String::new(), String::new(), String::new());
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("export ") {
            for (k, v) in rest.split_whitespace().filter_map(|kv| kv.split_once('=')) {
                match k {
                    "OTWATCH_MANAGER" => url = v.to_string(),
                    "OTWATCH_CRED" => cred = v.to_string(),
                    _ => {}
                }
            }
        }
        if t.starts_with("otwop1.") {
            token = t.to_string();
        }
        if t.starts_with("serving until Ctrl-C") {
            break;
        }
    }
    assert!(
        !url.is_empty() && !token.is_empty(),
        "the demo prints the console's URL and a token:\n{printed}"
    );
    assert!(
        printed.contains(&format!("Web console: {url}/")),
        "{printed}"
    );
    (demo, Started { url, cred, token })
}

fn cli(ns: &Netns, s: &Started, args: &[&str]) -> Value {
    let o = ns
        .command(CLI)
        .args(["--manager", &s.url, "--cred", &s.cred, "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "otwatch {args:?}: {o:?}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A bearer token for a new operator, made on the running demo's manager.
fn operator_token(ns: &Netns, state: &Path, name: &str, role: &str) -> String {
    let o = ns
        .command(MANAGER)
        .args([
            "user",
            "create",
            "--name",
            name,
            "--role",
            role,
            "--auth-token",
            "--state",
        ])
        .arg(state.join("manager"))
        .output()
        .unwrap();
    assert!(o.status.success(), "user create {name}: {o:?}");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("otwop1."))
        .unwrap_or_else(|| panic!("no token in {o:?}"))
        .to_string()
}

#[test]
fn the_console_in_chromium_against_the_demo() {
    let sensor = require_sensor!();
    let Some(chromium) = chromium() else {
        skip("no chromium (apt-get install chromium)", Need::InCi);
        return;
    };
    if !node_ok() {
        skip("no node 20 or later on the PATH", Need::InCi);
        return;
    }
    if !console_dir().join("node_modules/playwright-core").exists() {
        skip(
            "playwright-core is not installed: run `npm ci` in manager/console",
            Need::InCi,
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("demo");
    let ns = Netns::new();
    let (demo, s) = start_demo(&ns, &sensor, &state);
    let viewer = operator_token(&ns, &state, "vic", "viewer");
    let analyst = operator_token(&ns, &state, "ana", "analyst");

    let assets = cli(&ns, &s, &["assets"]);
    let expect_assets: Vec<Value> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            json!({
                "id": a["id"],
                "site": a["site"],
                "level": a["asset"]["purdue_level"],
            })
        })
        .collect();
    assert!(expect_assets.len() >= 10, "{assets}");
    let alerts = cli(&ns, &s, &["alerts", "--status", "new"]);
    let alert = alerts
        .as_array()
        .unwrap()
        .first()
        .unwrap_or_else(|| panic!("the demo has an alert to acknowledge: {alerts}"))["id"]
        .clone();
    let expect = tmp.path().join("expect.json");
    std::fs::write(
        &expect,
        json!({ "assets": expect_assets, "alert": alert }).to_string(),
    )
    .unwrap();

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    let out = ns
        .command("node")
        .arg("tests/browser.mjs")
        .current_dir(console_dir())
        .env("OTWATCH_CONSOLE_URL", &s.url)
        .env("OTWATCH_TOKEN_VIEWER", &viewer)
        .env("OTWATCH_TOKEN_ANALYST", &analyst)
        .env("OTWATCH_EXPECT", &expect)
        .env("OTWATCH_SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{said}\nscreenshots in {}", shots.display());
    assert!(out.status.success(), "the browser test failed:\n{said}");
    // The token the demo prints (what a new user pastes) is an admin's.
    let o = ns
        .command(CLI)
        .args(["--manager", &s.url, "--auth-token", &s.token, "--ca"])
        .arg(state.join("admin/ca.pem"))
        .args(["--format", "json", "tokens", "create", "--site", "plant-c"])
        .output()
        .unwrap();
    assert!(o.status.success(), "the demo's console token: {o:?}");
    // The demo stops before its namespace goes.
    drop(demo);
}
