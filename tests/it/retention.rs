//! Retention (issue 14, point 4; CONTRACT §9): consultations closed longer ago than
//! `retention.erase_after_years` lose every personal datum and keep every figure. Run under
//! a hand-set clock in the process, and as `madoguchi retention run` (which reads the system
//! clock: the tickets are made that long ago on the hand-set one).

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use madoguchi::db::schema::{audit_events, consulters, messages, outbound_mail, tickets};
use madoguchi::desk::retention;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, STAFF_PASSWORD, TestApp, eventually, spawn_app_with};

mod console;
mod my_page;
mod runs;
mod setting;

use setting::{figures, scene};

both_backends!(
    old_closed_tickets_are_erased_and_every_figure_stays,
    counsellors_may_not_set_a_legal_hold,
);

pub(super) const MOTHER: &str = "Haha.Yamada@example.jp";
pub(super) const FATHER: &str = "chichi@example.jp";
pub(super) const URGENT: &str = "kiken@example.jp";
pub(super) const OTHER: &str = "other@example.jp";
pub(super) const SUPERVISOR: &str = "s@center.example";
pub(super) const COUNSELLOR: &str = "c@center.example";
/// Words that stand in every consultation these tests file, and must be gone once erased.
pub(super) const PERSONAL: &[&str] = &[
    "山田",
    "花子",
    "息子",
    "部屋",
    "example.jp",
    "添付",
    "相談メモ",
];

pub(super) fn app(backend: Backend, years: u32) -> TestApp {
    spawn_app_with(backend, move |s| {
        s.intake.rate_limit_per_hour = 0;
        s.alerts.enabled = false;
        s.retention.erase_after_years = years;
        // The tests run retention themselves, at the times they choose.
        s.retention.daily_job = false;
        s.auth.session_idle_hours = 24 * 365 * 10;
        s.auth.session_max_hours = 24 * 365 * 10;
    })
}

