//! Addresses of destinations: `host:port` and http(s) URLs, split and checked.

/// `host:port` (`[v6]:port` for IPv6) split; `None` when it is not that.
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (h, p)
    } else {
        let (h, p) = s.rsplit_once(':')?;
        if h.contains(':') {
            return None;
        }
        (h, p)
    };
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// An http or https URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err("give an http:// or https:// URL".into());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let default = if https { 443 } else { 80 };
        let (host, port) = match split_host_port(authority) {
            Some((h, p)) => (h, p),
            None if !authority.is_empty() && !authority.contains(':') => {
                (authority.to_string(), default)
            }
            None => return Err("the URL has no valid host (host or host:port)".into()),
        };
        if host.is_empty() || authority.contains('@') {
            return Err("the URL has no valid host (host or host:port, no user info)".into());
        }
        Ok(Url {
            https,
            host,
            port,
            path: path.to_string(),
        })
    }

    /// The same server with another path.
    pub fn with_path(&self, path: &str) -> Url {
        Url {
            path: path.to_string(),
            ..self.clone()
        }
    }

    /// The Host header's value.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.https, self.port) {
            (true, 443) | (false, 80) => host,
            _ => format!("{host}:{}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("a:514"), Some(("a".into(), 514)));
        assert_eq!(split_host_port("[::1]:6514"), Some(("::1".into(), 6514)));
        assert_eq!(split_host_port("::1:6514"), None);
        assert_eq!(split_host_port("a"), None);
        assert_eq!(split_host_port("a:0"), None);
    }

    #[test]
    fn urls() {
        let u = Url::parse("https://h.example:8088/services/collector/event").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (true, "h.example", 8088)
        );
        assert_eq!(u.path, "/services/collector/event");
        assert_eq!(Url::parse("http://127.0.0.1").unwrap().port, 80);
        assert_eq!(Url::parse("http://[::1]:9/x").unwrap().host, "::1");
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://u@h/").is_err());
    }
}
