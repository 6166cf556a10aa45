//! TLS to PostgreSQL, asked for with libpq's connection parameters so that the `--store` URL a
//! DBA hands over works as it is: `sslmode` (`disable`, `allow`/`prefer`, `require`, `verify-ca`,
//! `verify-full`), `sslrootcert` (the CA that signed the server's certificate, a PEM file, or
//! `system` for the machine's bundle), and `sslcert`/`sslkey` (a client certificate, for
//! `cert` authentication in `pg_hba.conf`).
//!
//! Stricter than libpq on purpose: whenever TLS is used the server's certificate is verified
//! against `sslrootcert`, and its name against the URL's host, whatever the mode (libpq's
//! `require` and `verify-ca` check less). `require` without `sslrootcert` is refused with what to
//! add, rather than encrypting to whoever answers.

use postgres::config::SslMode;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where Debian (and most distributions) keep the system's CA bundle: `sslrootcert=system`.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The TLS a connection string asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Wanted {
    /// `sslmode` as given (`None`: absent, libpq's default `prefer`).
    mode: Option<String>,
    root: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// The TLS parameters this module handles (the client library knows only `sslmode`'s first
/// three values and none of the others).
const KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// Takes the TLS parameters out of `conn` (a `postgres://` URL or libpq's `key=value` form):
/// what is left, for the client library, and what they ask for.
pub fn split(conn: &str) -> Result<(String, Wanted), String> {
    let mut wanted = Wanted::default();
    let mut take = |key: &str, value: String| -> Result<(), String> {
        match key {
            "sslmode" => wanted.mode = Some(value),
            "sslrootcert" => wanted.root = Some(PathBuf::from(value)),
            "sslcert" => wanted.cert = Some(PathBuf::from(value)),
            _ => wanted.key = Some(PathBuf::from(value)),
        }
        Ok(())
    };
    let rest = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let Some((base, query)) = conn.split_once('?') else {
            return Ok((conn.to_string(), wanted));
        };
        let mut kept = Vec::new();
        for param in query.split('&') {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            if KEYS.contains(&k) {
                take(k, percent_decoded(v)?)?;
            } else {
                kept.push(param);
            }
        }
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for (k, v, raw) in key_values(conn)? {
            if KEYS.contains(&k.as_str()) {
                take(&k, v)?;
            } else {
                kept.push(raw);
            }
        }
        kept.join(" ")
    };
    Ok((rest, wanted))
}

/// `%XX` escapes decoded (a URL's query value).
fn percent_decoded(v: &str) -> Result<String, String> {
    let bad = || format!("{v:?}: a bad %-escape in the --store URL");
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// libpq's `key = value` pairs (values optionally in single quotes, with `\` escapes): each
/// key, its value, and its text as written.
fn key_values(conn: &str) -> Result<Vec<(String, String, &str)>, String> {
    let mut out = Vec::new();
    let b = conn.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = conn[start..i].to_string();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return Err(format!("{key:?} has no value: expected key=value"));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if b.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(format!("{key:?}: its quoted value does not end")),
                    Some(b'\\') if i + 1 < b.len() => {
                        value.push(b[i + 1]);
                        i += 2;
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                value.push(b[i]);
                i += 1;
            }
        }
        let value = String::from_utf8(value).map_err(|_| format!("{key:?}: not UTF-8"))?;
        out.push((key, value, &conn[start..i]));
    }
}

impl Wanted {
    /// The client library's mode, and the TLS client to connect with (`None`: plain TCP).
    pub fn connector(&self) -> Result<(SslMode, Option<MakeRustls>), String> {
        let required = match self.mode.as_deref() {
            None | Some("prefer" | "allow") => false,
            Some("disable") => return Ok((SslMode::Disable, None)),
            Some("require" | "verify-ca" | "verify-full") => true,
            Some(other) => {
                return Err(format!(
                    "sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
                ))
            }
        };
        let client = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            (None, None) => None,
            _ => return Err("sslcert and sslkey go together: give both or neither".into()),
        };
        let root = match self.root.as_deref() {
            Some(p) if p.as_os_str() == "system" => PathBuf::from(SYSTEM_ROOTS),
            Some(p) => p.to_path_buf(),
            None if required => {
                return Err(format!(
                    "sslmode={}: otwatch verifies the server's certificate; add \
                     sslrootcert=FILE (the CA that signed it, PEM) to the URL, or \
                     sslrootcert=system",
                    self.mode.as_deref().unwrap_or_default()
                ))
            }
            // Plain TCP unless asked for: what libpq's `prefer` gives without a CA to check.
            None => return Ok((SslMode::Prefer, None)),
        };
        let mut cfg = crate::tls::client_config(&root, client)?;
        // PostgreSQL 17's direct TLS negotiation requires it; older servers ignore it.
        cfg.alpn_protocols = vec![b"postgresql".to_vec()];
        let mode = if required {
            SslMode::Require
        } else {
            SslMode::Prefer
        };
        Ok((
            mode,
            Some(MakeRustls(tokio_rustls::TlsConnector::from(Arc::new(cfg)))),
        ))
    }
}

