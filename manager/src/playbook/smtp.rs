//! A small SMTP client for the email action (RFC 5321): EHLO, STARTTLS (RFC 3207) with the
//! server's certificate verified against the configured CA, AUTH PLAIN or LOGIN (RFC 4954),
//! MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT. One message per connection; no
//! pipelining, so nothing the server sent before the TLS handshake can be mistaken for what it
//! sends after it.

use super::config::{EmailAuth, EmailTls};
use crate::forward::tls::Connector;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A whole exchange must finish within this.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// Longest reply line taken (RFC 5321 4.5.3.1.5 says 512 octets; servers exceed it a little).
const MAX_LINE: usize = 4096;

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: EmailTls,
    /// Verifies the server's certificate (STARTTLS); required then.
    pub connector: Option<Connector>,
    /// The name the certificate must hold.
    pub server_name: String,
    /// Mechanism, user name, password.
    pub auth: Option<(EmailAuth, String, String)>,
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// RFC 5322 date (see [`rfc5322_date`]).
    pub date: String,
    /// Without the angle brackets.
    pub message_id: String,
}

/// Standard base64 (RFC 4648 4.), for AUTH and non-ASCII headers and bodies.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `secs` (Unix time) as an RFC 5322 date in UTC: `Mon, 07 Dec 2026 20:31:59 +0000`.
pub fn rfc5322_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = secs.max(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A header value on one line: line breaks (which would start new headers) become spaces;
/// non-ASCII text is an RFC 2047 encoded word.
fn header_value(v: &str) -> String {
    let v: String = v
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    if v.is_ascii() {
        v
    } else {
        format!("=?UTF-8?B?{}?=", base64(v.as_bytes()))
    }
}

/// The message as sent after DATA: headers, body with CRLF line ends and dot-stuffing
/// (RFC 5321 4.5.2), and the final `.`.
pub fn data(m: &Message) -> String {
    let mut out = format!(
        "From: <{}>\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n",
        m.from,
        m.to.iter().map(|t| format!("<{t}>")).collect::<Vec<_>>().join(", "),
        header_value(&m.subject),
        m.date,
        m.message_id,
    );
    let body = m.body.replace("\r\n", "\n");
    if body.is_ascii() {
        out.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        for line in body.split('\n') {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
    } else {
        out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let b = base64(body.replace('\n', "\r\n").as_bytes());
        for chunk in b.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push_str("\r\n");
        }
    }
    out.push_str(".\r\n");
    out
}

/// Whether the EHLO extensions `ext` offer AUTH `mech`.
fn offers_auth(ext: &[String], mech: &str) -> bool {
    ext.iter().any(|e| {
        let mut w = e.split_ascii_whitespace();
        w.next() == Some("AUTH") && w.any(|m| m == mech)
    })
}

struct Conn<S> {
    s: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// One reply: its code and its text (its lines, joined by line breaks).
    async fn reply(&mut self) -> Result<(u16, String), String> {
        let mut text = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = (&mut self.s)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| format!("reading the server's reply: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| format!("not an SMTP reply: {line:?}"))?;
            text.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, text.join("\n")));
            }
        }
    }

    /// Sends `cmd` (without CRLF) and wants a reply with code `want` (or, with `want` 0, any
    /// 2xx/3xx); `shown` is what an error names instead of the command (never a secret).
    async fn cmd(&mut self, cmd: &str, want: u16, shown: &str) -> Result<String, String> {
        self.s
            .get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .map_err(|e| format!("sending {shown}: {e}"))?;
        self.expect(want, shown).await
    }

    async fn expect(&mut self, want: u16, shown: &str) -> Result<String, String> {
        let (code, text) = self.reply().await?;
        let ok = if want == 0 {
            (200..400).contains(&code)
        } else {
            code == want
        };
        if ok {
            Ok(text)
        } else {
            Err(format!("{shown}: the server answered {code} {text}"))
        }
    }

    /// EHLO; the extensions the server announced, one a line (upper case, with parameters).
    async fn ehlo(&mut self) -> Result<Vec<String>, String> {
        let name = crate::forward::manager_hostname();
        let text = self.cmd(&format!("EHLO {name}"), 250, "EHLO").await?;
        // The first line greets; the others are extensions.
        Ok(text
            .lines()
            .skip(1)
            .map(|l| l.trim().to_ascii_uppercase())
            .collect())
    }

    /// After EHLO (over TLS, or plain on loopback): AUTH, the envelope, the message, QUIT.
    async fn transact(
        &mut self,
        server: &Server,
        m: &Message,
        ext: &[String],
    ) -> Result<(), String> {
        if let Some((mech, user, pass)) = &server.auth {
            match mech {
                EmailAuth::Plain => {
                    if !offers_auth(ext, "PLAIN") {
                        return Err("the server does not offer AUTH PLAIN".into());
                    }
                    let token = base64(format!("\0{user}\0{pass}").as_bytes());
                    self.cmd(&format!("AUTH PLAIN {token}"), 235, "AUTH PLAIN")
                        .await?;
                }
                EmailAuth::Login => {
                    if !offers_auth(ext, "LOGIN") {
                        return Err("the server does not offer AUTH LOGIN".into());
                    }
                    self.cmd("AUTH LOGIN", 334, "AUTH LOGIN").await?;
                    self.cmd(&base64(user.as_bytes()), 334, "AUTH LOGIN user name")
                        .await?;
                    self.cmd(&base64(pass.as_bytes()), 235, "AUTH LOGIN password")
                        .await?;
                }
            }
        }
        self.cmd(&format!("MAIL FROM:<{}>", m.from), 250, "MAIL FROM")
            .await?;
        for to in &m.to {
            self.cmd(&format!("RCPT TO:<{to}>"), 0, &format!("RCPT TO <{to}>"))
                .await?;
        }
        self.cmd("DATA", 354, "DATA").await?;
        self.s
            .get_mut()
            .write_all(data(m).as_bytes())
            .await
            .map_err(|e| format!("sending the message: {e}"))?;
        self.expect(250, "the message").await?;
        // The message is taken; a failed QUIT changes nothing.
        let _ = self.cmd("QUIT", 221, "QUIT").await;
        Ok(())
    }
}

