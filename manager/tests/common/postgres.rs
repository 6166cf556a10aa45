//! A PostgreSQL server of the test's own: Debian's binaries (`/usr/lib/postgresql/*/bin`), a
//! data directory and a unix socket directory in the test's temporary directory, a free port on
//! 127.0.0.1; stopped (and its files removed) when dropped. Run as the `postgres` user when the
//! test runs as root (initdb refuses root). Included by path by the store's unit tests too.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::skip::{skip, Need};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; `url` reaches its `otwatch` database as the `otwatch` superuser.
pub struct Postgres {
    pub url: String,
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// (uid, gid) the server runs as (`postgres` when the test runs as root).
    user: Option<(u32, u32)>,
}

/// The newest installed server's binaries.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|f| f.1)
}

/// The uid and gid of `name`, from /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// Starts a server, or says why it cannot (`None`: skipped; in CI a failure).
    pub fn start() -> Option<Postgres> {
        let Some(bin) = bin_dir() else {
            skip(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; Debian's `postgresql` package, which .ci/run installs)",
                Need::InCi,
            );
            return None;
        };
        let root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        let user = if root {
            Some(user_ids("postgres").expect("running as root, the server needs the postgres user (Debian's postgresql package makes it)"))
        } else {
            None
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for d in ["data", "sock"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
            if let Some((uid, gid)) = user {
                std::os::unix::fs::chown(dir.path().join(d), Some(uid), Some(gid)).unwrap();
            }
        }
        let mut pg = Postgres {
            url: String::new(),
            port: free_port(),
            bin,
            dir,
            child: None,
            user,
        };
        let out = pg
            .command("initdb")
            .args([
                "-D",
                &pg.path("data"),
                "-U",
                "otwatch",
                "-A",
                "trust",
                "-E",
                "UTF8",
            ])
            .args(["--no-sync", "--no-instructions"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.spawn();
        let out = pg
            .command("createdb")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                "otwatch",
                "otwatch",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.url = format!("postgres://otwatch@127.0.0.1:{}/otwatch", pg.port);
        Some(pg)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn command(&self, tool: &str) -> Command {
        let mut c = Command::new(self.bin.join(tool));
        if let Some((uid, gid)) = self.user {
            c.uid(uid).gid(gid);
        }
        c.current_dir(self.dir.path()).env_remove("PGPASSWORD");
        c
    }

    /// Starts the server and waits until it takes connections.
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("log"))
            .unwrap();
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(self.dir.path().join("log"), Some(uid), Some(gid)).unwrap();
        }
        let child = self
            .command("postgres")
            .args(["-D", &self.path("data"), "-p", &self.port.to_string()])
            .args(["-k", &self.path("sock"), "-c", "listen_addresses=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self
                .command("pg_isready")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("postgres exited with {st}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start in 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (a fast shutdown: clients are disconnected).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Turns TLS on with this server certificate and key (PEM), trusting `client_ca` (PEM) for
    /// clients' certificates, with `hba` as the host rules of pg_hba.conf (local sockets stay
    /// trusted), and restarts.
    pub fn enable_tls(&mut self, cert: &str, key: &str, client_ca: &str, hba: &str) {
        let data = self.dir.path().join("data");
        for (name, pem) in [
            ("server.crt", cert),
            ("server.key", key),
            ("root.crt", client_ca),
        ] {
            let f = data.join(name);
            std::fs::write(&f, pem).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            if let Some((uid, gid)) = self.user {
                std::os::unix::fs::chown(&f, Some(uid), Some(gid)).unwrap();
            }
        }
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(
            &mut conf,
            b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n",
        )
        .unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            format!("local all all trust\n{hba}\n"),
        )
        .unwrap();
        self.restart();
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
