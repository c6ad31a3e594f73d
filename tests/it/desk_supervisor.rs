//! The supervisors' pages in the console (issue 13, point 5) and Excel-ready CSV (point 6):
//! each page shows the API's figures for known data, in Chromium as a person reads them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use madoguchi::db::schema::{audit_events, tickets};
use madoguchi::timesource::TimeSource;
use serde_json::{Value, json};

use crate::both_backends;
use crate::desk::{URGENT_TEXT, look_at, ticket_with};
use crate::support::browser::{Browser, browser};
use crate::support::{Backend, STAFF_PASSWORD, Staff, TestApp, spawn_app_with};

both_backends!(
    the_report_pages_show_the_apis_figures,
    staff_are_added_stopped_resumed_and_given_a_new_password_from_the_forms,
    a_stopped_counsellors_tickets_move_to_a_colleague_at_once,
    counsellors_see_no_supervisor_page_and_get_403,
    quarantined_mail_is_looked_at_retried_and_downloaded_as_bytes,
    every_csv_is_ready_for_excel,
);

/// The tests move the clock by weeks: sign-ins last as long.
fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.intake.rate_limit_per_hour = 0;
        s.alerts.enabled = false;
        s.auth.session_idle_hours = 24 * 90;
        s.auth.session_max_hours = 24 * 90;
    })
}

