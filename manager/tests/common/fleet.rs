//! A fleet of separate processes: `otwatch-manager serve` on a free port with an admin's
//! credentials, `otwatch-sensor` (built next to the manager) enrolled with one-time tokens, and
//! the `otwatch` CLI in JSON. The manager's stderr goes to `manager.log` in the fleet directory.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const MANAGER: &str = env!("CARGO_BIN_EXE_otwatch-manager");
pub const CLI: &str = env!("CARGO_BIN_EXE_otwatch");

pub fn sensor_bin() -> Option<PathBuf> {
    let p = Path::new(MANAGER).parent()?.join("otwatch-sensor");
    p.exists().then_some(p)
}

/// The sensor binary, or a "skipping" line and `return` from the test.
macro_rules! require_sensor {
    () => {
        match $crate::common::fleet::sensor_bin() {
            Some(p) => p,
            None => {
                $crate::common::skip::skip("otwatch-sensor is not built next to otwatch-manager; run `cargo nextest run --workspace` (or `cargo build -p otwatch-sensor`)", $crate::common::skip::Need::InCi);
                return;
            }
        }
    };
}

/// A bundled capture in tests/data.
pub fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
        .display()
        .to_string()
}

/// Runs `bin` and returns its stdout; panics with its stderr when it fails.
pub fn out(bin: &Path, args: &[&str]) -> String {
    let o = Command::new(bin).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{} {args:?}: {}",
        bin.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A child process killed (SIGKILL) on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `otwatch-manager serve` on the state directory `data` with `flag file`, which must refuse to
/// start: what it said on stderr.
pub fn serve_refuses(data: &str, flag: &str, file: &Path) -> String {
    let o = Command::new(MANAGER)
        .args(["serve", "--state", data, "--listen", "127.0.0.1:0", flag])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "serve started with {flag} {}",
        file.display()
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A manager data directory with an admin's credentials.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The manager's PostgreSQL store (`serve --store`); `None`: the embedded one.
    pub store: Option<String>,
}

impl Fleet {
    pub fn new() -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let f = Fleet {
            dir,
            port: free_port(),
            store: None,
        };
        out(Path::new(MANAGER), &["init", "--state", &f.data()]);
        let cred = f.cred();
        out(
            Path::new(MANAGER),
            &[
                "user",
                "create",
                "--state",
                &f.data(),
                "--name",
                "admin",
                "--role",
                "admin",
                "--cred",
                &cred,
            ],
        );
        f
    }
    /// A fleet whose manager keeps its store in the database at `url`.
    pub fn on_store(url: &str) -> Fleet {
        Fleet {
            store: Some(url.to_string()),
            ..Fleet::new()
        }
    }
    pub fn data(&self) -> String {
        self.dir.path().join("m").display().to_string()
    }
    pub fn cred(&self) -> String {
        self.dir.path().join("admin").display().to_string()
    }
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
    /// A one-time enrolment token; made in the store, or through the manager while it runs.
    pub fn token(&self, site: &str) -> String {
        out(
            Path::new(MANAGER),
            &["token", "create", "--state", &self.data(), "--site", site],
        )
        .trim()
        .to_string()
    }
    /// Starts the manager and waits until it listens; its stderr is appended to `manager.log`.
    pub fn serve(&self) -> Killed {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("manager.log"))
            .unwrap();
        let mut c = Command::new(MANAGER)
            .args(["serve", "--state", &self.data(), "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(self.store.iter().flat_map(|s| ["--store", s]))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(c.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening on"), "{line}\n{}", self.log());
        Killed(c)
    }
    /// What the manager wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("manager.log")).unwrap_or_default()
    }
    pub fn state(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    /// `otwatch --format json ARGS` as the admin.
    pub fn cli(&self, args: &[&str]) -> Value {
        let (url, cred) = (self.url(), self.cred());
        let mut full = vec!["--manager", &url, "--cred", &cred, "--format", "json"];
        full.extend_from_slice(args);
        let o = Command::new(CLI).args(&full).output().unwrap();
        assert!(
            o.status.success(),
            "otwatch {args:?}: {}\n--- manager stderr ---\n{}",
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

/// `otwatch-sensor enroll` of a state directory with the manager at `url`.
pub fn enroll(sensor: &Path, url: &str, token: &str, state: &str) {
    out(
        sensor,
        &[
            "enroll",
            "--manager",
            url,
            "--enroll-token",
            token,
            "--state",
            state,
        ],
    );
}
