//! The console's session over HTTP (issue 12, point 2): the cookie's attributes, the forms'
//! token, the API's throttling, idle and absolute expiry, and what happens to a reply written
//! when the sign-in ended.

use chrono::Duration as ChronoDuration;

use crate::both_backends;
use crate::desk::{SUPERVISOR, app_with, ticket_with};
use crate::support::{Backend, STAFF_PASSWORD, TestApp, hidden_value, spawn_app_with};

both_backends!(
    the_session_cookie_is_strict_and_changes_need_the_form_token,
    sign_in_is_throttled_and_sessions_end_idle_or_at_their_age,
    an_attachment_is_a_download_of_opaque_bytes_whatever_its_sender_claimed,
);

/// An HTTP client that keeps no cookies and follows no redirects, to read each answer.
fn raw_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

struct Answer {
    status: u16,
    location: String,
    set_cookie: String,
    content_type: String,
    disposition: String,
    body: String,
}

fn send(req: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut r = req.expect("the server answers");
    let header = |name: &str| {
        r.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (location, set_cookie) = (header("location"), header("set-cookie"));
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    Answer {
        status: r.status().as_u16(),
        location,
        set_cookie,
        content_type,
        disposition,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// Signs in over HTTP as the sign-in page does; the session cookie's `name=value`, and the
/// whole `Set-Cookie`.
fn http_sign_in(app: &TestApp, email: &str, password: &str) -> (Answer, String) {
    let agent = raw_agent();
    let page = send(agent.get(app.url("/desk")).call());
    let token = hidden_value(&page.body, "login_token").expect("the sign-in form's token");
    let a = send(agent.post(app.url("/desk/login")).send_form([
        ("email", email),
        ("password", password),
        ("next", "/desk"),
        ("login_token", token.as_str()),
    ]));
    let cookie = a.set_cookie.split(';').next().unwrap_or("").to_string();
    (a, cookie)
}

fn get_with(app: &TestApp, path: &str, cookie: &str) -> Answer {
    send(
        raw_agent()
            .get(app.url(path))
            .header("cookie", cookie)
            .call(),
    )
}

fn post_with(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Answer {
    send(
        raw_agent()
            .post(app.url(path))
            .header("cookie", cookie)
            .send_form(fields.iter().copied()),
    )
}

fn note_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use madoguchi::db::schema::messages;
    use madoguchi::domain::vocabulary::MessageKind;
    let mut conn = app.conn();
    messages::table
        .filter(messages::kind.eq(MessageKind::Note))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

fn the_session_cookie_is_strict_and_changes_need_the_form_token(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (id, _) = ticket_with(&app, "a@example.jp", "相談", "部屋から出られません。");
    let (signed_in, cookie) = http_sign_in(&app, SUPERVISOR, STAFF_PASSWORD);
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location, "/desk");
    let c = signed_in.set_cookie.to_ascii_lowercase();
    assert!(c.starts_with("madoguchi_desk="), "{c}");
    for part in ["httponly", "samesite=strict", "path=/desk"] {
        assert!(c.contains(part), "{part} in {c}");
    }
    assert!(!c.contains("secure"), "not Secure over plain http: {c}");
    let (_, again) = http_sign_in(&app, SUPERVISOR, STAFF_PASSWORD);
    assert_ne!(cookie, again, "every sign-in gets a new session");
    {
        // Signing in again in the same browser ends the session it had.
        let (_, third) = http_sign_in(&app, SUPERVISOR, STAFF_PASSWORD);
        let page = send(raw_agent().get(app.url("/desk")).call());
        let token = hidden_value(&page.body, "login_token").unwrap();
        let a = send(
            raw_agent()
                .post(app.url("/desk/login"))
                .header("cookie", &third)
                .send_form([
                    ("email", SUPERVISOR),
                    ("password", STAFF_PASSWORD),
                    ("login_token", token.as_str()),
                ]),
        );
        assert_eq!(a.status, 303);
        assert_eq!(
            get_with(&app, "/desk/tickets/1", &third).status,
            303,
            "replaced"
        );
    }

    let page = get_with(&app, &format!("/desk/tickets/{id}"), &cookie);
    assert_eq!(page.status, 200);
    let csrf = hidden_value(&page.body, "csrf").expect("the forms carry a token");
    let path = format!("/desk/tickets/{id}/note");
    let refused = post_with(&app, &path, &cookie, &[("body", "メモです")]);
    assert_eq!(refused.status, 403, "no token");
    let wrong = post_with(&app, &path, &cookie, &[("body", "メモ"), ("csrf", "00")]);
    assert_eq!(wrong.status, 403, "a wrong token");
    let other = post_with(&app, &path, &again, &[("body", "メモ"), ("csrf", &csrf)]);
    assert_eq!(other.status, 403, "another session's token");
    assert_eq!(note_count(&app), 0, "nothing was kept");
    let taken = post_with(
        &app,
        &path,
        &cookie,
        &[("body", "メモです"), ("csrf", &csrf)],
    );
    assert_eq!(taken.status, 303);
    assert_eq!(note_count(&app), 1);
    let forged_login = send(
        raw_agent()
            .post(app.url("/desk/login"))
            .send_form([("email", SUPERVISOR), ("password", STAFF_PASSWORD)]),
    );
    assert_eq!(
        forged_login.status, 403,
        "a sign-in without the page's token"
    );
    assert!(forged_login.set_cookie.is_empty());

    let out = post_with(&app, "/desk/logout", &cookie, &[]);
    assert_eq!(out.status, 403, "sign-out without the token");
    let out = post_with(&app, "/desk/logout", &cookie, &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert!(
        out.set_cookie.contains("madoguchi_desk=;"),
        "{}",
        out.set_cookie
    );
    let after = get_with(&app, &format!("/desk/tickets/{id}"), &cookie);
    assert_eq!(after.status, 303, "the old cookie opens nothing");

    let https = spawn_app_with(backend, |s| {
        s.server.public_base_url = "https://soudan.example.org".into();
    });
    https.add_staff(SUPERVISOR, "supervisor");
    let (a, _) = http_sign_in(&https, SUPERVISOR, STAFF_PASSWORD);
    assert!(a.set_cookie.contains("Secure"), "{}", a.set_cookie);
}

fn sign_in_is_throttled_and_sessions_end_idle_or_at_their_age(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    for _ in 0..5 {
        let (a, _) = http_sign_in(&app, SUPERVISOR, "wrong");
        assert_eq!(a.status, 401);
        assert!(a.body.contains("メールアドレスまたはパスワードが違います"));
    }
    let (a, _) = http_sign_in(&app, SUPERVISOR, STAFF_PASSWORD);
    assert_eq!(a.status, 429, "the API's cooling-off");
    assert!(a.body.contains("しばらくログインできません"), "{}", a.body);
    app.time.advance(ChronoDuration::minutes(16));

    let (_, cookie) = http_sign_in(&app, SUPERVISOR, STAFF_PASSWORD);
    assert_eq!(get_with(&app, "/desk", &cookie).status, 200);
    app.time.advance(ChronoDuration::hours(12));
    let idle = get_with(&app, "/desk", &cookie);
    assert_eq!(idle.status, 200);
    assert!(
        idle.body.contains("ログインの有効期限が切れました"),
        "{}",
        idle.body
    );
    // A reply being written when the sign-in ended is not lost: shown to be copied.
    let reply = [
        ("body", "書きかけの返信です"),
        ("csrf", "x"),
        ("action", "send"),
    ];
    let lost = post_with(&app, "/desk/tickets/1/reply", &cookie, &reply);
    assert_eq!(lost.status, 401);
    assert!(
        lost.body.contains("まだ何も送っていません") && lost.body.contains("書きかけの返信です")
    );
    assert!(
        lost.body.contains("next=%2Fdesk%2Ftickets%2F1"),
        "{}",
        lost.body
    );

    let (_, cookie) = http_sign_in(&app, SUPERVISOR, STAFF_PASSWORD);
    // Idle and absolute limits are both 12 hours by default: used after 11 hours, the
    // sign-in ends at 13 whatever its use (auth.session_max_hours).
    app.time.advance(ChronoDuration::hours(11));
    let used = get_with(&app, "/desk", &cookie);
    assert!(used.body.contains("相談一覧"), "used within the idle time");
    app.time.advance(ChronoDuration::hours(2));
    let aged = get_with(&app, "/desk/tickets/1", &cookie);
    assert_eq!(aged.status, 303, "12 hours after sign-in, however used");
    assert!(aged.location.contains("expired=1"), "{}", aged.location);
}

/// The console hands out attachments as the API does: never as the type the sender claimed
/// (a consulter's HTML or SVG must not run in a counsellor's browser).
fn an_attachment_is_a_download_of_opaque_bytes_whatever_its_sender_claimed(backend: Backend) {
    let app = app_with(backend, None);
    let raw = std::fs::read(format!(
        "{}/tests/data/mail/rfc2231-filename.eml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let outcome = {
        let mut conn = app.conn();
        madoguchi::intake::mail::take(&app.state, &mut conn, &raw, "test").expect("stored")
    };
    let madoguchi::intake::Outcome::Opened { ticket_id, .. } = outcome else {
        panic!("expected a new ticket, got {outcome:?}");
    };
    app.add_staff(SUPERVISOR, "supervisor");
    let (_, cookie) = http_sign_in(&app, SUPERVISOR, STAFF_PASSWORD);
    let page = get_with(&app, &format!("/desk/tickets/{}", ticket_id.0), &cookie);
    assert_eq!(page.status, 200);
    // The page escapes the link's slashes (`&#x2f;`), as minijinja escapes every value.
    let body = page.body.replace("&#x2f;", "/");
    let prefix = format!("/desk/tickets/{}/attachments/", ticket_id.0);
    let at = body
        .find(&prefix)
        .expect("a download link on the ticket page");
    let link: String = body[at..].chars().take_while(|c| *c != '"').collect();
    let file = get_with(&app, &link, &cookie);
    assert_eq!(file.status, 200);
    assert_eq!(file.content_type, "application/octet-stream");
    assert!(
        file.disposition.starts_with("attachment"),
        "{}",
        file.disposition
    );
}
