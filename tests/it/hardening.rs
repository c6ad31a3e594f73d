//! What an attacker tries against the HTTP edge (issue 10): bodies before tokens, oversized
//! and slow bodies, forged forwarded addresses, floods of wrong passwords, odd methods.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::process::ServeProcess;
use crate::support::{Backend, TestApp, TestDb, spawn_app};

both_backends!(a_staff_endpoint_checks_the_token_before_the_body,);

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