const SUPERVISOR: &str = "sato@center.example";
const COUNSELLOR: &str = "suzuki@center.example";

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// An account with a name of its own, signed in through the API.
fn person(app: &TestApp, email: &str, name: &str, role: &str) -> Staff {
    let mut conn = app.conn();
    let id = madoguchi::desk::staff::create(
        &mut conn,
        email,
        name,
        role,
        STAFF_PASSWORD,
        app.time.now(),
    )
    .unwrap()
    .0;
    drop(conn);
    let r = app.login(email, STAFF_PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
    Staff {
        id,
        token: r.json()["token"].as_str().unwrap().to_string(),
    }
}

fn sign_in_as(b: &Browser, email: &str) {
    b.fill("メールアドレス", email);
    b.fill("パスワード", STAFF_PASSWORD);
    b.press("ログイン");
}

fn api(app: &TestApp, token: &str, path: &str) -> Value {
    let r = app.call("GET", path, Some(token), None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

fn assign(app: &TestApp, token: &str, ticket: i64, to: i64) {
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/assign"),
        Some(token),
        Some(&json!({"assignee_id": to})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
}

/// The cells of each body row of the table with this caption start, as shown.
fn table(b: &Browser, caption: &str) -> Vec<Vec<String>> {
    let rows = b.js_value(&format!(
        "const t = [...document.querySelectorAll('table')].find(t => t.caption && t.caption.innerText.startsWith({caption:?}));\
         if (!t) return null;\
         return [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.innerText.trim()));"
    ));
    serde_json::from_value(rows).unwrap_or_else(|_| panic!("no table 「{caption}」"))
}

/// The number a cell such as `33.33%` or `120時間` shows.
fn number(cell: &str) -> f64 {
    cell.trim_end_matches(['%', '時', '間'])
        .parse()
        .unwrap_or_else(|_| panic!("not a figure: {cell}"))
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0].starts_with(first))
        .unwrap_or_else(|| panic!("no row 「{first}」 in {rows:?}"))
}

/// What the browser gets for a path of this origin, with the session it holds: status,
/// content type, content disposition and the bytes.
fn fetch(b: &Browser, path: &str) -> (u16, String, String, Vec<u8>) {
    let got = b.js_value(&format!(
        "return fetch({path:?}).then(async r => [r.status, r.headers.get('content-type') || '', \
         r.headers.get('content-disposition') || '', Array.from(new Uint8Array(await r.arrayBuffer()))]);"
    ));
    serde_json::from_value(got).unwrap()
}

fn csv_lines(bytes: &[u8]) -> Vec<String> {
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "a BOM for Excel");
    String::from_utf8(bytes[3..].to_vec())
        .unwrap()
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Known work: five consultations from November to December, answered early, late and not
/// at all, one of them urgent. Now is 2026-12-05 10:00 JST.
fn known_work(app: &TestApp, s: &Staff, c: &Staff) -> (i64, i64) {
    app.time.set(at("2026-11-19T09:00:00+09:00"));
    let (early, _) = ticket_with(app, "e@example.jp", "早めの相談", "部屋から出られません。");
    app.time.set(at("2026-11-20T10:00:00+09:00"));
    let (waiting, _) = ticket_with(app, "a@example.jp", "待っている相談", "眠れません。");
    assign(app, &s.token, waiting, c.id);
    app.time.set(at("2026-11-20T11:00:00+09:00"));
    let (late, _) = ticket_with(app, "b@example.jp", "遅れた相談", "仕事のことで。");
    app.time.set(at("2026-11-25T10:00:00+09:00"));
    app.reply(&s.token, early);
    app.time.set(at("2026-12-02T10:00:00+09:00"));
    let (prompt, _) = ticket_with(app, "d@example.jp", "すぐ返した相談", "家族のことで。");
    app.time.set(at("2026-12-02T12:00:00+09:00"));
    app.reply(&c.token, prompt);
    app.time.set(at("2026-12-04T09:00:00+09:00"));
    let (urgent, _) = ticket_with(app, "u@example.jp", "つらいです", URGENT_TEXT);
    app.time.set(at("2026-12-04T09:45:00+09:00"));
    app.reply(&c.token, urgent);
    app.time.set(at("2026-12-05T10:00:00+09:00"));
    app.reply(&c.token, late);
    (waiting, urgent)
}

fn the_report_pages_show_the_apis_figures(backend: Backend) {
    let app = app(backend);
    let s = person(&app, SUPERVISOR, "佐藤 監督", "supervisor");
    let c = person(&app, COUNSELLOR, "鈴木 相談", "counsellor");
    let (waiting, urgent) = known_work(&app, &s, &c);
    let mut b = browser();
    b.goto(&app.url("/desk/overdue"));
    sign_in_as(&b, SUPERVISOR);
    assert_eq!(b.path(), "/desk/overdue");

    // 期限超過: the one unanswered consultation, 5 days past due, as of now.
    let overdue = api(&app, &s.token, "/api/v1/reports/overdue");
    assert_eq!(overdue["count"], 1);
    assert_eq!(overdue["items"][0]["id"], waiting);
    let text = b.text();
    assert!(
        text.contains("2026年12月5日（土）10時00分の時点で、期限超過は 1件"),
        "{text}"
    );
    let rows = table(&b, "期限超過の相談");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0][0],
        overdue["items"][0]["reference"].as_str().unwrap()
    );
    assert_eq!(rows[0][3], "鈴木 相談");
    assert_eq!(
        Some(number(&rows[0][6])),
        overdue["items"][0]["overdue_hours"].as_f64()
    );
    assert_eq!(rows[0][6], "120時間");
    look_at(&mut b, "desk-overdue");
    b.follow(&rows[0][0]);
    assert_eq!(
        b.path(),
        format!("/desk/tickets/{waiting}"),
        "linked to the ticket"
    );

    // 達成状況: the same figures as the API, in a chart and a table.
    b.goto(&app.url("/desk/sla"));
    let months = api(
        &app,
        &s.token,
        "/api/v1/reports/sla?from=2026-07-01&to=2027-01-01&group_by=month",
    );
    let api_month = |key: &str| {
        months["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(api_month("2026-11")["due"], 3);
    assert_eq!(api_month("2026-11")["met"], 1);
    assert_eq!(api_month("2026-12")["compliance_pct"], 100.0);
    let shown = table(&b, "月ごとの数字");
    let november = row(&shown, "2026年11月");
    assert_eq!(november[1], "3件");
    assert_eq!(november[2], "1件");
    assert_eq!(november[3], "2件");
    assert_eq!(
        Some(number(&november[5])),
        api_month("2026-11")["compliance_pct"].as_f64()
    );
    assert_eq!(november[5], "33.33%");
    let this_month = row(&shown, "2026年12月");
    assert_eq!(
        Some(number(&this_month[5])),
        api_month("2026-12")["compliance_pct"].as_f64()
    );
    assert_eq!(this_month[5], "100%");
    let by_counsellor = api(
        &app,
        &s.token,
        "/api/v1/reports/sla?from=2026-07-01&to=2027-01-01&group_by=counsellor",
    );
    let api_c = by_counsellor["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "鈴木 相談")
        .unwrap()
        .clone();
    let shown_c = table(&b, "担当ごとの数字");
    assert_eq!(
        Some(number(&row(&shown_c, "鈴木 相談")[5])),
        api_c["compliance_pct"].as_f64()
    );
    assert_eq!(row(&shown_c, "鈴木 相談")[5], "50%");
    let charts = b.js_value(
        "return [...document.querySelectorAll('svg')].map(s => [s.getAttribute('role'), \
         s.getAttribute('aria-label'), s.querySelector('title').textContent]);",
    );
    let charts: Vec<(String, String, String)> = serde_json::from_value(charts).unwrap();
    assert_eq!(charts.len(), 2, "by month and by counsellor");
    for (role, label, title) in &charts {
        assert_eq!(role, "img");
        assert_eq!(label, title, "one text alternative, said twice");
    }
    assert!(
        charts[0]
            .1
            .contains("2026年11月：33.33%（3件中1件が期限内）")
            && charts[0].1.contains("2026年12月：100%（2件中2件が期限内）"),
        "the chart's words say its figures: {}",
        charts[0].1
    );
    assert!(
        charts[1].1.contains("鈴木 相談：50%（4件中2件が期限内）"),
        "{}",
        charts[1].1
    );
    look_at(&mut b, "desk-sla");

    // The console's CSV is the API's document.
    let (status, kind, disposition, bytes) =
        fetch(&b, "/desk/sla.csv?from=2026-07&to=2026-12&group_by=month");
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let api_csv = app.call(
        "GET",
        "/api/v1/reports/sla?from=2026-07-01&to=2027-01-01&group_by=month&format=csv",
        Some(&s.token),
        None,
    );
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), api_csv.body);
    let lines = csv_lines(&bytes);
    assert_eq!(
        lines[0],
        "月,対象件数,期限内に返信,期限超過,期限前で未返信,達成率（%）,返信までの時間の中央値（時間）,返信までの時間の90パーセンタイル（時間）"
    );
    assert!(
        lines[1].starts_with("2026-11,3,1,2,0,33.33,"),
        "{}",
        lines[1]
    );

    // The urgent report: the time to the first reply by a person.
    b.goto(&app.url("/desk/urgent"));
    let report = api(&app, &s.token, "/api/v1/reports/urgent");
    let item = &report["items"][0];
    assert_eq!(item["ticket_id"], urgent);
    assert_eq!(item["minutes_to_first_reply"], 45);
    let rows = table(&b, "緊急と判定された相談");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], item["reference"].as_str().unwrap());
    assert_eq!(rows[0][5], "45分");
    assert!(b.text().contains("最初の返信までの時間（中央値）：45分"));
    look_at(&mut b, "desk-urgent");

    // 担当状況: open tickets per counsellor, as the API counts them.
    b.goto(&app.url("/desk/workload"));
    let workload = api(&app, &s.token, "/api/v1/reports/workload");
    let api_c = &workload["counsellors"][0];
    assert_eq!(api_c["name"], "鈴木 相談");
    let rows = table(&b, "担当ごとの相談の数");
    let suzuki = row(&rows, "鈴木 相談");
    assert_eq!(suzuki[1], format!("{}件", api_c["open"]));
    assert_eq!(suzuki[2], format!("{}件", api_c["by_sla_state"]["overdue"]));
    assert_eq!(suzuki[2], "1件");
    let nobody = row(&rows, "担当なし");
    assert_eq!(nobody[1], format!("{}件", workload["unassigned_open"]));
    look_at(&mut b, "desk-workload");

    // Every read of these pages is audited, with a count and never a text.
    let mut conn = app.conn();
    let reads: Vec<(String, Option<String>)> = audit_events::table
        .filter(audit_events::action.like("report.%"))
        .filter(audit_events::staff_id.eq(s.id))
        .select((audit_events::action, audit_events::detail))
        .load(&mut *conn)
        .unwrap();
    for action in [
        "report.overdue",
        "report.sla",
        "report.urgent",
        "report.workload",
    ] {
        assert!(
            reads.iter().any(|(a, _)| a == action),
            "{action}: {reads:?}"
        );
    }
    assert!(
        reads
            .iter()
            .all(|(_, d)| d.as_deref().is_some_and(|d| d.starts_with("count=")))
    );
}

