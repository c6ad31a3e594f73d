//! The city's yearly figures (issue 14, points 1–3): case fields over the API, the counting
//! rules with known data, the fiscal year's edges at midnight in Tokyo, new and continuing
//! people, suppression, and the CSV and the workbook read back as Excel would read them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::both_backends;
use crate::desk::app_with;
use crate::support::{Backend, TestApp};

both_backends!(
    a_mother_who_writes_twice_by_form_and_once_by_mail_is_one_person_and_three_contacts,
    the_fiscal_year_turns_at_midnight_in_tokyo_on_april_first,
    people_are_new_in_their_first_year_and_continuing_after_and_small_cells_suppressed,
    unknown_codes_are_refused_naming_the_field_and_changes_are_audited_by_name,
    only_supervisors_get_the_report_and_bad_parameters_are_named,
    the_csv_and_the_workbook_carry_the_same_figures_with_japanese_headings,
    a_centres_own_statistics_file_is_used_and_a_wrong_one_exits_78,
    the_figures_are_the_same_read_in_one_part_or_in_many_at_once,
    a_part_that_fails_fails_the_whole_read,
);

fn at(app: &TestApp, rfc3339: &str) {
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(rfc3339).unwrap().into();
    app.time.set(t);
}

/// A consultation through the form, as a person sends it; its ticket id.
fn by_form(app: &TestApp, email: &str) -> i64 {
    let r = app.post_consult(&[
        ("name", "山田 花子"),
        ("email", email),
        ("relationship", "family"),
        ("subject", "息子のこと"),
        ("body", "息子が部屋から出てきません。"),
        ("consent", "true"),
    ]);
    assert_eq!(r.status, 200, "{}", r.body);
    latest_ticket(app)
}

fn latest_ticket(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use madoguchi::db::schema::tickets;
    let mut conn = app.conn();
    tickets::table
        .select(diesel::dsl::max(tickets::id))
        .first::<Option<i64>>(&mut *conn)
        .unwrap()
        .unwrap()
}

/// A mail that opens a consultation of its own (no reference, no thread).
fn by_mail(app: &TestApp, from: &str, message_id: &str, extra_headers: &str) -> i64 {
    let raw = format!(
        "From: {from}\r\nTo: soudan@example.org\r\nSubject: soudan\r\n\
         Message-ID: <{message_id}>\r\nDate: Wed, 10 Jun 2026 10:00:00 +0900\r\n{extra_headers}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n相談したいことがあります。\r\n"
    );
    let mut conn = app.conn();
    madoguchi::intake::mail::take(&app.state, &mut conn, raw.as_bytes(), "test").unwrap();
    latest_ticket(app)
}

fn consulter_of(app: &TestApp, ticket: i64) -> i64 {
    use diesel::prelude::*;
    use madoguchi::db::schema::tickets;
    let mut conn = app.conn();
    tickets::table
        .find(ticket)
        .select(tickets::consulter_id)
        .first::<i64>(&mut *conn)
        .unwrap()
}