pub(super) fn token(app: &TestApp, email: &str) -> String {
    let r = app.login(email, STAFF_PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_string()
}

pub(super) fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let r = app.call("GET", path, Some(token), None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

pub(super) fn patch(app: &TestApp, token: &str, id: i64, body: Value) -> u16 {
    app.call(
        "PATCH",
        &format!("/api/v1/tickets/{id}"),
        Some(token),
        Some(&body),
    )
    .status
}

pub(super) fn file(app: &TestApp, email: &str, subject: &str, body: &str) -> i64 {
    let mut c = crate::support::consultation(email);
    c["subject"] = json!(subject);
    c["body"] = json!(body);
    let r = app.post_json("/api/v1/consultations", &c);
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = r.json()["reference"].as_str().unwrap().to_string();
    let mut conn = app.conn();
    madoguchi::db::tickets::by_reference(&mut conn, &reference)
        .unwrap()
        .unwrap()
        .id
        .0
}

pub(super) fn reply(app: &TestApp, token: &str, id: i64, close: bool) {
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(token),
        Some(&json!({"body": "山田様、ご相談ありがとうございます。息子さんのこと、一緒に考えましょう。", "close": close})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
}

/// Lets the mail worker send what is queued (it reads the hand-set clock).
pub(super) fn outbox_empty(app: &TestApp) {
    app.wake_mail();
    let sent = eventually(Duration::from_secs(20), || {
        let mut conn = app.conn();
        let queued: i64 = outbound_mail::table
            .filter(outbound_mail::status.eq("queued"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        (queued == 0).then_some(())
    });
    assert!(sent.is_some(), "the outbox did not empty");
}

pub(super) fn audits(app: &TestApp, action: &str) -> Vec<(Option<i64>, Option<String>)> {
    let mut conn = app.conn();
    audit_events::table
        .filter(audit_events::action.eq(action))
        .order(audit_events::id)
        .select((audit_events::ticket_id, audit_events::detail))
        .load(&mut conn)
        .unwrap()
}

pub(super) fn erased_at(app: &TestApp, id: i64) -> Option<chrono::NaiveDateTime> {
    let mut conn = app.conn();
    tickets::table
        .find(id)
        .select(tickets::erased_at)
        .first(&mut conn)
        .unwrap()
}

pub(super) fn bodies(app: &TestApp, id: i64) -> Vec<String> {
    let mut conn = app.conn();
    messages::table
        .filter(messages::ticket_id.eq(id))
        .order(messages::id)
        .select(messages::body_text)
        .load(&mut conn)
        .unwrap()
}

/// `madoguchi ARGS` on the test app's database and mail folder, with settings as
/// environment variables.
pub(super) fn madoguchi(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args(args)
        .env("MADOGUCHI_DATABASE__URL", app.db_url())
        .env(
            "MADOGUCHI_SMTP__FILE_DIR",
            &app.state.settings.smtp.file_dir,
        )
        .env("MADOGUCHI_LOG__LEVEL", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("madoguchi runs")
}

pub(super) fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn old_closed_tickets_are_erased_and_every_figure_stays(backend: Backend) {
    let app = app(backend, 5);
    let t = scene(&app);
    let s = token(&app, SUPERVISOR);
    let before = figures(&app, &s, t.long_ago);
    let detail = |id: i64| get(&app, &s, &format!("/api/v1/tickets/{id}"));
    let whole_before: Vec<Value> = [t.answered, t.by_mail, t.urgent]
        .iter()
        .map(|id| detail(*id))
        .collect();
    assert!(
        whole_before[1]["messages"][0]["attachments"]
            .as_array()
            .is_some_and(|a| a.len() == 2),
        "the mail came with two files: {}",
        whole_before[1]
    );
    for d in &whole_before {
        assert!(
            d["erased_at"].is_null() && d["closed_at"].is_string(),
            "{d}"
        );
    }

    // A dry run (the command, on the system clock) counts and changes nothing.
    let env = [("MADOGUCHI_RETENTION__ERASE_AFTER_YEARS", "5")];
    let dry = madoguchi(&app, &["retention", "run", "--dry-run"], &env);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let said = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(
        said.contains("would erase 3 tickets")
            && said.contains("the address of 2 consulters")
            && said.contains("1 quarantined mails")
            && said.contains("1 kept by a legal hold"),
        "{said}"
    );
    assert!(audits(&app, "ticket.erase").is_empty());
    assert!(audits(&app, "retention.run").is_empty());
    for id in [t.answered, t.by_mail, t.urgent] {
        assert!(erased_at(&app, id).is_none());
        assert!(bodies(&app, id).iter().all(|b| !b.is_empty()));
    }
    // In a pipe it shows no progress.
    assert!(!String::from_utf8_lossy(&dry.stderr).contains('\r'));

    // The run, on the hand-set clock.
    let counts = {
        let mut conn = app.conn();
        let mut told = Vec::new();
        let counts = retention::run(&app.state, &mut conn, &mut |d, n| told.push((d, n)))
            .unwrap()
            .expect("retention is on");
        assert_eq!(told.last(), Some(&(3, 3)), "progress after each ticket");
        counts
    };
    assert_eq!(
        (
            counts.tickets,
            counts.held,
            counts.deferred,
            counts.consulters
        ),
        (3, 1, 0, 2),
        "the mother keeps her address while her held ticket keeps it: {counts:?}"
    );

    assert_eq!(before, figures(&app, &s, t.long_ago), "every figure stays");
    assert_eq!(counts.quarantine, 1, "the old quarantined mail only");
    {
        use madoguchi::db::schema::quarantine;
        let mut conn = app.conn();
        let kept: Vec<(Vec<u8>, String)> = quarantine::table
            .order(quarantine::id)
            .select((quarantine::raw, quarantine::reason))
            .load(&mut conn)
            .unwrap();
        assert!(kept[0].0.is_empty() && kept[0].1 == "erased by retention");
        assert!(String::from_utf8_lossy(&kept[1].0).contains(FATHER));
    }

    for (id, was) in [t.answered, t.by_mail, t.urgent].iter().zip(&whole_before) {
        let now = detail(*id);
        assert!(now["erased_at"].is_string(), "{now}");
        let shown = now.to_string();
        for word in PERSONAL {
            assert!(!shown.contains(word), "{word} is still shown: {shown}");
        }
        assert_eq!(now["subject"], "");
        assert_eq!(now["consulter"]["name"], Value::Null);
        assert_eq!(now["consulter"]["email"], "");
        // What the figures stand on stays.
        for key in [
            "reference",
            "status",
            "channel",
            "urgent",
            "urgent_reasons",
            "created_at",
        ] {
            assert_eq!(now[key], was[key], "{key}");
        }
        let kinds = |d: &Value| -> Vec<(Value, Value, Value)> {
            d["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| (m["id"].clone(), m["kind"].clone(), m["created_at"].clone()))
                .collect()
        };
        assert_eq!(kinds(&now), kinds(was), "the thread's shape stays");
        for m in now["messages"].as_array().unwrap() {
            assert_eq!(m["body_text"], "");
            assert!(m["attachments"].as_array().unwrap().is_empty());
        }
    }
    assert_eq!(
        detail(t.urgent)["urgent_reasons"],
        json!(["suicidal_ideation"])
    );

    // Held, open and recently closed tickets are whole.
    for id in [t.held, t.open, t.recent] {
        let d = detail(id);
        assert!(d["erased_at"].is_null(), "{d}");
        assert!(d.to_string().contains("息子"), "{d}");
        assert!(d["consulter"]["email"].as_str().unwrap().contains('@'));
    }
    assert_eq!(detail(t.held)["legal_hold"], true);

    // Nothing personal in the database's rows of erased tickets either.
    let mut conn = app.conn();
    for id in [t.answered, t.by_mail, t.urgent] {
        let mail: Vec<(String, Vec<u8>, Option<String>)> = outbound_mail::table
            .filter(outbound_mail::ticket_id.eq(id))
            .select((
                outbound_mail::to_address,
                outbound_mail::raw,
                outbound_mail::last_error,
            ))
            .load(&mut conn)
            .unwrap();
        assert!(!mail.is_empty());
        assert!(
            mail.iter()
                .all(|(to, raw, e)| to.is_empty() && raw.is_empty() && e.is_none())
        );
        let raws: Vec<Option<Vec<u8>>> = messages::table
            .filter(messages::ticket_id.eq(id))
            .select(messages::raw_mime)
            .load(&mut conn)
            .unwrap();
        assert!(raws.iter().all(Option::is_none));
    }
    // The father's consulter row stays, without address or name; the mother's keeps hers.
    let rows: Vec<(i64, String, Option<String>, bool)> = consulters::table
        .order(consulters::id)
        .select((
            consulters::id,
            consulters::email,
            consulters::name,
            consulters::erased_at.is_not_null(),
        ))
        .load(&mut conn)
        .unwrap();
    let father = rows.iter().find(|r| r.1.starts_with("erased-")).unwrap();
    assert_eq!(father.1, format!("erased-{}", father.0));
    assert_eq!((father.2.clone(), father.3), (None, true));
    assert_eq!(rows.iter().filter(|r| r.3).count(), 2, "{rows:?}");
    assert!(rows.iter().any(|r| r.1 == MOTHER && !r.3), "{rows:?}");
    drop(conn);

    // Each erasure is in the audit, with counts and never contents.
    let erased = audits(&app, "ticket.erase");
    let mut ids: Vec<i64> = erased.iter().filter_map(|e| e.0).collect();
    ids.sort_unstable();
    let mut want = vec![t.answered, t.by_mail, t.urgent];
    want.sort_unstable();
    assert_eq!(ids, want);
    let by_mail_audit = erased.iter().find(|e| e.0 == Some(t.by_mail)).unwrap();
    let detail_text = by_mail_audit.1.clone().unwrap();
    assert!(
        detail_text.contains("attachments=2") && detail_text.contains("consulter=erased"),
        "{detail_text}"
    );
    for (_, d) in &erased {
        let d = d.clone().unwrap_or_default();
        assert!(PERSONAL.iter().all(|w| !d.contains(w)), "{d}");
    }
    let trail = get(&app, &s, &format!("/api/v1/tickets/{}/audit", t.by_mail));
    assert!(trail.to_string().contains("ticket.erase"), "{trail}");

    // An erased ticket cannot be answered: there is no one to answer.
    let c = token(&app, COUNSELLOR);
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{}/replies", t.answered),
        Some(&c),
        Some(&json!({"body": "もう一度"})),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{}/notes", t.answered),
        Some(&c),
        Some(&json!({"body": "メモ"})),
    );
    assert_eq!(r.status, 403, "{}", r.body);

    // A second run (the command) erases nothing more.
    let again = madoguchi(&app, &["retention", "run"], &env);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("erased 0 tickets"),
        "{}",
        text(&again)
    );
    assert_eq!(audits(&app, "ticket.erase").len(), 3);
    assert_eq!(audits(&app, "retention.run").len(), 2);
    assert_eq!(before, figures(&app, &s, t.long_ago));

    // Lifting the hold lets the next run erase the held ticket, and then the mother too.
    assert_eq!(patch(&app, &s, t.held, json!({"legal_hold": false})), 204);
    let third = madoguchi(&app, &["retention", "run"], &env);
    let said = String::from_utf8_lossy(&third.stdout).to_string();
    assert!(
        said.contains("erased 1 tickets") && said.contains(", 1 consulters,"),
        "{}",
        text(&third)
    );
    assert!(detail(t.held)["erased_at"].is_string());
    assert_eq!(before, figures(&app, &s, t.long_ago));

    // The files the `file` transport wrote of erased mail are gone; the others stay.
    assert!(counts.mail_files >= 3, "{counts:?}");
    let dir = &app.state.settings.smtp.file_dir;
    let mut kept = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let mail = String::from_utf8_lossy(&bytes);
        assert!(!mail.contains(FATHER) && !mail.contains(URGENT), "{mail}");
        kept += 1;
    }
    assert!(kept > 0, "the mail of tickets kept is kept");

    // Mail that answers an erased thread opens a new consultation: it joins no erased one.
    let answer = format!(
        "Message-ID: <again-1@example.jp>\r\nIn-Reply-To: <b3c1f0aa-1c2d-4e5f-8a9b-0c1d2e3f4a5b@example.org.invalid>\r\n\
         From: {FATHER}\r\nTo: soudan@example.org\r\nSubject: Re: memo\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\nまた相談させてください。\r\n"
    );
    let mut conn = app.conn();
    let outcome =
        madoguchi::intake::mail::take(&app.state, &mut conn, answer.as_bytes(), "test").unwrap();
    assert_eq!(outcome.as_str(), "opened", "{outcome:?}");
    assert_ne!(outcome.ticket_id().unwrap().0, t.by_mail);
}

fn counsellors_may_not_set_a_legal_hold(backend: Backend) {
    let app = app(backend, 5);
    app.add_staff(COUNSELLOR, "counsellor");
    app.add_staff(SUPERVISOR, "supervisor");
    let c = token(&app, COUNSELLOR);
    let s = token(&app, SUPERVISOR);
    let id = file(&app, MOTHER, "相談", "息子のこと");
    assert_eq!(
        patch(
            &app,
            &c,
            id,
            json!({"legal_hold": true, "status": "closed"})
        ),
        403
    );
    let d = get(&app, &s, &format!("/api/v1/tickets/{id}"));
    assert_eq!(d["legal_hold"], false);
    assert_eq!(
        d["status"], "new",
        "nothing of a refused request is changed"
    );
    // A body that does not parse is 400, as everywhere in the API.
    assert_eq!(patch(&app, &s, id, json!({"legal_hold": "yes"})), 400);
    assert_eq!(patch(&app, &s, id, json!({"legal_hold": true})), 204);
    assert_eq!(
        get(&app, &s, &format!("/api/v1/tickets/{id}"))["legal_hold"],
        true
    );
    let trail = get(&app, &s, &format!("/api/v1/tickets/{id}/audit"));
    assert!(trail.to_string().contains("legal_hold=true"), "{trail}");
}
