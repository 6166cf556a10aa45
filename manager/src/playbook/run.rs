//! Running one action of a playbook on an alert's [`Event`]: the external ones (webhook,
//! email, ticket) are done here; the alert's state and the asset's tags are changes to the
//! fleet store, returned as a [`Step::Store`] for the caller to apply. [`describe`] renders what
//! an action does, for dry runs and run logs (never a secret).

use super::config::{Action, EmailTls};
use super::smtp;
use crate::forward::addr::Url;
use crate::forward::sinks::webhook_signature;
use crate::forward::tls::Connector;
use crate::forward::Event;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What running an action gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Done; what was done, for the run log.
    Done(String),
    /// A change to the fleet store, for the caller to apply.
    Store(StoreChange),
}

/// A change to the fleet store an action asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// The alert's state (acknowledged or resolved), with a comment.
    SetStatus { status: String, comment: String },
    /// Tags added to the alert's asset.
    Tag { tags: Vec<String> },
}

/// A hex SHA-256 (first 128 bits) of the playbook and the event: the same run of the same
/// playbook on the same alert change always gives the same id, so a retried run rewrites the
/// same ticket and a receiver dedupes the same message.
pub fn run_id(playbook: &str, e: &Event) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{playbook}\0{}", e.id).as_bytes(),
    );
    crate::forward::sinks::hex(&d.as_ref()[..16])
}

/// The ticket an action makes for `e`: its rendered fields, with the run id, the playbook
/// and the alert.
pub fn ticket(a: &Action, e: &Event, playbook: &str) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Action::Ticket { fields, .. } = a {
        for (k, t) in fields {
            m.insert(k.clone(), t.render(e, playbook).into());
        }
    }
    m.insert("id".into(), run_id(playbook, e).into());
    m.insert("playbook".into(), playbook.into());
    m.insert("alert_id".into(), e.alert_id.clone().into());
    serde_json::Value::Object(m)
}

