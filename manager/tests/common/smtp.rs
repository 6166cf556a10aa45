//! A real SMTP server for the email tests: aiosmtpd (tests/peers/smtp_server.py) on loopback,
//! requiring STARTTLS with a certificate from a test CA, and AUTH for user `otwatch` with
//! password `s3cret`; each message it takes is written as `<n>.json` into its output directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A CA and a certificate for localhost / 127.0.0.1 signed by it, as PEM files in `dir`:
/// `<name>-ca.pem`, `<name>.pem`, `<name>.key`.
pub fn certs(dir: &Path, name: &str) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let issuer = Issuer::from_ca_cert_der(ca_cert.der(), &ca_key).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join(format!("{name}-ca.pem")), ca_cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

/// Whether python3 with aiosmtpd is there.
pub fn available() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success())
}

/// The running server; killed on drop.
pub struct Smtp {
    child: Child,
    pub port: u16,
    /// Where each message is written as `<n>.json`.
    pub out: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Smtp {
    /// Starts the server with the `smtp` certificate of [`certs`] in `dir` (made here), writing
    /// messages into `dir/out`.
    pub fn start(dir: &Path) -> Smtp {
        certs(dir, "smtp");
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/smtp_server.py");
        let p = |n: &str| dir.join(n).display().to_string();
        let mut child = Command::new("python3")
            .arg(&script)
            .args([
                port.to_string(),
                p("smtp.pem"),
                p("smtp.key"),
                out.display().to_string(),
                "otwatch".into(),
                "s3cret".into(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let s = Smtp { child, port, out };
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        s
    }

    /// The messages taken so far (as the server wrote them), in order.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        (0..)
            .map(|n| self.out.join(format!("{n}.json")))
            .take_while(|f| f.exists())
            .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
            .collect()
    }
}
