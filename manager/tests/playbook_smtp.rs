//! The email action's SMTP client against a real server (aiosmtpd, tests/peers/smtp_server.py)
//! on loopback requiring STARTTLS: the message arrives over TLS with AUTH PLAIN and LOGIN, its
//! headers and dot-stuffed body intact; a wrong CA, a plain connection and a wrong password
//! send nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/skip.rs"]
mod skip;

use otwatch_manager::forward::tls::Connector;
use otwatch_manager::playbook::config::{EmailAuth, EmailTls};
use otwatch_manager::playbook::smtp::{send, Message, Server};

#[path = "common/smtp.rs"]
mod smtp;
use smtp::{certs, Smtp};

fn message(n: usize) -> Message {
    Message {
        from: "otwatch@example.org".into(),
        to: vec!["soc@example.org".into(), "ot@example.org".into()],
        subject: format!("[critical] PLC stopped {n}"),
        body: "Alert s1/7 from 10.0.0.5 at plant-a.\n.a line starting with a dot\n.".into(),
        date: "Mon, 07 Dec 2026 20:31:59 +0000".into(),
        message_id: format!("{n}@otwatch.test"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_over_starttls_to_a_real_smtp_server() {
    if !smtp::available() {
        skip::skip(
            "python3 with aiosmtpd is missing (pip install -r tests/peers/requirements.txt)",
            skip::Need::InCi,
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path());
    certs(dir.path(), "other");
    let port = smtp.port;

    let server = |ca: &str, tls: EmailTls, auth: Option<(EmailAuth, &str)>| Server {
        host: "127.0.0.1".into(),
        port,
        tls,
        connector: Some(Connector::new(&dir.path().join(ca), None).unwrap()),
        server_name: "localhost".into(),
        auth: auth.map(|(m, pw)| (m, "otwatch".to_string(), pw.to_string())),
    };

    // STARTTLS with AUTH PLAIN, then with AUTH LOGIN.
    send(
        &server(
            "smtp-ca.pem",
            EmailTls::Starttls,
            Some((EmailAuth::Plain, "s3cret")),
        ),
        &message(0),
    )
    .await
    .unwrap();
    send(
        &server(
            "smtp-ca.pem",
            EmailTls::Starttls,
            Some((EmailAuth::Login, "s3cret")),
        ),
        &message(1),
    )
    .await
    .unwrap();
    // Without authentication.
    send(
        &server("smtp-ca.pem", EmailTls::Starttls, None),
        &message(2),
    )
    .await
    .unwrap();

    // A certificate the CA did not sign: no message.
    let e = send(
        &server("other-ca.pem", EmailTls::Starttls, None),
        &message(3),
    )
    .await
    .unwrap_err();
    assert!(e.contains("TLS with localhost"), "{e}");
    // Plain SMTP to a server that requires STARTTLS: refused before MAIL is taken.
    let e = send(&server("smtp-ca.pem", EmailTls::None, None), &message(4))
        .await
        .unwrap_err();
    assert!(e.starts_with("MAIL FROM: the server answered 530"), "{e}");
    // A wrong password: refused, and the password is not in the error.
    let e = send(
        &server(
            "smtp-ca.pem",
            EmailTls::Starttls,
            Some((EmailAuth::Plain, "wrong")),
        ),
        &message(5),
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("AUTH PLAIN: the server answered 535"), "{e}");
    assert!(!e.contains("wrong"), "{e}");

    let mut got = smtp.messages();
    assert_eq!(got.len(), 3, "{got:?}");
    // aiosmtpd keeps the server's last login: the third message, sent without, is not checked.
    assert_eq!(got[0]["login"], serde_json::json!(["PLAIN", "otwatch"]));
    assert_eq!(got[1]["login"], serde_json::json!(["LOGIN", "otwatch"]));
    for (n, g) in got.iter_mut().enumerate() {
        assert_eq!(g["tls"], true);
        assert_eq!(g["mail_from"], "otwatch@example.org");
        assert_eq!(
            g["rcpt_tos"],
            serde_json::json!(["soc@example.org", "ot@example.org"])
        );
        let content = g["content"].as_str().unwrap();
        let (head, body) = content.split_once("\r\n\r\n").unwrap();
        for h in [
            "From: <otwatch@example.org>".to_string(),
            "To: <soc@example.org>, <ot@example.org>".to_string(),
            format!("Subject: [critical] PLC stopped {n}"),
            "Date: Mon, 07 Dec 2026 20:31:59 +0000".to_string(),
            format!("Message-ID: <{n}@otwatch.test>"),
            "Content-Type: text/plain; charset=utf-8".to_string(),
        ] {
            assert!(head.lines().any(|l| l == h), "{h:?} not in {head:?}");
        }
        // The server undid the dot-stuffing: the body is what was sent.
        assert_eq!(
            body,
            "Alert s1/7 from 10.0.0.5 at plant-a.\r\n.a line starting with a dot\r\n.\r\n"
        );
    }
}