/// What `a` does for `e`, rendered: the dry-run log and the run log say this.
pub fn describe(a: &Action, e: &Event, playbook: &str) -> String {
    match a {
        Action::Webhook {
            url,
            secret,
            secret_file,
            ..
        } => format!(
            "POST the alert's event to {url}{}",
            if secret.is_some() || secret_file.is_some() {
                ", signed"
            } else {
                ""
            }
        ),
        Action::Email {
            host,
            port,
            tls,
            from,
            to,
            subject,
            body,
            ..
        } => format!(
            "email from {from} to {} via {host}:{port}{}: subject {:?}, body {:?}",
            to.join(", "),
            if *tls == EmailTls::Starttls {
                " (STARTTLS)"
            } else {
                " (plain, loopback)"
            },
            subject.render(e, playbook),
            body.render(e, playbook)
        ),
        Action::Ticket { dir, url, .. } => format!(
            "ticket {} {}",
            ticket(a, e, playbook),
            match (dir, url) {
                (Some(d), _) => format!("written into {}", d.display()),
                (_, Some(u)) => format!("POSTed to {u}"),
                _ => String::new(),
            }
        ),
        Action::SetStatus { status, comment } => format!(
            "set the alert {} {status}, comment {:?}",
            e.alert_id,
            comment.render(e, playbook)
        ),
        Action::TagAsset { tags } => format!(
            "tag the asset {} with {}",
            e.asset_id,
            tags.iter()
                .map(|t| t.render(e, playbook))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn read_secret(inline: &Option<String>, file: &Option<PathBuf>) -> Result<Option<String>, String> {
    match (inline, file) {
        (Some(s), _) => Ok(Some(s.clone())),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|e| format!("cannot read {}: {e}", f.display())),
        (None, None) => Ok(None),
    }
}

fn connector(ca: &Option<PathBuf>) -> Result<Option<Connector>, String> {
    ca.as_deref().map(|ca| Connector::new(ca, None)).transpose()
}

async fn post_json(
    url: &str,
    ca: &Option<PathBuf>,
    body: &[u8],
    key: Option<&str>,
) -> Result<String, String> {
    let url = Url::parse(url)?;
    let mut headers = vec![("Content-Type", "application/json".to_string())];
    if let Some(key) = key {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
        let ts = crate::pki::now_secs().to_string();
        headers.push((
            crate::forward::sinks::SIGNATURE_HEADER,
            webhook_signature(&key, &ts, body),
        ));
        headers.push((crate::forward::sinks::TIMESTAMP_HEADER, ts));
    }
    let a = crate::forward::http::post(&url, &headers, body, connector(ca)?.as_ref()).await?;
    if (200..300).contains(&a.status) {
        Ok(format!("{} answered {}", url.host_header(), a.status))
    } else {
        Err(format!(
            "{} answered {}: {}",
            url.host_header(),
            a.status,
            a.body.trim()
        ))
    }
}

/// Writes `data` to `dir/name` whole: a temporary file, synced, then renamed.
fn write_file(dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Runs `a` for `e`: an error stops the playbook's run (it is tried again later).
pub async fn execute(a: &Action, e: &Event, playbook: &str) -> Result<Step, String> {
    match a {
        Action::Webhook {
            url,
            secret,
            secret_file,
            ca,
        } => {
            // The same record a forwarding webhook gets: a JSON array of events.
            let body = serde_json::to_vec(&[e]).unwrap_or_default();
            let key = read_secret(secret, secret_file)?;
            post_json(url, ca, &body, key.as_deref())
                .await
                .map(Step::Done)
        }
        Action::Email {
            host,
            port,
            tls,
            ca,
            server_name,
            auth,
            username,
            password_file,
            from,
            to,
            subject,
            body,
        } => {
            let auth = match (auth, username, password_file) {
                (Some(m), Some(u), Some(p)) => Some((
                    *m,
                    u.clone(),
                    read_secret(&None, &Some(p.clone()))?.unwrap_or_default(),
                )),
                _ => None,
            };
            let server = smtp::Server {
                host: host.clone(),
                port: *port,
                tls: *tls,
                connector: connector(ca)?,
                server_name: server_name.clone().unwrap_or_else(|| host.clone()),
                auth,
            };
            let m = smtp::Message {
                from: from.clone(),
                to: to.clone(),
                subject: subject.render(e, playbook),
                body: body.render(e, playbook),
                date: smtp::rfc5322_date(crate::pki::now_secs()),
                message_id: format!("{}@otwatch", run_id(playbook, e)),
            };
            smtp::send(&server, &m).await?;
            Ok(Step::Done(format!(
                "email sent to {} via {host}:{port}",
                to.join(", ")
            )))
        }
        Action::Ticket { dir, url, ca, .. } => {
            let t = ticket(a, e, playbook);
            let data = serde_json::to_vec_pretty(&t).unwrap_or_default();
            match (dir, url) {
                (Some(d), _) => {
                    let p = write_file(d, &format!("{}.json", run_id(playbook, e)), &data)?;
                    Ok(Step::Done(format!("ticket written to {}", p.display())))
                }
                (_, Some(u)) => post_json(u, ca, &data, None)
                    .await
                    .map(|r| Step::Done(format!("ticket POSTed: {r}"))),
                _ => Err("the ticket action has neither dir nor url".into()),
            }
        }
        Action::SetStatus { status, comment } => Ok(Step::Store(StoreChange::SetStatus {
            status: status.clone(),
            comment: comment.render(e, playbook),
        })),
        Action::TagAsset { tags } => Ok(Step::Store(StoreChange::Tag {
            tags: tags.iter().map(|t| t.render(e, playbook)).collect(),
        })),
    }
}

/// One action's outcome in a run's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActionLog {
    /// The action's type (webhook, email, ...).
    pub action: String,
    /// What it did, or in a dry run what it would have done (rendered, no secrets).
    pub detail: String,
    /// Why it failed; empty when it worked.
    pub error: String,
}

/// One run of a playbook on an alert, as the run log (`playbook_runs`) keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    pub playbook: String,
    pub alert_id: String,
    /// The run id ([`run_id`]).
    pub run_id: String,
    pub dry_run: bool,
    /// Which attempt this was (1 the first).
    pub attempt: u32,
    /// Unix seconds.
    pub started_at: i64,
    pub ended_at: i64,
    /// The actions run, in order; the last one failed when `ok` is false (those after it did
    /// not run).
    pub actions: Vec<ActionLog>,
    pub ok: bool,
}

/// Runs `p`'s actions on `e` in order (attempt `attempt`): a failing action stops the run.
/// Store changes go to `apply` (an error from it fails the action). In a dry run nothing is
/// executed and nothing applied: each action is logged with its rendered description.
pub async fn run_playbook<F, Fut>(
    p: &super::Playbook,
    e: &Event,
    attempt: u32,
    mut apply: F,
) -> RunRecord
where
    F: FnMut(StoreChange) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let mut rec = RunRecord {
        playbook: p.name.clone(),
        alert_id: e.alert_id.clone(),
        run_id: run_id(&p.name, e),
        dry_run: p.dry_run,
        attempt,
        started_at: crate::pki::now_secs(),
        ended_at: 0,
        actions: Vec::new(),
        ok: true,
    };
    for a in &p.actions {
        let (detail, error) = if p.dry_run {
            (
                format!("dry run: would {}", describe(a, e, &p.name)),
                String::new(),
            )
        } else {
            match execute(a, e, &p.name).await {
                Ok(Step::Done(d)) => (d, String::new()),
                Ok(Step::Store(c)) => match apply(c).await {
                    Ok(d) => (d, String::new()),
                    Err(err) => (describe(a, e, &p.name), err),
                },
                Err(err) => (describe(a, e, &p.name), err),
            }
        };
        let failed = !error.is_empty();
        rec.actions.push(ActionLog {
            action: a.kind().to_string(),
            detail,
            error,
        });
        if failed {
            rec.ok = false;
            break;
        }
    }
    rec.ended_at = crate::pki::now_secs();
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::PlaybookConfig;

    fn event() -> Event {
        Event {
            id: "e1".into(),
            event: "alert".into(),
            alert_id: "s1/7".into(),
            asset_id: "s1/a3".into(),
            kind: "plc_stop".into(),
            severity: "critical".into(),
            title: "PLC stopped".into(),
            site: "plant-a".into(),
            ..Event::default()
        }
    }

    #[tokio::test]
    async fn tickets_are_written_whole_and_store_changes_returned() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[[playbook]]\nname = \"pb\"\n[[playbook.action]]\ntype = \"ticket\"\ndir = {:?}\nfields = {{ title = \"[{{{{alert.severity}}}}] {{{{alert.title}}}}\", asset = \"{{{{asset.id}}}}\" }}\n[[playbook.action]]\ntype = \"set_status\"\nstatus = \"acknowledged\"\ncomment = \"by {{{{playbook}}}}\"\n[[playbook.action]]\ntype = \"tag_asset\"\ntags = [\"incident\", \"{{{{alert.kind}}}}\"]\n",
            dir.path().display().to_string()
        );
        let c = PlaybookConfig::parse("p.toml", &text).unwrap();
        let a = &c.playbooks[0].actions;
        let e = event();
        let Step::Done(what) = execute(&a[0], &e, "pb").await.unwrap() else {
            panic!("a ticket is done here")
        };
        let file = dir.path().join(format!("{}.json", run_id("pb", &e)));
        assert!(what.contains(&file.display().to_string()), "{what}");
        let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(t["title"], "[critical] PLC stopped");
        assert_eq!(t["asset"], "s1/a3");
        assert_eq!(t["alert_id"], "s1/7");
        assert_eq!(t["playbook"], "pb");
        // Run again (a retry): the same file, nothing else.
        execute(&a[0], &e, "pb").await.unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        assert_eq!(
            execute(&a[1], &e, "pb").await.unwrap(),
            Step::Store(StoreChange::SetStatus {
                status: "acknowledged".into(),
                comment: "by pb".into()
            })
        );
        assert_eq!(
            execute(&a[2], &e, "pb").await.unwrap(),
            Step::Store(StoreChange::Tag {
                tags: vec!["incident".into(), "plc_stop".into()]
            })
        );
        let d = describe(&a[2], &e, "pb");
        assert_eq!(d, "tag the asset s1/a3 with incident, plc_stop");
        let d = describe(&a[0], &e, "pb");
        assert!(d.contains("\"title\":\"[critical] PLC stopped\""), "{d}");
    }

    #[tokio::test]
    async fn a_webhook_down_is_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let a = Action::Webhook {
            url: format!("http://127.0.0.1:{port}/hook"),
            secret: Some("k".into()),
            secret_file: None,
            ca: None,
        };
        let e = execute(&a, &event(), "pb").await.unwrap_err();
        assert!(e.contains("cannot connect"), "{e}");
        assert_eq!(
            describe(&a, &event(), "pb"),
            format!("POST the alert's event to http://127.0.0.1:{port}/hook, signed")
        );
    }

    #[tokio::test]
    async fn webhooks_are_signed_like_forwarding_webhooks() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let receiver = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Read until the headers and the whole body (Content-Length) are in.
            loop {
                let n = s.read(&mut buf).await.unwrap();
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap();
                    if body.len() >= len || n == 0 {
                        break;
                    }
                }
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(req).unwrap()
        });
        let a = Action::Webhook {
            url: format!("http://127.0.0.1:{port}/hook"),
            secret: Some("k".into()),
            secret_file: None,
            ca: None,
        };
        let got = execute(&a, &event(), "pb").await.unwrap();
        assert!(
            matches!(got, Step::Done(ref d) if d.contains("200")),
            "{got:?}"
        );
        let req = receiver.await.unwrap();
        let (head, body) = req.split_once("\r\n\r\n").unwrap();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_default()
                .to_string()
        };
        assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
        let ts = header("X-Otwatch-Timestamp");
        let sig = header("X-Otwatch-Signature");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"k");
        let want = webhook_signature(&key, &ts, body.as_bytes());
        assert_eq!(sig, want);
        let events: Vec<Event> = serde_json::from_str(body).unwrap();
        assert_eq!(events, vec![event()]);
    }

    #[tokio::test]
    async fn a_failing_action_stops_the_run_and_a_dry_run_does_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tickets = dir.path().join("tickets");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = format!(
            "[[playbook]]\nname = \"pb\"\n[[playbook.action]]\ntype = \"set_status\"\nstatus = \"acknowledged\"\n[[playbook.action]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/\"\n[[playbook.action]]\ntype = \"ticket\"\ndir = {:?}\nfields = {{ t = \"{{{{alert.title}}}}\" }}\n",
            tickets.display().to_string()
        );
        let mut c = PlaybookConfig::parse("p.toml", &text).unwrap();
        let mut applied = Vec::new();
        let rec = run_playbook(&c.playbooks[0], &event(), 1, |ch: StoreChange| {
            applied.push(ch);
            async { Ok("acknowledged".to_string()) }
        })
        .await;
        assert!(!rec.ok);
        assert_eq!(rec.actions.len(), 2, "{rec:?}");
        assert!(rec.actions[0].error.is_empty());
        assert!(rec.actions[1].error.contains("cannot connect"), "{rec:?}");
        assert_eq!(applied.len(), 1);
        assert!(
            !tickets.exists(),
            "the ticket after the failing webhook did not run"
        );

        c.playbooks[0].dry_run = true;
        let rec = run_playbook(&c.playbooks[0], &event(), 1, |_: StoreChange| async {
            panic!("a dry run applies nothing")
        })
        .await;
        assert!(rec.ok && rec.dry_run);
        assert_eq!(rec.actions.len(), 3);
        assert!(
            rec.actions[2].detail.starts_with("dry run: would ticket"),
            "{rec:?}"
        );
        assert!(
            rec.actions[2].detail.contains("\"t\":\"PLC stopped\""),
            "{rec:?}"
        );
        assert!(!tickets.exists(), "a dry run writes no ticket");
    }
}
