//! IMAP over TLS against a real Dovecot with `ssl = required` and a certificate from a CA made
//! by the test: TLS from the first byte and STARTTLS take mail; a certificate that does not
//! verify, or plain text to a server that requires TLS, takes nothing, says why in one log
//! line, and leaves the service running and the mail unseen.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use madoguchi::config::ImapTls;
use madoguchi::db::schema::{messages, tickets};

use crate::both_backends;
use crate::support::dovecot::{self, Dovecot, OTHER_HOST, TLS_HOST, TestCa};
use crate::support::{Backend, TestApp, TestDb, eventually, spawn_on, test_settings};

both_backends!(
    tls_from_the_first_byte_takes_mail_into_a_ticket,
    starttls_takes_mail_into_a_ticket,
    a_certificate_from_another_ca_takes_nothing_and_serve_goes_on,
    a_certificate_for_another_host_takes_nothing,
    plain_text_to_a_server_that_requires_tls_fails_cleanly,
    a_server_that_never_answers_does_not_hold_up_shutdown,
);

/// A CA file or host that cannot work stops the start with the reason (exit 78), instead of
/// failing every connection later. Configuration only: no database is reached.
#[test]
fn a_ca_file_or_host_that_cannot_work_stops_the_start() {
    let dir = std::env::temp_dir().join(format!(
        "madoguchi_cafile_{}",
        madoguchi::desk::auth::tokens::new_token()
            .get(..12)
            .unwrap_or("x")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");
    let ca = TestCa::new();
    let cases = [
        (
            "tls",
            missing.display().to_string(),
            "127.0.0.1",
            "missing.pem",
        ),
        (
            "starttls",
            junk.display().to_string(),
            "127.0.0.1",
            "holds no PEM certificate",
        ),
        (
            "tls",
            ca.file.display().to_string(),
            "mail server",
            "imap.host \"mail server\"",
        ),
        (
            "tls",
            "unknown".into(),
            "127.0.0.1",
            "imap.ca_file \"unknown\"",
        ),
    ];
    for (tls, ca_file, host, said) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
            .arg("migrate")
            .env(
                "MADOGUCHI_DATABASE__URL",
                "sqlite:///nonexistent/never-opened.db",
            )
            .env("MADOGUCHI_IMAP__ENABLED", "true")
            .env("MADOGUCHI_IMAP__TLS", tls)
            .env("MADOGUCHI_IMAP__CA_FILE", &ca_file)
            .env("MADOGUCHI_IMAP__HOST", host)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(78),
            "{tls} {ca_file} {host}: {stderr}"
        );
        assert!(stderr.contains(said), "{said:?} not in {stderr}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("migrate")
        .env(
            "MADOGUCHI_DATABASE__URL",
            "sqlite:///nonexistent/never-opened.db",
        )
        .env("MADOGUCHI_IMAP__TLS", "ssl")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("imap.tls") && stderr.contains("`starttls`"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

const SUBJECT: &str = "暗号化された経路での相談";

fn mail() -> Vec<u8> {
    format!(
        "From: Hanako <hanako@example.jp>\r\nTo: soudan@example.org\r\nSubject: {SUBJECT}\r\n\
         Message-ID: <tls-1@example.jp>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0900\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n夜になると不安が強くなります。\r\n"
    )
    .into_bytes()
}

/// The mail is taken over TLS: a ticket with its subject, the mail marked seen, and the
/// server's own log showing that madoguchi signed in under TLS.
fn takes_mail_over(backend: Backend, tls: ImapTls) {
    let ca = TestCa::new();
    let imap = Dovecot::start_tls(&ca);
    let ports = imap.tls.as_ref().unwrap();
    imap.append(&mail());
    let db = std::sync::Arc::new(TestDb::new(backend));
    let mut settings = test_settings(&db);
    settings.imap.enabled = true;
    settings.imap.host = TLS_HOST.into();
    settings.imap.port = match tls {
        ImapTls::Starttls => ports.starttls,
        _ => ports.tls,
    };
    settings.imap.tls = tls;
    settings.imap.ca_file = ca.file.display().to_string();
    settings.imap.username = dovecot::USER.into();
    settings.imap.password = dovecot::PASSWORD.into();
    settings.imap.poll_seconds = 1;
    let app = spawn_on(db, settings);

    let subjects = |app: &TestApp| -> Vec<(String, String)> {
        let mut conn = app.conn();
        tickets::table
            .select((tickets::subject, tickets::channel))
            .load(&mut *conn)
            .unwrap()
    };
    let taken = eventually(Duration::from_secs(15), || {
        let s = subjects(&app);
        (!s.is_empty()).then_some(s)
    });
    assert_eq!(
        taken,
        Some(vec![(SUBJECT.to_string(), "email".to_string())]),
        "the mail became a ticket; server log:\n{}",
        imap.log()
    );
    let mut conn = app.conn();
    let body: String = messages::table
        .filter(messages::kind.eq("inbound"))
        .select(messages::body_text)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(body.trim_end(), "夜になると不安が強くなります。");
    let seen = eventually(Duration::from_secs(10), || {
        (imap.seen_uids() == vec![1]).then_some(())
    });
    assert!(seen.is_some(), "marked seen once stored");
    let login = imap
        .log()
        .lines()
        .find(|l| l.contains("Login: user=<soudan>") && l.contains(&format!("lip={TLS_HOST}")))
        .map(str::to_string)
        .expect("madoguchi signed in");
    assert!(login.contains(", TLS"), "{login}");
}

fn tls_from_the_first_byte_takes_mail_into_a_ticket(backend: Backend) {
    takes_mail_over(backend, ImapTls::Tls);
}

fn starttls_takes_mail_into_a_ticket(backend: Backend) {
    takes_mail_over(backend, ImapTls::Starttls);
}

fn a_certificate_from_another_ca_takes_nothing_and_serve_goes_on(backend: Backend) {
    let ca = TestCa::new();
    let imap = Dovecot::start_tls(&ca);
    imap.append(&mail());
    // Another CA of the same name: the certificate's issuer looks right, its key is not.
    let stranger = TestCa::new();
    let db = TestDb::new(backend);
    let port = imap.tls.as_ref().unwrap().tls;
    let mut serve = Serve::start(&db, TLS_HOST, port, "tls", &stranger);
    refused_twice_and_still_serving(
        &mut serve,
        "the server's certificate does not verify: not signed by a trusted root (the system's, or one in imap.ca_file)",
    );
    nothing_taken(&db, &imap);
}

fn a_certificate_for_another_host_takes_nothing(backend: Backend) {
    let ca = TestCa::new();
    let imap = Dovecot::start_tls(&ca);
    imap.append(&mail());
    let db = TestDb::new(backend);
    // The right CA, but the certificate names 127.0.0.2, not the address dialled.
    let port = imap.tls.as_ref().unwrap().tls;
    let mut serve = Serve::start(&db, OTHER_HOST, port, "tls", &ca);
    refused_twice_and_still_serving(
        &mut serve,
        "the server's certificate does not verify: not issued for imap.host",
    );
    nothing_taken(&db, &imap);
}

fn plain_text_to_a_server_that_requires_tls_fails_cleanly(backend: Backend) {
    let ca = TestCa::new();
    let imap = Dovecot::start_tls(&ca);
    imap.append(&mail());
    let db = TestDb::new(backend);
    let port = imap.tls.as_ref().unwrap().starttls;
    let mut serve = Serve::start(&db, TLS_HOST, port, "none", &ca);
    refused_twice_and_still_serving(
        &mut serve,
        "the server refuses sign-in without TLS; set imap.tls to \"starttls\" or \"tls\"",
    );
    nothing_taken(&db, &imap);
    // The password never went over the wire: Dovecot saw connections without a sign-in.
    let log = eventually(Duration::from_secs(5), || {
        let log = imap.log();
        log.contains(&format!(
            "no auth attempts in 0 secs): user=<>, rip=127.0.0.1, lip={TLS_HOST}"
        ))
        .then_some(log)
    })
    .unwrap_or_else(|| panic!("no such line in:\n{}", imap.log()));
    assert!(!log.contains("auth failed"), "{log}");
}

fn a_server_that_never_answers_does_not_hold_up_shutdown(backend: Backend) {
    // Takes the connection and says nothing: no TLS handshake, no greeting.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    silent.set_nonblocking(true).unwrap();
    let ca = TestCa::new();
    let db = std::sync::Arc::new(TestDb::new(backend));
    let mut settings = test_settings(&db);
    settings.imap.enabled = true;
    settings.imap.port = port;
    settings.imap.tls = ImapTls::Tls;
    settings.imap.ca_file = ca.file.display().to_string();
    let app = spawn_on(db, settings);
    let _conn =
        eventually(Duration::from_secs(10), || silent.accept().ok()).expect("the poller connected");
    let asked = Instant::now();
    drop(app);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        asked.elapsed()
    );
}

/// The refusal is logged, then logged again after the usual backoff, and the service answers
/// all the while. The line names neither the server nor any mail address.
fn refused_twice_and_still_serving(serve: &mut Serve, why: &str) {
    for _ in 0..2 {
        let line = serve.wait_for(why);
        assert!(line.contains("IMAP polling failed; reconnecting"), "{line}");
        for leak in ["127.0.0.", "@", "soudan", dovecot::PASSWORD] {
            assert!(!line.contains(leak), "{leak} in {line}");
        }
    }
    let health = ureq::get(format!("http://127.0.0.1:{}/healthz", serve.port))
        .call()
        .expect("serve still answers");
    assert_eq!(health.status().as_u16(), 200);
    assert!(
        serve.child.try_wait().unwrap().is_none(),
        "serve kept running"
    );
}

fn nothing_taken(db: &TestDb, imap: &Dovecot) {
    let pool = madoguchi::db::connect(&test_settings(db).database).unwrap();
    let mut conn = pool.get().unwrap();
    let tickets: i64 = tickets::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(tickets, 0);
    assert_eq!(imap.unseen_uids(), vec![1], "the mail waits, unseen");
}

/// `madoguchi serve` as the centre runs it, configured from the environment, its log read.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    port: u16,
    mail_dir: std::path::PathBuf,
}

impl Serve {
    fn start(db: &TestDb, host: &str, port: u16, tls: &str, ca: &TestCa) -> Self {
        let mail_dir = std::path::PathBuf::from(test_settings(db).smtp.file_dir);
        let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
            .arg("serve")
            .env("MADOGUCHI_DATABASE__URL", &db.url)
            .env("MADOGUCHI_SERVER__BIND", "127.0.0.1:0")
            .env("MADOGUCHI_SMTP__FILE_DIR", &mail_dir)
            .env("MADOGUCHI_LOG__LEVEL", "info")
            .env("MADOGUCHI_IMAP__ENABLED", "true")
            .env("MADOGUCHI_IMAP__HOST", host)
            .env("MADOGUCHI_IMAP__PORT", port.to_string())
            .env("MADOGUCHI_IMAP__TLS", tls)
            .env("MADOGUCHI_IMAP__CA_FILE", &ca.file)
            .env("MADOGUCHI_IMAP__USERNAME", dovecot::USER)
            .env("MADOGUCHI_IMAP__PASSWORD", dovecot::PASSWORD)
            .env("MADOGUCHI_IMAP__POLL_SECONDS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut serve = Self {
            child,
            lines,
            port: 0,
            mail_dir,
        };
        let serving = serve.wait_for("madoguchi is serving");
        serve.port = serving
            .split("port=")
            .nth(1)
            .and_then(|p| p.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {serving}"));
        serve
    }

    /// The next log line holding `text`.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut before = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => before.push(line),
                Err(_) => break,
            }
        }
        panic!(
            "serve never logged {text:?}; it logged:\n{}",
            before.join("\n")
        );
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}
