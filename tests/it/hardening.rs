//! What an attacker tries against the HTTP edge (issue 10): bodies before tokens, oversized
//! and slow bodies, odd methods, attachments that claim to be pages, sign-ins kept for ever.
//! Forwarded addresses and floods of sign-ins are in `sign_in_limits`.

use std::time::Duration;

use std::io::{Read, Write};
use std::net::TcpStream;

use chrono::Duration as ChronoDuration;
use madoguchi::intake::mail;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::process::ServeProcess;
use crate::support::{Backend, TestApp, TestDb, consultation, spawn_app};

both_backends!(
    a_staff_endpoint_checks_the_token_before_the_body,
    odd_request_methods_share_one_metrics_label,
    an_attachment_is_always_a_download_of_opaque_bytes,
    a_sign_in_ends_after_its_lifetime_however_busy,
    a_body_that_trickles_in_is_cut_off,
);

#[test]
fn serve_warns_while_the_reply_address_is_the_example_one() {
    let db = TestDb::new(Backend::Sqlite);
    let example = ServeProcess::start(&db.url, &[]);
    let warning = example
        .wait_for_line(Duration::from_secs(20), |l| l.contains("reply_address"))
        .unwrap_or_else(|| panic!("no warning: {:?}", example.lines()));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(!warning.contains('@'), "no address in the log: {warning}");
    drop(example);

    let own = ServeProcess::start(
        &db.url,
        &[(
            "MADOGUCHI_CENTER__REPLY_ADDRESS",
            "soudan@kokoro-recovery.org",
        )],
    );
    // The staff hint comes after the address check: once it is there, the check has run.
    own.wait_for_line(Duration::from_secs(20), |l| l.contains("no staff account"))
        .unwrap_or_else(|| panic!("serve did not get past its start checks: {:?}", own.lines()));
    let lines = own.lines();
    assert!(
        !lines.iter().any(|l| l.contains("reply_address")),
        "no warning for the centre's own address: {lines:?}"
    );
}

/// A POST with any headers and a body as given, answered as status and JSON.
fn post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", content_type);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut resp = req.send(body).expect("the request reached the server");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn a_staff_endpoint_checks_the_token_before_the_body(backend: Backend) {
    let app = spawn_app(backend);
    let staff = app.staff("kato@center.example", "counsellor");
    let ticket = app.new_ticket("hanako@example.jp");
    let notes = format!("/api/v1/tickets/{ticket}/notes");
    let huge = format!("{{\"body\": \"{}\"}}", "あ".repeat(200_000));

    for token in [None, Some("not-a-token")] {
        for (content_type, body) in [
            ("application/json", "{not json"),
            ("text/plain", "hello"),
            ("application/json", "{\"unexpected\": 1}"),
            ("application/json", huge.as_str()),
        ] {
            let (status, answer) = post(&app, &notes, token, content_type, body);
            assert_eq!(
                status,
                401,
                "token {token:?}, {content_type} body of {} bytes: {answer}",
                body.len()
            );
            let expected = if token.is_some() {
                "invalid_token"
            } else {
                "unauthenticated"
            };
            assert_eq!(answer["error"]["code"], expected, "{answer}");
        }
    }
    // The same on a query: a bad token is told so before its query is judged.
    let r = app.call(
        "GET",
        "/api/v1/reports/overdue?as_of=yesterday",
        Some("nope"),
        None,
    );
    assert_eq!(r.status, 401, "{}", r.body);

    // Signed in, the body is judged: malformed 400, too large 413.
    let (status, answer) = post(
        &app,
        &notes,
        Some(&staff.token),
        "application/json",
        "{not json",
    );
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (400, json!("invalid_json"))
    );
    let (status, answer) = post(&app, &notes, Some(&staff.token), "application/json", &huge);
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "payload_too_large", "{answer}");

    // The public endpoint has no token to check; its oversized body is 413 as well.
    let (status, answer) = post(
        &app,
        "/api/v1/consultations",
        None,
        "application/json",
        &huge,
    );
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "payload_too_large", "{answer}");

    // And a good request still goes through the gate.
    let (status, answer) = post(
        &app,
        &notes,
        Some(&staff.token),
        "application/json",
        "{\"body\": \"電話で話した\"}",
    );
    assert_eq!(status, 201, "{answer}");
}