pub(crate) fn report(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.call(
        "GET",
        &format!("/api/v1/reports/statistics?{query}"),
        Some(token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn put_case(app: &TestApp, token: &str, ticket: i64, body: Value) -> crate::support::Reply {
    app.call(
        "PUT",
        &format!("/api/v1/tickets/{ticket}/case"),
        Some(token),
        Some(&body),
    )
}

fn a_mother_who_writes_twice_by_form_and_once_by_mail_is_one_person_and_three_contacts(
    backend: Backend,
) {
    let app = app_with(backend, None);
    at(&app, "2026-06-10T10:00:00+09:00");
    let boss = app.staff("s@center.example", "supervisor");
    let first = by_form(&app, "Haha.Yamada@Example.jp");
    let second = by_form(&app, "haha.yamada@example.jp");
    let third = by_mail(&app, "Haha <HAHA.YAMADA@EXAMPLE.JP>", "m1@example.jp", "");
    // Her mail program answers our acknowledgement by itself: automatic, not a contact.
    by_mail(
        &app,
        "haha.yamada@example.jp",
        "auto1@example.jp",
        "Auto-Submitted: auto-replied\r\n",
    );
    let father = by_form(&app, "chichi@example.jp");
    let who = consulter_of(&app, first);
    assert_eq!(
        consulter_of(&app, second),
        who,
        "one person, whatever the case"
    );
    assert_eq!(consulter_of(&app, third), who, "by mail too");
    assert_ne!(consulter_of(&app, father), who);

    // Her earlier ticket says Kita ward; her latest (the mail) Chuo: the latest counts.
    let r = put_case(
        &app,
        &boss.token,
        first,
        json!({"writer": "mother", "ward": "kita"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put_case(
        &app,
        &boss.token,
        third,
        json!({"writer": "mother", "ward": "chuo", "purposes": ["family", "money"],
               "person_age_band": "thirties", "withdrawal_years": "5_to_10_years"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["purposes"], json!(["family", "money"]));
    app.reply(&boss.token, third);

    let y = report(&app, &boss.token, "fiscal_year=2026");
    assert_eq!(y["people"], 2, "{y}");
    assert_eq!(y["contacts"], 4, "three from her, one from him: {y}");
    assert_eq!(y["new_people"], 2);
    assert_eq!(y["continuing_people"], 0);
    assert_eq!(y["replies"], 1);
    let t = &y["tables"];
    assert_eq!(t["month"]["2026-06"], 4);
    assert_eq!(t["month"]["2026-05"], 0);
    assert_eq!(t["month"].as_object().unwrap().len(), 12);
    assert_eq!(t["channel"], json!({"web_form": 3, "email": 1}));
    assert_eq!(t["writer"]["mother"], 1, "one person, not three tickets");
    assert_eq!(t["writer"]["unknown"], 1, "the father's is not recorded");
    assert_eq!(t["ward"]["chuo"], 1);
    assert_eq!(t["ward"]["kita"], 0, "her earlier ticket does not count");
    assert_eq!(t["purposes"]["family"], 1);
    assert_eq!(t["purposes"]["money"], 1);
    assert_eq!(t["purposes"]["unknown"], 1);
    assert_eq!(t["person_age_band"]["thirties"], 1);
    assert_eq!(t["withdrawal_years"]["5_to_10_years"], 1);
    assert_eq!(t["referred_to"]["unknown"], 2);
    assert_eq!(t["person_sex"]["unknown"], 2);
    assert_eq!(y["from"], "2026-04-01T00:00:00+09:00");
    assert_eq!(y["to"], "2027-04-01T00:00:00+09:00");
}

fn the_fiscal_year_turns_at_midnight_in_tokyo_on_april_first(backend: Backend) {
    let app = app_with(backend, None);
    // One person each, a second either side of each turn of the year.
    for (when, who) in [
        ("2026-03-31T23:59:59+09:00", "a@example.jp"),
        ("2026-04-01T00:00:00+09:00", "b@example.jp"),
        ("2027-03-31T23:59:59+09:00", "c@example.jp"),
        ("2027-04-01T00:00:00+09:00", "d@example.jp"),
    ] {
        // The form is served 3 s before it is sent (post_consult), so it arrives at `when`.
        let t: DateTime<Utc> = DateTime::parse_from_rfc3339(when).unwrap().into();
        app.time.set(t - chrono::Duration::seconds(3));
        by_form(&app, who);
    }
    let boss = app.staff("s@center.example", "supervisor");
    let y2025 = report(&app, &boss.token, "fiscal_year=2025");
    let y2026 = report(&app, &boss.token, "fiscal_year=2026");
    let y2027 = report(&app, &boss.token, "fiscal_year=2027");
    assert_eq!(
        (
            y2025["contacts"].clone(),
            y2025["tables"]["month"]["2026-03"].clone()
        ),
        (json!(1), json!(1)),
        "March 31, 23:59:59 is the old year: {y2025}"
    );
    assert_eq!(y2026["contacts"], 2, "{y2026}");
    assert_eq!(
        y2026["tables"]["month"]["2026-04"], 1,
        "April 1, 00:00 is the new year"
    );
    assert_eq!(y2026["tables"]["month"]["2027-03"], 1);
    assert_eq!(y2026["people"], 2);
    assert_eq!(y2027["contacts"], 1);
    assert_eq!(y2027["tables"]["month"]["2027-04"], 1);
}

fn people_are_new_in_their_first_year_and_continuing_after_and_small_cells_suppressed(
    backend: Backend,
) {
    let app = app_with(backend, None);
    at(&app, "2025-10-01T10:00:00+09:00");
    by_form(&app, "p@example.jp");
    at(&app, "2026-05-01T10:00:00+09:00");
    let boss = app.staff("s@center.example", "supervisor");
    let again = by_form(&app, "P@example.jp");
    for i in 0..5 {
        let t = by_form(&app, &format!("new{i}@example.jp"));
        put_case(&app, &boss.token, t, json!({"ward": "teine"}));
    }
    put_case(&app, &boss.token, again, json!({"ward": "kita"}));
    let y2025 = report(&app, &boss.token, "fiscal_year=2025");
    assert_eq!(
        (y2025["people"].clone(), y2025["new_people"].clone()),
        (json!(1), json!(1))
    );
    let y = report(&app, &boss.token, "fiscal_year=2026");
    assert_eq!(y["people"], 6, "{y}");
    assert_eq!(y["new_people"], 5);
    assert_eq!(y["continuing_people"], 1, "she wrote the year before");
    assert_eq!(y["tables"]["ward"]["teine"], 5);
    assert_eq!(y["tables"]["ward"]["kita"], 1);

    let s = report(&app, &boss.token, "fiscal_year=2026&suppress_below=5");
    let ward = &s["tables"]["ward"];
    assert_eq!(ward["kita"], "<5", "1 is hidden: {ward}");
    assert_eq!(ward["teine"], 5, "5 is not below 5");
    assert_eq!(ward["chuo"], 0, "zero is shown as zero");
    assert_eq!(s["tables"]["month"]["2026-05"], 6);
    assert_eq!(s["people"], 6, "the totals stay exact");
}

fn unknown_codes_are_refused_naming_the_field_and_changes_are_audited_by_name(backend: Backend) {
    let app = app_with(backend, None);
    let counsellor = app.staff("c@center.example", "counsellor");
    let id = app.new_ticket("a@example.jp");

    let f = app.call("GET", "/api/v1/case-fields", Some(&counsellor.token), None);
    assert_eq!(f.status, 200, "{}", f.body);
    let fields = f.json()["fields"].as_array().unwrap().clone();
    let names: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "writer",
            "person_sex",
            "person_age_band",
            "ward",
            "withdrawal_years",
            "purposes",
            "prior_agencies",
            "referred_to"
        ]
    );
    let ward = fields.iter().find(|f| f["name"] == "ward").unwrap();
    assert_eq!(ward["multiple"], false);
    let labels: Vec<&str> = ward["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 12);
    assert_eq!(labels[0], "中央区");
    assert_eq!(labels[9], "手稲区");
    assert_eq!(&labels[10..], ["市外", "不明"]);
    assert_eq!(
        fields.iter().find(|f| f["name"] == "purposes").unwrap()["multiple"],
        true
    );

    let r = put_case(
        &app,
        &counsellor.token,
        id,
        json!({"writer": "self", "ward": "nishi"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A value of the wrong kind is a 422 naming each such field, and nothing is recorded.
    let r = put_case(
        &app,
        &counsellor.token,
        id,
        json!({"ward": 5, "purposes": "family", "writer": "mother"}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["error"]["fields"],
        json!({"ward": "invalid_type", "purposes": "invalid_type"})
    );
    let r = put_case(&app, &counsellor.token, id, json!({"writer": "aunt"}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["error"]["fields"],
        json!({"writer": "unknown_code"})
    );
    let r = put_case(
        &app,
        &counsellor.token,
        id,
        json!({"ward": "chuo", "referred_to": ["medical", "moon"]}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["error"]["fields"],
        json!({"referred_to": "unknown_code"})
    );
    // An empty code is no code of the field either (schemathesis: it was dropped with a 200).
    let r = put_case(&app, &counsellor.token, id, json!({"purposes": [""]}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["error"]["fields"],
        json!({"purposes": "unknown_code"})
    );
    let detail = app.call(
        "GET",
        &format!("/api/v1/tickets/{id}"),
        Some(&counsellor.token),
        None,
    );
    let case = &detail.json()["case"];
    assert_eq!(
        case["ward"], "nishi",
        "nothing of a refused change is kept: {case}"
    );
    assert_eq!(case["writer"], "self");
    assert_eq!(case["purposes"], json!([]));

    // null clears one field; fields left out stay.
    let r = put_case(
        &app,
        &counsellor.token,
        id,
        json!({"ward": null, "purposes": ["family"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["ward"], Value::Null);
    assert_eq!(r.json()["writer"], "self");
    let r = put_case(&app, &counsellor.token, 999_999, json!({"writer": "self"}));
    assert_eq!(r.status, 404);
    let r = put_case(&app, "not-a-token", id, json!({"writer": "self"}));
    assert_eq!(r.status, 401);

    let mut conn = app.conn();
    let trail =
        madoguchi::db::audit::for_ticket(&mut conn, madoguchi::domain::vocabulary::TicketId(id))
            .unwrap();
    let changes: Vec<Option<String>> = trail
        .iter()
        .filter(|e| e.action == "ticket.case")
        .map(|e| e.detail.clone())
        .collect();
    assert_eq!(
        changes,
        [
            Some("fields=writer,ward".to_string()),
            Some("fields=ward,purposes".to_string())
        ],
        "field names only, never the codes chosen"
    );
}

fn only_supervisors_get_the_report_and_bad_parameters_are_named(backend: Backend) {
    let app = app_with(backend, None);
    let boss = app.staff("s@center.example", "supervisor");
    let counsellor = app.staff("c@center.example", "counsellor");
    let path = "/api/v1/reports/statistics?fiscal_year=2026";
    assert_eq!(
        app.call("GET", path, Some(&counsellor.token), None).status,
        403
    );
    assert_eq!(app.call("GET", path, None, None).status, 401);
    for (query, field) in [
        ("", "fiscal_year"),
        ("fiscal_year=soon", "fiscal_year"),
        ("fiscal_year=1999", "fiscal_year"),
        ("fiscal_year=2026&suppress_below=0", "suppress_below"),
        ("fiscal_year=2026&suppress_below=x", "suppress_below"),
        ("fiscal_year=2026&suppress_below=", "suppress_below"),
        ("fiscal_year=2026&format=pdf", "format"),
    ] {
        let r = app.call(
            "GET",
            &format!("/api/v1/reports/statistics?{query}"),
            Some(&boss.token),
            None,
        );
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        assert!(
            r.json()["error"]["fields"][field].is_string(),
            "{query}: {}",
            r.body
        );
    }
    let mut conn = app.conn();
    use diesel::prelude::*;
    use madoguchi::db::schema::audit_events;
    assert_eq!(
        audit_events::table
            .filter(audit_events::action.eq("report.statistics"))
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap(),
        0,
        "nothing was read"
    );
    drop(conn);
    report(&app, &boss.token, "fiscal_year=2026");
    let mut conn = app.conn();
    let detail: Option<String> = audit_events::table
        .filter(audit_events::action.eq("report.statistics"))
        .select(audit_events::detail)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(detail.as_deref(), Some("fiscal_year=2026"));
}

fn get_bytes(app: &TestApp, token: &str, query: &str) -> (String, String, Vec<u8>) {
    let mut resp = app
        .http
        .get(app.url(&format!("/api/v1/reports/statistics?{query}")))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let header = |h: &str| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (ct, cd) = (header("content-type"), header("content-disposition"));
    let body = resp.body_mut().read_to_vec().unwrap();
    (ct, cd, body)
}

fn the_csv_and_the_workbook_carry_the_same_figures_with_japanese_headings(backend: Backend) {
    use calamine::{Data, Reader, Xlsx};
    let app = app_with(backend, None);
    at(&app, "2026-07-01T10:00:00+09:00");
    let boss = app.staff("s@center.example", "supervisor");
    let a = by_form(&app, "a@example.jp");
    by_form(&app, "b@example.jp");
    by_form(&app, "c@example.jp");
    put_case(
        &app,
        &boss.token,
        a,
        json!({"writer": "father", "ward": "toyohira"}),
    );

    let (ct, cd, csv) = get_bytes(
        &app,
        &boss.token,
        "fiscal_year=2026&format=csv&suppress_below=2",
    );
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(cd.contains("statistics-fy2026.csv"), "{cd}");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert_eq!(lines[0], "年度,表,項目,コード,値");
    for line in [
        "2026年度,概要,実人数,people,3",
        "2026年度,概要,延べ件数,contacts,3",
        "2026年度,概要,新規,new_people,3",
        "2026年度,概要,継続,continuing_people,0",
        "2026年度,月別（延べ件数）,2026年7月,2026-07,3",
        "2026年度,相談経路（延べ件数）,相談フォーム,web_form,3",
        "2026年度,相談した人（実人数）,父,father,<2",
        "2026年度,相談した人（実人数）,未記入,unknown,2",
        "2026年度,お住まいの区（実人数）,豊平区,toyohira,<2",
    ] {
        assert!(lines.contains(&line), "no line {line} in:\n{csv}");
    }

    let (ct, cd, xlsx) = get_bytes(
        &app,
        &boss.token,
        "fiscal_year=2026&format=xlsx&suppress_below=2",
    );
    assert_eq!(
        ct,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(cd.contains("statistics-fy2026.xlsx"), "{cd}");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheets = book.sheet_names();
    assert_eq!(
        sheets,
        [
            "概要",
            "月別",
            "相談経路",
            "相談した人",
            "ご本人の性別",
            "ご本人の年齢",
            "お住まいの区",
            "ひきこもりの期間",
            "相談の内容",
            "これまでの相談先",
            "紹介・つないだ先"
        ]
    );
    let rows = |book: &mut Xlsx<_>, name: &str| -> Vec<(String, Data)> {
        let range = book.worksheet_range(name).unwrap();
        range
            .rows()
            .map(|r| (r[0].to_string(), r.get(1).cloned().unwrap_or(Data::Empty)))
            .collect()
    };
    let summary = rows(&mut book, "概要");
    assert!(
        summary.contains(&("実人数".into(), Data::Float(3.0))),
        "{summary:?}"
    );
    assert!(summary.contains(&("延べ件数".into(), Data::Float(3.0))));
    assert!(summary.contains(&("新規".into(), Data::Float(3.0))));
    assert!(summary.contains(&("継続".into(), Data::Float(0.0))));
    let months = rows(&mut book, "月別");
    assert_eq!(months[0], ("月別".into(), Data::String("延べ件数".into())));
    assert_eq!(months.len(), 13);
    assert_eq!(months[4], ("2026年7月".into(), Data::Float(3.0)));
    assert_eq!(months[12], ("2027年3月".into(), Data::Float(0.0)));
    let writer = rows(&mut book, "相談した人");
    assert_eq!(writer[0].1, Data::String("実人数".into()));
    assert!(
        writer.contains(&("父".into(), Data::String("<2".into()))),
        "{writer:?}"
    );
    assert!(writer.contains(&("未記入".into(), Data::Float(2.0))));
    let wards = rows(&mut book, "お住まいの区");
    assert_eq!(wards.len(), 14, "heading, 12 codes, 未記入: {wards:?}");
}

/// A centre's own `statistics.file` replaces the built-in codes; a wrong one stops the start
/// with its reason and the exit code of every configuration error (78).
fn a_centres_own_statistics_file_is_used_and_a_wrong_one_exits_78(backend: Backend) {
    let dir = std::env::temp_dir().join(format!(
        "madoguchi-stats-{}",
        madoguchi::random::hex_string::<8>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let own = dir.join("statistics.toml");
    let text = madoguchi::domain::case_fields::BUILT_IN
        .replace("{ code = \"teine\", label = \"手稲区\" },", "")
        .replace("label = \"中央区\"", "label = \"中央\"");
    std::fs::write(&own, text).unwrap();
    let own_path = own.display().to_string();
    let app = app_with_file(backend, &own_path);
    let boss = app.staff("s@center.example", "supervisor");
    let f = app
        .call("GET", "/api/v1/case-fields", Some(&boss.token), None)
        .json();
    let ward = f["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ward")
        .unwrap()
        .clone();
    assert_eq!(ward["codes"].as_array().unwrap().len(), 11);
    assert_eq!(ward["codes"][0], json!({"code": "chuo", "label": "中央"}));
    let id = app.new_ticket("a@example.jp");
    let r = put_case(&app, &boss.token, id, json!({"ward": "teine"}));
    assert_eq!(r.status, 422, "a code this centre does not have");
    drop(app);

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        madoguchi::domain::case_fields::BUILT_IN.replace("name = \"ward\"", "name = \"district\""),
    )
    .unwrap();
    let db = crate::support::TestDb::new(backend);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("migrate")
        .env("MADOGUCHI_DATABASE__URL", &db.url)
        .env("MADOGUCHI_STATISTICS__FILE", bad.display().to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("statistics.file") && said.contains("\"district\""),
        "{said}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn app_with_file(backend: Backend, file: &str) -> TestApp {
    let file = file.to_string();
    crate::support::spawn_app_with(backend, move |s| {
        s.intake.rate_limit_per_hour = 0;
        s.alerts.enabled = false;
        s.statistics.file = file;
    })
}

/// The report reads its rows in parts on several connections at once (`db::parallel`): cut
/// into any number of parts, with ids read one range each or many, and with no connection to
/// spare (every part then read on the caller's), the figures are the same.
fn the_figures_are_the_same_read_in_one_part_or_in_many_at_once(backend: Backend) {
    use madoguchi::db::statistics::{GAP, figures_in};
    use madoguchi::domain::statistics::FiscalYear;
    use std::time::Duration;

    let app = app_with(backend, None);
    at(&app, "2025-10-01T10:00:00+09:00");
    by_form(&app, "p0@example.jp");
    by_mail(&app, "p1@example.jp", "old1@example.jp", "");
    let mut tickets = Vec::new();
    for (i, month) in ["05", "06", "08", "11", "12", "02"].iter().enumerate() {
        let year = if *month == "02" { 2027 } else { 2026 };
        at(&app, &format!("{year}-{month}-10T10:00:00+09:00"));
        tickets.push(if i % 2 == 0 {
            by_form(&app, &format!("p{i}@example.jp"))
        } else {
            by_mail(
                &app,
                &format!("p{i}@example.jp"),
                &format!("m{i}@example.jp"),
                "",
            )
        });
        by_form(&app, &format!("new{i}@example.jp"));
    }
    // Recorded and answered in February, still within the year.
    let boss = app.staff("s@center.example", "supervisor");
    let wards = ["kita", "chuo", "teine", "nishi"];
    for (i, &t) in tickets.iter().enumerate() {
        let r = put_case(
            &app,
            &boss.token,
            t,
            json!({"ward": wards[i % 4], "purposes": ["family"], "writer": "mother"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        if i % 3 == 0 {
            app.reply(&boss.token, t);
        }
    }
    let fy = FiscalYear::new(2026, app.state.rules.tz).unwrap();
    let pool = &app.state.pool;
    let mut conn = app.conn();
    let one = figures_in(pool, &mut conn, &fy, 1, GAP).unwrap();
    assert_eq!(one.people, 12, "{one:?}");
    assert_eq!(
        one.people - one.new_people,
        2,
        "p0 and p1 wrote the year before"
    );
    assert_eq!(one.replies, 2);
    assert_eq!(one.month_contacts.iter().sum::<i64>(), 12);
    assert!(
        one.case_values.contains(&("ward".into(), "kita".into(), 2)),
        "{one:?}"
    );
    for (ways, gap) in [(2, GAP), (2, 0), (3, 1), (4, 0), (12, 0)] {
        let many = figures_in(pool, &mut conn, &fy, ways, gap).unwrap();
        assert_eq!(many, one, "{ways} parts, ids {gap} apart as one range");
    }
    // Every other connection taken: the parts wait a moment, then are read on this one.
    let mut held = Vec::new();
    while let Ok(c) = pool.get_timeout(Duration::from_millis(100)) {
        held.push(c);
    }
    assert_eq!(pool.state().idle_connections, 0);
    let alone = figures_in(pool, &mut conn, &fy, 4, 0).unwrap();
    assert_eq!(alone, one, "no connection to spare");
}

fn a_part_that_fails_fails_the_whole_read(backend: Backend) {
    use diesel::connection::SimpleConnection;
    use madoguchi::db::parallel::split_read;
    let app = app_with(backend, None);
    let mut conn = app.conn();
    let items: Vec<i64> = (1..=8).collect();
    let sums = split_read(&app.state.pool, &mut conn, &items, 3, |c, part| {
        c.batch_execute("SELECT 1")?;
        Ok(part.iter().sum::<i64>())
    })
    .unwrap();
    assert_eq!(sums, vec![6, 15, 15], "three parts, in their order");
    let failed = split_read(&app.state.pool, &mut conn, &items, 4, |c, part| {
        if part.contains(&7) {
            c.batch_execute("SELECT * FROM no_such_table")?;
        }
        Ok(part.len())
    });
    assert!(
        matches!(failed, Err(madoguchi::db::DbError::Query(_))),
        "{failed:?}"
    );
}