fn staff_are_added_stopped_resumed_and_given_a_new_password_from_the_forms(backend: Backend) {
    let app = app(backend);
    person(&app, SUPERVISOR, "佐藤 監督", "supervisor");
    let mut b = browser();
    b.goto(&app.url("/desk/staff"));
    sign_in_as(&b, SUPERVISOR);
    assert_eq!(b.path(), "/desk/staff");
    b.fill("名前", "高橋 新人");
    b.fill("メールアドレス", "takahashi@center.example");
    b.select("役割", "相談員");
    b.fill("初めのパスワード", "short");
    b.press("職員を追加");
    assert!(
        b.text()
            .contains("初めのパスワード：10文字以上にしてください。")
    );
    assert_eq!(b.value_of("名前"), "高橋 新人", "what was typed is kept");
    look_at(&mut b, "desk-staff-error");
    b.fill("初めのパスワード", "first password 123");
    b.press("職員を追加");
    assert!(b.text().contains("職員を追加しました"));
    let rows = table(&b, "職員");
    let new = row(&rows, "高橋 新人");
    assert_eq!(new[1], "takahashi@center.example");
    assert_eq!(new[2], "相談員");
    assert_eq!(new[3], "利用中");
    look_at(&mut b, "desk-staff");
    let login = |password: &str| app.login("takahashi@center.example", password).status;
    assert_eq!(login("first password 123"), 200, "the new account signs in");

    b.follow("高橋 新人");
    assert!(b.path().starts_with("/desk/staff/"));
    b.press("利用を停止する");
    assert!(b.text().contains("利用を停止しました"));
    assert_eq!(login("first password 123"), 401, "stopped: no sign-in");
    look_at(&mut b, "desk-staff-member");
    b.press("利用を再開する");
    assert!(b.text().contains("利用を再開しました"));
    assert_eq!(login("first password 123"), 200);

    b.fill("新しいパスワード", "too short");
    b.press("パスワードを再設定");
    assert!(b.text().contains("10文字以上にしてください"));
    b.fill("新しいパスワード", "a brand new password");
    b.press("パスワードを再設定");
    assert!(b.text().contains("パスワードを再設定しました"));
    assert_eq!(login("first password 123"), 401, "the old password is gone");
    assert_eq!(login("a brand new password"), 200);

    let mut conn = app.conn();
    let actions: Vec<String> = audit_events::table
        .filter(audit_events::action.like("staff.%"))
        .order(audit_events::id)
        .select(audit_events::action)
        .load(&mut *conn)
        .unwrap();
    for a in [
        "staff.create",
        "staff.deactivate",
        "staff.reactivate",
        "staff.password_reset",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
}

fn a_stopped_counsellors_tickets_move_to_a_colleague_at_once(backend: Backend) {
    let app = app(backend);
    let s = person(&app, SUPERVISOR, "佐藤 監督", "supervisor");
    let c = person(&app, COUNSELLOR, "鈴木 相談", "counsellor");
    let other = person(&app, "tanaka@center.example", "田中 同僚", "counsellor");
    let mut held = Vec::new();
    for email in ["a@example.jp", "b@example.jp"] {
        let (id, _) = ticket_with(&app, email, "相談", "話を聞いてほしいです。");
        assign(&app, &s.token, id, c.id);
        held.push(id);
    }
    let (kept, _) = ticket_with(&app, "k@example.jp", "相談", "よろしくお願いします。");
    assign(&app, &s.token, kept, other.id);
    let r = app.call(
        "POST",
        &format!("/api/v1/staff/{}/deactivate", c.id),
        Some(&s.token),
        None,
    );
    assert_eq!(r.status, 204);

    let mut b = browser();
    b.goto(&app.url("/desk/workload"));
    sign_in_as(&b, SUPERVISOR);
    assert!(b.text().contains("担当のままの相談が 2件"));
    let rows = table(&b, "担当ごとの相談の数");
    assert_eq!(row(&rows, "鈴木 相談")[0], "鈴木 相談（利用停止中）");
    look_at(&mut b, "desk-workload-handover");
    // The hand-over is a plain form: it works with script off.
    b.without_script();
    b.goto(&app.url("/desk/workload"));
    b.select("鈴木 相談さんの相談を引き継ぐ職員", "田中 同僚");
    b.press("鈴木 相談さんの相談2件をすべて移す");
    assert!(b.text().contains("2件の相談の担当を移しました"));
    assert!(!b.text().contains("担当のままの相談が"));

    let mut conn = app.conn();
    for id in &held {
        let assignee: Option<i64> = tickets::table
            .find(*id)
            .select(tickets::assignee_id)
            .first(&mut *conn)
            .unwrap();
        assert_eq!(assignee, Some(other.id), "ticket {id} moved");
        let audited: i64 = audit_events::table
            .filter(audit_events::ticket_id.eq(*id))
            .filter(audit_events::action.eq("ticket.assign"))
            .filter(audit_events::detail.eq(format!("assignee={} from={}", other.id, c.id)))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(audited, 1, "each ticket audited once");
    }
    let workload = api(&app, &s.token, "/api/v1/reports/workload");
    assert_eq!(workload["needs_reassignment"], json!([]));
    let tanaka = workload["counsellors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "田中 同僚")
        .unwrap();
    assert_eq!(tanaka["open"], 3);
}

fn counsellors_see_no_supervisor_page_and_get_403(backend: Backend) {
    let app = app(backend);
    person(&app, SUPERVISOR, "佐藤 監督", "supervisor");
    person(&app, COUNSELLOR, "鈴木 相談", "counsellor");
    let mut conn = app.conn();
    let q =
        madoguchi::db::quarantine::put(&mut conn, b"x", "ingest", "test", app.time.now()).unwrap();
    drop(conn);
    let menu = |b: &Browser| -> Vec<String> {
        serde_json::from_value(b.js_value(
            "return [...document.querySelectorAll('nav[aria-label=\"職員用メニュー\"] a')].map(a => a.innerText.trim());",
        ))
        .unwrap()
    };
    let mut b = browser();
    b.goto(&app.url("/desk"));
    sign_in_as(&b, COUNSELLOR);
    assert_eq!(
        menu(&b),
        vec!["相談一覧", "定型文", "承認待ち"],
        "their own replies waiting only"
    );
    let pages = [
        "/desk/overdue".to_string(),
        "/desk/overdue.csv".into(),
        "/desk/sla".into(),
        "/desk/sla.csv".into(),
        "/desk/urgent".into(),
        "/desk/workload".into(),
        "/desk/staff".into(),
        "/desk/staff/1".into(),
        "/desk/quarantine".into(),
        format!("/desk/quarantine/{q}"),
        format!("/desk/quarantine/{q}/raw"),
    ];
    for page in &pages {
        let (status, kind, _, _) = fetch(&b, page);
        assert_eq!(status, 403, "{page}");
        assert!(kind.starts_with("text/html"), "{page}: {kind}");
    }
    b.goto(&app.url("/desk/sla"));
    assert!(
        b.text()
            .contains("このページは、スーパーバイザーだけが開けます")
    );
    assert_eq!(menu(&b), vec!["相談一覧", "定型文", "承認待ち"]);
    look_at(&mut b, "desk-supervisor-only");

    // A supervisor sees every link; a form without its token changes nothing.
    b.goto(&app.url("/desk"));
    b.press("ログアウト");
    b.goto(&app.url("/desk"));
    sign_in_as(&b, SUPERVISOR);
    assert_eq!(
        menu(&b),
        vec![
            "相談一覧",
            "定型文",
            "承認待ち",
            "期限超過",
            "達成状況",
            "担当状況",
            "緊急対応",
            "統計",
            "職員",
            "隔離メール"
        ]
    );
    let status = b.js_value(
        "return fetch('/desk/staff', {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, \
         body: 'name=x&email=x%40center.example&role=counsellor&password=long+enough+password'}).then(r => r.status);",
    );
    assert_eq!(status, 403);
    assert_eq!(
        app.login("x@center.example", "long enough password").status,
        401
    );
}

fn quarantined_mail_is_looked_at_retried_and_downloaded_as_bytes(backend: Backend) {
    let app = app(backend);
    person(&app, SUPERVISOR, "佐藤 監督", "supervisor");
    let raw = "From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>\r\n\
        To: soudan@example.org\r\n\
        Subject: <script>alert(1)</script> =?UTF-8?B?55u46KuH?=\r\n\
        Message-ID: <quarantined-1@example.jp>\r\n\
        Date: Wed, 2 Dec 2026 09:00:00 +0900\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/html; charset=utf-8\r\n\
        \r\n\
        <p>本文の<b>HTML</b></p><img src=x onerror=alert(2)>\r\n";
    let mut conn = app.conn();
    let id = madoguchi::db::quarantine::put(
        &mut conn,
        raw.as_bytes(),
        "ingest",
        "the database was unavailable",
        app.time.now(),
    )
    .unwrap();
    drop(conn);
    let mut b = browser();
    b.goto(&app.url("/desk/quarantine"));
    sign_in_as(&b, SUPERVISOR);
    let rows = table(&b, "未解決の隔離メール");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][3], "the database was unavailable");
    look_at(&mut b, "desk-quarantine");
    b.follow(&format!("隔離メール {id}"));
    let text = b.text();
    assert!(
        text.contains("<script>alert(1)</script>"),
        "the header as text: {text}"
    );
    assert!(!text.contains("本文の"), "the body is not shown");
    let injected =
        b.js_value("return document.querySelectorAll('main script, main img, main b').length;");
    assert_eq!(injected, 0, "nothing of the mail became markup");
    look_at(&mut b, "desk-quarantine-mail");

    let (status, kind, disposition, bytes) = fetch(&b, &format!("/desk/quarantine/{id}/raw"));
    assert_eq!(status, 200);
    assert_eq!(kind, "application/octet-stream", "opaque bytes, never HTML");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert_eq!(
        disposition,
        format!("attachment; filename*=UTF-8''quarantine%2D{id}.eml")
    );
    assert_eq!(bytes, raw.as_bytes(), "byte for byte");

    b.press("もう一度受け付ける");
    assert!(
        b.text()
            .contains("受け付けました。新しい相談になりました。"),
        "{}",
        b.text()
    );
    let mut conn = app.conn();
    let opened: i64 = tickets::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(opened, 1, "the mail became a consultation");
    drop(conn);
    b.goto(&app.url("/desk/quarantine"));
    assert!(b.text().contains("隔離されているメールはありません"));
    b.follow("解決済みのものも表示");
    assert_eq!(table(&b, "隔離メール（解決済みを含む）").len(), 1);
}