/// Sends `m` through `server`. With STARTTLS (required unless the configuration said
/// `tls = "none"` for a loopback server), nothing but EHLO and STARTTLS is sent before the TLS
/// handshake, and a server that does not offer STARTTLS gets no message.
pub async fn send(server: &Server, m: &Message) -> Result<(), String> {
    tokio::time::timeout(TIMEOUT, async {
        let tcp = TcpStream::connect((server.host.as_str(), server.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", server.host, server.port))?;
        let mut c = Conn {
            s: BufReader::new(tcp),
        };
        c.expect(220, "the greeting").await?;
        let ext = c.ehlo().await?;
        match server.tls {
            EmailTls::None => c.transact(server, m, &ext).await,
            EmailTls::Starttls => {
                if !ext.iter().any(|e| e == "STARTTLS") {
                    return Err(format!(
                        "{}:{} does not offer STARTTLS; no message is sent without it",
                        server.host, server.port
                    ));
                }
                c.cmd("STARTTLS", 220, "STARTTLS").await?;
                if !c.s.buffer().is_empty() {
                    return Err("the server sent data before the TLS handshake".into());
                }
                let connector = server
                    .connector
                    .as_ref()
                    .ok_or("STARTTLS needs a CA (ca = \"FILE\")")?;
                let tls = connector
                    .connect(&server.server_name, c.s.into_inner())
                    .await?;
                let mut c = Conn {
                    s: BufReader::new(tls),
                };
                let ext = c.ehlo().await?;
                c.transact(server, m, &ext).await
            }
        }
    })
    .await
    .map_err(|_| {
        format!(
            "{}:{} did not finish within {TIMEOUT:?}",
            server.host, server.port
        )
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_dates() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"\0u\0p"), "AHUAcA==");
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_796_675_519),
            "Mon, 07 Dec 2026 20:31:59 +0000"
        );
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn data_is_dot_stuffed_and_headers_stay_one_line() {
        let m = Message {
            from: "a@x.org".into(),
            to: vec!["b@x.org".into(), "c@x.org".into()],
            subject: "PLC\r\nBcc: evil@x.org".into(),
            body: "one\n.two\n..three\n.".into(),
            date: "Thu, 01 Jan 1970 00:00:00 +0000".into(),
            message_id: "1@otwatch".into(),
        };
        let d = data(&m);
        assert!(d.contains("Subject: PLC  Bcc: evil@x.org\r\n"), "{d}");
        assert!(d.contains("To: <b@x.org>, <c@x.org>\r\n"), "{d}");
        assert!(
            d.ends_with("\r\n\r\none\r\n..two\r\n...three\r\n..\r\n.\r\n"),
            "{d}"
        );
        let m = Message {
            subject: "Störung".into(),
            body: "é".into(),
            ..m
        };
        let d = data(&m);
        assert!(d.contains("Subject: =?UTF-8?B?U3TDtnJ1bmc=?=\r\n"), "{d}");
        assert!(d.contains("base64\r\n\r\nw6k=\r\n.\r\n"), "{d}");
    }
}
