//! The web console's HTTP side against a real manager on its own port: what is served without a
//! session, signing in with operator tokens, the session cookie, CSRF and cross-site refusals,
//! the Manager API as JSON with each role's rights, the map and report data, live changes as
//! server-sent events, sign-out and revocation. A plain HTTP/1.1 client over TLS (trusting the
//! manager's CA) plays the browser; the browser itself is driven in tests/console_browser.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{alert, connection, sensor_at, sync, typed, Fixture};
use otwatch_common::link::OperatorRole;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// An answer: status, headers (lower-case names; repeated ones joined with "\n"), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

async fn connect(fx: &Fixture) -> Tls {
    connect_as(fx, None).await
}

/// A TLS connection presenting the client certificate in `cred` (cert.pem, key.pem), if any.
async fn connect_as(fx: &Fixture, cred: Option<&Path>) -> Tls {
    let ca = std::fs::read(fx.data().join("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut cfg = match cred {
        Some(dir) => {
            let cert = std::fs::read(dir.join("cert.pem")).unwrap();
            let chain = rustls::pki_types::CertificateDer::pem_slice_iter(&cert)
                .map(Result::unwrap)
                .collect();
            let key = std::fs::read(dir.join("key.pem")).unwrap();
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&key).unwrap();
            cfg.with_client_auth_cert(chain, key).unwrap()
        }
        None => cfg.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap()
}

fn request(fx: &Fixture, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nconnection: close\r\ncontent-length: {}\r\n",
        fx.port(),
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text.split_once("\r\n\r\n").expect("a whole HTTP head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut headers: HashMap<String, String> = HashMap::new();
    for l in lines {
        let (k, v) = l.split_once(':').unwrap();
        let e = headers.entry(k.trim().to_ascii_lowercase()).or_default();
        if !e.is_empty() {
            e.push('\n');
        }
        e.push_str(v.trim());
    }
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|v| v == "chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

async fn http(
    fx: &Fixture,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut tls = connect(fx).await;
    tls.write_all(request(fx, method, path, headers, body).as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    parse(&raw)
}

/// A signed-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn sign_in(fx: &Fixture, token: &str) -> Browser {
        let a = http(
            fx,
            "POST",
            "/api/login",
            &[("content-type", "application/json")],
            &json!({ "token": token }).to_string(),
        )
        .await;
        assert_eq!(a.status, 200, "{a:?}");
        let set = a.header("set-cookie");
        for attr in [
            "__Host-otwatch_session=",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
        ] {
            assert!(set.contains(attr), "cookie without {attr}: {set}");
        }
        let cookie = set.split(';').next().unwrap().to_string();
        Browser {
            cookie,
            csrf: a.json()["csrf"].as_str().unwrap().to_string(),
        }
    }

    async fn get(&self, fx: &Fixture, path: &str) -> Answer {
        http(fx, "GET", path, &[("cookie", &self.cookie)], "").await
    }

    async fn call(&self, fx: &Fixture, method: &str, body: Value) -> Answer {
        let path = format!("/api/v1/{method}");
        http(
            fx,
            "POST",
            &path,
            &[
                ("cookie", &self.cookie),
                ("x-csrf-token", &self.csrf),
                ("content-type", "application/json"),
            ],
            &body.to_string(),
        )
        .await
    }
}

fn token(fx: &Fixture, name: &str, role: OperatorRole) -> String {
    let s = &fx.mgr.as_ref().unwrap().shared;
    otwatch_manager::admin::create_operator_token(s.store.as_ref(), name, role, 3600)
        .unwrap()
        .token
}

/// A site with a PLC, an HMI polling it, and an alert about the PLC.
async fn plant(fx: &Fixture) {
    let mut s = sensor_at(fx, "plant-a").await;
    let mut a = alert(4, "a1");
    if let Some(otwatch_proto::v1::delta::Change::Alert(al)) = a.change.as_mut() {
        al.asset = "mac:00:1b:1b:00:00:01".into();
    }
    let batch = vec![
        typed(
            1,
            "mac:00:1b:1b:00:00:01",
            "00:1b:1b:00:00:01",
            "10.0.1.10",
            "plc",
            1,
        ),
        typed(
            2,
            "mac:00:0c:29:00:00:02",
            "00:0c:29:00:00:02",
            "10.0.2.20",
            "hmi",
            2,
        ),
        connection(3, "10.0.2.20", "10.0.1.10", 40),
        a,
    ];
    assert_eq!(sync(&mut s, vec![batch]).await.unwrap(), vec![4]);
}

#[tokio::test]
async fn without_a_session_only_the_login_page_is_served() {
    let fx = Fixture::start().await;
    let login = http(&fx, "GET", "/login", &[], "").await;
    assert_eq!(login.status, 200);
    assert!(login.header("content-type").starts_with("text/html"));
    let csp = login.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(login.header("x-frame-options"), "DENY");
    for public in ["/static/login.js", "/static/console.css"] {
        assert_eq!(
            http(&fx, "GET", public, &[], "").await.status,
            200,
            "{public}"
        );
    }
    for page in ["/", "/map", "/assets/plant-a%2Fmac:1", "/alerts", "/risk"] {
        let a = http(&fx, "GET", page, &[], "").await;
        assert_eq!((a.status, a.header("location")), (303, "/login"), "{page}");
    }
    for data in [
        "/static/app.js",
        "/static/app.css",
        "/api/session",
        "/api/map",
        "/api/report",
        "/api/v1/Watch",
    ] {
        let a = http(&fx, "GET", data, &[], "").await;
        assert_eq!(a.status, 401, "{data}: {a:?}");
        assert!(a
            .header("content-security-policy")
            .contains("default-src 'self'"));
    }
    let json = [("content-type", "application/json")];
    for action in [
        "/api/v1/ListAssets",
        "/api/v1/AcknowledgeAlert",
        "/api/logout",
    ] {
        let a = http(&fx, "POST", action, &json, "{}").await;
        assert_eq!(a.status, 401, "{action}: {a:?}");
        assert_eq!(a.json()["code"], "unauthenticated");
    }
    // A cookie that no session has is no session.
    let forged = [("cookie", "__Host-otwatch_session=00ff")];
    assert_eq!(
        http(&fx, "GET", "/api/session", &forged, "").await.status,
        401
    );
    assert_eq!(http(&fx, "GET", "/nothing", &[], "").await.status, 404);
}

#[tokio::test]
async fn sign_in_is_refused_for_a_wrong_token_or_a_forged_request() {
    let fx = Fixture::start().await;
    let good = token(&fx, "ana", OperatorRole::Analyst);
    let json = ("content-type", "application/json");
    let wrong = http(
        &fx,
        "POST",
        "/api/login",
        &[json],
        r#"{"token":"otwop1.00000000000000000000000000000000"}"#,
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.json()["message"]
        .as_str()
        .unwrap()
        .contains("unknown operator token"));
    assert!(wrong.header("set-cookie").is_empty());
    let junk = http(&fx, "POST", "/api/login", &[json], r#"{"token":"hunter2"}"#).await;
    assert_eq!(junk.status, 401);
    let empty = http(&fx, "POST", "/api/login", &[json], r#"{"token":""}"#).await;
    assert_eq!(empty.status, 401);
    assert!(empty.json()["message"]
        .as_str()
        .unwrap()
        .contains("operator token"));
    let body = json!({ "token": good }).to_string();
    // A form post from another site cannot send JSON, and a browser says where it comes from.
    let form = http(
        &fx,
        "POST",
        "/api/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await;
    assert_eq!(form.status, 400);
    let cross = http(
        &fx,
        "POST",
        "/api/login",
        &[json, ("sec-fetch-site", "cross-site")],
        &body,
    )
    .await;
    assert_eq!(cross.status, 403);
    let origin = http(
        &fx,
        "POST",
        "/api/login",
        &[json, ("origin", "https://evil.example")],
        &body,
    )
    .await;
    assert_eq!(origin.status, 403);
    // The token itself never shows up in the log.
    assert!(!common::logs().contains(good.trim_start_matches("otwop1.")));
}

#[tokio::test]
async fn an_analyst_works_through_the_api_and_a_viewer_only_reads() {
    let fx = Fixture::start().await;
    plant(&fx).await;
    let ana = Browser::sign_in(&fx, &token(&fx, "ana", OperatorRole::Analyst)).await;
    let vic = Browser::sign_in(&fx, &token(&fx, "vic", OperatorRole::Viewer)).await;

    let me = ana.get(&fx, "/api/session").await.json();
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("ana"), Some("analyst"))
    );
    assert_eq!(me["csrf"].as_str(), Some(ana.csrf.as_str()));
    let page = ana.get(&fx, "/assets/anything").await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert_eq!(ana.get(&fx, "/static/app.js").await.status, 200);
    assert_eq!(
        ana.get(&fx, "/login").await.status,
        303,
        "signed in: on to the app"
    );

    // The API as JSON, with proto field names.
    let assets = ana
        .call(&fx, "ListAssets", json!({ "site": "plant-a" }))
        .await;
    assert_eq!(assets.status, 200, "{assets:?}");
    let assets = assets.json();
    assert_eq!(assets["total"], 2);
    let types: Vec<&str> = assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset"]["device_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"plc") && types.contains(&"hmi"),
        "{types:?}"
    );
    let bad = ana
        .call(&fx, "ListAssets", json!({ "device_type": "toaster" }))
        .await;
    assert_eq!(
        (bad.status, bad.json()["code"].as_str()),
        (400, Some("invalid_argument"))
    );
    let nope = ana.call(&fx, "DropDatabase", json!({})).await;
    assert_eq!(nope.status, 404);
    let garbage = ana
        .call(&fx, "ListAssets", json!({ "page_size": "many" }))
        .await;
    assert_eq!(garbage.status, 400);

    // No CSRF token, or another session's: refused, nothing done.
    let no_csrf = http(
        &fx,
        "POST",
        "/api/v1/AcknowledgeAlert",
        &[
            ("cookie", &ana.cookie),
            ("content-type", "application/json"),
        ],
        r#"{"id":"x"}"#,
    )
    .await;
    assert_eq!(no_csrf.status, 403, "{no_csrf:?}");
    let alerts = ana
        .call(&fx, "ListAlerts", json!({ "state": "open" }))
        .await
        .json();
    assert_eq!(alerts["total"], 1, "{alerts}");
    let id = alerts["alerts"][0]["id"].as_str().unwrap().to_string();
    let stolen = Browser {
        cookie: ana.cookie.clone(),
        csrf: vic.csrf.clone(),
    };
    assert_eq!(
        stolen
            .call(&fx, "AcknowledgeAlert", json!({ "id": id }))
            .await
            .status,
        403
    );

    // The viewer reads, and is refused the change with the API's reason.
    assert_eq!(vic.call(&fx, "ListAlerts", json!({})).await.status, 200);
    let one = vic.call(&fx, "GetAlert", json!({ "id": id })).await;
    assert_eq!(
        (one.status, one.json()["id"].as_str()),
        (200, Some(id.as_str()))
    );
    let refused = vic.call(&fx, "AcknowledgeAlert", json!({ "id": id })).await;
    assert_eq!(refused.status, 403);
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .contains("role viewer cannot acknowledge"));
    let still = ana
        .call(&fx, "ListAlerts", json!({ "state": "new" }))
        .await
        .json();
    assert_eq!(still["total"], 1, "the viewer changed nothing");

    let acked = ana
        .call(
            &fx,
            "AcknowledgeAlert",
            json!({ "id": id, "comment": "seen" }),
        )
        .await;
    assert_eq!(acked.status, 200, "{acked:?}");
    assert_eq!(acked.json()["state"], "acknowledged");
    assert_eq!(acked.json()["updated_by"], "ana (analyst)");
    // The comment is kept in the alert's history.
    let note = &acked.json()["history"][0];
    assert_eq!(
        (&note["by"], &note["state"], &note["comment"]),
        (
            &json!("ana (analyst)"),
            &json!("acknowledged"),
            &json!("seen")
        ),
        "{acked:?}"
    );
    // Admin calls stay the admin's.
    let mint = ana
        .call(&fx, "CreateEnrollmentToken", json!({ "site": "plant-b" }))
        .await;
    assert_eq!(mint.status, 403);

    // The map: both assets in their rows, the conversation between them, the alert on the PLC.
    let map = ana.get(&fx, "/api/map?site=plant-a").await;
    assert_eq!(map.status, 200, "{map:?}");
    let map = map.json();
    let nodes = map["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{map}");
    let plc = nodes.iter().find(|n| n["type"] == "plc").unwrap();
    assert_eq!(
        (plc["level"].as_u64(), plc["alerts"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(plc["subnet"], "10.0.1.0/24");
    let hmi = nodes.iter().find(|n| n["type"] == "hmi").unwrap();
    assert_eq!(hmi["level"].as_u64(), Some(2));
    let edges = map["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["protocols"], json!(["modbus"]));
    assert_eq!(edges[0]["packets"], 40);
    // Its ends are the two nodes, by index.
    let ends = [&edges[0]["source"], &edges[0]["target"]].map(|i| {
        nodes[i.as_u64().unwrap() as usize]["type"]
            .as_str()
            .unwrap()
    });
    assert_eq!(
        ends.iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        ["hmi", "plc"].into()
    );
    let unknown = ana.get(&fx, "/api/map?site=nowhere").await;
    assert_eq!(unknown.status, 404);

    // The report, as `otwatch report` writes it.
    let report = vic.get(&fx, "/api/report?site=plant-a&format=json").await;
    assert_eq!(report.status, 200);
    assert!(report
        .header("content-disposition")
        .starts_with("attachment; filename=\"otwatch-risk-plant-a-"));
    assert!(report.body.contains("\"site\""), "{}", report.body);
    let html = vic.get(&fx, "/api/report?format=html").await;
    assert_eq!(html.status, 200);
    assert!(html.header("content-type").starts_with("text/html"));
    assert_eq!(vic.get(&fx, "/api/report?format=exe").await.status, 400);
}

/// Reads from `tls` into `got` until it holds `needle` (20 s at most).
async fn read_until(tls: &mut Tls, got: &mut Vec<u8>, needle: &str) {
    let mut buf = [0u8; 4096];
    let read = async {
        while !String::from_utf8_lossy(got).contains(needle) {
            let n = tls.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended: {}", String::from_utf8_lossy(got));
            got.extend_from_slice(&buf[..n]);
        }
    };
    if tokio::time::timeout(std::time::Duration::from_secs(20), read)
        .await
        .is_err()
    {
        panic!("no {needle:?} in {}", String::from_utf8_lossy(got));
    }
}

#[tokio::test]
async fn changes_arrive_as_server_sent_events() {
    let fx = Fixture::start().await;
    plant(&fx).await;
    let vic = Browser::sign_in(&fx, &token(&fx, "vic", OperatorRole::Viewer)).await;
    let mut tls = connect(&fx).await;
    let req = request(
        &fx,
        "GET",
        "/api/v1/Watch?site=plant-a",
        &[("cookie", &vic.cookie)],
        "",
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    read_until(&mut tls, &mut got, "retry:").await;
    let head = String::from_utf8_lossy(&got).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    let mut s = sensor_at(&fx, "plant-a").await;
    let newcomer = typed(
        1,
        "mac:00:0c:29:00:00:09",
        "00:0c:29:00:00:09",
        "10.0.2.99",
        "engineering_workstation",
        2,
    );
    sync(&mut s, vec![vec![newcomer]]).await.unwrap();
    read_until(&mut tls, &mut got, "\"kind\":\"asset\"").await;
    let text = String::from_utf8_lossy(&got).to_string();
    // Each event is one chunk of the chunked body: its lines are whole.
    let lines: Vec<&str> = text.lines().collect();
    let changes: Vec<Value> = lines
        .windows(2)
        .filter(|w| w[0] == "event: change")
        .filter_map(|w| w[1].strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let asset = changes.iter().find(|c| c["kind"] == "asset").unwrap();
    assert_eq!(asset["site"], "plant-a");
    assert!(
        asset["id"]
            .as_str()
            .unwrap()
            .ends_with("/mac:00:0c:29:00:00:09"),
        "{asset}"
    );
}

#[tokio::test]
async fn sign_out_and_revocation_end_the_session() {
    let fx = Fixture::start().await;
    let ana = Browser::sign_in(&fx, &token(&fx, "ana", OperatorRole::Analyst)).await;
    assert_eq!(ana.call(&fx, "ListSites", json!({})).await.status, 200);
    // Sign-out needs the CSRF token too.
    let forged = http(
        &fx,
        "POST",
        "/api/logout",
        &[
            ("cookie", &ana.cookie),
            ("content-type", "application/json"),
        ],
        "{}",
    )
    .await;
    assert_eq!(forged.status, 403);
    let out = http(
        &fx,
        "POST",
        "/api/logout",
        &[
            ("cookie", &ana.cookie),
            ("x-csrf-token", &ana.csrf),
            ("content-type", "application/json"),
        ],
        "{}",
    )
    .await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(ana.get(&fx, "/api/session").await.status, 401);
    assert_eq!(ana.call(&fx, "ListSites", json!({})).await.status, 401);
    assert_eq!(ana.get(&fx, "/").await.status, 303);

    let ana = Browser::sign_in(&fx, &token(&fx, "ana", OperatorRole::Analyst)).await;
    let root = Browser::sign_in(&fx, &token(&fx, "root", OperatorRole::Admin)).await;
    let revoked = root
        .call(&fx, "RevokeOperator", json!({ "name": "ana" }))
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let after = ana.call(&fx, "ListSites", json!({})).await;
    assert_eq!(after.status, 403, "{after:?}");
    assert!(after.json()["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
}

#[tokio::test]
async fn an_operator_certificate_signs_in_and_a_sensor_certificate_does_not() {
    let fx = Fixture::start().await;
    let cred = fx.operator_creds("carol", OperatorRole::Viewer);
    let json = [("content-type", "application/json")];
    let mut tls = connect_as(&fx, Some(&cred)).await;
    tls.write_all(request(&fx, "POST", "/api/login", &json, r#"{"token":""}"#).as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let a = parse(&raw);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        (a.json()["name"].as_str(), a.json()["role"].as_str()),
        (Some("carol"), Some("viewer"))
    );
    let cookie = a
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // The session stands on its own: later requests need no certificate.
    let me = http(&fx, "GET", "/api/session", &[("cookie", &cookie)], "").await;
    assert_eq!(me.json()["name"], "carol");

    // A sensor's certificate is a valid client certificate of this CA, but not an operator's.
    let sensor = common::enroll(&fx.url(), fx.port(), &fx.token("plant-a", 600))
        .await
        .unwrap();
    let dir = fx.dir.path().join("sensor-cred");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &sensor.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &sensor.key_pem).unwrap();
    let mut tls = connect_as(&fx, Some(&dir)).await;
    tls.write_all(request(&fx, "POST", "/api/login", &json, r#"{"token":""}"#).as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let refused = parse(&raw);
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.header("set-cookie").is_empty());
}

#[tokio::test]
async fn grpc_and_the_console_share_the_port() {
    let fx = Fixture::start().await;
    plant(&fx).await;
    let mut op = fx.operator("root", OperatorRole::Admin).await;
    let assets = common::all_assets(&mut op, "plant-a").await;
    assert_eq!(assets.total, 2);
    assert_eq!(http(&fx, "GET", "/login", &[], "").await.status, 200);
}