/// Makes a TLS client for each connection (the client library's hook).
#[derive(Clone)]
pub struct MakeRustls(tokio_rustls::TlsConnector);

impl std::fmt::Debug for MakeRustls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MakeRustls")
    }
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = Stream;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<Connect> {
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host:?} cannot be checked against a certificate (not a DNS name or IP address)"),
            )
        })?;
        Ok(Connect {
            tls: self.0.clone(),
            name,
        })
    }
}

/// One connection's TLS handshake.
pub struct Connect {
    tls: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for Connect {
    type Stream = Stream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        Box::pin(async move {
            let s = self.tls.connect(self.name, socket).await?;
            Ok(Stream(Box::new(s)))
        })
    }
}

/// A TLS session with the server.
pub struct Stream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl TlsStream for Stream {
    fn channel_binding(&self) -> ChannelBinding {
        // The certificate is verified against the CA, so SCRAM's channel binding would add
        // little; none is offered (the server's default accepts that).
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(mode: &str, root: Option<&str>) -> Wanted {
        Wanted {
            mode: Some(mode.into()),
            root: root.map(PathBuf::from),
            ..Wanted::default()
        }
    }

    #[test]
    fn tls_parameters_are_taken_out_of_both_forms() {
        let (rest, w) = split(
            "postgres://ot@db.example:5432/fleet?sslmode=verify-full&connect_timeout=5&sslrootcert=%2Fetc%2Fot%20ca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://ot@db.example:5432/fleet?connect_timeout=5"
        );
        assert_eq!(w, wanted("verify-full", Some("/etc/ot ca.pem")));
        let (rest, w) = split("postgres://ot@db/fleet?sslmode=require").unwrap();
        assert_eq!(rest, "postgres://ot@db/fleet");
        assert_eq!(w, wanted("require", None));
        let (rest, w) = split(
            "host=db.example sslrootcert = '/etc/o\\'t/ca.pem' password='a b' sslmode=verify-ca",
        )
        .unwrap();
        assert_eq!(rest, "host=db.example password='a b'");
        assert_eq!(w, wanted("verify-ca", Some("/etc/o't/ca.pem")));
        assert!(split("host=db sslmode").is_err());
        assert!(split("host=db password='open").is_err());
        assert!(split("postgres://db/x?sslrootcert=%zz").is_err());
        // Nothing to take out.
        let (rest, w) = split("postgres://ot@db/fleet").unwrap();
        assert_eq!(
            (rest.as_str(), w),
            ("postgres://ot@db/fleet", Wanted::default())
        );
    }

    #[test]
    fn a_mode_needing_tls_needs_a_ca_and_bad_values_say_what_is_expected() {
        let e = wanted("require", None).connector().unwrap_err();
        assert!(e.contains("sslrootcert=FILE"), "{e}");
        let e = wanted("verify-all", None).connector().unwrap_err();
        assert!(e.contains("expected disable, prefer"), "{e}");
        let e = wanted("verify-full", Some("/nonexistent/ca.pem"))
            .connector()
            .unwrap_err();
        assert!(e.contains("cannot read /nonexistent/ca.pem"), "{e}");
        let (mode, tls) = wanted("disable", Some("/nonexistent")).connector().unwrap();
        assert!(mode == SslMode::Disable && tls.is_none());
        let (mode, tls) = Wanted::default().connector().unwrap();
        assert!(mode == SslMode::Prefer && tls.is_none());
        let half = Wanted {
            cert: Some("c.pem".into()),
            ..wanted("verify-full", Some("/nonexistent"))
        };
        assert!(half.connector().unwrap_err().contains("go together"));
    }
}
