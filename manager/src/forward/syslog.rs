//! Syslog to a SIEM: RFC 5424 messages over UDP (RFC 5426, one message a datagram), TCP or
//! TLS (RFC 5425 octet-counting framing: `MSG-LEN SP SYSLOG-MSG`, on TCP too, which rsyslog,
//! syslog-ng and the SIEMs' collectors accept).

use super::addr::split_host_port;
use super::config::{Format, Transport};
use super::event::Event;
use super::format;
use super::tls::Connector;
use super::Outcome;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// A syslog destination and its open connection.
pub struct Syslog {
    host: String,
    port: u16,
    transport: Transport,
    format: Format,
    facility: u8,
    server_name: String,
    tls: Option<Connector>,
    /// Our host name in the messages.
    hostname: String,
    conn: Option<Conn>,
}

impl Syslog {
    pub fn new(
        address: &str,
        (transport, format, facility): (Transport, Format, u8),
        server_name: Option<&str>,
        tls: Option<Connector>,
    ) -> Result<Syslog, String> {
        let (host, port) = split_host_port(address)
            .ok_or_else(|| format!("address {address:?}: give host:port"))?;
        Ok(Syslog {
            server_name: server_name.unwrap_or(&host).to_string(),
            host,
            port,
            transport,
            format,
            facility,
            tls,
            hostname: hostname(),
            conn: None,
        })
    }

    /// The RFC 5424 message of `e`.
    pub fn message(&self, e: &Event) -> String {
        let msg = match self.format {
            Format::Cef => format::cef(e),
            Format::Leef => format::leef(e),
            Format::Json => serde_json::to_string(e).unwrap_or_default(),
        };
        format::syslog5424(e, self.facility, &self.hostname, &msg)
    }

    async fn connect(&self) -> Result<Conn, String> {
        let at = format!("{}:{}", self.host, self.port);
        match self.transport {
            Transport::Udp => {
                let bind = if self.host.contains(':') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let s = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
                s.connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| format!("{at}: {e}"))?;
                Ok(Conn::Udp(s))
            }
            Transport::Tcp | Transport::Tls => {
                let tcp = TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| format!("cannot connect to {at}: {e}"))?;
                let _ = tcp.set_nodelay(true);
                match (&self.tls, self.transport) {
                    (Some(c), Transport::Tls) => Ok(Conn::Tls(Box::new(
                        c.connect(&self.server_name, tcp).await?,
                    ))),
                    _ => Ok(Conn::Tcp(tcp)),
                }
            }
        }
    }

    /// Sends `events` in order; on a failure the connection is dropped and opened again next time.
    pub async fn send(&mut self, events: &[Event]) -> Outcome {
        match tokio::time::timeout(super::http::TIMEOUT, self.send_all(events)).await {
            Ok(Ok(())) => Outcome::Delivered,
            Ok(Err(e)) => {
                self.conn = None;
                Outcome::Retry(e)
            }
            Err(_) => {
                self.conn = None;
                Outcome::Retry(format!(
                    "{}:{} took longer than {:?}",
                    self.host,
                    self.port,
                    super::http::TIMEOUT
                ))
            }
        }
    }

    async fn send_all(&mut self, events: &[Event]) -> Result<(), String> {
        // A receiver that went away since the last batch: a write into its closed connection
        // would still succeed here and the events would be lost, so open a new one first.
        if self.conn.as_ref().is_some_and(closed) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let msgs: Vec<String> = events.iter().map(|e| self.message(e)).collect();
        let Some(conn) = self.conn.as_mut() else {
            return Err("not connected".into());
        };
        match conn {
            Conn::Udp(s) => {
                for m in &msgs {
                    s.send(m.as_bytes()).await.map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Conn::Tcp(s) => framed(s, &msgs).await,
            Conn::Tls(s) => framed(s.as_mut(), &msgs).await,
        }
    }
}

/// Whether the receiver closed (or wrote to) a TCP or TLS connection. A syslog receiver never
/// sends anything (RFC 5425 and 6587 are one-way), so readable means end of file, a reset, or
/// a TLS close: the connection is done either way.
fn closed(c: &Conn) -> bool {
    let tcp = match c {
        Conn::Udp(_) => return false,
        Conn::Tcp(t) => t,
        Conn::Tls(t) => t.get_ref().0,
    };
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut byte = [0u8; 1];
    let mut buf = tokio::io::ReadBuf::new(&mut byte);
    !matches!(tcp.poll_peek(&mut cx, &mut buf), std::task::Poll::Pending)
}

/// Writes `msgs` with octet-counting framing (RFC 5425 4.3.1).
async fn framed<S: AsyncWrite + Unpin>(s: &mut S, msgs: &[String]) -> Result<(), String> {
    let mut buf = Vec::new();
    for m in msgs {
        buf.extend_from_slice(format!("{} ", m.len()).as_bytes());
        buf.extend_from_slice(m.as_bytes());
    }
    s.write_all(&buf).await.map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())
}

fn hostname() -> String {
    super::manager_hostname()
}