/// Sends `request` as it is over a fresh connection and returns what came back.
fn raw_http(app: &TestApp, request: &str) -> String {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn odd_request_methods_share_one_metrics_label(backend: Backend) {
    let app = spawn_app(backend);
    for i in 0..30 {
        let answer = raw_http(
            &app,
            &format!("BREW{i} /api/v1/tickets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    }
    app.get("/healthz");
    let metrics = app.get("/metrics").body;
    assert!(
        !metrics.contains("BREW"),
        "no label per invented method:\n{metrics}"
    );
    let other: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("method=\"other\"") && l.contains("_count"))
        .collect();
    assert!(
        !other.is_empty(),
        "the odd methods are counted together:\n{metrics}"
    );
    let counted: f64 = other
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted, 30.0, "{other:?}");
    assert!(metrics.contains("method=\"GET\""), "{metrics}");
}

fn an_attachment_is_always_a_download_of_opaque_bytes(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("kato@center.example", "counsellor");
    let page = "<html><script>alert(document.cookie)</script></html>";
    let raw = format!(
        "From: hanako@example.jp\r\nTo: soudan@example.org\r\nSubject: =?UTF-8?B?55u46KuH?=\r\n\
         Message-ID: <att-{}@example.jp>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee the page\r\n\
         --b\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Disposition: inline; filename=\"page.html\"\r\n\r\n{page}\r\n--b--\r\n",
        madoguchi::random::hex_string::<6>()
    );
    let ticket = {
        let mut conn = app.conn();
        match mail::take(&app.state, &mut conn, raw.as_bytes(), "test").expect("stored") {
            madoguchi::intake::Outcome::Opened { ticket_id, .. } => ticket_id.0,
            other => panic!("expected a new ticket, got {other:?}"),
        }
    };
    let t = app.call(
        "GET",
        &format!("/api/v1/tickets/{ticket}"),
        Some(&c.token),
        None,
    );
    let url = t.json()["messages"][0]["attachments"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no attachment: {}", t.body))
        .to_string();
    let mut resp = app
        .http
        .get(app.url(&url))
        .header("authorization", format!("Bearer {}", c.token))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "application/octet-stream");
    let disposition = header("content-disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("page.html"), "{disposition}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(
        resp.body_mut().read_to_string().unwrap(),
        page,
        "the bytes as sent"
    );
}

fn a_sign_in_ends_after_its_lifetime_however_busy(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("kato@center.example", "counsellor");
    // In use every half hour: never idle, and still good until its twelve hours are up.
    for _ in 0..23 {
        app.time.advance(ChronoDuration::minutes(30));
        let r = app.call("GET", "/api/v1/tickets", Some(&c.token), None);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    app.time.advance(ChronoDuration::minutes(31));
    let r = app.call("GET", "/api/v1/tickets", Some(&c.token), None);
    assert_eq!(
        r.status, 401,
        "after 12 h a sign-in ends however busy: {}",
        r.body
    );
    assert_eq!(r.json()["error"]["code"], "token_expired");

    // A shorter lifetime than the idle time is what the sign-in promises as its expiry.
    let app = crate::support::spawn_app_with(backend, |s| s.auth.session_max_hours = 2);
    app.add_staff("sato@center.example", "counsellor");
    let login = app
        .login("sato@center.example", crate::support::STAFF_PASSWORD)
        .json();
    let expires =
        chrono::DateTime::parse_from_rfc3339(login["expires_at"].as_str().unwrap()).unwrap();
    let now = madoguchi::timesource::TimeSource::now(&*app.time);
    assert_eq!((expires.to_utc() - now).num_hours(), 2, "{login}");
}

/// Opens a request whose body is promised at 1000 bytes and sent one byte at a time, every
/// `every`, on its own thread; returns what the server answered and how long that took.
fn trickle(
    address: &str,
    path: &str,
    every: Duration,
) -> std::thread::JoinHandle<(String, Duration)> {
    let address = address.trim_start_matches("http://").to_string();
    let path = path.to_string();
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(every)).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while started.elapsed() < Duration::from_secs(30) {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if stream.write_all(b" ").is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    })
}

fn a_body_that_trickles_in_is_cut_off(backend: Backend) {
    let app = crate::support::spawn_app_with(backend, |s| s.server.body_timeout_seconds = 2);
    let slow: Vec<_> = (0..40)
        .map(|_| {
            trickle(
                &app.address,
                "/api/v1/consultations",
                Duration::from_millis(300),
            )
        })
        .collect();
    // While they trickle, everyone else is served.
    std::thread::sleep(Duration::from_millis(500));
    let health = std::time::Instant::now();
    assert_eq!(app.get("/healthz").status, 200);
    assert_eq!(
        app.post_json("/api/v1/consultations", &consultation("hanako@example.jp"))
            .status,
        201
    );
    assert!(
        health.elapsed() < Duration::from_secs(2),
        "{:?}",
        health.elapsed()
    );
    for t in slow {
        let (answer, took) = t.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
        assert!(
            took < Duration::from_secs(6),
            "cut off near its deadline and the connection closed, not held: {took:?}"
        );
    }
}
