//! A small HTTP/1.1 client for the HTTP destinations (webhook, Sentinel, Splunk HEC): one
//! request per connection (`Connection: close`), over TCP or rustls with a configured CA. The
//! forwarder sends a batch every few seconds at most, so keeping connections alive buys
//! little and a client this size is easier to trust than a general one.

use super::addr::Url;
use super::tls::Connector;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A whole request or answer must finish within this.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Answers larger than this are cut (only the status and a short reason are used).
const MAX_ANSWER: usize = 64 << 10;

/// An answer: status code and (the start of) the body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// POSTs `body` to `url` with `headers` (name, value); `tls` for https URLs.
pub async fn post(
    url: &Url,
    headers: &[(&str, String)],
    body: &[u8],
    tls: Option<&Connector>,
) -> Result<Answer, String> {
    tokio::time::timeout(TIMEOUT, async {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", url.host, url.port))?;
        let _ = tcp.set_nodelay(true);
        if url.https {
            let tls = tls.ok_or("an https URL needs a CA (ca = \"FILE\")")?;
            let stream = tls.connect(&url.host, tcp).await?;
            exchange(stream, url, headers, body).await
        } else {
            exchange(tcp, url, headers, body).await
        }
    })
    .await
    .map_err(|_| {
        format!(
            "no answer from {}:{} within {TIMEOUT:?}",
            url.host, url.port
        )
    })?
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    url: &Url,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<Answer, String> {
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: otwatch-manager/{}\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let io = |e: std::io::Error| format!("{}:{}: {e}", url.host, url.port);
    s.write_all(req.as_bytes()).await.map_err(io)?;
    s.write_all(body).await.map_err(io)?;
    s.flush().await.map_err(io)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(n) => n,
            // A TLS peer that closes without close_notify after its answer: keep what came.
            Err(e) if !buf.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(io(e)),
        };
        if n == 0 || buf.len() >= MAX_ANSWER {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        // A server that keeps the connection open despite `Connection: close` has answered
        // once the body it announced is in.
        if complete(&buf) {
            break;
        }
    }
    parse_answer(&buf).ok_or_else(|| {
        format!(
            "{}:{} did not answer with HTTP ({} bytes)",
            url.host,
            url.port,
            buf.len()
        )
    })
}

/// Whether `raw` holds a whole answer: headers and the Content-Length bytes of body, or a
/// chunked body's last chunk. Without either the answer ends when the server closes.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = raw.len() - end - 4;
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("content-length:") {
            return v.trim().parse::<usize>().is_ok_and(|n| body >= n);
        }
        if line.starts_with("transfer-encoding:") && line.contains("chunked") {
            return raw.ends_with(b"0\r\n\r\n");
        }
    }
    false
}

/// The status and body of a raw HTTP/1.x answer.
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(raw);
    let status_line = text.lines().next()?;
    let mut parts = status_line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.chars().take(512).collect())
        .unwrap_or_default();
    Some(Answer { status, body })
}

/// Percent-encodes a form value (application/x-www-form-urlencoded).
pub fn form_encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            b => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let a = parse_answer(b"HTTP/1.1 204 No Content\r\nX: y\r\n\r\n").unwrap();
        assert_eq!(a.status, 204);
        assert!(parse_answer(b"garbage").is_none());
        assert_eq!(form_encode("a b&c"), "a+b%26c");
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}"));
        assert!(complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        ));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nbody"));
    }
}