fn every_csv_is_ready_for_excel(backend: Backend) {
    let app = app(backend);
    let s = person(&app, SUPERVISOR, "佐藤 監督", "supervisor");
    app.time.set(at("2026-11-20T10:00:00+09:00"));
    let (formula, _) = ticket_with(
        &app,
        "f@example.jp",
        "=HYPERLINK(\"http://x\",\"x\")",
        "相談です。",
    );
    app.time.set(at("2026-11-20T10:05:00+09:00"));
    ticket_with(&app, "g@example.jp", "＝SUM(A1)", "相談です。");
    app.time.set(at("2026-11-20T10:10:00+09:00"));
    ticket_with(&app, "h@example.jp", "緊急", URGENT_TEXT);
    app.time.set(at("2026-12-01T09:00:00+09:00"));
    let r = app.call(
        "GET",
        "/api/v1/reports/overdue?format=csv",
        Some(&s.token),
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/csv; charset=utf-8"));
    let lines = csv_lines(r.body.as_bytes());
    assert_eq!(
        lines[0], "相談ID,受付番号,件名,担当,返信待ちの開始,返信期限,超過時間,緊急,状態",
        "Japanese headings, the JSON's columns in its order"
    );
    assert_eq!(lines.len(), 4);
    let first = &lines[1];
    assert!(first.starts_with(&format!("{formula},")), "{first}");
    assert!(
        first.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"x\"\")\","),
        "a formula becomes text: {first}"
    );
    assert!(
        first.ends_with(",2026-11-20 10:00,2026-11-30 10:00,23,,未対応"),
        "times Excel reads as dates, an empty flag: {first}"
    );
    assert!(
        lines[2].contains(",\"'＝SUM(A1)\","),
        "full-width too: {}",
        lines[2]
    );
    assert!(lines[3].contains(",〇,"), "the urgent flag: {}", lines[3]);
    assert!(lines[3].ends_with(",〇,未対応"), "{}", lines[3]);
}
